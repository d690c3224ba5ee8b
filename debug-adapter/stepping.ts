/**
 * Step in / over / out by source line, and by instruction. The line
 * boundaries come from DWARF (lineRanges); "deeper" and "shallower"
 * come from the stack pointer. Calls are stepped over, and step out runs, to
 * the return address (on the vCPU's thread: a range step's `out`, with a
 * debug register nobody uses; accepted only when the stack pointer is back
 * above the call: recursion returns there too), not by single-stepping
 * through them.
 */
import { FlowControl } from 'iced-x86';
import type { Regs } from '../native/types';
import type { StopReason } from '../vmm/machine/protocol';
import type { Symbols } from './symbols';
import type { Instr } from './disassembly';

export type StepKind = 'in' | 'over' | 'out';
export type StepOutcome =
  /** The step is done where it should be. */
  | { kind: 'done' }
  /** Something else stopped the vCPU on the way (a breakpoint, a pause, a VM exit). */
  | { kind: 'stopped'; stop: StopReason }
  | { kind: 'ended' }
  /** The step could not be done; the vCPU is stopped wherever it got to. */
  | { kind: 'failed'; message: string };

export interface StepHost {
  bits: 32 | 64;
  symbols?: Symbols;
  regs(): Promise<Regs>;
  /** One instruction; its stop reason ('step' normally). */
  stepInstruction(): Promise<StopReason>;
  /** Single steps on the vCPU's thread while RIP is in `ranges` (calls run to their return when `overCalls`); 'step' when it left them. */
  stepRange(ranges: [bigint, bigint][], overCalls: boolean): Promise<StopReason>;
  /** Whether a breakpoint stop on the way is the user's to see (its condition and hit count say; else the step goes on). */
  reportable(stop: StopReason): Promise<boolean>;
  /** The user paused: a line step between two range steps ends. */
  pauseRequested?(): boolean;
  /** Runs to `address` until `accept(regs)` holds there; a foreign stop or the end returns it. */
  runTo(address: bigint, accept: (regs: Regs) => boolean): Promise<StopReason | 'ended' | undefined>;
  /**
   * The same on the vCPU's thread (a range step's `out`): one instruction, then on to `address`
   * until the stack pointer is at least `minSp` there; 'step' when it got there.
   */
  runOut?(address: bigint, minSp: bigint): Promise<StopReason>;
  /** The instruction at `address`. */
  decode(address: bigint): Instr | undefined;
  /** The caller's return address and the stack pointer after returning (from the unwinder). */
  returnAddress(regs: Regs): { pc: bigint; sp: bigint } | undefined;
}

function isCall(i: Instr | undefined): boolean {
  return !!i && (i.flow === FlowControl.Call || i.flow === FlowControl.IndirectCall);
}

export class Stepper {
  constructor(private readonly host: StepHost) {}

  private mask(v: bigint): bigint {
    return this.host.bits === 64 ? v : v & 0xffff_ffffn;
  }

  /** Executes one instruction; `over` runs a call to its return. */
  async instruction(over: boolean): Promise<StepOutcome> {
    // Only stepping over needs the instruction (is it a call?): decoding costs more than the step.
    if (!over) return this.single();
    const regs = await this.host.regs();
    const insn = this.host.decode(this.mask(regs.rip));
    if (isCall(insn)) return this.overCall(regs, insn!);
    return this.single();
  }

  private async single(): Promise<StepOutcome> {
    const stop = await this.host.stepInstruction();
    if (stop.reason === 'step' || stop.reason === 'breakpoint') return { kind: 'done' };
    return { kind: 'stopped', stop };
  }

  private async overCall(regs: Regs, insn: Instr): Promise<StepOutcome> {
    const sp = this.mask(regs.rsp);
    return this.runBack(insn.address + BigInt(insn.length), sp);
  }

  async out(): Promise<StepOutcome> {
    const regs = await this.host.regs();
    const ret = this.host.returnAddress(regs);
    if (!ret) return { kind: 'failed', message: 'step out: the caller is unknown (no frame information for this function)' };
    // Back in the caller the stack pointer is above this frame's: a recursive call returning to the same address deeper runs on.
    return this.runBack(ret.pc, this.mask(regs.rsp) + 1n);
  }

