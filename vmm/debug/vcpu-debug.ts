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
  problems: (string | undefined)[];
}

type DebugExit = VcpuExit & { kind: 'debug' };

export class VcpuDebug {
  private assignments: HwAssignment[] = [];
  private debugreg: bigint[] = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];

  constructor(private readonly apply: (d: GuestDebug) => void) {}

  /** Replaces every hardware breakpoint and watchpoint. */
  arm(requests: readonly HwRequest[]): ArmResult {
    const { assignments, debugreg } = assignHwSlots(requests);
    this.assignments = assignments;
    this.debugreg = debugreg;
    this.apply(this.guestDebug(false));
    return { armed: assignments.map((a) => a.slot !== undefined), problems: assignments.map((a) => a.problem) };
  }

  get hasBreakpoints(): boolean { return this.assignments.some((a) => a.slot !== undefined); }

  /** The KVM guest-debug setting for running (step = false) or single-stepping. */
  guestDebug(step: boolean, withBreakpoints = true): GuestDebug {
    const hw = withBreakpoints && this.hasBreakpoints;
    if (!hw && !step) return { enable: false };
    return {
      enable: true,
      singleStep: step,
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
