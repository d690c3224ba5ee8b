/**
 * The vCPU's run loop, on the thread that calls KVM_RUN (ARCHITECTURE rule
 * 3): every exit is decoded and handed to its device right here, with no
 * thread hop and no allocation on the port I/O path. The loop leaves only
 * when something needs the main thread: a pause, a debug stop, or the end.
 */
import type { Vcpu } from '../../native';
import type { GuestDebug, VcpuExit } from '../../native/types';
import { describeExit, ExitFilter, snapshotExit, type ExitBreakpointSpec } from '../debug/exit-filters';
import { VcpuDebug } from '../debug/vcpu-debug';
import { completeHypercall, completeMsrAccess } from '../debug/msr-access';
import { GuestDebugFlag, MpState } from '../../native/constants';
import type { MmioBus, PioBus } from './device-mailbox';
import type { ExitStats } from './exit-stats';
import type { ExitRing } from './exit-ring';
import type { FaultAnalysis } from '../debug/fault-chain';
import { refusedPagingMessage } from '../debug/paging-refused';
import { dropPendingOut, TRAP_PORT } from '../debug/port-trap';
import { BIOS_PORT } from '../bios/layout';
import { CONTROL_DEVICE, CONTROL_INPUT, CONTROL_PAUSE, CONTROL_STOP, type StopReason, type VmEnd } from './protocol';
import { REGS_BYTES, RIP_WORD, RSP_WORD, STATE_BYTES, SYNC_REGS } from '../../native/state-layout';

/** What made run() return to the caller. */
export type RunOutcome =
  | { kind: 'stopped'; stop: StopReason }
  | { kind: 'ended'; end: VmEnd }
  | { kind: 'stop-requested' };

export interface RunnerHooks {
  /** Host input arrived (CONTROL_INPUT): move it into the UART. */
  pollInput(): void;
  /** vCPU 0 only: an AP waits for a device access (CONTROL_DEVICE, device-mailbox.ts). */
  serveDevices?(): void;
  /** The fault chain from the guest's state now (fault-chain.ts). */
  analyzeFault?(): FaultAnalysis | undefined;
  /** The bytes at RIP in hex ("cd 80 8b 05"), or '' when unreadable. */
  codeBytes?(): string;
  /** `length` bytes at a virtual address through the vCPU's paging now; undefined where unmapped (range steps read return addresses). */
  readVirtual?(address: bigint, length: number): Uint8Array | undefined;
  /** A BIOS boot (vmm/bios/bios-calls.ts): a ROM stub's call (true: served), and a real-mode INT n/IRET the host could not run (true: done for it). */
  bios?: { portCall(): boolean; emulate(): boolean };
}

/** The guest-debug setting as a string: an equal one is not applied again (an ioctl each, tens of us on some hosts). */
function debugKey(d: GuestDebug): string {
  return d.enable ? `${+!!d.singleStep}${+!!d.blockInterrupts}${+!!d.softwareBreakpoints}${+!!d.hardwareBreakpoints}:${d.debugreg?.join() ?? ''}` : 'off';
}

const hex = (v: bigint | number) => '0x' + v.toString(16);

export class VcpuRunner {
  private endRequest?: VmEnd;
  /** An exit that stopped at a VM-exit breakpoint; its device runs on resume. */
  private pendingExit?: VcpuExit;
  private exitFilter = new ExitFilter();
  readonly debug: VcpuDebug;
  /** debugKey of the guest debug KVM has now (undefined: unknown). */
  private appliedDebug?: string;
  /** Whether this KVM copies the registers into kvm_run on exits (turned on for steps only). */
  private readonly canSync: boolean;
  /** The step setting last applied, while VcpuDebug's generation and the choices stay (no guest-debug object a step). */
  private stepDebug?: { withBp: boolean; unblock: boolean; generation: number; key?: string };
  /** RIP before and after the last step, while nothing else changed the vCPU: a halt is possible only after a 1-byte instruction (HLT). */
  private lastStep?: { before: bigint; after: bigint };

