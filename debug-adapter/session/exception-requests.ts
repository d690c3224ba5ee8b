/**
 * VM exits and guest exception vectors as DAP exception breakpoints:
 * setExceptionBreakpoints (exit-breakpoints.ts), exceptionInfo, and the
 * upkeep of the 'vector' filter, whose breakpoints sit on the handlers the
 * guest's IDT names (vector-breakpoints.ts) and move when the guest changes
 * its IDT: looked up at every stop, before every resume and while it runs.
 */
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { StopReason } from '../../vmm/machine/protocol';
import type { ExitBreakpointSpec } from '../../vmm/debug/exit-filters';
import type { Sregs } from '../../native/types';
import { parseVectors } from '../../vmm/debug/idt';
import { checkCondition, ExitConditionError, exitDetails, exitSpecFor, filterOf, mergeExitSpecs } from '../exit-breakpoints';
import { describeVectorStop, IDT_PAUSE_EVERY, IDT_POLL_MS, VectorBreakpoints } from '../vector-breakpoints';
import type { BreakpointRequests } from './breakpoint-requests';
import { hex, RequestError, type SessionState } from './state';

/** A filter as launch.json or setExceptionBreakpoints names it. */
export interface ExitFilter { filterId: string; condition?: string }

export class ExceptionRequests {
  /** Guest exception vectors (the 'vector' filter): breakpoints on their IDT handlers. */
  private readonly vectors = new VectorBreakpoints();
  /** What launch.json's "exitBreakpoints" asked for: setExceptionBreakpoints adds to it, never removes it. */
  private launchExitSpec: ExitBreakpointSpec = {};
  private launchVectors: number[] = [];
  /** The last stop at an exception handler, in words (exceptionInfo, the stopped event's text). */
  vectorStop?: { description: string; details: string };
  private idtTimer?: ReturnType<typeof setTimeout>;
  private idtLooks = 0;
  /** The system registers the handlers were last looked up with (IDTR, GDTR, CPU mode). */
  private idtSregs?: Sregs;

  constructor(private readonly state: SessionState, private readonly breakpoints: BreakpointRequests) {}

  /** launch.json's filters, before the machine exists; throws on a bad condition. */
  setLaunchFilters(on: ExitFilter[]): void {
    this.launchExitSpec = on.some((f) => f.filterId !== 'vector') ? exitSpecFor(on) : {};
    for (const f of on) if (f.filterId === 'vector') this.launchVectors = parseVectors(f.condition);
  }

  /** Once the machine exists: arms launch.json's filters. */
  async armLaunchFilters(): Promise<void> {
    if (Object.keys(this.launchExitSpec).length > 0) await this.state.machine!.setExitBreakpoints(this.launchExitSpec);
    this.vectors.vectors = [...this.launchVectors];
    await this.refreshVectors();
  }

  async setFilters(args: DebugProtocol.SetExceptionBreakpointsArguments): Promise<DebugProtocol.SetExceptionBreakpointsResponse['body']> {
    const { machine, vcpu } = this.state;
    const requested = [...(args.filters ?? []).map((filterId) => ({ filterId, condition: undefined as string | undefined })), ...(args.filterOptions ?? [])];
    const results: DebugProtocol.Breakpoint[] = [];
    const good: ExitFilter[] = [];
    for (const f of requested) {
      try {
        checkCondition(f.filterId, f.condition);
        good.push(f);
        results.push({ verified: true });
      } catch (e) {
        results.push({ verified: false, message: e instanceof ExitConditionError ? e.message : String(e) });
      }
    }
    const spec = exitSpecFor(good);
    const merged = mergeExitSpecs(this.launchExitSpec, spec);
    const vectors = new Set(this.launchVectors);
    for (const f of good) if (f.filterId === 'vector') for (const v of parseVectors(f.condition)) vectors.add(v);
    this.vectors.vectors = [...vectors];
    try {
      if (machine && !machine.ended) await vcpu!.withStopped(() => machine.setExitBreakpoints(merged));
      await this.refreshVectors();
    } catch (e) {
      throw new RequestError(`VM-exit breakpoints: ${(e as Error).message}`);
    }
    // The vector filter says which handlers are not found (yet) or not armed.
    const pending = this.state.breakpoints.all().filter((b) => b.kind === 'exception' && !b.verified).map((b) => b.message).filter(Boolean);
    requested.forEach((f, i) => {
      if (f.filterId === 'vector' && results[i].verified && pending.length > 0) results[i].message = pending.join('; ');
    });
    return { breakpoints: results };
  }

