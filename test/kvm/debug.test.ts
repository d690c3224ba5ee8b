// KVM tier: guest debugging through the Machine API — hardware breakpoints
// (DR0/DR7), instruction single-stepping checked against iced-x86's decoding
// of guest memory, and software (int3) breakpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Decoder, DecoderOptions, FlowControl, Mnemonic } from 'iced-x86';
import { Machine } from '../../vmm/machine/machine';
import type { StopReason } from '../../vmm/machine/protocol';
import { BOOT_MS, defaultOutput, ended, hex, symbol, within } from './helpers/guests';
import { boot, resumeUntilStopped } from './helpers/machine';

/** The instructions of step_sequence before its `ret` (test/guests/kernel/step{32,64}.S). */
const SEQUENCE_LENGTH = 21;
const STEP_RESULT = 0x1234abcdn;

/** DR7 for DR0 as an execution breakpoint: L0 (bit 0) set, RW0 = 00 (execute), LEN0 = 00. */
const DR7_L0_EXECUTE = 0x1n;

/** Why int3 cannot be tested inside the sandbox (test/sandbox, kvm-sandbox/README.md). */
const SANDBOX_INT3 = 'software breakpoints are not testable inside the KVM sandbox: QEMU\'s TCG treats INT3 as INTn for '
  + 'nested SVM intercepts, so the guest\'s own #BP handler runs instead of a KVM_EXIT_DEBUG (kvm-sandbox/README.md); '
  + 'this test must pass on a host with a real /dev/kvm';
// Where int3 does not exit (the sandbox's nested SVM) the software path is an expected failure, said so.
const IN_SANDBOX = process.env.KVM_SANDBOX === '1';


/** Decodes the instruction at `rip` straight from guest memory (physical == virtual in the test kernels). */
function decodeAt(machine: Machine, bitness: 32 | 64, rip: bigint): { length: number; text: string; flow: FlowControl } {
  const bytes = machine.memory.read(Number(rip), 15);
  const decoder = new Decoder(bitness, bytes, DecoderOptions.None);
  decoder.ip = rip;
  const instr = decoder.decode();
  const out = { length: instr.length, text: `${Mnemonic[instr.mnemonic]} at ${hex(rip)}`, flow: instr.flowControl };
  instr.free();
  decoder.free();
  return out;
}

const BITNESS: Record<'pvh64' | 'multiboot32', 32 | 64> = { pvh64: 64, multiboot32: 32 };

/** A hardware-breakpoint stop at `target`, either bookkept ('breakpoint') or a raw DR0 debug exit ('debug'). */
function assertDr0Stop(stop: StopReason, rip: bigint, target: bigint): void {
  const shown = JSON.stringify(stop, (_, v) => typeof v === 'bigint' ? hex(v) : v);
  if (stop.reason === 'breakpoint') {
    assert.equal(stop.address, target, shown);
  } else {
    assert.equal(stop.reason, 'debug', `a breakpoint or debug stop, got ${shown}`);
    if (stop.reason !== 'debug') return;
    assert.equal(stop.exit.exception, 1, `a #DB exit: ${shown}`);
    assert.equal(stop.exit.dr6 & 0x1n, 0x1n, `DR6.B0 says DR0 hit: ${shown}`);
  }
  assert.equal(rip, target, `'stopped' carries RIP ${hex(rip)}, step_sequence is ${hex(target)}`);
}