  constructor(
    private readonly vcpu: Vcpu,
    /** The board's buses on vCPU 0; on an AP, buses that forward to vCPU 0. */
    private readonly pio: PioBus,
    private readonly mmio: MmioBus,
    private readonly control: Int32Array,
    private readonly stats: ExitStats,
    private readonly hooks: RunnerHooks,
    /** The last exits for the VM-exits view (optional: tests and benchmarks run without). */
    private readonly ring?: ExitRing,
  ) {
    this.debug = new VcpuDebug((d) => this.applyDebug(d), vcpu.supportsGuestDebug(GuestDebugFlag.BLOCKIRQ));
    this.canSync = vcpu.syncRegisters(false);
  }

  /** Sets the guest debug unless KVM has exactly this one already. */
  applyDebug(d: GuestDebug): void {
    const key = debugKey(d);
    if (key === this.appliedDebug) return;
    this.appliedDebug = undefined;
    this.vcpu.setGuestDebug(d);
    this.appliedDebug = key;
  }

  /** Registers synced into kvm_run on every exit while stepping (getRegs after a step is then no ioctl). */
  private syncRegisters(on: boolean): void {
    if (this.canSync && this.syncing !== on) this.vcpu.syncRegisters(on, on);
    this.syncing = on;
  }

  private syncing = false;
  /** The guest debug KVM has is one of ours for stepping (run() puts the running one back). */
  private stepping = false;

  /** Someone else set the vCPU's registers or debug state (a command from the main thread). */
  stateChanged(): void {
    this.lastStep = undefined;
    this.appliedDebug = undefined;
  }

  /** Devices call this (through MachineControl) to end the VM. */
  requestEnd(end: VmEnd): void {
    this.endRequest ??= end;
  }

  /** A device's request to end the VM, not yet acted on (vCPU 0 serving an AP while stopped). */
  get endRequested(): VmEnd | undefined {
    return this.endRequest;
  }

  /** Raw guest-debug setting, bypassing breakpoint bookkeeping (tests, probes). */
  setGuestDebug(debug: GuestDebug): void {
    this.rawSoftwareBreakpoints = !!(debug.enable && debug.softwareBreakpoints);
    this.appliedDebug = undefined;
    this.vcpu.setGuestDebug(debug);
    this.appliedDebug = debugKey(debug);
  }

  /** Raw guest debug asked for int3 exits: a PVM-style int3 trap (an internal error on an int3) is reported as the #BP exit it stands for. */
  private rawSoftwareBreakpoints = false;

  setExitBreakpoints(spec: ExitBreakpointSpec): void {
    this.exitFilter = new ExitFilter(spec);
  }

  /** Runs until a stop, the end of the VM, or a stop request. */
  run(): RunOutcome {
    Atomics.and(this.control, 0, ~CONTROL_PAUSE);
    // Leaving a breakpoint: execute its instruction once without it, or it fires again at once.
    if (this.atArmedBreakpoint()) {
      const first = this.step(false);
      if (first.kind !== 'stopped' || first.stop.reason !== 'step') return first;
    }
    const pending = this.resumePending();
    if (pending) return pending;
    this.lastStep = undefined;
    this.syncRegisters(false);
    // Back from stepping to running; a raw setting (setGuestDebug) stays as it was set.
    if (this.stepping) this.applyDebug(this.debug.guestDebug(false));
    this.stepping = false;
    for (;;) {
      const exit = this.vcpu.run();
      this.stats.count(exit.kind);
      this.ring?.record(exit);
      const outcome = this.exitFilter.matches(exit) ? this.stopAtExit(exit) : this.handle(exit, false);
      if (outcome) return outcome;
    }
  }

  /**
   * Executes one instruction (I/O exits on the way are handled as usual).
   * `withBreakpoints` false steps off a breakpoint without it firing.
   */
  step(withBreakpoints = true): RunOutcome {
    return this.startStep() ?? this.stepInstruction(withBreakpoints, false);
  }

