// Unit tier: the pieces that adapt kvmdbg to its host, without KVM: the
// slot layout around read-only pages, the page-protection watch bookkeeping,
// the fault chain a triple fault is named from, and the doctor's table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slotLayout } from '../../vmm/memory/slot-layout';
import { PageWatch } from '../../vmm/debug/page-watch';
import { analyzeFault } from '../../vmm/debug/fault-chain';
import { assignHwSlots } from '../../vmm/debug/hw-breakpoints';
import { formatReport, withDerived, kvmFlavour, type CapabilityResult } from '../../vmm/host/probe/capabilities';

const MiB = 1024 * 1024;

test('slotLayout cuts RAM around protected pages: adjacent pages share one read-only slot, offsets follow the region', () => {
  const regions = [{ guestPhys: 0, size: 4 * MiB, offset: 4096 }];
  assert.deepEqual(slotLayout(regions, []), [{ slot: 0, guestPhys: 0, size: 4 * MiB, offset: 4096 }]);
  assert.deepEqual(slotLayout(regions, [0x100, 0x101, 0x200]), [
    { slot: 0, guestPhys: 0, size: 0x100000, offset: 4096 },
    { slot: 1, guestPhys: 0x100000, size: 0x2000, offset: 4096 + 0x100000, readonly: true },
    { slot: 2, guestPhys: 0x102000, size: 0xfe000, offset: 4096 + 0x102000 },
    { slot: 3, guestPhys: 0x200000, size: 0x1000, offset: 4096 + 0x200000, readonly: true },
    { slot: 4, guestPhys: 0x201000, size: 0x1ff000, offset: 4096 + 0x201000 },
  ]);
  // A protected first page leaves no empty slot before it.
  assert.deepEqual(slotLayout(regions, [0]).map((s) => [s.guestPhys, s.size, !!s.readonly]), [[0, 4096, true], [4096, 4 * MiB - 4096, false]]);
});

test('slotLayout leaves unmapped pages out of every slot: a hole between read-write runs, next to a read-only page, and unmapped wins over read-only', () => {
  const regions = [{ guestPhys: 0, size: 4 * MiB, offset: 0 }];
  const layout = (ro: number[], none: number[]) => slotLayout(regions, ro, none).map((s) => [s.guestPhys.toString(16), s.size.toString(16), s.readonly ? 'ro' : 'rw']);
  assert.deepEqual(layout([0x101], [0x100, 0x102, 0x103]), [
    ['0', '100000', 'rw'], ['101000', '1000', 'ro'], ['104000', '2fc000', 'rw'],
  ]);
  assert.deepEqual(layout([0x100], [0x100]), [['0', '100000', 'rw'], ['101000', '2ff000', 'rw']]);
  assert.deepEqual(layout([], [0x3ff]), [['0', '3ff000', 'rw']], 'the last page: no slot after it');
});

test('PageWatch: a 64-byte range across a page boundary protects both pages; only writes overlapping it hit', () => {
  const w = new PageWatch();
  const request = { kind: 'watch' as const, address: 0xffff_8000_0010_0fe0n, length: 64, access: 'write' as const };
  const plan = w.set([request], (va) => Number(va - 0xffff_8000_0000_0000n), () => true);
  assert.deepEqual(plan, { readOnly: [0x100, 0x101], unmapped: [], problems: [undefined] });
  assert.equal(w.covers(0x100000), true);
  assert.equal(w.covers(0x102000), false);
  assert.equal(w.hit(0x100fd8, 8), undefined, 'the 8 bytes before it');
  assert.equal(w.hit(0x100fdc, 8), request, 'overlapping its first bytes');
  assert.equal(w.hit(0x101018, 4), request, 'its last bytes, on the second page');
  assert.equal(w.hit(0x101020, 4), undefined, 'just after it');
  // A watch in a debug register on a protected page is checked here too (the CPU never sees our write); one elsewhere is not.
  const dr = { kind: 'watch' as const, address: 0xffff_8000_0010_0f00n, length: 8, access: 'write' as const };
  const far = { kind: 'watch' as const, address: 0xffff_8000_0030_0000n, length: 8, access: 'write' as const };
  w.set([request], (va) => Number(va - 0xffff_8000_0000_0000n), () => true, [dr, far]);
  assert.equal(w.hit(0x100f00, 4), dr);
  assert.equal(w.covers(0x300000), false);
  assert.equal(w.hit(0x100fdc, 8, 'read'), undefined, 'a write watch is not hit by reads');
  const unmapped = w.set([request], () => undefined, () => true);
  assert.match(unmapped.problems[0]!, /is not mapped/);
  assert.equal(w.active, false);
});

