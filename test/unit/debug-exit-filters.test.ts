import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeExit, ExitFilter, snapshotExit } from '../../vmm/debug/exit-filters';
import type { VcpuExit } from '../../native/types';

const out = (port: number, bytes: number[]): VcpuExit =>
  ({ kind: 'io', direction: 'out', port, size: bytes.length as 1 | 2 | 4, count: 1, data: new Uint8Array(bytes) });

test('a port range breakpoint matches its ports and direction only', () => {
  const f = new ExitFilter({ pio: [{ first: 0x3f8, last: 0x3ff, direction: 'out' }] });
  assert.equal(f.matches(out(0x3f8, [0x41])), true);
  assert.equal(f.matches(out(0x3ff, [0x41])), true);
  assert.equal(f.matches(out(0x400, [0x41])), false);
  assert.equal(f.matchesIo(0x3f8, 'in'), false);
});

test('MMIO ranges match reads and writes as asked; shutdown is opt-in', () => {
  const f = new ExitFilter({ mmio: [{ first: 0xd0000000, last: 0xd0000fff, direction: 'in' }] });
  assert.equal(f.matchesMmio(0xd0000010, false), true);
  assert.equal(f.matchesMmio(0xd0000010, true), false);
  assert.equal(f.matches({ kind: 'shutdown' }), false);
  assert.equal(new ExitFilter({ shutdown: true }).matches({ kind: 'shutdown' }), true);
});

test('exits read like a kernel developer writes them', () => {
  assert.equal(describeExit(out(0x3f8, [0x41])), "OUT 0x3f8 <- 0x41 'A'");
  assert.equal(describeExit(out(0x604, [0x00, 0x20])), 'OUT 0x604 <- 0x2000 (word)');
  assert.equal(describeExit({ kind: 'io', direction: 'in', port: 0x3fd, size: 1, count: 1, data: new Uint8Array(1) }), 'IN 0x3fd');
  assert.equal(describeExit({ kind: 'mmio', address: 0xd0000000, size: 4, isWrite: true, data: new Uint8Array([0x0d, 0xf0, 0xfe, 0xca, 0, 0, 0, 0]) }),
    'MMIO write 0xd0000000 <- 0xcafef00d (4 bytes)');
});

test('a snapshot keeps its data when the addon reuses the exit buffer', () => {
  const e = out(0x3f8, [0x41]);
  const snap = snapshotExit(e);
  (e as { data: Uint8Array }).data[0] = 0x42;
  assert.equal(describeExit(snap), "OUT 0x3f8 <- 0x41 'A'");
});