  /** Before a step or a range step: drops a stale pause, lets the device see the exit stopped at (an outcome if that ends things). */
  startStep(): RunOutcome | undefined {
    // A pause meant for an earlier run may still be set; one meant for this step is re-sent until it ends (VcpuThread.pause).
    Atomics.and(this.control, 0, ~CONTROL_PAUSE);
    return this.resumePending();
  }

  /**
   * One instruction, the core of step() and of range steps (range-step.ts):
   * no pause is cleared here. The guest debug stays set for stepping
   * afterwards (the next step needs no ioctl; run() sets its own), and the
   * registers come back synced into kvm_run. `filters`: VM-exit breakpoints
   * stop on the way (range steps), as they do while running.
   */
  stepInstruction(withBreakpoints: boolean, filters: boolean): RunOutcome {
    this.syncRegisters(true);
    this.stepping = true;
    const before = this.lastStep?.after ?? this.rip();
    // Stepping from a breakpoint's own address must execute it, not hit it again.
    const withBp = withBreakpoints && !(this.debug.hasBreakpoints && this.debug.breakpointAt(before));
    // A halted vCPU's next instruction is the handler of the interrupt that wakes it: holding interrupts
    // back would make the step wait for ever (an idle CPU of an SMP guest). Only HLT (1 byte) halts it.
    const mayBeHalted = !this.lastStep || this.wasHlt(this.lastStep);
    const unblock = mayBeHalted && this.debug.blockInterruptsWhenStepping && this.halted();
    const cached = this.stepDebug;
    if (!cached || cached.withBp !== withBp || cached.unblock !== unblock || cached.generation !== this.debug.generation || this.appliedDebug !== cached.key) {
      const debug = this.debug.guestDebug(true, withBp);
      if (unblock) debug.blockInterrupts = false;
      this.applyDebug(debug);
      this.stepDebug = { withBp, unblock, generation: this.debug.generation, key: this.appliedDebug };
    }
    this.lastStep = undefined;
    for (;;) {
      const exit = this.vcpu.run();
      this.stats.count(exit.kind);
      this.ring?.record(exit);
      // A kick during a step is not a pause: the step finishes first.
      if (exit.kind === 'interrupted') {
        this.takeAsyncWork();
        if (this.takeControl(CONTROL_STOP)) return { kind: 'stop-requested' };
        // A step that waits (a halted vCPU waits for an interrupt; one that holds interrupts
        // back may wait for ever after stepping a HLT) ends when the user pauses.
        if (this.takeControl(CONTROL_PAUSE)) return { kind: 'stopped', stop: { reason: 'pause' } };
        continue;
      }
      if (filters && exit.kind !== 'debug' && this.exitFilter.matches(exit)) return this.stopAtExit(exit);
      const outcome = this.handle(exit, true);
      if (outcome) {
        if (outcome.kind === 'stopped' && outcome.stop.reason === 'step') this.lastStep = { before, after: this.rip() };
        return outcome;
      }
    }
  }

  /**
   * Runs with `debug` until a stop; `ours(exit)` claims a debug exit first
   * (true: the run is over, undefined returned; false: not ours, classified
   * as usual). For range steps running a call to its return.
   */
  runWith(debug: GuestDebug, ours: (exit: VcpuExit & { kind: 'debug' }) => boolean): RunOutcome | undefined {
    this.lastStep = undefined;
    this.syncRegisters(true);
    this.stepping = true;
    this.applyDebug(debug);
    for (;;) {
      const exit = this.vcpu.run();
      this.stats.count(exit.kind);
      this.ring?.record(exit);
      if (exit.kind === 'debug' && ours(exit)) return undefined;
      const outcome = this.exitFilter.matches(exit) ? this.stopAtExit(exit) : this.handle(exit, false);
      if (outcome) return outcome;
    }
  }

  private stopAtExit(exit: VcpuExit): RunOutcome {
    // A halt has happened (nothing to hand to a device); the others wait for resume.
    if (exit.kind !== 'hlt') this.pendingExit = exit;
    const rip = exit.kind === 'io' || exit.kind === 'mmio' || exit.kind === 'shutdown' ? undefined : this.rip();
    return { kind: 'stopped', stop: { reason: 'exit', exit: snapshotExit(exit), description: describeExit(exit, rip) } };
  }