for (const name of ['pvh64', 'multiboot32'] as const) {
  const bits = BITNESS[name];
  test(`${name} (${bits}-bit): DR0/DR7 on step_sequence stops there; single-steps follow the disassembly; the guest then finishes`, async () => {
    const { machine, console } = await boot(name);
    try {
      const target = BigInt(symbol(name, 'step_sequence'));
      // KVM's guest debug as is: DR0 = address, DR7 = L0 with RW0 = 00 (execute), LEN0 = 00.
      await machine.setGuestDebug({
        enable: true, hardwareBreakpoints: true,
        debugreg: [target, 0n, 0n, 0n, 0n, 0n, 0n, DR7_L0_EXECUTE],
      });

      const { stop, rip } = await resumeUntilStopped(machine, 'running to the hardware breakpoint');
      assertDr0Stop(stop, rip, target);
      assert.equal((await machine.getRegs()).rip, target, 'RIP is step_sequence');
      // Everything before step_sequence() has run, nothing after it.
      assert.ok(console.text.endsWith('pci 00:00.0: 8086:29c0\n'), `output at the breakpoint: ${JSON.stringify(console.text)}`);

      // Lift the breakpoint (stepping off an armed one is its own test
      // below), then single-step the straight-line sequence: each step moves
      // RIP by exactly the decoded instruction's length.
      await machine.setGuestDebug({ enable: false });
      const trace: string[] = [];
      let regs = await machine.getRegs();
      for (let i = 0; i < SEQUENCE_LENGTH; i++) {
        const insn = decodeAt(machine, bits, regs.rip);
        trace.push(insn.text);
        assert.equal(insn.flow, FlowControl.Next, `instruction ${i} (${insn.text}) is straight-line`);
        const s = await within(machine.step(), 60_000, `step ${i}`);
        assert.equal(s.reason, 'step', `step ${i} (${insn.text}) reported ${s.reason}; trace: ${trace.join(', ')}`);
        const next = await machine.getRegs();
        assert.equal(next.rip, regs.rip + BigInt(insn.length),
          `step ${i}: ${insn.text}, ${insn.length} bytes: RIP went to ${hex(next.rip)}; trace: ${trace.join(', ')}`);
        regs = next;
      }
      // The sequence is complete: RIP is at its ret, the result is in EAX/RAX.
      assert.equal(decodeAt(machine, bits, regs.rip).flow, FlowControl.Return, `RIP ${hex(regs.rip)} is at step_sequence's ret`);
      assert.equal(regs.rax & 0xffff_ffffn, STEP_RESULT, `EAX = ${hex(regs.rax)}`);
      if (bits === 64) {
        assert.deepEqual([regs.r8, regs.r9, regs.r11].map(hex), [STEP_RESULT, STEP_RESULT + 0x10n, STEP_RESULT].map(hex), 'r8, r9, r11 as step64.S says');
      } else {
        assert.equal(regs.rcx & 0xffff_ffffn, STEP_RESULT, 'ECX as step32.S says');
      }
      assert.ok(console.text.endsWith('pci 00:00.0: 8086:29c0\n'), 'stepping printed nothing');

      // Resume: the guest finishes normally.
      const stops: StopReason[] = [];
      machine.on('stopped', (s) => stops.push(s));
      machine.resume();
      const end = await ended(machine, BOOT_MS);
      assert.deepEqual(stops, [], 'no further stops');
      assert.equal(console.text, defaultOutput(name));
      assert.deepEqual([end.kind, end.status], ['poweroff', 0], end.message);
    } finally {
      await machine.stop().catch(() => {});
    }
  });
}

/** Boots `name`, arms the debugger's hardware breakpoint (Machine.armHardware) at step_sequence, runs to it. */
async function parkOnArmedBreakpoint(name: 'pvh64' | 'multiboot32') {
  const { machine, console } = await boot(name);
  const target = BigInt(symbol(name, 'step_sequence'));
  const armed = await machine.armHardware([{ kind: 'execute', address: target }]);
  assert.deepEqual(armed.armed, [true], `armed: ${JSON.stringify(armed.problems)}`);
  const { stop, rip } = await resumeUntilStopped(machine, 'running to the hardware breakpoint');
  assert.deepEqual([stop.reason, hex(rip)], ['breakpoint', hex(target)]);
  if (stop.reason === 'breakpoint') assert.equal(stop.address, target);
  return { machine, console, target };
}