  /**
   * Runs on to `address` until the stack pointer there is at least `minSp`:
   * on the vCPU's thread in one request where the host can (breakpoints
   * whose condition does not hold and pauses of the adapter's own resume
   * it), else through the run loop with a temporary breakpoint.
   */
  private async runBack(address: bigint, minSp: bigint): Promise<StepOutcome> {
    const runOut = this.host.runOut;
    if (!runOut) {
      const r = await this.host.runTo(address, (now) => this.mask(now.rsp) >= minSp);
      if (r === undefined) return { kind: 'done' };
      return r === 'ended' ? { kind: 'ended' } : { kind: 'stopped', stop: r };
    }
    for (;;) {
      if (this.host.pauseRequested?.()) return { kind: 'stopped', stop: { reason: 'pause' } };
      const stop = await runOut(address, minSp);
      if (stop.reason === 'step') return { kind: 'done' };
      if (stop.reason === 'breakpoint' && !(await this.host.reportable(stop))) continue;
      return { kind: 'stopped', stop };
    }
  }

  /**
   * Step in or over by source line. Without line information: one
   * instruction. The vCPU's thread single-steps through all of the line's
   * addresses at once (a range step, stepping over calls for 'over'); what
   * is left to decide here happens where RIP left them: a call stepped into,
   * a caller returned to, the same line again through another range.
   */
  async line(kind: 'in' | 'over'): Promise<StepOutcome> {
    const symbols = this.host.symbols;
    let regs = await this.host.regs();
    const startPc = this.mask(regs.rip);
    // Stepping over from the first instruction of an inlined call: the step is on the line of the call.
    const entry = kind === 'over' && symbols ? inlinedEntryAt(symbols, startPc) : undefined;
    const ranges = symbols && (entry ? [entry.range, ...lineRangesOf(symbols, startPc, entry.line)] : lineRanges(symbols, startPc));
    if (!symbols || !ranges) return this.instruction(kind === 'over');
    const startSp = this.mask(regs.rsp);
    const startLine = entry ? { line: entry.line, file: entry.file } : symbols.lineForAddress(startPc);
    const startFn = symbols.functionAt(startPc)?.start;
    const inLine = (pc: bigint): boolean => ranges.some(([lo, hi]) => pc >= lo && pc < hi);
    const inlined = kind === 'over' && startLine ? inlinedCallsOf(symbols, startPc, startLine.line, entry ? 1 : 0) : undefined;
    let pc = startPc;
    for (;;) {
      if (this.host.pauseRequested?.()) return { kind: 'stopped', stop: { reason: 'pause' } };
      // Outside the line (no line information here, or code the line table gives no range): one instruction at a time.
      const stop = await this.host.stepRange(inLine(pc) ? ranges : [[pc, pc + 1n]], kind === 'over');
      if (stop.reason !== 'step' && !(stop.reason === 'breakpoint' && !(await this.host.reportable(stop)))) return { kind: 'stopped', stop };
      regs = await this.host.regs();
      pc = this.mask(regs.rip);
      const sp = this.mask(regs.rsp);
      const loc = symbols.lineForAddress(pc);
      if (inLine(pc)) continue;
      // Code inlined from this line is this line when stepping over: its range joins the line's.
      const call = sp === startSp ? inlined?.(pc) : undefined;
      if (call) { ranges.push(call); continue; }
      if (sp < startSp && symbols.functionAt(pc)?.start !== startFn) {
        // Deeper: a call we stepped into.
        if (kind === 'in' && loc) return { kind: 'done' };
        // No source there (or stepping over an unexpected call): run back out of it.
        const ret = this.host.returnAddress(regs);
        if (!ret) return { kind: 'done' };
        const back = await this.runBack(ret.pc, startSp);
        if (back.kind !== 'done') return back;
        pc = this.mask((await this.host.regs()).rip);
        continue;
      }
      if (!loc) continue;
      // Same line number reached through another range (a loop header split in two): keep going.
      if (startLine && loc.line === startLine.line && loc.file === startLine.file && sp === startSp && loc.address !== pc) continue;
      // Back in a caller mid-line, or at the start of another line: stop at a line boundary.
      if (loc.address === pc || sp > startSp) return { kind: 'done' };
    }
  }
}

