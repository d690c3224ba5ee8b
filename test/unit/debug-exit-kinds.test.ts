// The VM-exit breakpoints beyond port I/O and MMIO, without KVM: MSR
// conditions, the KVM MSR filter they become, HLT/hypercall matching, the
// descriptions, int3 slots beyond DR0-3, and BLOCKIRQ in the guest-debug setting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCondition, EXIT_FILTERS, ExitConditionError, exitSpecFor, mergeExitSpecs, parseMsrRanges } from '../../debug-adapter/exit-breakpoints';
import { describeExit, ExitFilter } from '../../vmm/debug/exit-filters';
import { MAX_RANGES, msrFilterFor, MsrFilterError } from '../../vmm/debug/msr-filter';
import { MSR_FILTER_DEFAULT_DENY, MSR_FILTER_READ, MSR_FILTER_WRITE } from '../../native/msr-filter';
import { assignHwSlots } from '../../vmm/debug/hw-breakpoints';
import { VcpuDebug } from '../../vmm/debug/vcpu-debug';
import { completeMsrAccess } from '../../vmm/debug/msr-access';
import type { VcpuExit } from '../../native/types';

const msrExit = (kind: 'rdmsr' | 'wrmsr', index: number, data = 0n): VcpuExit =>
  ({ kind, index, data, reason: 4, reply: new Uint8Array(24) });

test('MSR conditions: numbers, names, directions, ranges; one-sentence errors', () => {
  assert.deepEqual(parseMsrRanges('0xc0000080'), [{ first: 0xc0000080, last: 0xc0000080, direction: undefined }]);
  assert.deepEqual(parseMsrRanges('wrmsr LSTAR, rdmsr 0xc0000100-0xc0000102'), [
    { first: 0xc0000082, last: 0xc0000082, direction: 'out' },
    { first: 0xc0000100, last: 0xc0000102, direction: 'in' },
  ]);
  assert.deepEqual(parseMsrRanges('efer'), [{ first: 0xc0000080, last: 0xc0000080, direction: undefined }]);
  assert.throws(() => parseMsrRanges('EFERX'), (e: Error) => e instanceof ExitConditionError && /not an MSR/.test(e.message));
  assert.throws(() => parseMsrRanges('0x10-0x5'), /ends before it starts/);
  assert.throws(() => parseMsrRanges('0x830'), /x2APIC/);
  assert.throws(() => checkCondition('hlt', '0x1'), /takes no condition/);
  const many = Array.from({ length: MAX_RANGES + 1 }, (_, i) => `0x${(i * 0x10000).toString(16)}`).join(', ');
  assert.throws(() => checkCondition('msr', many), (e: Error) => e instanceof ExitConditionError && /at most 16/.test(e.message));
  checkCondition('msr', 'EFER');
  checkCondition('pio', '0x3f8');
});

test('the filters offered are exactly the ones the machine implements, plus exception vectors (the adapter\'s IDT handler breakpoints)', () => {
  assert.deepEqual(EXIT_FILTERS.map((f) => f.filter), ['pio', 'mmio', 'shutdown', 'msr', 'hlt', 'hypercall', 'vector']);
  assert.deepEqual(exitSpecFor([{ filterId: 'vector', condition: '#PF' }]), {}, 'no machine exit for vectors');
  const spec = exitSpecFor([{ filterId: 'msr', condition: 'EFER' }, { filterId: 'hlt' }, { filterId: 'hypercall' }]);
  assert.deepEqual(spec, { msr: [{ first: 0xc0000080, last: 0xc0000080, direction: undefined }], hlt: true, hypercall: true });
  assert.deepEqual(exitSpecFor([{ filterId: 'msr' }]).msr, [{ first: 0, last: 0xffffffff }]);
  const merged = mergeExitSpecs({ pio: [{ first: 1, last: 1 }], shutdown: true }, spec);
  assert.deepEqual([merged.pio?.length, merged.msr?.length, merged.shutdown, merged.hlt, merged.hypercall], [1, 1, true, true, true]);
});

