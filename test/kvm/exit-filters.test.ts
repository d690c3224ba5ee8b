// kvm-needs: msr-exits
// (MSR breakpoints on EFER)
// KVM tier: the VM-exit breakpoints KVM can only deliver with help — MSR
// accesses (a KVM MSR filter, completed by us), HLT (KVM handles it in the
// kernel: found by a kick and the vCPU's mp_state) — on the pvh64 test kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StopReason } from '../../vmm/machine/protocol';
import { BOOT_MS, defaultOutput, ended, hex, symbol } from './helpers/guests';
import { boot, resumeUntilStopped } from './helpers/machine';

const EFER = 0xc000_0080;
const EFER_LME = 0x100n;


const shown = (v: unknown): string => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? hex(x) : x instanceof Uint8Array ? `<${x.length} bytes>` : x));

test('pvh64: an MSR breakpoint on EFER stops before the PVH stub\'s RDMSR and WRMSR; both complete correctly; the guest finishes', async () => {
  const { machine, console } = await boot('pvh64');
  try {
    await machine.setExitBreakpoints({ msr: [{ first: EFER, last: EFER }] });

    const first = await resumeUntilStopped(machine, 'running to the RDMSR of EFER');
    assert.equal(first.stop.reason, 'exit', shown(first.stop));
    if (first.stop.reason !== 'exit') return;
    assert.equal(first.stop.exit.kind, 'rdmsr', shown(first.stop));
    assert.match(first.stop.description, /^RDMSR 0xc0000080 \(EFER\) at 0x[0-9a-f]+$/);
    // Stopped before the instruction: RIP is at the RDMSR (0f 32), nothing printed yet.
    assert.deepEqual([...machine.memory.read(Number(first.rip), 2)], [0x0f, 0x32], `RIP ${hex(first.rip)} is at rdmsr`);
    assert.equal(console.text, '');

    const second = await resumeUntilStopped(machine, 'running to the WRMSR of EFER');
    assert.equal(second.stop.reason, 'exit', shown(second.stop));
    if (second.stop.reason !== 'exit' || second.stop.exit.kind !== 'wrmsr') return assert.fail(shown(second.stop));
    assert.equal(second.stop.exit.index, EFER);
    // The stub ORs LME into what RDMSR returned: the value we completed the read with arrived in EDX:EAX.
    assert.equal(second.stop.exit.data & EFER_LME, EFER_LME, `WRMSR data ${hex(second.stop.exit.data)} has LME`);
    assert.match(second.stop.description, /^WRMSR 0xc0000080 \(EFER\) <- 0x[0-9a-f]+ at 0x[0-9a-f]+$/);
    assert.deepEqual([...machine.memory.read(Number(second.rip), 2)], [0x0f, 0x30], `RIP ${hex(second.rip)} is at wrmsr`);

    // The write is performed on resume: long mode comes up and the kernel runs to its end with no further stop.
    const stops: StopReason[] = [];
    machine.on('stopped', (s: StopReason) => stops.push(s));
    machine.resume();
    const end = await ended(machine, BOOT_MS);
    assert.deepEqual(stops.map(shown), []);
    assert.equal(console.text, defaultOutput('pvh64'));
    assert.deepEqual([end.kind, end.status], ['poweroff', 0], end.message);
  } finally {
    await machine.stop().catch(() => {});
  }
});

test('pvh64: an MSR breakpoint on writes only lets the RDMSR through and stops at the WRMSR', async () => {
  const { machine } = await boot('pvh64');
  try {
    await machine.setExitBreakpoints({ msr: [{ first: EFER, last: EFER, direction: 'out' }] });
    const { stop } = await resumeUntilStopped(machine, 'running to the WRMSR of EFER');
    assert.ok(stop.reason === 'exit' && stop.exit.kind === 'wrmsr', shown(stop));
  } finally {
    await machine.stop().catch(() => {});
  }
});

/** cli; hlt; jmp back to the hlt — a vCPU that halts for good. */
const HALT_FOREVER = [0xfa, 0xf4, 0xeb, 0xfd];

test('pvh64: the HLT breakpoint stops a vCPU sitting in HLT (in-kernel LAPIC: found by a kick and mp_state HALTED)', async () => {
  const { machine } = await boot('pvh64');
  try {
    const target = BigInt(symbol('pvh64', 'step_sequence'));
    assert.deepEqual((await machine.armHardware([{ kind: 'execute', address: target }])).armed, [true]);
    const at = await resumeUntilStopped(machine, 'running to step_sequence');
    assert.equal(at.rip, target);
    await machine.armHardware([]);
    machine.memory.write(Number(target), new Uint8Array(HALT_FOREVER));
    await machine.setExitBreakpoints({ hlt: true });

    const { stop, rip } = await resumeUntilStopped(machine, 'running into the HLT');
    assert.ok(stop.reason === 'exit' && stop.exit.kind === 'hlt', shown(stop));
    if (stop.reason !== 'exit') return;
    // KVM has executed the HLT: RIP is past it.
    assert.equal(rip, target + 2n, `RIP ${hex(rip)}`);
    assert.equal(stop.description, `HLT at ${hex(target + 1n)}`);

    // Resumed, it halts again and is found again.
    const again = await resumeUntilStopped(machine, 'halting again');
    assert.ok(again.stop.reason === 'exit' && again.stop.exit.kind === 'hlt', shown(again.stop));
  } finally {
    await machine.stop().catch(() => {});
  }
});
