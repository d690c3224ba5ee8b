import { binding } from './addon';
import type { RawVcpu } from './binding';
import { Cap, GuestDebugFlag, MpState } from './constants';
import { ExitDecoder } from './exit-decoder';
import type {
  CpuidEntry, DebugRegs, Fpu, GuestDebug, MsrEntry, Regs, RunStats, Sregs, Translation, VcpuEvents, VcpuExit,
} from './types';
import type { Vm } from './vm';
import { decodeRegs, decodeSregs, STATE_BYTES, SYNC_REGS, SYNC_SREGS } from './state-layout';

/**
 * A vCPU (KVM_CREATE_VCPU). Use it on the thread that created it; other
 * threads stop it with kick(vcpu.kickToken).
 */
export class Vcpu {
  private readonly decoder: ExitDecoder;
  /** getRegs/getSregs read raw registers here and decode them in JS (cheaper than Node-API objects). */
  private readonly scratch = new Uint8Array(STATE_BYTES);
  private readonly scratchView = new DataView(this.scratch.buffer);
  /** Pass to the module function kick(token) from any thread to stop run(). */
  readonly kickToken: number;
  readonly id: number;

  /** @internal created by Vm.createVcpu() */
  constructor(private readonly raw: RawVcpu, exitBuffer: SharedArrayBuffer, private readonly vm: Vm) {
    this.decoder = new ExitDecoder(exitBuffer, binding.exitInterrupted);
    this.kickToken = raw.kickToken();
    this.id = raw.id();
  }

  /**
   * KVM_RUN until the next exit. io, mmio, hlt and interrupted exits are
   * reused objects, valid until the next run(): copy what you keep. For an
   * io IN or an MMIO read, write the result into `exit.data`; it is handed to
   * KVM on the next run() (or completePendingIo()), which completes the
   * instruction. A kick (before or during the run) returns { kind: 'interrupted' }.
   */
  run(): VcpuExit {
    return this.decoder.decode(this.raw.run());
  }

  /**
   * Completes the instruction of the last io/mmio exit without running
   * further guest code (KVM_RUN with immediate_exit), so registers and RIP
   * are consistent while paused there. Returns undefined when done, or a new
   * exit if the instruction needs more (string I/O): handle it and call again.
   */
  completePendingIo(): VcpuExit | undefined {
    const exit = this.decoder.decode(this.raw.completePendingIo());
    return exit.kind === 'interrupted' ? undefined : exit;
  }

  /**
   * Asks KVM to copy the general (and with `sregs`, the system) registers
   * into kvm_run on every exit (KVM_SYNC_X86_REGS/SREGS): getRegs/getSregs
   * after an exit then cost no ioctl (tens of microseconds each on some
   * hosts). False, and nothing changes, where this KVM cannot.
   */
  syncRegisters(regs: boolean, sregs = false): boolean {
    const can = this.vm.checkExtension(Cap.SYNC_REGS);
    const want = (regs ? SYNC_REGS : 0) | (sregs ? SYNC_SREGS : 0);
    if ((can & want) !== want) return false;
    this.raw.setSyncRegs(want);
    return true;
  }

  /**
   * Copies the vCPU's registers raw into `view` (state-layout.ts: kvm_regs at
   * 0, kvm_sregs at REGS_BYTES; `mask` SYNC_REGS | SYNC_SREGS says which):
   * from kvm_run where the last exit left them (syncRegisters), else by ioctl.
   */
  readState(view: Uint8Array, mask = SYNC_REGS | SYNC_SREGS): void {
    this.raw.readState(view, mask);
  }

  /** Stops run() on this vCPU; same as kick(this.kickToken). False once closed. */
  kick(): boolean {
    return this.raw.kick();
  }

  /** Accumulate the time spent inside KVM_RUN (see runStats). `reset` zeroes the counters. */
  setTiming(on: boolean, reset = false): void {
    this.raw.setTiming(on, reset);
  }

  runStats(): RunStats {
    return this.raw.runStats();
  }