for (const name of ['pvh64', 'multiboot32'] as const) {
  test(`${name}: Machine.armHardware breakpoint: a single step while parked on it executes the instruction there`, async () => {
    const { machine, target } = await parkOnArmedBreakpoint(name);
    try {
      const insn = decodeAt(machine, BITNESS[name], target);
      const s = await within(machine.step(), 60_000, 'the step off the breakpoint');
      const rip = (await machine.getRegs()).rip;
      assert.deepEqual([s.reason, hex(rip)], ['step', hex(target + BigInt(insn.length))],
        `a step at the breakpoint address must execute ${insn.text} (${insn.length} bytes), not re-report the breakpoint`);
    } finally {
      await machine.stop().catch(() => {});
    }
  });

  test(`${name}: Machine.armHardware breakpoint: continuing while parked on it runs on (no second stop there), the guest finishes`, async () => {
    const { machine, console } = await parkOnArmedBreakpoint(name);
    try {
      const stops: { reason: string; rip: string }[] = [];
      machine.on('stopped', (s: StopReason, rip: bigint) => stops.push({ reason: s.reason, rip: hex(rip) }));
      machine.resume();
      const end = await within(Promise.race([
        machine.whenEnded(),
        new Promise<never>((_, reject) => machine.once('stopped', (s: StopReason, rip: bigint) =>
          reject(new Error(`continue from the breakpoint stopped again (${s.reason} at ${hex(rip)}) instead of executing step_sequence`)))),
      ]), BOOT_MS, 'continue from the breakpoint');
      assert.equal(console.text, defaultOutput(name));
      assert.deepEqual([end.kind, end.status], ['poweroff', 0], end.message);
      assert.deepEqual(stops, []);
    } finally {
      await machine.stop().catch(() => {});
    }
  });
}

test('pvh64: software breakpoint (int3 written at step_sequence) gives a debug exit there; restored, the guest finishes',
  async (t) => {
    const { machine, console } = await boot('pvh64');
    try {
      // The start-up probe (ARCHITECTURE rule 6) decides; inside the sandbox it must say no.
      // Raw int3, not kvmdbg's breakpoints: only a host whose trap is the int3 delivers it (the sandbox's is the port trap).
      const int3 = machine.int3.delivered && machine.int3.trap?.length === 1;
      if (IN_SANDBOX) assert.equal(int3, false, `${machine.int3.note} (${SANDBOX_INT3})`);
      if (!int3) t.todo(`not verifiable on this host: ${machine.int3.note}`);
      const target = symbol('pvh64', 'step_sequence');
      const original = machine.memory.readU8(target);
      await machine.setGuestDebug({ enable: true, softwareBreakpoints: true });
      machine.memory.writeU8(target, 0xcc);

      const stopped = new Promise<{ stop: StopReason; rip: bigint }>((resolve) => machine.once('stopped', (stop, rip) => resolve({ stop, rip })));
      machine.resume();
      const first = await within(Promise.race([stopped, machine.whenEnded()]), BOOT_MS, 'running to the int3');
      if (!('stop' in first)) {
        assert.fail(`no debug exit for the int3 at ${hex(target)}: the VM ended (${first.kind}: ${first.message})`
          + (IN_SANDBOX ? ` — expected here: ${SANDBOX_INT3}` : ''));
      }
      const { stop, rip } = first;
      // Raw guest debug is not bookkept: the stop carries the exit itself.
      const shown = JSON.stringify(stop, (_, v) => typeof v === 'bigint' ? hex(v) : v);
      assert.ok(stop.reason === 'debug' || stop.reason === 'breakpoint', shown);
      if (stop.reason === 'debug') assert.equal(stop.exit.exception, 3, `a #BP exit: ${shown}`);
      assert.equal(rip, BigInt(target), `RIP ${hex(rip)} is the int3's address`);

      machine.memory.writeU8(target, original);
      await machine.setGuestDebug({ enable: false });
      machine.resume();
      const end = await ended(machine, BOOT_MS);
      assert.equal(console.text, defaultOutput('pvh64'));
      assert.deepEqual([end.kind, end.status], ['poweroff', 0], end.message);
    } finally {
      await machine.stop().catch(() => {});
    }
  });