/**
 * When `pc` is the first instruction of an inlined call (gcc puts no
 * instruction of the calling line before it: the arguments are the line
 * before's), that call's range and the calling line (file, line).
 */
export function inlinedEntryAt(symbols: Symbols, pc: bigint): { range: [bigint, bigint]; line: number; file?: string } | undefined {
  const chain = symbols.debug?.scopesAt(symbols.toLinked(pc));
  const call = chain?.[0];
  if (!chain || chain.length < 2 || !call?.inlinedAt?.line || call.highPc <= call.lowPc) return undefined;
  if (symbols.toRuntime(call.lowPc) !== pc) return undefined;
  return { range: [pc, symbols.toRuntime(call.highPc)], line: call.inlinedAt.line, file: call.inlinedAt.file };
}

/** The ranges of line `line` (of file `file`, by name, when given) in the function holding `pc`. */
export function lineRangesOf(symbols: Symbols, pc: bigint, line: number, file?: string): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  const fn = symbols.functionAt(pc);
  if (!fn || fn.end - fn.start > 1n << 24n) return out;
  const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
  let a = fn.start;
  for (let n = 0; a < fn.end && n < MAX_BLOCKS; n++) {
    const r = symbols.lineRange(a);
    if (!r || r[1] <= a) { a++; continue; }
    const loc = symbols.lineForAddress(r[0]);
    if (loc && loc.line === line && (!file || base(loc.file) === base(file))) out.push(r);
    a = r[1];
  }
  return out;
}

/** Line blocks looked at per function when collecting a line's ranges (a bound for huge functions). */
const MAX_BLOCKS = 100_000;

/**
 * Every address range of the line at `pc` within its function (a loop's
 * header and its latch are one line in two places), the one at `pc` first;
 * undefined without line information at `pc`.
 */
export function lineRanges(symbols: Symbols, pc: bigint): [bigint, bigint][] | undefined {
  const here = symbols.lineRange(pc);
  const line = symbols.lineForAddress(pc);
  if (!here || !line) return here && [here];
  const out: [bigint, bigint][] = [here];
  const fn = symbols.functionAt(pc);
  if (!fn || fn.end - fn.start > 1n << 24n) return out;
  let a = fn.start;
  for (let n = 0; a < fn.end && n < MAX_BLOCKS; n++) {
    const r = symbols.lineRange(a);
    if (!r || r[1] <= a) { a++; continue; }
    const loc = symbols.lineForAddress(r[0]);
    if (r[0] !== here[0] && loc && loc.line === line.line && loc.file === line.file) out.push(r);
    a = r[1];
  }
  return out;
}

/**
 * For stepping over the line `line` at `startPc`: a function of a pc that
 * says whether that pc is in code inlined into this line (an inlined
 * instance, one level inside the start's own function scope, whose call
 * site is this line) and returns that instance's address range then
 * (runtime addresses). Undefined without DWARF scopes at `startPc`.
 */
export function inlinedCallsOf(symbols: Symbols, startPc: bigint, line: number, skip = 0): ((pc: bigint) => [bigint, bigint] | undefined) | undefined {
  const debug = symbols.debug;
  // `skip`: the start's innermost scopes that do not count (an inlined call stepped over from its entry).
  const start = debug?.scopesAt(symbols.toLinked(startPc)).slice(skip);
  if (!debug || !start?.length) return undefined;
  const own = start[0];
  return (pc) => {
    const chain = debug.scopesAt(symbols.toLinked(pc));
    const level = chain.length - start.length;
    if (level < 1) return undefined;
    // The start's scope, at the same depth from the outside, must be the one we stepped in.
    const outer = chain[level];
    if (outer.name !== own.name || outer.unit !== own.unit) return undefined;
    const call = chain[level - 1];
    if (call.inlinedAt?.line !== line || call.highPc <= call.lowPc) return undefined;
    return [symbols.toRuntime(call.lowPc), symbols.toRuntime(call.highPc)];
  };
}