  /** Whether a step that moved RIP from `before` to `after` may have executed a HLT (1 byte, 0xF4; unreadable: maybe). */
  private wasHlt({ before, after }: { before: bigint; after: bigint }): boolean {
    if (after !== before + 1n) return false;
    const code = this.hooks.readVirtual?.(before, 1);
    return !code || code[0] === 0xf4;
  }

  /** After a kick: is the vCPU sitting in HLT? (halt-watch.ts: KVM handles HLT itself with the in-kernel LAPIC.) */
  private halted(): boolean {
    try { return this.vcpu.getMpState() === MpState.HALTED; } catch { return false; }
  }

  /** Lets the device see the exit we stopped at, before the guest runs on. */
  private resumePending(): RunOutcome | undefined {
    const exit = this.pendingExit;
    if (!exit) return undefined;
    this.pendingExit = undefined;
    return this.handle(exit, false);
  }

  /** True when an armed instruction breakpoint sits at RIP (no register read without breakpoints). */
  private atArmedBreakpoint(): boolean {
    return this.debug.hasBreakpoints && this.debug.breakpointAt(this.vcpu.getRegs().rip);
  }

  private takeControl(bit: number): boolean {
    return (Atomics.and(this.control, 0, ~bit) & bit) !== 0;
  }

  /** Work another thread kicked us for that does not leave the run loop: console input, APs' device accesses. */
  private takeAsyncWork(): void {
    if (this.takeControl(CONTROL_INPUT)) this.hooks.pollInput();
    if (this.takeControl(CONTROL_DEVICE)) this.hooks.serveDevices?.();
  }

  /** Handles one exit; an outcome when the vCPU must leave its loop (incl. a device ending the VM). */
  private handle(exit: VcpuExit, stepping: boolean): RunOutcome | undefined {
    const outcome = this.handleExit(exit, stepping);
    if (outcome) return outcome;
    if (this.endRequest) return { kind: 'ended', end: this.endRequest };
    return undefined;
  }

  private handleExit(exit: VcpuExit, stepping: boolean): RunOutcome | undefined {
    switch (exit.kind) {
      case 'io':
        // The port trap (port-trap.ts): one of our breakpoints, not the guest's port write.
        if (exit.port === TRAP_PORT && exit.direction === 'out' && this.debug.hasSoftwareBreakpoints) {
          const pc = this.rip();
          if (this.debug.isOurInt3(pc)) {
            dropPendingOut(this.vcpu, pc);
            return { kind: 'stopped', stop: { reason: 'breakpoint', address: pc } };
          }
        }
        if (exit.port === BIOS_PORT && exit.direction === 'out' && this.hooks.bios?.portCall()) return undefined;
        this.portIo(exit);
        return undefined;
      case 'mmio': {
        // An access to a page taken out of RAM's slots for a watchpoint (page-watch.ts): ours, not a device's.
        if (this.debug.pageWatch.covers(exit.address)) return this.watchedAccess(exit);
        this.mmioAccess(exit);
        return undefined;
      }
      case 'interrupted':
        this.takeAsyncWork();
        if (this.takeControl(CONTROL_STOP)) return { kind: 'stop-requested' };
        if (this.takeControl(CONTROL_PAUSE)) return { kind: 'stopped', stop: { reason: 'pause' } };
        if (!stepping && this.exitFilter.stopOnHlt && this.halted()) return this.stopAtExit({ kind: 'hlt' });
        return undefined;
      case 'debug': {
        const stop = this.debug.classify(exit, stepping);
        // A guest's own int3 (not one of ours) goes back to the guest as its #BP.
        if (!stop && exit.exception === 3 && this.debug.hasSoftwareBreakpoints) {
          this.appliedDebug = undefined;
          this.vcpu.setGuestDebug({ ...this.debug.guestDebug(stepping), injectBreakpoint: true });
          return undefined;
        }
        return { kind: 'stopped', stop: stop ?? { reason: 'debug', exit: { ...exit } } };
      }
      case 'rdmsr':
      case 'wrmsr':
        // Only MSRs a breakpoint watches exit (msr-filter.ts); those not stopped at are done here.
        completeMsrAccess(this.vcpu, exit);
        return undefined;
      case 'hypercall':
        completeHypercall(exit);
        return undefined;
      case 'hlt':
        // Only without an in-kernel irqchip; with it KVM waits for interrupts itself.
        return undefined;
      case 'irqWindowOpen':
        return undefined;
      case 'shutdown': {
        const refused = this.refusedPaging();
        if (refused) return this.ended('internal-error', 4, refused);
        // KVM resets the vCPU on shutdown (SVM does), so its state may say nothing; Intel's still does.
        const why = this.hooks.analyzeFault?.();
        return this.ended('triple-fault', 2, `the guest triple-faulted: the CPU shut down (${why?.tripleFault ? why.chain.join(' -> ') : 'an exception while handling an exception, e.g. a broken IDT or stack'})`);
      }
      case 'systemEvent':
        if (exit.type === 'shutdown') return this.ended('poweroff', 0, 'guest powered off');
        if (exit.type === 'reset') return this.ended('reset', 0, 'the guest reset the machine');
        return this.ended('crash', 2, `the guest reported a crash (system event ${exit.rawType}) at RIP ${hex(this.rip())}`);
      case 'internalError': return this.internalError(exit);
      case 'failEntry':
        return this.ended('fail-entry', 4, `KVM refused to enter the guest (hardware entry failure reason ${hex(exit.hardwareReason)}): the CPU state is invalid`);
      default:
        return this.ended('crash', 4, `unexpected VM exit '${exit.kind}' at RIP ${hex(this.rip())}`);
    }
  }

