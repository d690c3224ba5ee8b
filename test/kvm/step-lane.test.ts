// KVM tier: instruction steps through the shared-memory lane
// (vmm/machine/step-lane.ts) and the registers the adapter's refresh is
// answered from (the copy the vCPU's thread leaves with each stop): equal,
// at every step, to the registers read from KVM the slow way; commands sent
// while the vCPU's thread waits on the lane are answered, in order.
// Behaviour only, no timing (a one-vCPU VM: only those use the lane).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Decoder, DecoderOptions, FlowControl, Mnemonic } from 'iced-x86';
import { hex, symbol } from './helpers/guests';
import { boot } from './helpers/machine';

test('pvh64: 200 lane steps from step_sequence; at each, the stop\'s registers equal KVM\'s, RIP follows the disassembly', async () => {
  const { machine } = await boot('pvh64');
  try {
    const target = BigInt(symbol('pvh64', 'step_sequence'));
    await machine.armHardware([{ kind: 'execute', address: target }]);
    const stopped = new Promise<bigint>((r) => machine.once('stopped', (_s, rip) => r(rip)));
    machine.resume();
    assert.equal(await stopped, target);
    await machine.armHardware([]);
    for (let i = 0; i < 200; i++) {
      const before = await machine.getRegs();
      const bytes = machine.memory.read(Number(before.rip), 15);
      const d = new Decoder(64, bytes, DecoderOptions.None);
      d.ip = before.rip;
      const insn = d.decode();
      const fallThrough = before.rip + BigInt(insn.length);
      const isBranch = insn.flowControl !== FlowControl.Next;
      // PVM completes a port write's instruction and runs the next one before the single-step trap
      // (measured here: out at serial_putc, then the subl after it): where RIP lands after an I/O exit is the host's.
      const io = [Mnemonic.Out, Mnemonic.In, Mnemonic.Outsb, Mnemonic.Insb].includes(insn.mnemonic);
      insn.free(); d.free();
      const stop = await machine.step();
      assert.equal(stop.reason, 'step', `step ${i}: ${JSON.stringify(stop)}`);
      const [snap, kvm] = [await machine.getRegs(), await machine.getRegs(0, true)];
      assert.deepEqual(snap, kvm, `step ${i}: the stop's registers are KVM's`);
      assert.deepEqual(await machine.getSregs(), await machine.getSregs(0, true), `step ${i}: the stop's system registers are KVM's`);
      if (!isBranch && !io) assert.equal(snap.rip, fallThrough, `step ${i}: RIP ${hex(snap.rip)} after the instruction at ${hex(before.rip)}`);
    }
  } finally {
    await machine.stop();
  }
});

test('pvh64: commands between lane steps are answered, and done in the order sent (a setRegs sent just before a step applies to it)', async () => {
  const { machine } = await boot('pvh64');
  try {
    assert.equal((await machine.step()).reason, 'step');
    const regs = await machine.getRegs();
    // A message while the vCPU's thread waits on the lane: it must not wait for the lane's timeout to be seen.
    await machine.setRegs({ rax: 0x1122334455667788n });
    assert.equal((await machine.getRegs()).rax, 0x1122334455667788n);
    assert.equal((await machine.getRegs(0, true)).rax, 0x1122334455667788n);
    assert.equal((await machine.getRegs()).rip, regs.rip);
    assert.equal((await machine.step()).reason, 'step');
    assert.notEqual((await machine.getRegs()).rip, regs.rip);

    // Sent together, done in order: the message before the lane step (RIP set), then the step from there.
    const target = BigInt(symbol('pvh64', 'step_sequence'));
    const bytes = machine.memory.read(Number(target), 15);
    const d = new Decoder(64, bytes, DecoderOptions.None);
    d.ip = target;
    const first = d.decode();
    const after = target + BigInt(first.length);
    assert.equal(first.flowControl, FlowControl.Next, 'step_sequence starts with a plain instruction');
    first.free(); d.free();
    const set = machine.setRegs({ rip: target });
    const stepped = machine.step();
    await set;
    assert.equal((await stepped).reason, 'step');
    assert.equal((await machine.getRegs()).rip, after, `RIP ${hex(after)}: one instruction from step_sequence`);

    // Two steps asked at once are two steps (the lane carries one at a time; the second follows the first).
    const d2 = new Decoder(64, machine.memory.read(Number(after), 15), DecoderOptions.None);
    d2.ip = after;
    const second = d2.decode();
    const afterTwo = after + BigInt(second.length);
    assert.equal(second.flowControl, FlowControl.Next, 'step_sequence\'s second instruction is a plain one');
    second.free(); d2.free();
    await machine.setRegs({ rip: target });
    const both = await Promise.all([machine.step(), machine.step()]);
    assert.deepEqual(both.map((x) => x.reason), ['step', 'step']);
    assert.equal((await machine.getRegs()).rip, afterTwo, `RIP ${hex(afterTwo)}: two instructions from step_sequence`);
  } finally {
    await machine.stop();
  }
});
