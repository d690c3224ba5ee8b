// KVM tier: single steps do not wander into timer interrupts unless asked
// (KVM_GUESTDBG_BLOCKIRQ). The pvh64 test kernel is stopped at
// step_sequence and sent to a small program of ours: it programs the
// in-kernel PIC and PIT (IRQ0 at ~1.2 kHz -> vector 0x20), enables
// interrupts and loops; the handler counts in R12 and sends EOI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Machine } from '../../vmm/machine/machine';
import type { StopReason } from '../../vmm/machine/protocol';
import { guestCode, SoftwareBreakpoints } from '../../vmm/debug/software-breakpoints';
import { BOOT_MS, Console, MEMORY_64M, defaultOutput, ended, hex, kernelPath, symbol, within } from './helpers/guests';

const PROGRAM = 0x70000;
const HANDLER = PROGRAM + 0x100;
const IDT = 0x71000;
/** as --64 of: ICW1-4 (vector base 0x20), mask all but IRQ0; PIT ch0 mode 2 divisor 0x400; sti; loop: inc %rbx; jmp loop */
const PROGRAM_BYTES = 'b011e620b020e621b004e621b001e621b0fee621b034e643b000e640b004e640fb48ffc3ebfb';
const LOOP = PROGRAM + 0x21;
const LOOP_END = PROGRAM + 0x26;
/** inc %r12; push %rax; mov $0x20,%al; out %al,$0x20 (EOI); pop %rax; iretq */
const HANDLER_BYTES = '49ffc450b020e6205848cf';

const bytes = (h: string): Uint8Array => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));

/** A 64-bit interrupt gate to `handler` through code selector `cs`. */
function gate(handler: number, cs: number): Uint8Array {
  const g = new Uint8Array(16);
  const v = new DataView(g.buffer);
  v.setUint16(0, handler & 0xffff, true);
  v.setUint16(2, cs, true);
  v.setUint8(5, 0x8e);
  v.setUint16(6, (handler >>> 16) & 0xffff, true);
  v.setUint32(8, 0, true);
  return g;
}

async function timerGuest(): Promise<Machine> {
  const machine = await within(Machine.create({ kernel: kernelPath('pvh64'), cmdline: '', memoryBytes: MEMORY_64M }), BOOT_MS, 'creating a VM');
  const target = BigInt(symbol('pvh64', 'step_sequence'));
  await machine.armHardware([{ kind: 'execute', address: target }]);
  const stopped = new Promise<StopReason>((r) => machine.once('stopped', (s) => r(s)));
  machine.resume();
  await within(stopped, BOOT_MS, 'running to step_sequence');
  await machine.armHardware([]);
  const sregs = await machine.getSregs();
  machine.memory.write(PROGRAM, bytes(PROGRAM_BYTES));
  machine.memory.write(HANDLER, bytes(HANDLER_BYTES));
  // Vectors 0x20-0x2f (the PIC's, spurious IRQ7 included) all go to the handler.
  for (let v = 0x20; v < 0x30; v++) machine.memory.write(IDT + v * 16, gate(HANDLER, sregs.cs.selector));
  await machine.setSregs({ idt: { base: BigInt(IDT), limit: 0xfff } });
  await machine.setRegs({ rip: BigInt(PROGRAM), rbx: 0n, r12: 0n });
  return machine;
}

const inLoop = (rip: bigint): boolean => rip >= BigInt(LOOP) && rip < BigInt(LOOP_END);