test('PageWatch: a read or read/write watch leaves its pages unmapped (a write watch on the same page too); each is hit only in its direction', () => {
  const w = new PageWatch();
  const at = (address: number, access: 'write' | 'read' | 'readWrite') => ({ kind: 'watch' as const, address: BigInt(address), length: 4, access });
  const read = at(0x10e068, 'read');
  const both = at(0x10e064, 'readWrite');
  const write = at(0x10e060, 'write');
  const elsewhere = at(0x200000, 'write');
  const plan = w.set([read, both, write, elsewhere], (va) => Number(va), () => true);
  assert.deepEqual(plan, { readOnly: [0x200], unmapped: [0x10e], problems: [undefined, undefined, undefined, undefined] });
  assert.deepEqual([w.hit(0x10e068, 4, 'read'), w.hit(0x10e068, 4, 'write')], [read, undefined]);
  assert.deepEqual([w.hit(0x10e064, 4, 'read'), w.hit(0x10e064, 4, 'write')], [both, both]);
  assert.deepEqual([w.hit(0x10e060, 4, 'read'), w.hit(0x10e060, 4, 'write')], [undefined, write]);
  assert.equal(w.hit(0x10e000, 8, 'read'), undefined, 'elsewhere on the page: an access we do, no stop');
  assert.equal(w.covers(0x10e000), true);
  // KVM could not emulate the guest there: the page goes back read-only, the reads' watches are named, and it stays mapped.
  assert.deepEqual(w.stopWatchingReads(), [read, both]);
  assert.deepEqual([w.readOnly, w.unmapped], [[0x10e, 0x200], []]);
  assert.equal(w.hit(0x10e060, 4, 'write'), write, 'writes are still watched');
  const again = w.set([read, write], (va) => Number(va), () => true, [], new Set([0x10e]));
  assert.deepEqual([again.readOnly, again.unmapped], [[0x10e], []]);
  assert.match(again.problems[0]!, /^reads cannot be watched on guest-physical page 0x10e000: KVM could not emulate/);
  assert.equal(again.problems[1], undefined);
});

test('assignHwSlots: where DR watchpoints do not fire, every watch goes to page protection (no limit of 4); reads alone only ever there', () => {
  const watches = [1, 2, 3, 4, 5].map((i) => ({ kind: 'watch' as const, address: BigInt(0x1000 * i), length: 8, access: 'write' as const }));
  const struct = { kind: 'watch' as const, address: 0x9000n, length: 64, access: 'write' as const };
  const read = { kind: 'watch' as const, address: 0xa000n, length: 4, access: 'readWrite' as const };
  const pvm = assignHwSlots([...watches, struct, read, { kind: 'execute', address: 0x100000n }], { drWatch: false, pageWatch: true });
  assert.deepEqual(pvm.assignments.map((a) => (a.page ? 'page' : a.slot ?? a.problem?.slice(0, 30))), ['page', 'page', 'page', 'page', 'page', 'page', 'page', 0]);
  // Where DRs work they take what they can; a 64-byte struct and a fifth watch still get page protection, as does a read alone (no DR can).
  const readAlone = { kind: 'watch' as const, address: 0xb000n, length: 4, access: 'read' as const };
  const hw = assignHwSlots([readAlone, ...watches, struct], { drWatch: true, pageWatch: true });
  assert.deepEqual(hw.assignments.map((a) => (a.page ? 'page' : a.slot)), ['page', 0, 1, 2, 3, 'page', 'page']);
  // No page protection: a read alone gets the sentence, a read/write a DR.
  const drOnly = assignHwSlots([readAlone, read], { drWatch: true, pageWatch: false });
  assert.deepEqual(drOnly.assignments.map((a) => a.slot ?? a.problem), ['x86 debug registers cannot watch reads alone, and this host has no page protection for it: use a read/write watchpoint', 0]);
});