  exceptionInfo(): DebugProtocol.ExceptionInfoResponse['body'] {
    const stop = this.state.lastStop;
    if (stop?.reason === 'exit') {
      return {
        exceptionId: filterOf(stop.exit), description: stop.description, breakMode: 'always',
        details: { message: exitDetails(stop.exit), typeName: 'VM exit', fullTypeName: `VM exit: ${stop.exit.kind}` },
      };
    }
    if (stop?.reason === 'breakpoint' && this.vectorStop) {
      return {
        exceptionId: 'vector', description: this.vectorStop.description, breakMode: 'always',
        details: { message: this.vectorStop.details, typeName: 'guest exception', fullTypeName: this.vectorStop.description.split(' handler')[0] },
      };
    }
    if (stop?.reason === 'debug') {
      return {
        exceptionId: 'debug', description: `debug exception ${stop.exit.exception} at ${hex(stop.exit.pc)}`, breakMode: 'always',
        details: { message: `dr6: ${hex(stop.exit.dr6)}\ndr7: ${hex(stop.exit.dr7)}`, typeName: 'debug exception' },
      };
    }
    throw new RequestError('the vCPU did not stop at a VM exit');
  }

  /**
   * Looks the exception vectors' handlers up in the guest's IDT now (vector-breakpoints.ts);
   * re-arms when one changed. With the vCPUs stopped (pausing them briefly when they run).
   */
  async refreshVectors(): Promise<void> {
    const { vcpu, machine } = this.state;
    if (!vcpu || !machine || machine.ended) return;
    if (this.vectors.vectors.length === 0 && !this.state.breakpoints.all().some((b) => b.kind === 'exception')) return;
    await vcpu.withStopped(async () => {
      const sregs = this.idtSregs = await vcpu.sregs().catch(() => undefined);
      const read = this.state.view!.reader();
      const specs = this.vectors.specs(sregs, (a, n) => read.readExact(a, n));
      if (!this.vectors.changed(specs)) return;
      this.state.breakpoints.replace('exception', specs);
      await this.breakpoints.arm();
    });
  }

  /** While the guest runs with exception vectors on: look at its IDT every IDT_POLL_MS. */
  watchIdt(): void {
    clearTimeout(this.idtTimer);
    if (this.vectors.vectors.length === 0) return;
    this.idtTimer = setTimeout(() => {
      const vcpu = this.state.vcpu;
      if (vcpu?.state !== 'running' || vcpu.internalHold) return;
      // Cheap look (no pause): the gates in memory under the last IDTR; a changed one, or every Nth look, pauses.
      try {
        const idt = this.state.view!.reader();
        const cheap = this.idtSregs && ++this.idtLooks % IDT_PAUSE_EVERY !== 0
          && !this.vectors.differs(this.vectors.specs(this.idtSregs, (a, n) => idt.readExact(a, n)));
        if (cheap) this.watchIdt();
        else void this.refreshVectors().catch((e: Error) => this.state.note(`exception vectors: ${e.message}`));
      } catch (e) {
        this.state.note(`exception vectors: ${(e as Error).message}`);
      }
    }, IDT_POLL_MS);
    this.idtTimer.unref?.();
  }

  /** The guest stopped: no IDT looks until it runs again. */
  stopWatchingIdt(): void {
    clearTimeout(this.idtTimer);
  }

  /** At a stop the user will see: describe a stop at an exception handler, then look at the IDT again. */
  async atStop(stop: StopReason): Promise<void> {
    this.vectorStop = undefined;
    try {
      const bp = stop.reason === 'breakpoint' ? this.state.breakpoints.matching(stop).find((b) => b.kind === 'exception') : undefined;
      if (bp?.vector !== undefined && stop.reason === 'breakpoint') {
        const vcpu = this.state.vcpu!;
        const [regs, sregs] = await Promise.all([vcpu.regs(), vcpu.sregs()]);
        const name = this.state.symbolName(stop.address);
        this.vectorStop = describeVectorStop(bp.vector, stop.address, regs, sregs, (a, n) => this.state.view!.readExact({ space: 'v', address: a }, n), name);
      }
      await this.refreshVectors();
    } catch (e) {
      this.state.note(`exception vectors: ${(e as Error).message}`);
    }
  }
}