  /**
   * A KVM internal error is a triple fault on some hosts (PVM), a fault the
   * host cannot deliver to a correct guest handler, or a real emulation
   * failure; the guest's IDT and the instruction at RIP tell which.
   */
  private internalError(exit: VcpuExit & { kind: 'internalError' }): RunOutcome | undefined {
    // PVM: a planted int3 comes back as an internal error with RIP on it (the host probe's int3 trap).
    if (this.debug.hasSoftwareBreakpoints || this.rawSoftwareBreakpoints) {
      const pc = this.rip();
      if (this.debug.isOurInt3(pc)) return { kind: 'stopped', stop: { reason: 'breakpoint', address: pc } };
      if (this.rawSoftwareBreakpoints && this.hooks.codeBytes?.().startsWith('cc')) {
        return { kind: 'stopped', stop: { reason: 'debug', exit: { kind: 'debug', exception: 3, pc, dr6: 0n, dr7: 0n } } };
      }
    }
    if (this.hooks.bios?.emulate()) return undefined;
    // Read watches unmap pages; KVM cannot run code or walk page tables there: they go back, and the VM lives.
    const lifted = this.debug.stopWatchingReads();
    if (lifted) {
      // Some hosts (SVM) queue a #UD for the guest when their emulator gives up: with the page back it must not arrive.
      try { this.vcpu.dropException(); } catch { /* no KVM_CAP_VCPU_EVENTS: the retry may fault, and says so then */ }
      return { kind: 'stopped', stop: { reason: 'exit', exit: snapshotExit(exit), description: lifted } };
    }
    const why = this.hooks.analyzeFault?.();
    const rip = hex(this.rip());
    const bytes = this.hooks.codeBytes?.() ?? '';
    const at = `at RIP ${rip}${bytes ? ` (bytes ${bytes})` : ''}`;
    const suberror = `internal error, suberror ${exit.suberror}`;
    if (why?.tripleFault) return this.ended('triple-fault', 2, `the guest triple-faulted: ${why.chain.join(' -> ')} (this host reports a triple fault as a KVM ${suberror})`);
    if (why?.raised) {
      return this.ended('internal-error', 4, `this host's KVM could not deliver ${why.chain[0]} to the guest's own handler (${suberror}): `
        + 'a limit of this host, not of the guest (kvmdbg doctor lists what it can do)');
    }
    return this.ended('internal-error', 4, `KVM could not emulate the guest ${at} (${suberror})`);
  }

