// kvm/exitStats and kvm/pageWalk shaping, and the vCPU thread's exit ring (no KVM).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRingExit, exitStatsBody, pageWalkBody, parseAddressArg, ratesBetween, recentCount, recentExit } from '../../debug-adapter/kvm-info';
import { EXIT_RING_ENTRIES, ExitRing } from '../../vmm/machine/exit-ring';
import type { VcpuExit } from '../../native/types';
import type { WalkResult } from '../../vmm/debug/page-walk';

const out = (port: number, v: number): VcpuExit => ({ kind: 'io', direction: 'out', port, size: 1, count: 1, data: new Uint8Array([v, 0, 0, 0]) });
const inb = (port: number): VcpuExit => ({ kind: 'io', direction: 'in', port, size: 1, count: 1, data: new Uint8Array(8) });

test('the ring keeps the last 64 exits in order, across wrap-around, and decodes them', () => {
  const ring = new ExitRing();
  assert.deepEqual(ring.recent(10), []);
  for (let i = 0; i < 100; i++) ring.record(out(0x3f8, 0x41 + (i % 26)));
  ring.record(inb(0x3fd));
  ring.setLastValue(0x60);
  ring.record({ kind: 'mmio', address: 0xfee00020, size: 4, isWrite: false, data: new Uint8Array(8) });
  ring.record({ kind: 'mmio', address: 0xd0000050, size: 4, isWrite: true, data: new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]) });
  ring.record({ kind: 'hlt' });
  ring.record({ kind: 'debug', exception: 1, pc: 0x100200n, dr6: 0n, dr7: 0n });
  assert.equal(ring.written, 105);
  const all = ring.recent(1000);
  assert.equal(all.length, EXIT_RING_ENTRIES);
  assert.equal(all[0].seq, 105 - EXIT_RING_ENTRIES);
  assert.deepEqual(all.slice(-6).map((e) => e.seq), [99, 100, 101, 102, 103, 104]);
  const d = all.slice(-6).map(describeRingExit);
  assert.equal(d[0], `out 0x3f8 <- 0x${(0x41 + (99 % 26)).toString(16)} '${String.fromCharCode(0x41 + (99 % 26))}' (1 byte)`);
  assert.equal(d[1], 'in 0x3fd -> 0x60 (1 byte)');
  assert.equal(d[2], 'mmio read 0xfee00020 (4 bytes)', 'a read not answered yet has no value');
  assert.equal(d[3], 'mmio write 0xd0000050 <- 0x1 (4 bytes)');
  assert.equal(d[4], 'HLT');
  assert.equal(d[5], 'debug exception 1 at 0x100200');
  // The main thread sees the same buffer through its own view.
  assert.deepEqual(new ExitRing(ring.buffer).recent(2).map((e) => e.kind), ['hlt', 'debug']);
});

test('string I/O shows its count; RIP only where it is known', () => {
  const ring = new ExitRing();
  ring.record({ kind: 'io', direction: 'out', port: 0x1f0, size: 2, count: 256, data: new Uint8Array([0x34, 0x12]) });
  ring.record({ kind: 'debug', exception: 3, pc: 0xffffffff81000000n, dr6: 0n, dr7: 0n });
  const [rep, dbg] = ring.recent(2);
  assert.equal(describeRingExit(rep), 'out 0x1f0 <- 0x1234 (2 bytes) x256');
  assert.equal(recentExit(rep).rip, undefined, 'no RIP for hot exits');
  assert.equal(recentExit(rep, { seq: rep.seq, rip: 0x1234n }).rip, '0x1234', 'the exit the vCPU stopped at has its RIP');
  assert.equal(recentExit(rep, { seq: rep.seq + 1, rip: 0x1234n }).rip, undefined);
  assert.equal(recentExit(dbg).rip, '0xffffffff81000000');
  assert.equal(recentExit(dbg).kind, 'debug');
});