test('the KVM MSR filter denies exactly the watched MSRs, per direction; "every MSR" denies by default', () => {
  assert.deepEqual(msrFilterFor({}), { flags: 0, ranges: [] });
  const one = msrFilterFor({ msr: [{ first: 0xc0000080, last: 0xc0000080, direction: 'out' }] });
  assert.equal(one.flags, 0);
  assert.deepEqual(one.ranges.map((r) => [r.flags, r.base, r.nmsrs, [...r.bitmap]]), [[MSR_FILTER_WRITE, 0xc0000080, 1, [0]]]);
  const read = msrFilterFor({ msr: [{ first: 0x10, last: 0x1f, direction: 'in' }] });
  assert.deepEqual(read.ranges.map((r) => [r.flags, r.nmsrs, r.bitmap.length]), [[MSR_FILTER_READ, 16, 2]]);
  const big = msrFilterFor({ msr: [{ first: 0, last: 0x6000 }] });
  assert.deepEqual(big.ranges.map((r) => [r.base, r.nmsrs]), [[0, 0x3000], [0x3000, 0x3000], [0x6000, 1]], 'split at 12288 MSRs a range');
  const all = msrFilterFor({ msr: [{ first: 0, last: 0xffffffff }] });
  assert.equal(all.flags, MSR_FILTER_DEFAULT_DENY);
  assert.throws(() => msrFilterFor({ msr: [{ first: 0, last: 0x3000 * 17 }] }), MsrFilterError);
});

test('ExitFilter matches MSR exits by index and direction, and HLT and hypercall exits when asked', () => {
  const f = new ExitFilter({ msr: [{ first: 0xc0000080, last: 0xc0000080, direction: 'in' }], hlt: true });
  assert.equal(f.matches(msrExit('rdmsr', 0xc0000080)), true);
  assert.equal(f.matches(msrExit('wrmsr', 0xc0000080)), false);
  assert.equal(f.matches(msrExit('rdmsr', 0xc0000081)), false);
  assert.equal(f.matches({ kind: 'hlt' }), true);
  assert.equal(f.matches({ kind: 'hypercall', nr: 12n, args: [], reply: new Uint8Array(72) }), false);
  assert.equal(new ExitFilter({ hypercall: true }).matches({ kind: 'hypercall', nr: 12n, args: [], reply: new Uint8Array(72) }), true);
  assert.equal(new ExitFilter({}).matches({ kind: 'hlt' }), false);
});

test('descriptions: RDMSR/WRMSR with names, HLT at the instruction before RIP, hypercalls by name', () => {
  assert.equal(describeExit(msrExit('rdmsr', 0xc0000080), 0x1000n), 'RDMSR 0xc0000080 (EFER) at 0x1000');
  assert.equal(describeExit(msrExit('wrmsr', 0xc0000102, 0xffffffff81000000n), 0x2000n), 'WRMSR 0xc0000102 (KERNEL_GS_BASE) <- 0xffffffff81000000 at 0x2000');
  assert.equal(describeExit(msrExit('rdmsr', 0x1234)), 'RDMSR 0x1234');
  assert.equal(describeExit({ kind: 'hlt' }, 0x100101n), 'HLT at 0x100100');
  assert.equal(describeExit({ kind: 'hypercall', nr: 12n, args: [], reply: new Uint8Array(72) }, 0x5n), 'hypercall KVM_HC_MAP_GPA_RANGE (12) at 0x5');
});

test('completing an MSR exit: a read answers through kvm_run.msr.data, a refused access becomes #GP (error = 1)', () => {
  const port = {
    getMsrs: (i: number[]) => (i[0] === 0xc0000080 ? [{ index: i[0], value: 0xd01n }] : []),
    setMsrs: (e: { index: number }[]) => { if (e[0].index !== 0xc0000080) throw new Error('refused'); },
  };
  const read = msrExit('rdmsr', 0xc0000080) as VcpuExit & { kind: 'rdmsr' };
  assert.equal(completeMsrAccess(port, read), 0xd01n);
  const view = new DataView(read.reply.buffer);
  assert.deepEqual([view.getUint8(0), view.getBigUint64(16, true)], [0, 0xd01n]);
  const bad = msrExit('rdmsr', 0x1234) as VcpuExit & { kind: 'rdmsr' };
  assert.equal(completeMsrAccess(port, bad), undefined);
  assert.equal(bad.reply[0], 1);
  const write = msrExit('wrmsr', 0x99, 5n) as VcpuExit & { kind: 'wrmsr' };
  assert.equal(completeMsrAccess(port, write), undefined);
  assert.equal(write.reply[0], 1);
});