  /** A shutdown on a MOV CR0 that turns on 32-bit paging is this host refusing the mode (paging-refused.ts). */
  private refusedPaging(): string | undefined {
    try {
      const regs = this.vcpu.getRegs();
      const sregs = this.vcpu.getSregs();
      return refusedPagingMessage(this.hooks.readVirtual?.(sregs.cs.base + regs.rip, 3), regs, sregs);
    } catch { return undefined; }
  }

  private ended(kind: VmEnd['kind'], status: number, message: string): RunOutcome {
    return { kind: 'ended', end: { kind, status, message } };
  }

  rip(): bigint {
    try { return this.pcSp().rip; } catch { return -1n; }
  }

  private readonly regsRaw = new Uint8Array(STATE_BYTES);
  private readonly regsWords = new BigUint64Array(this.regsRaw.buffer, 0, REGS_BYTES / 8);

  /** RIP and RSP now, raw (no registers object: range steps ask after every instruction). */
  pcSp(): { rip: bigint; rsp: bigint } {
    this.vcpu.readState(this.regsRaw, SYNC_REGS);
    return { rip: this.regsWords[RIP_WORD], rsp: this.regsWords[RSP_WORD] };
  }

  private portIo(exit: VcpuExit & { kind: 'io' }): void {
    const { port, size, data } = exit;
    // String I/O (rep ins/outs) carries `count` items back to back.
    for (let i = 0, off = 0; i < exit.count; i++, off += size) {
      if (exit.direction === 'out') this.pio.write(port, size, readLE(data, off, size));
      else writeLE(data, off, size, this.pio.read(port, size));
    }
    if (exit.direction === 'in' && exit.count > 0) this.ring?.setLastValue(readLE(data, 0, size));
  }

  /**
   * Does the guest's access to its watched page on guest RAM (a write
   * written, a read answered); on a watch hit, lets KVM finish the
   * instruction first (a string or read-modify-write instruction may need
   * more exits), so the stop shows RIP after it and the value, as a DR
   * watchpoint does.
   */
  private watchedAccess(exit: VcpuExit & { kind: 'mmio' }): RunOutcome | undefined {
    let stop = this.pageAccess(exit);
    if (!stop) return undefined;
    for (let more = this.vcpu.completePendingIo(); more; more = this.vcpu.completePendingIo()) {
      if (more.kind === 'mmio' && this.debug.pageWatch.covers(more.address)) stop = this.pageAccess(more) ?? stop;
      else if (more.kind === 'mmio') this.mmioAccess(more);
      else if (more.kind === 'io') this.portIo(more);
      else break;
    }
    return { kind: 'stopped', stop };
  }

  private pageAccess(exit: VcpuExit & { kind: 'mmio' }): StopReason | undefined {
    return exit.isWrite ? this.debug.pageWrite(exit.address, exit.data.slice(0, exit.size)) : this.debug.pageRead(exit.address, exit.data.subarray(0, exit.size));
  }

  private mmioAccess(exit: VcpuExit & { kind: 'mmio' }): void {
    const { address, data } = exit;
    const size = exit.size;
    // Devices see 1, 2 or 4 bytes; the bus splits wider accesses.
    if (exit.isWrite) this.mmio.writeBytes(address, data.subarray(0, size));
    else {
      this.mmio.readBytes(address, data.subarray(0, size));
      this.ring?.setLastValue(readLE(data, 0, Math.min(size, 4)));
    }
  }
}

function readLE(b: Uint8Array, off: number, size: number): number {
  if (size === 1) return b[off];
  if (size === 2) return b[off] | (b[off + 1] << 8);
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

function writeLE(b: Uint8Array, off: number, size: number, v: number): void {
  b[off] = v & 0xff;
  if (size >= 2) b[off + 1] = (v >>> 8) & 0xff;
  if (size === 4) { b[off + 2] = (v >>> 16) & 0xff; b[off + 3] = (v >>> 24) & 0xff; }
}