test('analyzeFault: int3 with an empty IDT is a triple fault with its chain; with a good gate it is not; an unknown fault is not followed', () => {
  const code = new Map<bigint, number[]>([[0x1000n, [0xcc, 0x90]], [0x2000n, [0x8b, 0x00]]]);
  const idt = new Uint8Array(16 * 4);
  // vector 3: a present 64-bit interrupt gate to 0x5000
  idt.set([0x00, 0x50, 0x08, 0x00, 0x00, 0x8e, 0x00, 0x00], 3 * 16);
  const read = (a: bigint, n: number) => {
    const c = code.get(a);
    if (c) return Uint8Array.from(c.slice(0, n));
    if (a >= 0x8000n && a < 0x8000n + BigInt(idt.length)) return idt.slice(Number(a - 0x8000n), Number(a - 0x8000n) + n);
    return undefined;
  };
  const empty = analyzeFault({ mode: 'long', idt: { base: 0n, limit: 0 }, gdt: { base: 0n, limit: 0 } }, read, 0x1000n);
  assert.equal(empty.tripleFault, true);
  assert.equal(empty.chain.length, 4);
  assert.match(empty.chain[0], /^int3 at 0x1000: #BP \(vector 3\)$/);
  assert.match(empty.chain[3], /no usable #DF gate: triple fault/);
  const good = analyzeFault({ mode: 'long', idt: { base: 0x8000n, limit: idt.length - 1 }, gdt: { base: 0n, limit: 0 } }, read, 0x1000n);
  assert.deepEqual([good.tripleFault, good.raised?.vector], [false, 3]);
  assert.deepEqual(analyzeFault({ mode: 'long', idt: { base: 0n, limit: 0 }, gdt: { base: 0n, limit: 0 } }, read, 0x2000n), { tripleFault: false, chain: [] });
});

test('the doctor table: one line a capability with the fallback, the measured reason under a no; Linux follows from guest exceptions', () => {
  const caps: CapabilityResult[] = [
    { id: 'long-mode', works: true, detail: 'a 64-bit guest runs' },
    { id: 'dr-watchpoints', works: false, detail: 'the guest wrote the watched byte and ran on: no debug exit' },
    { id: 'guest-exceptions', works: false, detail: 'INT 0x80 gave internal error, suberror 1' },
  ];
  const text = formatReport({ flavour: 'pvm', capabilities: withDerived(caps), probeMs: 61.6 });
  assert.match(text, /^host: PVM \(KVM in software/);
  assert.match(text, /DR watchpoints\s+no\s+-> data breakpoints use page protection \(read-only or unmapped memory slots\): any size, any count, reads too\n\s+\(measured: the guest wrote the watched byte and ran on: no debug exit\)/);
  assert.match(text, /unmodified Linux kernel\s+no\s+-> an unmodified Linux cannot start here/);
  assert.match(text, /probed in 62 ms$/);
  assert.equal(kvmFlavour(() => 'flags\t\t: fpu vmx hypervisor', (p) => p === '/sys/module/kvm_intel'), 'nested-intel');
  assert.equal(kvmFlavour(() => 'flags\t\t: fpu svm', (p) => p === '/sys/module/kvm_amd'), 'hardware-amd');
  assert.equal(kvmFlavour(() => '', (p) => p === '/sys/module/kvm_pvm'), 'pvm');
});
