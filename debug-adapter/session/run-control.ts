/**
 * Running and stepping the guest for DAP: run until a stop the user should
 * see (breakpoint conditions and hit counts decide, internal pauses resume
 * at once), step by line or instruction (stepping.ts), and the stopped
 * event that reports the stop. One run, step or stop decision at a time.
 */
import { StoppedEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { StopReason } from '../../vmm/machine/protocol';
import type { Regs } from '../../native/types';
import { vectorLabel } from '../../vmm/debug/idt';
import { bitnessOf, decodeFrom, type Bitness } from '../disassembly';
import { evaluate, type EvalContext } from '../expressions';
import { evaluateCondition, evaluateExpression, ExprError, type ExprContext } from '../expr';
import { isHook, type HookContext } from '../kernel-hooks';
import { rebaseBreakpoints } from '../kaslr';
import type { CpuSnapshot } from '../registers';
import { unwindFrames } from '../stack';
import { Stepper, type StepOutcome } from '../stepping';
import type { VcpuControl } from '../vcpu';
import type { BreakpointRequests } from './breakpoint-requests';
import type { ExceptionRequests } from './exception-requests';
import { hex, RequestError, THREAD_ID, type SessionState } from './state';

export interface RunControlHost {
  /** The context breakpoint conditions are evaluated in (the same as the Debug Console's). */
  evalContext(snapshot: CpuSnapshot): EvalContext;
  /** The C context of a vCPU's innermost frame, where the kernel has DWARF: conditions are C there. */
  cContext(vcpu: number): Promise<ExprContext | undefined>;
  /** The guest starts running (the kvm/* state event). */
  running(): void;
  /** A stop is about to be reported: flush the console, drop what was shown for the last stop. */
  stopping(): void;
  /** Sends what `send` sends as one write to the client. */
  together(send: () => void): void;
}

/** A step's response waits this long for its stop, to leave with the stopped event (an instruction step takes well under it). */
const QUICK_STEP_MS = 20;

export class RunControl {
  /** Set while a run, step or stop decision is in progress: one at a time. */
  private busy = false;

  constructor(
    private readonly state: SessionState,
    private readonly breakpoints: BreakpointRequests,
    private readonly exceptions: ExceptionRequests,
    private readonly host: RunControlHost,
  ) {}

  /**
   * True when a stop is for the user (a breakpoint whose condition holds, a pause, an exit...).
   * Kernel hooks at the address run first (kernel-hooks.ts): they continue invisibly unless
   * one asks for a stop; the user's own breakpoints there decide as they would alone.
   */
  private async decide(stop: StopReason): Promise<boolean> {
    this.state.hookStop = undefined;
    const all = this.state.breakpoints.matching(stop);
    if (all.length === 0) return true;
    const hit = all.filter((b) => !isHook(b));
    let hookShown = false;
    if (hit.length < all.length && stop.reason === 'breakpoint') {
      this.state.hookStop = await this.state.hooks.handle(all, await this.hookContext(stop));
      hookShown = this.state.hookStop !== undefined;
      if (hit.length === 0) return hookShown;
    }
    const problems: string[] = [];
    const legacy = this.host.evalContext(await this.state.snapshot());
    const c = hit.some((b) => b.condition) ? await this.host.cContext(this.state.vcpu!.id) : undefined;
    const holds = (condition: string): boolean => (c ? evaluateCondition(condition, c) : evaluate(condition, legacy) !== 0n);
    const go = this.state.breakpoints.shouldStop(hit, holds, problems);
    for (const p of problems) this.state.note(p, 'important');
    return go || hookShown;
  }

  /** What a kernel hook's handler sees: the stopped vCPU's registers, memory and C context. */
  private async hookContext(stop: StopReason & { reason: 'breakpoint' }): Promise<HookContext> {
    const vcpu = this.state.vcpu!;
    const id = vcpu.id;
    await vcpu.sregs().catch(() => undefined);   // the paging memory reads go through
    const c = (): Promise<ExprContext | undefined> => this.host.cContext(id);
    return {
      vcpu: id, address: stop.address, stop,
      regs: () => vcpu.regs(id),
      sregs: () => vcpu.sregs(id),
      read: (a, n) => this.state.view!.readExact({ space: 'v', address: a }, n),
      c,
      evaluate: async (text) => {
        const ctx = await c();
        if (!ctx) throw new ExprError(`'${text}' needs DWARF at ${hex(stop.address)}, and there is none`);
        return evaluateExpression(text, ctx);
      },
    };
  }

  /**
   * Resumes until a stop the user should see (conditions false and internal pauses resume at once).
   * `accept`: the temporary breakpoint of a step, reached when `ok` holds there (a 'step' stop).
   */
  private async runUntilReportable(accept?: { address: bigint; ok: (regs: Regs) => boolean }, only?: number): Promise<StopReason | undefined> {
    const vcpu = this.state.vcpu!;
    const table = this.state.breakpoints;
    for (;;) {
      const stop = await vcpu.run(only);
      if (!stop) return undefined;
      if (stop.reason === 'pause' && vcpu.internalHold) { await vcpu.internalHold; continue; }
      if (accept && stop.reason === 'breakpoint' && stop.address === accept.address && accept.ok(await vcpu.regs())) {
        const user = table.matching(stop);
        if (user.length === 0 || !(await this.decide(stop))) return { reason: 'step' };
        return stop;
      }
      if (accept && table.isTemporary(stop) && table.matching(stop).length === 0) continue;
      if (await this.decide(stop)) return stop;
    }
  }

  /** Runs until a reportable stop; `only`: that vCPU alone runs (DAP's singleThread), the others stay stopped. */
  async runLoop(only?: number): Promise<void> {
    const vcpu = this.state.vcpu;
    if (this.busy || !vcpu || vcpu.state !== 'stopped') return;
    this.busy = true;
    this.host.running();
    try {
      const stop = await this.runUntilReportable(undefined, only);
      if (stop) await this.checkKaslr();
      if (stop) await this.state.modules?.atStop().catch((e: Error) => this.state.note(`kvmdbg: modules: ${e.message}`));
      if (stop) await this.exceptions.atStop(stop);
      if (stop) this.reportStop(stop);
    } catch (e) {
      this.state.note(`continue: ${(e as Error).message}`, 'important');
    } finally {
      this.busy = false;
    }
  }

  /** Until the KASLR slide is known: look for it at this stop; when found, rebase symbols and breakpoints (kaslr.ts). */
  private async checkKaslr(): Promise<void> {
    const { kaslr, symbols, vcpu } = this.state;
    if (!kaslr || kaslr.slide !== undefined || !symbols || vcpu?.state !== 'stopped') return;
    try {
      await vcpu.sregs();
      const found = kaslr.check((a, n) => this.state.view!.readExact({ space: 'v', address: a }, n));
      if (!found) return;
      this.state.note(found.note, found.slide === 0n ? 'console' : 'important');
      if (found.slide === 0n) return;
      symbols.rebase(found.slide);
      if (rebaseBreakpoints(this.state.breakpoints.all(), (a) => symbols.toRuntime(a)).length > 0) await this.breakpoints.arm();
    } catch (e) {
      this.state.note(`KASLR slide detection: ${(e as Error).message}`);
    }
  }

  /** The stopped event for `stop` (all threads stop together); `message` goes to the console first. */
  reportStop(stop: StopReason, message?: string): void {
    this.host.stopping();
    this.state.lastStop = stop;
    const hit = this.state.breakpoints.matching(stop).filter((b) => !isHook(b));
    const hook = stop.reason === 'breakpoint' ? this.state.hookStop : undefined;
    let reason = 'pause';
    let text: string | undefined;
    switch (stop.reason) {
      case 'entry': reason = 'entry'; break;
      case 'step': reason = 'step'; break;
      case 'pause': reason = 'pause'; break;
      case 'breakpoint':
        if (hit[0]?.kind === 'exception') { reason = 'exception'; text = this.exceptions.vectorStop?.description ?? vectorLabel(hit[0].vector ?? 0); break; }
        reason = hit[0]?.kind === 'function' ? 'function breakpoint' : hit[0]?.kind === 'instruction' ? 'instruction breakpoint' : 'breakpoint';
        break;
      case 'watchpoint': reason = 'data breakpoint'; break;
      case 'exit': reason = 'exception'; text = stop.description; break;
      case 'debug': reason = 'exception'; text = `debug exception ${stop.exit.exception} at ${hex(stop.exit.pc)} (not one of kvmdbg's breakpoints)`; break;
    }
    if (hook) { reason = hook.reason; text = hook.text; }
    if (message) this.state.note(message, 'important');
    const ev = new StoppedEvent(reason, this.state.vcpu?.threadId ?? THREAD_ID, text) as DebugProtocol.StoppedEvent;
    ev.body.allThreadsStopped = true;
    if (stop.reason === 'exit') ev.body.description = 'Paused on a VM exit';
    if (reason === 'exception' && stop.reason === 'breakpoint') ev.body.description = 'Paused on a guest exception';
    if (hook) ev.body.description = hook.description;
    // Exception-vector breakpoints are the client's filter, not breakpoints it knows by id.
    const ids = hit.filter((b) => b.kind !== 'exception').map((b) => b.id);
    if (ids.length > 0) ev.body.hitBreakpointIds = ids;
    this.state.send(ev);
  }

  /** A Stepper over the focused vCPU in its current mode; steps over calls with a temporary breakpoint. */
  private async stepper(): Promise<Stepper> {
    const vcpu = this.state.vcpu!;
    const view = this.state.view!;
    // An instruction step needs nothing else of the system registers: they are decoded when a step reads memory.
    const bitness: Bitness = vcpu.codeBits() ?? bitnessOf(await vcpu.sregs());
    const bits = bitness === 64 ? 64 : 32;
    const pauses = vcpu.pauses;
    return new Stepper({
      bits,
      symbols: this.state.symbols,
      // Memory (decode, returnAddress) is read after regs(), through this stop's paging, which sregs() sets.
      regs: async () => { await vcpu.sregs(); return vcpu.regs(); },
      stepInstruction: () => vcpu.step(),
      stepRange: (ranges, overCalls) => vcpu.rangeStep({ ranges, overCalls, bits }),
      runOut: (address, minSp) => vcpu.rangeStep({ ranges: [], overCalls: false, bits, out: { address, minSp } }),
      reportable: (stop) => this.decide(stop),
      pauseRequested: () => vcpu.pauses !== pauses,
      decode: (address) => decodeFrom((a, n) => view.read({ space: 'v', address: a }, n), bitness, address, 1)[0],
      returnAddress: (regs) => {
        const read = view.reader();
        const f = unwindFrames({ regs, bits, symbols: this.state.symbols, readMemory: (a, n) => read.readExact(a, n), maxFrames: 2 }).unwound[1];
        return f ? { pc: f.pc, sp: f.sp } : undefined;
      },
      runTo: async (address, ok) => {
        this.state.breakpoints.setTemporary(address);
        await this.breakpoints.arm();
        try {
          const stop = await this.runUntilReportable({ address, ok });
          if (!stop) return 'ended';
          return stop.reason === 'step' ? undefined : stop;
        } finally {
          this.state.breakpoints.setTemporary(undefined);
          if (vcpu.state === 'stopped') await this.breakpoints.arm();
        }
      },
    });
  }

  /**
   * Steps the thread the client names (it comes into focus: the stop is reported on it); the
   * other vCPUs stay stopped. Throws at once when the step cannot start; once it can,
   * `started()` is called (the response goes out before the stop event) and the promise never
   * rejects: a failure is told in the stop.
   */
  step(threadId: number | undefined, how: (s: Stepper) => Promise<StepOutcome>, started: () => void): Promise<void> {
    const vcpu = this.state.vcpu;
    if (this.busy || vcpu?.state !== 'stopped') throw new RequestError('the vCPU is running: pause it before stepping');
    vcpu.focus(this.state.vcpuOfThread(threadId));
    this.busy = true;
    // A quick step's response leaves with its stopped event, in one write; a longer one's after QUICK_STEP_MS.
    let answered = false;
    const answer = (): void => { if (!answered) { answered = true; clearTimeout(timer); started(); } };
    const timer = setTimeout(answer, QUICK_STEP_MS);
    return this.stepFocused(vcpu, how, answer);
  }

  private async stepFocused(vcpu: VcpuControl, how: (s: Stepper) => Promise<StepOutcome>, answer: () => void): Promise<void> {
    const report = (stop: StopReason, message?: string): void => this.host.together(() => { answer(); this.reportStop(stop, message); });
    try {
      const outcome = await how(await this.stepper());
      if (outcome.kind === 'done') report({ reason: 'step' });
      else if (outcome.kind === 'stopped') { await this.exceptions.atStop(outcome.stop); report(outcome.stop); }
      else if (outcome.kind === 'failed') report({ reason: 'step' }, outcome.message);
    } catch (e) {
      if ((vcpu.state as string) !== 'ended') report({ reason: 'step' }, `step: ${(e as Error).message}`);
    } finally {
      answer();
      this.busy = false;
    }
  }
}
