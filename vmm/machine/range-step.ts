/**
 * Range stepping on the vCPU's own thread: "single-step while RIP stays in
 * these address ranges", one request for a whole source line however many
 * instructions it runs, reported once (no message per instruction). Calls
 * are stepped over when asked: a step that pushed a return address just
 * past the instruction it executed, landing outside the ranges, was a call;
 * the vCPU then runs at full speed to that return address (a debug register
 * nobody uses; single steps where all four are taken), accepted only with
 * the stack pointer back where it was (recursion returns there too, deeper).
 * Any breakpoint, watchpoint, VM-exit breakpoint or pause on the way ends it.
 */
import type { RunOutcome, VcpuRunner } from './vcpu-runner';
import type { RangeStepRequest } from './protocol';
import { DR6_SLOT_MASK } from '../debug/hw-breakpoints';

/** A call instruction is 2 (call *%rax) to 15 bytes long. */
const MIN_CALL = 2n;
const MAX_CALL = 15n;

export class RangeStepper {
  constructor(
    private readonly runner: VcpuRunner,
    /** The registers after the last exit (synced into kvm_run while stepping: no ioctl). */
    private readonly regs: () => { rip: bigint; rsp: bigint },
    private readonly readVirtual: (address: bigint, length: number) => Uint8Array | undefined,
  ) {}

  /** Steps while RIP is in `req.ranges`; a 'step' stop when it left them (or, with `req.out`, when it got there). */
  step(req: RangeStepRequest): RunOutcome {
    const mask = req.bits === 64 ? 0xffff_ffff_ffff_ffffn : 0xffff_ffffn;
    if (req.out) return this.stepOut(req.out.address & mask, req.out.minSp & mask, mask);
    const word = req.bits === 64 ? 8 : 4;
    const inRanges = (pc: bigint): boolean => req.ranges.some(([lo, hi]) => pc >= lo && pc < hi);
    const stops = this.runner.debug.stopAddresses();
    let steps = 0;
    let { rip, rsp } = this.regs();
    for (;;) {
      const prevRip = rip & mask;
      const prevSp = rsp & mask;
      // The first instruction may be a breakpoint's own: it executes (step() steps off it).
      const outcome = this.runner.stepInstruction(true, true);
      steps++;
      if (outcome.kind !== 'stopped' || outcome.stop.reason !== 'step') return outcome;
      ({ rip, rsp } = this.regs());
      const pc = rip & mask;
      if (stops.has(pc)) return { kind: 'stopped', stop: { reason: 'breakpoint', address: pc } };
      if (inRanges(pc)) continue;
      const ret = req.overCalls ? this.returnAddress(prevRip, prevSp, pc, rsp & mask, word) : undefined;
      if (ret === undefined) return { kind: 'stopped', stop: { reason: 'step' } };
      const back = this.runToReturn(ret, prevSp, mask);
      if (back) return back;
      ({ rip, rsp } = this.regs());
      if (stops.has(rip & mask)) return { kind: 'stopped', stop: { reason: 'breakpoint', address: rip & mask } };
      if (!inRanges(rip & mask)) return { kind: 'stopped', stop: { reason: 'step' } };
    }
  }

  /**
   * A step out on this thread: one instruction (off a breakpoint the vCPU
   * may sit on; a `ret` may already arrive), then the run to `address`
   * with the stack pointer check; a breakpoint, watchpoint, VM-exit
   * breakpoint or pause on the way ends it.
   */
  private stepOut(address: bigint, minSp: bigint, mask: bigint): RunOutcome {
    const first = this.runner.stepInstruction(true, true);
    if (first.kind !== 'stopped' || first.stop.reason !== 'step') return first;
    const { rip, rsp } = this.regs();
    if ((rip & mask) === address && (rsp & mask) >= minSp) return first;
    if (this.runner.debug.stopAddresses().has(rip & mask)) return { kind: 'stopped', stop: { reason: 'breakpoint', address: rip & mask } };
    return this.runToReturn(address, minSp, mask) ?? { kind: 'stopped', stop: { reason: 'step' } };
  }

  /** The return address when the instruction at `prevRip` was a call (it pushed one word: the address after itself). */
  private returnAddress(prevRip: bigint, prevSp: bigint, pc: bigint, sp: bigint, word: number): bigint | undefined {
    if (sp !== prevSp - BigInt(word)) return undefined;
    const bytes = this.readVirtual(sp, word);
    if (!bytes) return undefined;
    let ret = 0n;
    for (let i = word - 1; i >= 0; i--) ret = (ret << 8n) | BigInt(bytes[i]);
    const length = ret - prevRip;
    // `call next` (a push of its own RIP) goes nowhere: stepping on is the same.
    if (length < MIN_CALL || length > MAX_CALL || pc === ret) return undefined;
    return ret;
  }

  /** Runs the call to `ret` until the stack pointer is back at `sp` (undefined) or something stops the vCPU (its outcome). */
  private runToReturn(ret: bigint, sp: bigint, mask: bigint): RunOutcome | undefined {
    const stops = this.runner.debug.stopAddresses();
    const back = (): boolean => { const r = this.regs(); return (r.rip & mask) === ret && (r.rsp & mask) >= sp; };
    const temporary = this.runner.debug.runWithTemporary(ret);
    for (;;) {
      if (!temporary) {
        // No debug register free: single steps (at the host's rate), still stopping at breakpoints.
        const outcome = this.runner.stepInstruction(true, true);
        if (outcome.kind !== 'stopped' || outcome.stop.reason !== 'step') return outcome;
        if (back()) return undefined;
        const pc = this.regs().rip & mask;
        if (stops.has(pc)) return { kind: 'stopped', stop: { reason: 'breakpoint', address: pc } };
        continue;
      }
      let arrived = false;
      const outcome = this.runner.runWith(temporary.debug, (exit) => {
        if ((exit.dr6 & DR6_SLOT_MASK & (1n << BigInt(temporary.slot))) === 0n) return false;
        arrived = back();
        return true;
      });
      if (outcome) return outcome;
      if (arrived) return undefined;
      // Deeper (a recursive call returning here): execute the instruction and run on.
      const off = this.runner.stepInstruction(true, true);
      if (off.kind !== 'stopped' || off.stop.reason !== 'step') return off;
      if (back()) return undefined;
    }
  }
}
