/**
 * The host probes: each boots a tiny guest that exercises one mechanism the
 * debugger relies on and says whether the expected exit really came back.
 * Measured by trying (ARCHITECTURE rule 6), never inferred from the host's
 * name. Each runs on a vCPU thread (KVM_RUN never runs on the main one).
 */
import type { Kvm, Vm } from '../../../native';
import type { VcpuExit } from '../../../native/types';
import { VmExitControls } from '../../debug/msr-filter';
import { completeMsrAccess } from '../../debug/msr-access';
import { dropPendingOut, PORT_TRAP, TRAP_PORT } from '../../debug/port-trap';
import { CODE, DATA, DONE_PORT, exitWords, HANDLER, HANDLER_PORT, le32, op, PROBE_RAM, ProbeVm, type ProbeMode } from './probe-vm';
import type { CapabilityId } from './capabilities';

export interface ProbeOutcome { works: boolean; detail: string }

/** onVcpu: before a probe's vCPU runs; `deadlineMs` shortens the host-probe deadline for a run that only a kick ends. */
export type ProbeContext = { kvm: Kvm; onVcpu: (kickToken: number, deadlineMs?: number) => void };

type Probe = (ctx: ProbeContext) => ProbeOutcome;

const DR7_G0 = 0x2n;
const DR7_GE = 1n << 9n;
const DR6_B0 = 1n;
const DR6_BS = 1n << 14n;
const EFER = 0xc000_0080;
const hex = (v: number | bigint) => '0x' + v.toString(16);

const yes = (detail: string): ProbeOutcome => ({ works: true, detail });
const no = (detail: string): ProbeOutcome => ({ works: false, detail });

function withVm(ctx: ProbeContext, mode: ProbeMode, body: (p: ProbeVm) => ProbeOutcome,
  slots?: ConstructorParameters<typeof ProbeVm>[3]): ProbeOutcome {
  let p: ProbeVm;
  try {
    p = new ProbeVm(ctx.kvm, mode, ctx.onVcpu, slots);
  } catch (e) {
    return no(`the probe VM could not be set up: ${(e as Error).message}`);
  }
  try {
    return body(p);
  } catch (e) {
    return no((e as Error).message);
  } finally {
    p.close();
  }
}

const isDone = (e: VcpuExit) => e.kind === 'io' && e.port === DONE_PORT;

/** Runs and judges: `hit` names the exit that proves the mechanism; anything else is why not. */
function expect(p: ProbeVm, hit: (e: VcpuExit) => boolean, yesText: string, noText: (e: VcpuExit) => string): ProbeOutcome {
  const exit = p.runUntil((e) => (hit(e) ? e : undefined));
  return hit(exit) ? yes(yesText) : no(noText(exit));
}

/**
 * Real mode as a BIOS boot uses it: code runs, an INT n reaches its IVT
 * handler, whose IRET returns. Where the host gives an internal error on
 * the INT or the IRET (RIP on it), kvmdbg's BIOS performs it for the guest
 * (vmm/bios/bios-calls.ts), so real mode still works, and the detail says how.
 */