  getRegs(): Regs {
    this.raw.readState(this.scratch, SYNC_REGS);
    return decodeRegs(this.scratchView);
  }
  /** Registers left out keep their values. */
  setRegs(regs: Partial<Regs>): void { this.raw.setRegs(regs); }
  getSregs(): Sregs {
    this.raw.readState(this.scratch, SYNC_SREGS);
    return decodeSregs(this.scratchView);
  }
  /** Fields left out keep their values (a BootCpuState's sregs fits). */
  setSregs(sregs: Partial<Sregs>): void { this.raw.setSregs(sregs); }
  getFpu(): Fpu { return this.raw.getFpu(); }
  setFpu(fpu: Fpu): void { this.raw.setFpu(fpu); }
  /** KVM_GET_XSAVE: a 4096-byte copy of the legacy XSAVE area. */
  getXsave(): Uint8Array {
    this.vm.requireExtension(Cap.XSAVE, 'reading XSAVE state');
    return this.raw.getXsave();
  }
  setXsave(xsave: Uint8Array): void {
    this.vm.requireExtension(Cap.XSAVE, 'writing XSAVE state');
    this.raw.setXsave(xsave);
  }
  /** KVM_GET_MSRS: the entries KVM could read, in order; it stops at the first it refuses. */
  getMsrs(indices: number[]): MsrEntry[] { return this.raw.getMsrs(indices); }
  /** KVM_SET_MSRS: all or a KvmError naming the MSR refused. */
  setMsrs(entries: MsrEntry[]): void { this.raw.setMsrs(entries); }
  setCpuid2(entries: CpuidEntry[]): void { this.raw.setCpuid2(entries); }
  /** KVM_GET_LAPIC: a 1024-byte copy of the local APIC registers (needs createIrqchip). */
  getLapic(): Uint8Array { return this.raw.getLapic(); }
  setLapic(lapic: Uint8Array): void { this.raw.setLapic(lapic); }
  getMpState(): MpState {
    this.vm.requireExtension(Cap.MP_STATE, 'reading the vCPU MP state');
    return this.raw.getMpState();
  }
  setMpState(state: MpState): void {
    this.vm.requireExtension(Cap.MP_STATE, 'setting the vCPU MP state');
    this.raw.setMpState(state);
  }
  getVcpuEvents(): VcpuEvents {
    this.vm.requireExtension(Cap.VCPU_EVENTS, 'reading pending vCPU events');
    return this.raw.getVcpuEvents();
  }
  /** Drops an exception KVM queued or injected for the guest; true when there was one. */
  dropException(): boolean {
    this.vm.requireExtension(Cap.VCPU_EVENTS, 'dropping a queued exception');
    return this.raw.dropException();
  }
  /** The guest's own DR0-3, DR6, DR7. */
  getDebugRegs(): DebugRegs {
    this.vm.requireExtension(Cap.DEBUGREGS, 'reading the guest debug registers');
    return this.raw.getDebugRegs();
  }

  /**
   * KVM_SET_GUEST_DEBUG: single-step, int3 and DR0-3 breakpoints as debug exits.
   * { enable: false } turns all of it off.
   */
  setGuestDebug(d: GuestDebug): void {
    this.vm.requireExtension(Cap.SET_GUEST_DEBUG, 'breakpoints and single-step');
    let control = 0;
    if (d.enable) {
      control = GuestDebugFlag.ENABLE;
      if (d.singleStep) control |= GuestDebugFlag.SINGLESTEP;
      if (d.softwareBreakpoints) control |= GuestDebugFlag.USE_SW_BP;
      if (d.hardwareBreakpoints) control |= GuestDebugFlag.USE_HW_BP;
      if (d.blockInterrupts) control |= GuestDebugFlag.BLOCKIRQ;
      if (d.injectBreakpoint) control |= GuestDebugFlag.INJECT_BP;
    }
    const regs = d.debugreg ?? [];
    if (regs.length > 8) throw new RangeError('debugreg has 8 entries (DR0..DR7)');
    this.raw.setGuestDebug(control, regs);
  }

  /** True when KVM_SET_GUEST_DEBUG accepts `flag` (KVM_CAP_SET_GUEST_DEBUG2 lists them; absent = the original four). */
  supportsGuestDebug(flag: GuestDebugFlag): boolean {
    return (this.vm.checkExtension(Cap.SET_GUEST_DEBUG2) & flag) !== 0;
  }

  /** KVM_TRANSLATE: a guest virtual address through this vCPU's current paging mode. */
  translate(gva: bigint | number): Translation {
    return this.raw.translate(gva);
  }

  /** Unregisters the kick token, unmaps kvm_run and closes the fd. */
  close(): void {
    this.raw.close();
  }
}
