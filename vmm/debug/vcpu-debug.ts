/**
 * One vCPU's debug state on its own thread: the hardware breakpoints and
 * watchpoints armed in DR0-3, the guest-debug flags KVM gets, and what a
 * debug exit means (which breakpoint, which watchpoint, or a step).
 */
import type { GuestDebug, VcpuExit } from '../../native/types';
import { assignHwSlots, DR6_BS, firedSlots, type HwAssignment, type HwRequest } from './hw-breakpoints';
import type { StopReason } from '../machine/protocol';

export interface ArmResult {
  /** Same order as the requests. */
  armed: boolean[];
  /** Armed as an int3 (planted by the adapter) rather than in a debug register. */
  software: boolean[];
  problems: (string | undefined)[];
}

type DebugExit = VcpuExit & { kind: 'debug' };

export class VcpuDebug {
  private assignments: HwAssignment[] = [];
  private debugreg: bigint[] = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
  /** Addresses of our int3s: a #BP exit elsewhere is the guest's own. */
  private softwareAt = new Set<bigint>();
  /**
   * Single steps block interrupt injection (KVM_GUESTDBG_BLOCKIRQ), so a
   * step does not land in a timer handler. Off when the user asks to step
   * into interrupts, or when this KVM lacks the flag (Linux < 5.15).
   */
  blockInterruptsWhenStepping: boolean;

  constructor(private readonly apply: (d: GuestDebug) => void, readonly canBlockInterrupts = false) {
    this.blockInterruptsWhenStepping = canBlockInterrupts;
  }

  /** Replaces every hardware breakpoint and watchpoint. */
  arm(requests: readonly HwRequest[]): ArmResult {
    const { assignments, debugreg } = assignHwSlots(requests);
    this.assignments = assignments;
    this.debugreg = debugreg;
    this.softwareAt = new Set(assignments.filter((a) => a.software).map((a) => a.request.address));
    this.apply(this.guestDebug(false));
    return {
      armed: assignments.map((a) => a.slot !== undefined || !!a.software),
      software: assignments.map((a) => !!a.software),
      problems: assignments.map((a) => a.problem),
    };
  }

  /** The launch option stepIntoInterrupts; returns true when steps really block interrupts. */
  setStepIntoInterrupts(into: boolean): boolean {
    this.blockInterruptsWhenStepping = !into && this.canBlockInterrupts;
    return this.blockInterruptsWhenStepping;
  }

  get hasBreakpoints(): boolean { return this.assignments.some((a) => a.slot !== undefined); }
  get hasSoftwareBreakpoints(): boolean { return this.softwareAt.size > 0; }

  /** True when a #BP exit at `pc` is one of our int3s (else it goes back to the guest). */
  isOurInt3(pc: bigint): boolean { return this.softwareAt.has(pc); }

  /** The KVM guest-debug setting for running (step = false) or single-stepping. */
  guestDebug(step: boolean, withBreakpoints = true): GuestDebug {
    const hw = withBreakpoints && this.hasBreakpoints;
    // int3s are planted only while running (never during a step), but a
    // stale one the guest copied must still exit, not reach its handler.
    const sw = this.hasSoftwareBreakpoints;
    if (!hw && !sw && !step) return { enable: false };
    return {
      enable: true,
      singleStep: step,
      blockInterrupts: step && this.blockInterruptsWhenStepping,
      softwareBreakpoints: sw,
      hardwareBreakpoints: hw,
      debugreg: hw ? this.debugreg : [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n],
    };
  }

  /** True when an armed instruction breakpoint sits exactly at `rip`. */
  breakpointAt(rip: bigint): boolean {
    return this.assignments.some((a) => a.slot !== undefined && a.request.kind === 'execute' && a.request.address === rip);
  }

  /** What a debug exit means; undefined when it is none of ours. */
  classify(exit: DebugExit, stepping: boolean): StopReason | undefined {
    if (exit.exception === 3) return this.softwareAt.has(exit.pc) ? { reason: 'breakpoint', address: exit.pc } : undefined;
    for (const slot of firedSlots(exit.dr6)) {
      const a = this.assignments.find((x) => x.slot === slot);
      if (!a) continue;
      if (a.request.kind === 'execute') return { reason: 'breakpoint', address: a.request.address };
      return { reason: 'watchpoint', address: a.request.address, length: a.request.length, access: a.request.access };
    }
    if (stepping && (exit.dr6 & DR6_BS || exit.exception === 1)) return { reason: 'step' };
    return undefined;
  }
}