const realMode: Probe = (ctx) => withVm(ctx, 'real', (p) => {
  const handler = 0x2000;
  p.code([0xb0, 1, 0xe6, HANDLER_PORT, 0xcd, 0x10, ...op.outDone(3), op.hlt]);     // report; int 10h; done
  p.code([0xb0, 2, 0xe6, HANDLER_PORT, 0xcf], handler);                            // report; iret
  p.memory.writeU16(0x10 * 4, handler);
  p.memory.writeU16(0x10 * 4 + 2, 0);
  const seen: string[] = [];
  let emulated = '';
  for (let i = 0; i < 8; i++) {
    const exit = p.runUntil((e) => e);
    if (exit.kind === 'io' && exit.port === HANDLER_PORT) { seen.push(exit.data[0] === 1 ? 'code' : 'handler'); continue; }
    if (exit.kind === 'io' && exit.port === DONE_PORT) {
      return yes(`a real-mode guest runs; INT n reaches its IVT handler and IRET returns${emulated ? ` (${emulated}: kvmdbg's BIOS performs it for the guest)` : ''}`);
    }
    const rip = Number(p.vcpu.getRegs().rip);
    if (exit.kind === 'internalError' && seen.includes('code') && !emulated && (rip === 0x1004 || rip === handler + 4)) {
      // What bios-calls.ts does on such a host: the CPU's part of the INT (or IRET), then on.
      emulated = `${rip === 0x1004 ? 'INT n' : 'IRET'} gives a KVM ${exitWords(exit)}`;
      const r = p.vcpu.getRegs();
      if (rip === 0x1004) {
        p.memory.write(0x7ffa, Uint8Array.from([0x06, 0x10, 0, 0, Number(r.rflags) & 0xff, 0]));
        p.vcpu.setRegs({ ...r, rip: BigInt(handler), rsp: 0x7ffan });
      } else {
        p.vcpu.setRegs({ ...r, rip: BigInt(p.memory.readU16(Number(r.rsp))), rsp: r.rsp + 6n });
      }
      continue;
    }
    return no(seen.length === 0 ? `a real-mode guest gave ${exitWords(exit)} instead of its first port write`
      : `a real-mode INT n ${seen.includes('handler') ? 'reached its handler, whose IRET' : ''} gave ${exitWords(exit)}`);
  }
  return no('a real-mode INT n and IRET did not finish in 8 exits');
});

const longMode: Probe = (ctx) => withVm(ctx, 'long', (p) => {
  p.code([...op.outDone(1), op.hlt]);
  return expect(p, isDone, 'a 64-bit guest runs', (e) => `a 64-bit guest gave ${exitWords(e)} instead of its port write`);
});

const singleStep: Probe = (ctx) => withVm(ctx, 'long', (p) => {
  p.code([op.nop, op.nop, ...op.outDone(1), op.hlt]);
  p.vcpu.setGuestDebug({ enable: true, singleStep: true });
  const exit = p.runUntil((e) => (e.kind === 'debug' ? e : undefined));
  if (exit.kind === 'debug' && exit.pc === BigInt(CODE + 1) && (exit.dr6 & DR6_BS || exit.exception === 1)) return yes('one instruction a step');
  return no(exit.kind === 'debug' ? `a step stopped at ${hex(exit.pc)}, not after one instruction (${hex(CODE + 1)})` : `a step gave ${exitWords(exit)}`);
});

const hwBreakpoints: Probe = (ctx) => withVm(ctx, 'long', (p) => {
  p.code([op.nop, op.nop, op.nop, ...op.outDone(1), op.hlt]);
  p.vcpu.setGuestDebug({ enable: true, hardwareBreakpoints: true, debugreg: [BigInt(CODE + 2), 0n, 0n, 0n, 0n, 0n, 0n, DR7_G0] });
  return expect(p, (e) => e.kind === 'debug' && e.pc === BigInt(CODE + 2), 'DR0 stopped at its instruction',
    (e) => `DR0 on ${hex(CODE + 2)} gave ${exitWords(e)}`);
});

const drWatchpoints: Probe = (ctx) => withVm(ctx, 'long', (p) => {
  p.code([...op.movByteAbs(DATA, 1), op.nop, ...op.outDone(1), op.hlt]);
  const dr7 = DR7_G0 | DR7_GE | (1n << 16n);   // RW0 = 01 (write), LEN0 = 00 (1 byte)
  p.vcpu.setGuestDebug({ enable: true, hardwareBreakpoints: true, debugreg: [BigInt(DATA), 0n, 0n, 0n, 0n, 0n, 0n, dr7] });
  return expect(p, (e) => e.kind === 'debug' && (e.dr6 & DR6_B0) !== 0n, 'a DR0 write watchpoint fired',
    (e) => `the guest wrote the watched byte and ${isDone(e) ? 'ran on: no debug exit' : `then gave ${exitWords(e)}`}`);
});

const int3Exits: Probe = (ctx) => withVm(ctx, 'long', (p) => {
  p.code([op.int3, ...op.outDone(1), op.hlt]);
  p.vcpu.setGuestDebug({ enable: true, softwareBreakpoints: true });
  return expect(p, (e) => e.kind === 'debug' && e.exception === 3, 'int3 gave a debug exit',
    (e) => `int3 with software breakpoints on gave ${exitWords(e)}`);
});

/**
 * The software breakpoint kvmdbg can use here: an int3 planted over an
 * instruction must come back to us with RIP on it (a debug exit, or on PVM
 * an internal error), and the guest must go on once the byte is restored.
 */
const int3Trap: Probe = (ctx) => withVm(ctx, 'long', (p) => {
  const original = [0xb0, 0x07];                                      // mov al,7 (overwritten by the int3)
  p.code([op.nop, ...original, 0xe6, DONE_PORT, op.hlt]);
  p.memory.writeU8(CODE + 1, op.int3);
  p.vcpu.setGuestDebug({ enable: true, softwareBreakpoints: true });
  const exit = p.runUntil((e) => (e.kind === 'debug' || e.kind === 'internalError' ? e : undefined));
  const rip = p.vcpu.getRegs().rip;
  const pc = exit.kind === 'debug' ? exit.pc : rip;
  if ((exit.kind !== 'debug' || exit.exception !== 3) && exit.kind !== 'internalError') return no(`a planted int3 gave ${exitWords(exit)}`);
  if (pc !== BigInt(CODE + 1)) return no(`a planted int3 gave ${exitWords(exit)} at ${hex(pc)}, not at the int3 (${hex(CODE + 1)})`);
  p.memory.writeU8(CODE + 1, original[0]);
  p.vcpu.setRegs({ ...p.vcpu.getRegs(), rip: BigInt(CODE + 1) });
  const after = p.runUntil<VcpuExit>(() => undefined);
  if (!(isDone(after) && after.kind === 'io' && after.data[0] === 7)) return no(`after a planted int3 (${exitWords(exit)}) and the byte restored, the guest gave ${exitWords(after)}`);
  return yes(exit.kind === 'debug' ? 'a planted int3 gave a debug exit; restored, the guest went on' : `a planted int3 gave an ${exitWords(exit)} with RIP on it; restored, the guest went on`);
});

/**
 * The other software breakpoint: a 2-byte OUT to TRAP_PORT planted over an
 * instruction of 2 bytes or more. Its exit comes before KVM completes it
 * (RIP on it); moving RIP away for one immediate-exit KVM_RUN drops the
 * pending OUT without executing it, and the guest goes on with its own
 * bytes put back. For hosts that hand int3 to the guest (nested SVM under
 * QEMU: the KVM sandbox).
 */
const portTrap: Probe = (ctx) => withVm(ctx, 'long', (p) => {
  const original = [0xb0, 0x07];                                      // mov al,7 (overwritten by the trap)
  p.code([op.nop, ...original, 0xe6, DONE_PORT, op.hlt]);
  p.memory.write(CODE + 1, Uint8Array.from(PORT_TRAP));
  const exit = p.runUntil((e) => (e.kind === 'io' && e.port === TRAP_PORT ? e : undefined));
  if (exit.kind !== 'io' || exit.port !== TRAP_PORT) return no(`a planted OUT to port 0x${TRAP_PORT.toString(16)} gave ${exitWords(exit)}`);
  const rip = p.vcpu.getRegs().rip;
  if (rip !== BigInt(CODE + 1)) return no(`a planted OUT exited with RIP ${hex(rip)}, not on it (${hex(CODE + 1)})`);
  dropPendingOut(p.vcpu, rip);
  p.memory.write(CODE + 1, Uint8Array.from(original));
  const after = p.runUntil<VcpuExit>(() => undefined);
  if (!(isDone(after) && after.kind === 'io' && after.data[0] === 7)) return no(`after a planted OUT was dropped and the bytes restored, the guest gave ${exitWords(after)}`);
  return yes(`a planted OUT to port 0x${TRAP_PORT.toString(16)} exited with RIP on it; dropped and restored, the guest went on`);
});

const shutdownExit: Probe = (ctx) => withVm(ctx, 'long', (p) => {
  // No IDT (limit 0): #UD -> #GP -> #DF -> shutdown.
  p.code([...op.ud2, ...op.outDone(1), op.hlt]);
  return expect(p, (e) => e.kind === 'shutdown', 'a triple fault gave a shutdown exit', (e) => `a triple fault gave ${exitWords(e)}`);
});

const failEntry: Probe = (ctx) => withVm(ctx, 'long', (p) => {
  p.code([...op.outDone(1), op.hlt]);
  const cs = p.vcpu.getSregs().cs;
  try {
    p.vcpu.setSregs({ cs: { ...cs, l: true, db: true } });
  } catch (e) {
    return yes(`KVM_SET_SREGS refused CS.L+CS.D (${(e as Error).message})`);
  }
  return expect(p, (e) => e.kind === 'failEntry' || e.kind === 'internalError', 'an invalid CPU state gave a failed-entry exit',
    (e) => `CS.L+CS.D (invalid) gave ${exitWords(e)}`);
});

/**
 * RDMSR and WRMSR of EFER with the filter on both, each completed by us as
 * the VMM does: in 64-bit code, and in 32-bit code as a PVH stub enters long
 * mode (set LME, then paging), which must still run after our WRMSR.
 */
const msrExitsIn = (mode: ProbeMode): Probe => (ctx) => withVm(ctx, mode, (p) => {
  const enterLongMode = mode === 'long' ? [] : [
    0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x20, 0x0f, 0x22, 0xe0,                 // mov eax,cr4; or eax,PAE; mov cr4,eax
    0xb8, ...le32(p.pml4), 0x0f, 0x22, 0xd8,                               // mov eax,pml4; mov cr3,eax
  ];
  const pagingOn = mode === 'long' ? [] : [0x0f, 0x20, 0xc0, 0x0d, ...le32(0x8000_0000), 0x0f, 0x22, 0xc0];  // CR0.PG
  const setLme = mode === 'long' ? [] : [0x0d, ...le32(0x100)];                                              // or eax,LME
  p.code([...enterLongMode, 0xb9, ...le32(EFER), 0x0f, 0x32, ...setLme, 0x0f, 0x30, ...pagingOn, ...op.outDone(1), op.hlt]);
  try {
    new VmExitControls(p.vm).apply({ msr: [{ first: EFER, last: EFER }] });
  } catch (e) {
    return no(`this KVM has no MSR filter: ${(e as Error).message}`);
  }
  const bits = mode === 'long' ? '64-bit' : '32-bit';
  const read = p.runUntil((e) => (e.kind === 'rdmsr' ? e : undefined));
  if (read.kind !== 'rdmsr') return no(`a filtered RDMSR EFER in ${bits} code gave ${exitWords(read)}`);
  completeMsrAccess(p.vcpu, read);
  const write = p.runUntil((e) => (e.kind === 'wrmsr' ? e : undefined));
  if (write.kind !== 'wrmsr') return no(`a filtered WRMSR EFER in ${bits} code (after its RDMSR exited) gave ${exitWords(write)}`);
  completeMsrAccess(p.vcpu, write);
  return expect(p, isDone, `filtered RDMSR and WRMSR of EFER exited and completed (${bits})`,
    (e) => `after kvmdbg completed a filtered WRMSR EFER in ${bits} code${mode === 'long' ? '' : ' (entering long mode)'}, the guest gave ${exitWords(e)}`);
});

const msrExits: Probe = (ctx) => {
  const long = msrExitsIn('long')(ctx);
  return long.works ? msrExitsIn('protected')(ctx) : long;
};

/** A #UD whose handler returns (iretq past the ud2), then an INT 0x80: both through the guest's 64-bit IDT. */
const guestExceptions: Probe = (ctx) => withVm(ctx, 'long', (p) => {
  const intHandler = HANDLER + 0x100;
  p.code([...op.ud2, 0xcd, 0x80, ...op.outDone(1), op.hlt])
    .gate64(6, HANDLER).code([0x48, 0x83, 0x04, 0x24, 0x02, 0x48, 0xcf], HANDLER)     // add qword [rsp],2; iretq
    .gate64(0x80, intHandler).code([...op.outHandler, op.hlt], intHandler);
  return expect(p, (e) => e.kind === 'io' && e.port === HANDLER_PORT, 'a #UD returned from its handler and an INT 0x80 reached its gate (64-bit IDT)',
    (e) => `a 64-bit #UD (its handler returning with iretq) then INT 0x80, both with valid gates, gave ${exitWords(e)}, not the INT 0x80 handler`);
});

/**
 * Debugging ring 3 (user space): a single step of an instruction at CPL 3
 * must come back as a debug exit. PVM runs ring 3 natively and hands the
 * #DB to the guest (a triple fault here: the probe has no IDT), and DR0-3
 * do not fire there either.
 */
const userModeSteps: Probe = (ctx) => withVm(ctx, 'long', (p) => {
  p.code([op.nop, op.nop, ...op.outDone(1), op.hlt]);
  p.userMode();
  p.vcpu.setGuestDebug({ enable: true, singleStep: true });
  const exit = p.runUntil((e) => (e.kind === 'debug' ? e : undefined));
  if (exit.kind === 'debug' && exit.pc === BigInt(CODE + 1)) return yes('a single step at CPL 3 gave a debug exit after one instruction');
  return no(exit.kind === 'debug' ? `a step at CPL 3 stopped at ${hex(exit.pc)}, not after one instruction (${hex(CODE + 1)})` : `a single step at CPL 3 gave ${exitWords(exit)}`);
});

const RO_PAGE = 0x20_0000;
const splitSlots = (readonlyFlag: boolean) => ({
  slots: (vm: Vm, buffer: SharedArrayBuffer, offset: number) => {
    vm.setUserMemoryRegion({ slot: 0, guestPhys: 0, size: RO_PAGE, buffer, offset });
    vm.setUserMemoryRegion({ slot: 1, guestPhys: RO_PAGE, size: 4096, buffer, offset: offset + RO_PAGE, readonly: readonlyFlag });
    vm.setUserMemoryRegion({ slot: 2, guestPhys: RO_PAGE + 4096, size: PROBE_RAM - RO_PAGE - 4096, buffer, offset: offset + RO_PAGE + 4096 });
  },
});

const readonlySlots: Probe = (ctx) => withVm(ctx, 'long', (p) => {
  p.code([...op.movByteAbs(RO_PAGE, 0x5a), ...op.outDone(1), op.hlt]);
  const exit = p.runUntil((e) => (e.kind === 'mmio' ? e : undefined));
  if (exit.kind !== 'mmio') return no(`a write into a read-only slot gave ${exitWords(exit)}`);
  if (!exit.isWrite || exit.address !== RO_PAGE || exit.data[0] !== 0x5a) return no(`a write into a read-only slot gave ${exitWords(exit)} with data ${exit.data[0]}`);
  if (p.memory.readU8(RO_PAGE) !== 0) return no('a write into a read-only slot reached memory');
  const next = p.runUntil<VcpuExit>(() => undefined);
  if (!isDone(next)) return no(`after a write into a read-only slot the guest gave ${exitWords(next)}`);
  return yes('a write into a read-only slot exited with its address and data, and the guest went on');
}, splitSlots(true));

const dirtyLog: Probe = (ctx) => {
  const slots = {
    slots: (vm: Vm, buffer: SharedArrayBuffer, offset: number) => {
      vm.setUserMemoryRegion({ slot: 0, guestPhys: 0, size: PROBE_RAM, buffer, offset, logDirtyPages: true });
    },
  };
  return withVm(ctx, 'long', (p) => {
    p.code([...op.movByteAbs(DATA, 1), ...op.outDone(1), op.hlt]);
    p.vm.getDirtyLog(0, PROBE_RAM);          // forget what the host wrote while setting up
    const exit = p.runUntil<VcpuExit>(() => undefined);
    if (!isDone(exit)) return no(`the guest gave ${exitWords(exit)}`);
    const bitmap = p.vm.getDirtyLog(0, PROBE_RAM);
    const page = DATA / 4096;
    return bitmap[page >> 3] & (1 << (page & 7)) ? yes('the page the guest wrote is marked dirty') : no('the page the guest wrote is not marked dirty');
  }, slots);
};

/**
 * A kick (signal + immediate_exit) must bring a vCPU sitting in HLT with
 * interrupts off back to us: pause depends on it. The guest halts for good;
 * only the deadline's kick can end this run.
 */
const KICK_AFTER_MS = 20;
const kickHalted: Probe = (ctx) => withVm({ ...ctx, onVcpu: (token) => ctx.onVcpu(token, KICK_AFTER_MS) }, 'long', (p) => {
  p.code([0xfa, op.hlt, ...op.jmpSelf]);                    // cli; hlt
  const exit = p.runUntil<VcpuExit>(() => undefined, 4);
  return exit.kind === 'interrupted' ? yes('a kick brought a halted vCPU back') : no(`a halted vCPU gave ${exitWords(exit)}`);
}, { irqchip: true });

/** Every probe, in the order kvmdbg doctor prints them. */
export const PROBES: readonly [CapabilityId, Probe][] = [
  ['real-mode', realMode],
  ['long-mode', longMode],
  ['single-step', singleStep],
  ['hw-breakpoints', hwBreakpoints],
  ['dr-watchpoints', drWatchpoints],
  ['int3-exits', int3Exits],
  ['int3-trap', int3Trap],
  ['port-trap', portTrap],
  ['shutdown-exit', shutdownExit],
  ['fail-entry', failEntry],
  ['msr-exits', msrExits],
  ['guest-exceptions', guestExceptions],
  ['user-mode-debug', userModeSteps],
  ['readonly-slots', readonlySlots],
  ['dirty-log', dirtyLog],
  // Last: on a host where the kick cannot reach a halted vCPU this one never returns (host-probe.ts gives up on it).
  ['kick-halted', kickHalted],
];