test('beyond four hardware slots, execute requests allowed to be software become int3s; watchpoints never do', () => {
  const reqs = [1n, 2n, 3n, 4n, 5n].map((a) => ({ kind: 'execute' as const, address: a, software: true }));
  const { assignments } = assignHwSlots([...reqs, { kind: 'watch', address: 0x1000n, length: 4, access: 'write' }]);
  assert.deepEqual(assignments.map((a) => [a.slot, !!a.software, !!a.problem]), [
    [0, false, false], [1, false, false], [2, false, false], [3, false, false], [undefined, true, false], [undefined, false, true],
  ]);
  const applied: unknown[] = [];
  const dbg = new VcpuDebug((d) => applied.push(d), true);
  const r = dbg.arm(reqs);
  assert.deepEqual(r.software, [false, false, false, false, true]);
  assert.equal(dbg.isOurInt3(5n), true);
  assert.equal(dbg.isOurInt3(6n), false);
  assert.deepEqual(dbg.classify({ kind: 'debug', exception: 3, pc: 5n, dr6: 0n, dr7: 0n }, false), { reason: 'breakpoint', address: 5n });
  assert.equal(dbg.classify({ kind: 'debug', exception: 3, pc: 6n, dr6: 0n, dr7: 0n }, false), undefined, "a guest's own int3");
  assert.equal(dbg.guestDebug(false).softwareBreakpoints, true);
});

test('single steps block interrupts unless stepIntoInterrupts, and only where KVM can', () => {
  const dbg = new VcpuDebug(() => {}, true);
  assert.equal(dbg.guestDebug(true).blockInterrupts, true);
  assert.equal(dbg.guestDebug(false).blockInterrupts, undefined);
  assert.equal(dbg.setStepIntoInterrupts(true), false);
  assert.equal(dbg.guestDebug(true).blockInterrupts, false);
  const old = new VcpuDebug(() => {}, false);
  assert.equal(old.setStepIntoInterrupts(false), false, 'no BLOCKIRQ on this KVM: said so, not pretended');
  assert.equal(old.guestDebug(true).blockInterrupts, false);
});

test('stepping off an instruction breakpoint keeps the watchpoints armed (the instruction under it may be the watched write)', () => {
  const dbg = new VcpuDebug(() => {}, true);
  dbg.arm([{ kind: 'execute', address: 0x1000n }, { kind: 'watch', address: 0x2000n, length: 4, access: 'write' }]);
  const running = dbg.guestDebug(false);
  assert.equal(running.debugreg![7] & 0xffn, 0b1010n, 'both slots enabled while running (G0, G1)');
  const off = dbg.guestDebug(true, false);
  assert.equal(off.hardwareBreakpoints, true);
  assert.equal(off.debugreg![7] & 0xffn, 0b1000n, 'stepping off: the breakpoint (slot 0) disabled, the watchpoint (slot 1) still armed');
  assert.equal(off.debugreg![1], 0x2000n);
  assert.deepEqual(dbg.classify({ kind: 'debug', exception: 1, pc: 0x1003n, dr6: (1n << 14n) | 2n, dr7: 0n }, true),
    { reason: 'watchpoint', address: 0x2000n, length: 4, access: 'write' }, 'a step that also wrote the watched bytes is a watchpoint stop');
  const only = new VcpuDebug(() => {}, true);
  only.arm([{ kind: 'execute', address: 0x1000n }]);
  assert.deepEqual(only.guestDebug(true, false).debugreg, [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n], 'no watchpoints: no debug registers at all while stepping off');
});