test('exit stats: byKind sorted by count, rates only while running, totals add up', () => {
  const rates = ratesBetween({ io: 100, hlt: 5 }, { io: 1100, hlt: 5, mmio: 50 }, 500);
  assert.deepEqual(rates, { io: 2000, mmio: 100 });
  assert.deepEqual(ratesBetween({}, { io: 5 }, 0), {});
  const body = exitStatsBody({ snapshot: { io: 1100, hlt: 5, mmio: 50, debug: 0 }, elapsedMs: 1234.6, rates, running: true, recent: [] });
  assert.deepEqual(body.byKind, [
    { kind: 'io', count: 1100, perSecond: 2000 }, { kind: 'mmio', count: 50, perSecond: 100 }, { kind: 'hlt', count: 5, perSecond: 0 },
  ]);
  assert.equal(body.total, 1155);
  assert.equal(body.elapsedMs, 1235);
  const paused = exitStatsBody({ snapshot: { io: 1 }, elapsedMs: 0, rates, running: false, recent: [{ kind: 'io', detail: 'x' }] });
  assert.equal(paused.byKind[0].perSecond, 0, '0 a second while paused');
  assert.equal(paused.recent.length, 1);
});

test('"last" defaults to 20, is capped at the ring size and rejects garbage', () => {
  assert.equal(recentCount(undefined, 64), 20);
  assert.equal(recentCount(5.7, 64), 5);
  assert.equal(recentCount(1e9, 64), 64);
  assert.equal(recentCount('3', 64), 3);
  assert.throws(() => recentCount(-1, 64), /non-negative/);
  assert.throws(() => recentCount('lots', 64), /non-negative/);
});

test('page walk bodies: protocol level names and flags, physical or fault', () => {
  const flags = { present: true, writable: true, user: false, writeThrough: false, cacheDisable: false, accessed: true, dirty: false, pageSize: false, global: false, noExecute: false };
  const ok: WalkResult = {
    ok: true, mode: '4-level', virtual: 0xffffffff81000000n, physical: 0x1000000, pageSize: 2 << 20, writable: true, user: false, noExecute: false,
    levels: [
      { name: 'PML4E', tableAddress: 0x1000, index: 511, entryAddress: 0x1ff8, entry: 0x2003n, flags },
      { name: 'PDPTE', tableAddress: 0x2000, index: 510, entryAddress: 0x2ff0, entry: 0x3003n, flags },
      { name: 'PDE', tableAddress: 0x3000, index: 8, entryAddress: 0x3040, entry: 0x10000e3n, flags: { ...flags, dirty: true, pageSize: true, global: true } },
    ],
  };
  const b = pageWalkBody(ok);
  assert.equal(b.mode, '4-level');
  assert.equal(b.address, '0xffffffff81000000');
  assert.deepEqual(b.levels.map((l) => l.name), ['PML4', 'PDPT', 'PD']);
  assert.deepEqual(b.levels[2].flags, ['P', 'RW', 'A', 'D', 'PS', 'G']);
  assert.equal(b.levels[0].entryAddress, '0x1ff8');
  assert.equal(b.physical, '0x1000000');
  assert.equal(b.pageSize, 2 << 20);
  assert.equal(b.fault, undefined);
  const bad = pageWalkBody({ ok: false, mode: 'pae', virtual: 0x1000n, levels: [], reason: 'PDPTE at 0x0 is not present' });
  assert.equal(bad.mode, 'PAE');
  assert.equal(bad.physical, undefined);
  assert.equal(bad.fault, 'PDPTE at 0x0 is not present');
  assert.equal(pageWalkBody({ ...ok, mode: '32-bit', levels: [{ ...ok.levels[2], name: 'PDE' }] }).levels[0].name, 'PD (32-bit)');
});

test('addresses: hex or decimal, 64 bits at most', () => {
  assert.equal(parseAddressArg('0xffff_ffff_8100_0000', 'a'), 0xffffffff81000000n);
  assert.equal(parseAddressArg('4096', 'a'), 4096n);
  assert.equal(parseAddressArg(4096, 'a'), 4096n);
  assert.throws(() => parseAddressArg('0x1' + '0'.repeat(16), '"address"'), /64 bits/);
  assert.throws(() => parseAddressArg('rip', '"address"'), /hex \(0x...\) or decimal/);
  assert.throws(() => parseAddressArg(undefined, '"address"'), /not undefined/);
});