test('pvh64 + PIT timer: 300 instruction steps stay in the loop (interrupts held back); with stepIntoInterrupts a step lands in the handler', async () => {
  const machine = await timerGuest();
  try {
    // Run freely: the timer really interrupts the loop.
    machine.resume();
    await new Promise((r) => setTimeout(r, 300));
    await machine.pause();
    let regs = await machine.getRegs();
    assert.ok(regs.r12 > 0n, `the timer handler ran during the free run (R12 = ${regs.r12}): the premise of this test`);
    // If the pause landed inside the handler, step out of it first (blocked steps still finish the handler).
    for (let i = 0; i < 20 && !inLoop(regs.rip); i++) { await machine.step(); regs = await machine.getRegs(); }
    assert.ok(inLoop(regs.rip), `back in the loop at ${hex(regs.rip)}`);

    assert.equal(await machine.setStepIntoInterrupts(false), true, 'this KVM blocks interrupts while stepping (KVM_GUESTDBG_BLOCKIRQ, Linux 5.15+)');
    const ticks = regs.r12;
    for (let i = 0; i < 300; i++) {
      const s = await within(machine.step(), 60_000, `step ${i}`);
      assert.equal(s.reason, 'step');
      const rip = (await machine.getRegs()).rip;
      assert.ok(inLoop(rip), `step ${i}: RIP ${hex(rip)} left the loop (the handler is at ${hex(HANDLER)})`);
    }
    assert.equal((await machine.getRegs()).r12, ticks, 'no interrupt was taken during the steps');

    // Asked to, steps take the pending tick: a step lands in the handler (VMX), or, where KVM single-steps
    // with RFLAGS.TF and the CPU clears TF for the handler (seen on nested SVM), the handler runs inside one step.
    assert.equal(await machine.setStepIntoInterrupts(true), false);
    let taken = -1;
    for (let i = 0; i < 500 && taken < 0; i++) {
      await machine.step();
      const r = await machine.getRegs();
      if ((r.rip >= BigInt(HANDLER) && r.rip < BigInt(HANDLER + 11)) || r.r12 > ticks) taken = i;
    }
    assert.ok(taken >= 0, 'with stepIntoInterrupts the timer interrupt was taken during 500 steps');
  } finally {
    await machine.stop().catch(() => {});
  }
});


test('pvh64: a fifth code breakpoint becomes a software trap (an int3, or the port trap where int3 goes to the guest): planted, hit, lifted, stepped off; the guest finishes', async () => {
  const machine = await within(Machine.create({ kernel: kernelPath('pvh64'), cmdline: '', memoryBytes: MEMORY_64M }), BOOT_MS, 'creating a VM');
  const console = new Console(machine);
  try {
    // ARCHITECTURE rule 6: the start-up probe decides which trap; every KVM host here has one (PVM: int3; the sandbox: the port trap).
    assert.equal(machine.int3.delivered, true, machine.int3.note);
    const target = BigInt(symbol('pvh64', 'step_sequence'));
    // Four never-reached addresses take DR0-DR3; the fifth request may be software.
    const far = [0x7000n, 0x7001n, 0x7002n, 0x7003n].map((address) => ({ kind: 'execute' as const, address, software: true }));
    const armed = await machine.armHardware([...far, { kind: 'execute', address: target, software: true }]);
    assert.deepEqual(armed.software, [false, false, false, false, true]);
    const sw = new SoftwareBreakpoints();
    sw.trap = machine.int3.trap!;
    sw.set([target]);
    const sregs = await machine.getSregs();
    const mem = guestCode(machine.memory, { cr0: sregs.cr0, cr3: sregs.cr3, cr4: sregs.cr4, efer: sregs.efer }, machine.kernelCodeBits);
    assert.deepEqual(sw.plant(mem), { pending: [], tooShort: [] });
    const stopped = new Promise<{ stop: StopReason; rip: bigint }>((r) => machine.once('stopped', (stop, rip) => r({ stop, rip })));
    machine.resume();
    const first = await within(Promise.race([stopped, machine.whenEnded()]), BOOT_MS, 'running to the int3');
    if (!('stop' in first)) return assert.fail(`no stop for our trap at ${hex(target)}: the VM ended (${first.message})`);
    sw.restore(mem);
    assert.deepEqual([first.stop.reason, hex(first.rip)], ['breakpoint', hex(target)]);
    await machine.armHardware([]);
    assert.equal((await machine.step()).reason, 'step');
    assert.equal((await machine.getRegs()).rip, target + 2n, 'the step executed the original xor %eax,%eax');
    machine.resume();
    const end = await ended(machine, BOOT_MS);
    assert.equal(console.text, defaultOutput('pvh64'));
    assert.deepEqual([end.kind, end.status], ['poweroff', 0], end.message);
  } finally {
    await machine.stop().catch(() => {});
  }
});
