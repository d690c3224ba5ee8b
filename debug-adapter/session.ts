/**
 * The DAP session: translates requests into the machine (vmm/) and the
 * modules beside this file (registers, memory, disassembly, stack,
 * breakpoints, exit breakpoints, stepping, console output) and the
 * machine's events back into DAP events. Decisions live in those modules.
 */
import { basename } from 'node:path';
import { statSync } from 'node:fs';
import {
  Breakpoint as DapBreakpoint, BreakpointEvent, DebugSession, Event, ExitedEvent, Handles, InitializedEvent, InvalidatedEvent,
  OutputEvent, ProgressEndEvent, ProgressStartEvent, Response, Scope, Source, StackFrame, StoppedEvent, TerminatedEvent, Thread, ThreadEvent,
} from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { Machine } from '../vmm/machine/machine';
import type { StopReason, VmEnd } from '../vmm/machine/protocol';
import type { ExitBreakpointSpec } from '../vmm/debug/exit-filters';
import { assignHwSlots, MAX_PAGE_WATCH } from '../vmm/debug/hw-breakpoints';
import { SoftwareTraps } from './software-traps';
import { parseVectors, vectorLabel } from '../vmm/debug/idt';
import { describeVectorStop, IDT_PAUSE_EVERY, IDT_POLL_MS, VectorBreakpoints } from './vector-breakpoints';
import type { Regs, Sregs } from '../native/types';
import { loadSymbols, Symbols } from './symbols';
import { makeSourceFileMap } from './source-map';
import { loadSystemMap } from './symbols/system-map';
import { LaunchConfigError, looksLikeLinux, validateLaunchArgs, withNoKaslr, type LaunchConfig } from './launch-config';
import { ConsoleBatcher } from './console-output';
import { KvmCustomRequests } from './custom-requests';
import { VcpuControl } from './vcpu';
import { GuestMemoryView, MemoryRefError, parseRef, formatRef } from './memory';
import { bitnessOf, decodeFrom, disassemble, symbolizedText, type Bitness } from './disassembly';
import { registerScopes, registerValue, mergeWidth, type CpuSnapshot, type RegisterNode } from './registers';
import { describeFrames, unwindFrames } from './stack';
import type { StackFrame as UnwoundFrame } from './symbols';
import { INTERESTING_MSRS, msrNodes, readMsrs } from './msr-scope';
import { BreakpointTable, dataId, parseDataId, type Breakpoint, type BreakpointSpec } from './breakpoints';
import { checkCondition, EXIT_FILTERS, ExitConditionError, exitDetails, exitSpecFor, filterOf, mergeExitSpecs } from './exit-breakpoints';
import { Stepper, type StepOutcome } from './stepping';
import { kaslrTrackerFor, rebaseBreakpoints, type KaslrTracker } from './kaslr';
import { evaluate, ExpressionError, type EvalContext } from './expressions';
import type { HwLength } from '../vmm/debug/hw-breakpoints';

const THREAD_ID = 1;
/** Stack frame ids carry their vCPU: frame i of vCPU v is v * FRAME_IDS_PER_VCPU + i + 1. */
const FRAME_IDS_PER_VCPU = 1_000_000;
const vcpuOfFrame = (frameId: number | undefined): number | undefined =>
  (frameId !== undefined && Number.isInteger(frameId) && frameId > 0 ? Math.floor((frameId - 1) / FRAME_IDS_PER_VCPU) : undefined);
/** Requests that read the machine: before a launch they get one clear error. */
const NEEDS_VM = new Set(['stackTrace', 'scopes', 'readMemory', 'writeMemory', 'disassemble', 'setVariable']);
const hex = (v: bigint): string => '0x' + v.toString(16);

export class KvmDebugSession extends DebugSession {
  private config?: LaunchConfig;
  private machine?: Machine;
  private vcpu?: VcpuControl;
  private view?: GuestMemoryView;
  private symbols?: Symbols;
  /** Linux symbols only: finds the KASLR slide at a stop and rebases (kaslr.ts). */
  private kaslr?: KaslrTracker;
  private readonly kvm = new KvmCustomRequests((event, body) => this.sendEvent(new Event(event, body)));
  private readonly console = new ConsoleBatcher((text) => this.sendEvent(new OutputEvent(text, 'stdout')), { bytes: (b) => this.kvm.console(b) });
  private readonly breakpoints = new BreakpointTable();
  /** int3s beyond DR0-3 (hosts with #BP exits): planted on every resume, lifted at every stop. */
  /** Software breakpoints beyond the debug registers (created with the machine). */
  private software?: SoftwareTraps;
  /** Guest exception vectors (the 'vector' filter): breakpoints on their IDT handlers. */
  private readonly vectors = new VectorBreakpoints();
  private launchVectors: number[] = [];
  /** The last stop at an exception handler, in words (exceptionInfo). */
  private vectorStop?: { description: string; details: string };
  private idtTimer?: ReturnType<typeof setTimeout>;
  private idtLooks = 0;
  /** The system registers the handlers were last looked up with (IDTR, GDTR, CPU mode). */
  private idtSregs?: Sregs;
  private debugreg: bigint[] = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
  private launchExitSpec: ExitBreakpointSpec = {};
  /** Register groups shown in the Variables view, with the vCPU they belong to (setVariable writes there). */
  private variableHandles = new Handles<{ vcpu: number; nodes: RegisterNode[]; msrs?: boolean }>();
  private lastStop?: StopReason;
  /** Per vCPU: the frames unwound from these registers (stackTrace). */
  private readonly unwoundCache = new Map<number, { regs: Regs; frames: UnwoundFrame[] }>();
  /** Set while a run, step or stop decision is in progress: one at a time. */
  private busy = false;
  private progressReporting = false;
  private progressCount = 0;
  private configurationDone!: () => void;
  private readonly configured = new Promise<void>((r) => { this.configurationDone = r; });

  constructor() {
    super();
    this.setDebuggerLinesStartAt1(true);
    this.setDebuggerColumnsStartAt1(true);
    this.guardHandlers();
    // DebugSession shuts the adapter down on any 'error' event, and a DAP message that is not
    // JSON (or not an object) is one: ignore those, shut down only on stream errors.
    this.removeAllListeners('error');
    this.on('error', (ev: { body?: unknown }) => {
      if (typeof ev?.body === 'string' && ev.body.startsWith('Error handling data')) {
        console.error(`kvmdbg debug adapter: ignored a malformed DAP message (${ev.body})`);
        return;
      }
      this.shutdown();
    });
  }

  /**
   * Every request gets one response, whatever its arguments: DebugSession answers a handler that
   * throws synchronously, but drops the promise of an async one, so a rejection would kill the
   * adapter with no answer sent. Each *Request handler is wrapped: a throw or a rejection before
   * the response went out becomes an error response naming the request.
   */
  private guardHandlers(): void {
    const self = this as unknown as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(KvmDebugSession.prototype)) {
      const fn = self[name];
      if (!name.endsWith('Request') || name === 'dispatchRequest' || typeof fn !== 'function') continue;
      self[name] = (response: DebugProtocol.Response, ...rest: unknown[]): unknown => {
        const failed = (e: unknown): void => {
          if (!response.seq) this.fail(response, `${response.command}: ${e instanceof Error ? e.message : String(e)}`);
          else console.error(`kvmdbg debug adapter: ${response.command}: ${e instanceof Error ? e.message : String(e)}`);
        };
        try {
          const r = (fn as (...a: unknown[]) => unknown).call(this, response, ...rest);
          if (r instanceof Promise) r.catch(failed);
          return r;
        } catch (e) {
          return failed(e);
        }
      };
    }
  }

  /** Missing arguments read as {}; arguments that are not an object get an error response. */
  protected override dispatchRequest(request: DebugProtocol.Request): void {
    if (request.arguments === undefined || request.arguments === null) request.arguments = {};
    if (typeof request.arguments !== 'object' || Array.isArray(request.arguments)) {
      this.fail(new Response(request), `${String(request.command)}: the arguments must be an object, not ${JSON.stringify(request.arguments).slice(0, 40)}`);
      return;
    }
    if (!this.machine && NEEDS_VM.has(request.command)) {
      this.fail(new Response(request), `${request.command}: no VM is running (launch one first)`);
      return;
    }
    super.dispatchRequest(request);
  }

  private note(text: string, category: 'console' | 'important' = 'console'): void {
    this.sendEvent(new OutputEvent(text.endsWith('\n') ? text : text + '\n', category));
  }

  private fail(response: DebugProtocol.Response, message: string): void {
    this.sendErrorResponse(response, { id: 1, format: message.replace(/[{}]/g, ''), showUser: true });
  }

  protected override initializeRequest(response: DebugProtocol.InitializeResponse, args: DebugProtocol.InitializeRequestArguments): void {
    this.progressReporting = args.supportsProgressReporting === true;
    response.body = {
      supportsConfigurationDoneRequest: true,
      supportsSingleThreadExecutionRequests: true,
      supportsReadMemoryRequest: true,
      supportsWriteMemoryRequest: true,
      supportsDisassembleRequest: true,
      supportsSteppingGranularity: true,
      supportsInstructionBreakpoints: true,
      supportsFunctionBreakpoints: true,
      supportsDataBreakpoints: true,
      supportsConditionalBreakpoints: true,
      supportsHitConditionalBreakpoints: true,
      supportsExceptionInfoRequest: true,
      supportsExceptionFilterOptions: true,
      exceptionBreakpointFilters: EXIT_FILTERS,
      supportsSetVariable: true,
      supportsTerminateRequest: true,
      supportsEvaluateForHovers: true,
      supportsValueFormattingOptions: true,
    };
    this.sendResponse(response);
  }

  protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
    this.sendResponse(response);
    this.configurationDone();
  }

  // ---- launch ---------------------------------------------------------------------------------

  /**
   * A large vmlinux takes seconds to read: say so with a DAP progress (VS Code shows
   * a notification when it lasts) if the client can show one. Loading itself is
   * synchronous; one turn of the event loop lets the start event leave first.
   */
  private async withProgress<T extends { summary: string } | undefined>(file: string | undefined, work: () => T): Promise<T> {
    if (!this.progressReporting || !file) return work();
    const id = `kvmdbg-symbols-${++this.progressCount}`;
    let size = '';
    try { size = ` (${(statSync(file).size / 1048576).toFixed(1)} MiB)`; } catch { /* loadSymbols reports it */ }
    this.sendEvent(new ProgressStartEvent(id, `Loading symbols from ${basename(file)}${size}`));
    await new Promise((r) => setImmediate(r));
    let result: T | undefined;
    try {
      return (result = work());
    } finally {
      this.sendEvent(new ProgressEndEvent(id, result?.summary));
    }
  }

  /** launch.json's sourceFileMap: compiled paths <-> the user's tree. */
  private sourceMap = makeSourceFileMap();

  private loadSymbolsFor(config: LaunchConfig): Symbols | undefined {
    if (config.symbols) return loadSymbols(config.symbols, { nameIndex: { log: (l) => this.note(l) } });
    if (config.systemMap) return loadSystemMap(config.systemMap);
    return undefined;
  }

  protected override async launchRequest(response: DebugProtocol.LaunchResponse, args: DebugProtocol.LaunchRequestArguments): Promise<void> {
    let config: LaunchConfig;
    try {
      const v = validateLaunchArgs(args);
      config = v.config;
      for (const w of v.warnings) this.note(w, 'important');
    } catch (e) {
      return this.fail(response, e instanceof LaunchConfigError ? e.message : `launch: ${(e as Error).message}`);
    }
    this.config = config;
    this.sourceMap = makeSourceFileMap(config.sourceFileMap);
    const symbols = await this.withProgress(config.symbols ?? config.systemMap, () => this.loadSymbolsFor(config));
    this.symbols = symbols;
    if (symbols) {
      this.note(symbols.summary);
      for (const w of symbols.warnings) this.note(w);
    } else {
      this.note(`${basename(config.kernel)} is not an ELF and no "symbols" were given: only instruction breakpoints by address work`);
    }
    let cmdline = config.cmdline;
    if (symbols && looksLikeLinux((n) => symbols.table.lookup(n) !== undefined)) {
      const k = withNoKaslr(cmdline, symbols.name);
      cmdline = k.cmdline;
      if (k.note) this.note(k.note);
      this.kaslr = kaslrTrackerFor(symbols);
    }
    try {
      const on = Object.entries(config.exitBreakpoints).filter(([, v]) => v !== false)
        .map(([filterId, v]) => ({ filterId, condition: typeof v === 'string' ? v : undefined }));
      this.launchExitSpec = on.some((f) => f.filterId !== 'vector') ? exitSpecFor(on) : {};
      for (const f of on) if (f.filterId === 'vector') this.launchVectors = parseVectors(f.condition);
    } catch (e) {
      return this.fail(response, `launch.json: "exitBreakpoints": ${(e as Error).message}`);
    }
    try {
      this.machine = await Machine.create({ kernel: config.kernel, initrd: config.initrd, cmdline, memoryBytes: config.memoryBytes, cpus: config.cpus, disks: config.disks });
    } catch (e) {
      return this.fail(response, (e as Error).message);
    }
    const machine = this.machine;
    this.note(`kvmdbg: ${machine.int3.note}`);
    this.software = new SoftwareTraps(machine, (m) => this.note(m, 'important'));
    this.vcpu = new VcpuControl(machine);
    this.vcpu.hooks = {
      prepare: async () => { await this.refreshVectors(); return this.software!.stepOff(this.vcpu!); },
      resuming: () => { this.software!.plant(this.vcpu?.paging); this.watchIdt(); },
      stopped: () => { this.software!.lift(); clearTimeout(this.idtTimer); },
    };
    // A breakpoint hit held back by the all-stop is reported later only if that breakpoint is still set.
    this.vcpu.stillWanted = (_v, stop) => stop.reason !== 'breakpoint' || this.breakpoints.matching(stop).length > 0;
    this.kvm.attach(machine, this.vcpu);
    this.view = new GuestMemoryView(machine.memory, () => this.vcpu?.paging);
    machine.on('output', (bytes: Uint8Array) => this.console.push(bytes));
    machine.on('log', (level: string, message: string) => { if (level === 'guest-error') this.note(`guest error: ${message}`); });
    machine.on('ended', (end: VmEnd) => this.onEnded(end));
    await this.vcpu.sregs().catch(() => undefined);
    if (Object.keys(this.launchExitSpec).length > 0) await machine.setExitBreakpoints(this.launchExitSpec);
    this.vectors.vectors = [...this.launchVectors];
    await this.refreshVectors();
    const blocks = await machine.setStepIntoInterrupts(config.stepIntoInterrupts);
    if (!config.stepIntoInterrupts && !blocks) this.note('kvmdbg: this KVM cannot hold interrupts back during a single step (KVM_GUESTDBG_BLOCKIRQ needs Linux 5.15): a step may enter an interrupt handler');

    this.sendEvent(new InitializedEvent());
    await this.configured;
    this.sendResponse(response);
    if (config.stopOnEntry) this.reportStop({ reason: 'entry' });
    else void this.runLoop();
  }

  private onEnded(end: VmEnd): void {
    this.console.dispose();
    this.kvm.exited();
    this.note(`The VM has ended: ${end.message}`);
    this.sendEvent(new ThreadEvent('exited', THREAD_ID));
    this.sendEvent(new ExitedEvent(end.status));
    this.sendEvent(new TerminatedEvent());
  }

  // ---- run control --------------------------------------------------------------------------

  private evalContext(snapshot: CpuSnapshot): EvalContext {
    return {
      register: (name) => registerValue(snapshot, name),
      symbol: (name) => this.symbols?.addressOf(name),
      read: (address, size) => this.view!.readExact({ space: 'v', address }, size),
    };
  }

  /** One vCPU's registers at this stop (the focused one by default). */
  private async snapshot(vcpu = this.vcpu!.id): Promise<CpuSnapshot> {
    const [regs, sregs] = await Promise.all([this.vcpu!.regs(vcpu), this.vcpu!.sregs(vcpu)]);
    return { regs, sregs, debugreg: this.debugreg };
  }

  /** The vCPU a request's threadId names (absent: the one in focus); one sentence when it names none. */
  private vcpuOfThread(threadId: number | undefined): number {
    if (threadId === undefined || threadId === null) return this.vcpu!.id;
    if (!this.vcpu!.hasThread(threadId)) throw new Error(`no vCPU has thread id ${JSON.stringify(threadId)} (this VM has threads 1 to ${this.machine!.cpus})`);
    return threadId - 1;
  }

  /** True when a stop is for the user (a breakpoint whose condition holds, a pause, an exit...). */
  private async decide(stop: StopReason): Promise<boolean> {
    const hit = this.breakpoints.matching(stop);
    if (hit.length === 0) return true;
    const problems: string[] = [];
    const go = this.breakpoints.shouldStop(hit, this.evalContext(await this.snapshot()), problems);
    for (const p of problems) this.note(p, 'important');
    return go;
  }

  /** Resumes until a stop the user should see (conditions false and internal pauses resume at once). */
  private async runUntilReportable(accept?: { address: bigint; ok: (regs: Regs) => boolean }, only?: number): Promise<StopReason | undefined> {
    const vcpu = this.vcpu!;
    for (;;) {
      const stop = await vcpu.run(only);
      if (!stop) return undefined;
      if (stop.reason === 'pause' && vcpu.internalHold) { await vcpu.internalHold; continue; }
      if (accept && stop.reason === 'breakpoint' && stop.address === accept.address && accept.ok(await vcpu.regs())) {
        const user = this.breakpoints.matching(stop);
        if (user.length === 0 || !(await this.decide(stop))) return { reason: 'step' };
        return stop;
      }
      if (accept && this.breakpoints.isTemporary(stop) && this.breakpoints.matching(stop).length === 0) continue;
      if (await this.decide(stop)) return stop;
    }
  }

  /** Runs until a reportable stop; `only`: that vCPU alone runs (DAP's singleThread), the others stay stopped. */
  private async runLoop(only?: number): Promise<void> {
    if (this.busy || !this.vcpu || this.vcpu.state !== 'stopped') return;
    this.busy = true;
    this.kvm.running();
    try {
      const stop = await this.runUntilReportable(undefined, only);
      if (stop) await this.checkKaslr();
      if (stop) await this.atStop(stop);
      if (stop) this.reportStop(stop);
    } catch (e) {
      this.note(`continue: ${(e as Error).message}`, 'important');
    } finally {
      this.busy = false;
    }
  }

  /** Until the KASLR slide is known: look for it at this stop; when found, rebase symbols and breakpoints (kaslr.ts). */
  private async checkKaslr(): Promise<void> {
    if (!this.kaslr || this.kaslr.slide !== undefined || !this.symbols || this.vcpu?.state !== 'stopped') return;
    try {
      await this.vcpu.sregs();
      const found = this.kaslr.check((a, n) => this.view!.readExact({ space: 'v', address: a }, n));
      if (!found) return;
      this.note(found.note, found.slide === 0n ? 'console' : 'important');
      if (found.slide === 0n) return;
      this.symbols.rebase(found.slide);
      if (rebaseBreakpoints(this.breakpoints.all(), (a) => this.symbols!.toRuntime(a)).length > 0) await this.arm();
    } catch (e) {
      this.note(`KASLR slide detection: ${(e as Error).message}`);
    }
  }

  private reportStop(stop: StopReason, message?: string): void {
    this.console.flush();
    this.kvm.paused();
    this.lastStop = stop;
    this.variableHandles.reset();
    const hit = this.breakpoints.matching(stop);
    let reason = 'pause';
    let text: string | undefined;
    switch (stop.reason) {
      case 'entry': reason = 'entry'; break;
      case 'step': reason = 'step'; break;
      case 'pause': reason = 'pause'; break;
      case 'breakpoint':
        if (hit[0]?.kind === 'exception') { reason = 'exception'; text = this.vectorStop?.description ?? vectorLabel(hit[0].vector ?? 0); break; }
        reason = hit[0]?.kind === 'function' ? 'function breakpoint' : hit[0]?.kind === 'instruction' ? 'instruction breakpoint' : 'breakpoint';
        break;
      case 'watchpoint': reason = 'data breakpoint'; break;
      case 'exit': reason = 'exception'; text = stop.description; break;
      case 'debug': reason = 'exception'; text = `debug exception ${stop.exit.exception} at ${hex(stop.exit.pc)} (not one of kvmdbg's breakpoints)`; break;
    }
    if (message) this.note(message, 'important');
    const ev = new StoppedEvent(reason, this.vcpu?.threadId ?? THREAD_ID, text) as DebugProtocol.StoppedEvent;
    ev.body.allThreadsStopped = true;
    if (stop.reason === 'exit') ev.body.description = 'Paused on a VM exit';
    if (reason === 'exception' && stop.reason === 'breakpoint') ev.body.description = 'Paused on a guest exception';
    // Exception-vector breakpoints are the client's filter, not breakpoints it knows by id.
    const ids = hit.filter((b) => b.kind !== 'exception').map((b) => b.id);
    if (ids.length > 0) ev.body.hitBreakpointIds = ids;
    this.sendEvent(ev);
  }

  protected override continueRequest(response: DebugProtocol.ContinueResponse, args: DebugProtocol.ContinueArguments): void {
    let only: number | undefined;
    if (args.singleThread) {
      try { only = this.vcpuOfThread(args.threadId); } catch (e) { return this.fail(response, `continue: ${(e as Error).message}`); }
    }
    response.body = { allThreadsContinued: only === undefined };
    this.sendResponse(response);
    void this.runLoop(only);
  }

  protected override pauseRequest(response: DebugProtocol.PauseResponse): void {
    this.vcpu?.pause();
    this.sendResponse(response);
  }

  protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
    response.body = { threads: this.vcpu ? this.vcpu.threads().map((t) => new Thread(t.id, t.name)) : [] };
    this.sendResponse(response);
  }

  // ---- stepping -----------------------------------------------------------------------------

  private async stepper(): Promise<Stepper> {
    const sregs = await this.vcpu!.sregs();
    const bitness: Bitness = bitnessOf(sregs);
    const bits = bitness === 64 ? 64 : 32;
    return new Stepper({
      bits,
      symbols: this.symbols,
      regs: () => this.vcpu!.regs(),
      stepInstruction: () => this.vcpu!.step(),
      decode: (address) => decodeFrom((a, n) => this.view!.read({ space: 'v', address: a }, n), bitness, address, 1)[0],
      returnAddress: (regs) => {
        const read = this.view!.reader();
        const f = unwindFrames({ regs, bits, symbols: this.symbols, readMemory: (a, n) => read.readExact(a, n), maxFrames: 2 }).unwound[1];
        return f ? { pc: f.pc, sp: f.sp } : undefined;
      },
      runTo: async (address, ok) => {
        this.breakpoints.setTemporary(address);
        await this.arm();
        try {
          const stop = await this.runUntilReportable({ address, ok });
          if (!stop) return 'ended';
          return stop.reason === 'step' ? undefined : stop;
        } finally {
          this.breakpoints.setTemporary(undefined);
          if (this.vcpu!.state === 'stopped') await this.arm();
        }
      },
    });
  }

  /** Steps the thread the client names (it comes into focus: the stop is reported on it); the other vCPUs stay stopped. */
  private async doStep(response: DebugProtocol.Response, threadId: number | undefined, how: (s: Stepper) => Promise<StepOutcome>): Promise<void> {
    if (this.busy || this.vcpu?.state !== 'stopped') return this.fail(response, 'the vCPU is running: pause it before stepping');
    let vcpu: number;
    try { vcpu = this.vcpuOfThread(threadId); } catch (e) { return this.fail(response, `${response.command}: ${(e as Error).message}`); }
    this.vcpu.focus(vcpu);
    this.busy = true;
    this.sendResponse(response);
    try {
      const outcome = await how(await this.stepper());
      if (outcome.kind === 'done') this.reportStop({ reason: 'step' });
      else if (outcome.kind === 'stopped') { await this.atStop(outcome.stop); this.reportStop(outcome.stop); }
      else if (outcome.kind === 'failed') this.reportStop({ reason: 'step' }, outcome.message);
    } catch (e) {
      if ((this.vcpu?.state as string) !== 'ended') this.reportStop({ reason: 'step' }, `step: ${(e as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  protected override nextRequest(response: DebugProtocol.NextResponse, args: DebugProtocol.NextArguments): void {
    void this.doStep(response, args.threadId, (s) => (args.granularity === 'instruction' ? s.instruction(true) : s.line('over')));
  }

  protected override stepInRequest(response: DebugProtocol.StepInResponse, args: DebugProtocol.StepInArguments): void {
    void this.doStep(response, args.threadId, (s) => (args.granularity === 'instruction' ? s.instruction(false) : s.line('in')));
  }

  protected override stepOutRequest(response: DebugProtocol.StepOutResponse, args: DebugProtocol.StepOutArguments): void {
    void this.doStep(response, args.threadId, (s) => s.out());
  }

  // ---- stack, scopes, variables -------------------------------------------------------------

  protected override async stackTraceRequest(response: DebugProtocol.StackTraceResponse, args: DebugProtocol.StackTraceArguments): Promise<void> {
    try {
      const vcpu = this.vcpuOfThread(args.threadId);
      const unwound = await this.unwound(vcpu);
      const start = args.startFrame ?? 0;
      const end = args.levels ? start + args.levels : unwound.length;
      const frames = describeFrames(this.symbols, unwound, start, end);
      if (vcpu === this.vcpu!.id && start === 0) this.preferBreakpointLine(frames[0]);
      response.body = {
        totalFrames: unwound.length,
        stackFrames: frames.map((f, i) => {
          const sf = new StackFrame(vcpu * FRAME_IDS_PER_VCPU + start + i + 1, f.name) as DebugProtocol.StackFrame;
          sf.instructionPointerReference = f.instructionPointerReference;
          if (f.file) {
            const file = this.sourceMap.mapSource(f.file);
            sf.source = new Source(basename(file), this.convertDebuggerPathToClient(file));
            sf.line = this.convertDebuggerLineToClient(f.line!);
            sf.column = f.column ?? 1;
          } else {
            sf.line = 0;
            sf.column = 0;
            sf.presentationHint = 'subtle';
            sf.name = f.module ?? f.name;
          }
          return sf;
        }),
      };
      this.sendResponse(response);
    } catch (e) {
      this.fail(response, `stack trace: ${(e as Error).message}`);
    }
  }

  /**
   * A vCPU's frames at this stop, unwound once: VS Code asks for the top frame, then for the
   * rest. Keyed by the registers object, which the vCPU control replaces whenever anything ran.
   */
  private async unwound(vcpu: number): Promise<UnwoundFrame[]> {
    const { regs, sregs } = await this.snapshot(vcpu);
    const cached = this.unwoundCache.get(vcpu);
    if (cached?.regs === regs) return cached.frames;
    const bits = bitnessOf(sregs) === 64 ? 64 : 32;
    // Another vCPU's stack is read through its own page tables (a user process may be running there).
    const read = this.view!.reader({ cr0: sregs.cr0, cr3: sregs.cr3, cr4: sregs.cr4, efer: sregs.efer });
    const { unwound } = unwindFrames({ regs, bits, symbols: this.symbols, readMemory: (a, n) => read.readExact(a, n) });
    this.unwoundCache.set(vcpu, { regs, frames: unwound });
    return unwound;
  }

  /**
   * Optimised code puts several lines at one address (pvh64's compute_checksum:
   * lines 39, 40 and 41 all start at its first instruction), and the line table
   * alone cannot say which one the stop is "on". Stopped by a source breakpoint
   * at that address, the line is the one the user set it on.
   */
  private preferBreakpointLine(top: { file?: string; line?: number; column?: number } | undefined): void {
    const stop = this.lastStop;
    if (!top?.file || stop?.reason !== 'breakpoint') return;
    const bp = this.breakpoints.all().find((b) => b.kind === 'source' && b.line !== undefined && b.path
      && basename(b.path) === basename(top.file!) && b.addresses.includes(stop.address));
    if (bp && bp.line !== top.line) { top.line = bp.line; top.column = 1; }
  }

  protected override async scopesRequest(response: DebugProtocol.ScopesResponse, args: DebugProtocol.ScopesArguments): Promise<void> {
    try {
      const vcpu = vcpuOfFrame(args.frameId) ?? this.vcpu!.id;
      if (!this.vcpu!.hasThread(vcpu + 1)) throw new Error(`frame ${args.frameId} is not one of this stop's frames`);
      const scopes = registerScopes(await this.snapshot(vcpu));
      response.body = {
        scopes: [
          // The scope's getter decodes its registers only when the client opens it.
          ...scopes.map((s) => ({ ...new Scope(s.name, this.variableHandles.create({ vcpu, get nodes() { return s.nodes; } }), false), presentationHint: 'registers' })),
          // Read from the vCPU's thread only when opened (msr-scope.ts).
          { ...new Scope('MSRs', this.variableHandles.create({ vcpu, nodes: [], msrs: true }), true), presentationHint: 'registers' },
        ],
      };
      this.sendResponse(response);
    } catch (e) {
      this.fail(response, `registers: ${(e as Error).message}`);
    }
  }

  private toVariable(vcpu: number, node: RegisterNode, format?: DebugProtocol.ValueFormat): DebugProtocol.Variable {
    const value = format?.hex === false && node.raw !== undefined && !node.children ? node.raw.toString(10) : node.value;
    return {
      name: node.name, value,
      variablesReference: node.children ? this.variableHandles.create({ vcpu, nodes: node.children }) : 0,
      memoryReference: node.memoryReference,
      evaluateName: node.writes ? node.name : undefined,
      presentationHint: node.writes ? undefined : { attributes: ['readOnly'] },
    };
  }

  protected override async variablesRequest(response: DebugProtocol.VariablesResponse, args: DebugProtocol.VariablesArguments): Promise<void> {
    const group = this.variableHandles.get(args.variablesReference);
    if (group?.msrs && group.nodes.length === 0) {
      if (this.vcpu?.state !== 'stopped') return this.fail(response, 'MSRs: the VM is running: pause it to read them');
      const entries = await readMsrs(INTERESTING_MSRS.map((m) => m.index), (ix) => this.machine!.getMsrs(ix, group.vcpu));
      group.nodes = msrNodes(entries, (a) => {
        const sym = this.symbols?.symbolize(a);
        return sym && (sym.offset === 0n ? sym.name : `${sym.name}+${hex(sym.offset)}`);
      });
    }
    response.body = { variables: (group?.nodes ?? []).map((n) => this.toVariable(group!.vcpu, n, args.format)) };
    this.sendResponse(response);
  }

  protected override async setVariableRequest(response: DebugProtocol.SetVariableResponse, args: DebugProtocol.SetVariableArguments): Promise<void> {
    const group = this.variableHandles.get(args.variablesReference);
    const node = group?.nodes.find((n) => n.name === args.name);
    if (!group || !node?.writes) return this.fail(response, `${args.name} cannot be set from here (only general registers, RIP and RFLAGS are writable)`);
    try {
      const snap = await this.snapshot(group.vcpu);
      const value = evaluate(args.value, this.evalContext(snap));
      const full = mergeWidth(snap.regs[node.writes], value, node.width);
      await this.vcpu!.setRegs({ [node.writes]: full }, group.vcpu);
      const shown = node.width === 32 ? full & 0xffff_ffffn : full;
      response.body = { value: '0x' + shown.toString(16).padStart(node.width === 32 ? 8 : 16, '0'), memoryReference: formatRef('v', shown) };
      this.sendResponse(response);
      this.sendEvent(new InvalidatedEvent(['variables']));
    } catch (e) {
      this.fail(response, `${args.name} = ${args.value}: ${(e as Error).message}`);
    }
  }

  protected override async evaluateRequest(response: DebugProtocol.EvaluateResponse, args: DebugProtocol.EvaluateArguments): Promise<void> {
    try {
      if (!this.vcpu || this.vcpu.state !== 'stopped') throw new ExpressionError('the vCPU is running: pause it to evaluate');
      const text = args.expression.trim();
      const vcpu = vcpuOfFrame(args.frameId);
      const snap = await this.snapshot(vcpu !== undefined && this.vcpu.hasThread(vcpu + 1) ? vcpu : this.vcpu.id);
      const v = evaluate(text, this.evalContext(snap));
      const sym = this.symbols?.table.lookup(text);
      let result = args.format?.hex === false ? v.toString(10) : `${hex(v)} (${v.toString(10)})`;
      if (sym && registerValue(snap, text.toLowerCase()) === undefined && sym.kind === 'object' && [1n, 2n, 4n, 8n].includes(sym.size)) {
        const bytes = this.view!.readExact({ space: 'v', address: v }, Number(sym.size));
        if (bytes) {
          let value = 0n;
          for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
          result = `${hex(value)} (${value}) at ${hex(v)}`;
        }
      }
      response.body = { result, variablesReference: 0, memoryReference: formatRef('v', v) };
      this.sendResponse(response);
    } catch (e) {
      this.fail(response, (e as Error).message);
    }
  }

  // ---- memory and disassembly ---------------------------------------------------------------

  protected override async readMemoryRequest(response: DebugProtocol.ReadMemoryResponse, args: DebugProtocol.ReadMemoryArguments): Promise<void> {
    try {
      if (this.vcpu?.state === 'stopped') await this.vcpu.sregs();
      const r = this.view!.readForDap(args.memoryReference, args.offset ?? 0, args.count);
      // A Buffer over the same bytes (no copy) for the base64 encoder.
      const data = Buffer.from(r.data.buffer, r.data.byteOffset, r.data.length).toString('base64');
      response.body = { address: r.address, data, unreadableBytes: r.unreadableBytes };
      this.sendResponse(response);
    } catch (e) {
      this.fail(response, e instanceof MemoryRefError ? e.message : `readMemory: ${(e as Error).message}`);
    }
  }

  protected override async writeMemoryRequest(response: DebugProtocol.WriteMemoryResponse, args: DebugProtocol.WriteMemoryArguments): Promise<void> {
    try {
      if (this.vcpu?.state === 'stopped') await this.vcpu.sregs();
      const ref = parseRef(args.memoryReference);
      const address = BigInt.asUintN(64, ref.address + BigInt(args.offset ?? 0));
      const data = Buffer.from(args.data, 'base64');
      const r = this.view!.write({ space: ref.space, address }, new Uint8Array(data));
      // The stack may have changed under the frames unwound at this stop.
      this.unwoundCache.clear();
      if (r.written < data.length && (!args.allowPartial || r.written === 0)) {
        return this.fail(response, `writeMemory: only ${r.written} of ${data.length} bytes written: ${r.firstFailure}`);
      }
      response.body = { bytesWritten: r.written };
      this.sendResponse(response);
      this.sendEvent(new InvalidatedEvent(['variables']));
    } catch (e) {
      this.fail(response, e instanceof MemoryRefError ? e.message : `writeMemory: ${(e as Error).message}`);
    }
  }

  protected override async disassembleRequest(response: DebugProtocol.DisassembleResponse, args: DebugProtocol.DisassembleArguments): Promise<void> {
    try {
      const sregs = this.vcpu?.state === 'stopped' ? await this.vcpu.sregs() : undefined;
      const bitness: Bitness = sregs ? bitnessOf(sregs) : this.symbols?.bits ?? 64;
      const ref = parseRef(args.memoryReference);
      const address = BigInt.asUintN(64, ref.address + BigInt(args.offset ?? 0));
      const list = disassemble((a, n) => this.view!.read({ space: ref.space, address: a }, n), bitness, address, args.instructionOffset ?? 0, args.instructionCount, this.symbols);
      let lastFile: string | undefined;
      response.body = {
        instructions: list.map((i) => {
          const sym = this.symbols?.symbolize(i.address);
          const loc = this.symbols?.lineForAddress(i.address);
          const out: DebugProtocol.DisassembledInstruction = {
            address: hex(i.address),
            instructionBytes: [...i.bytes].map((b) => b.toString(16).padStart(2, '0')).join(' '),
            instruction: i.invalid && i.text === '??' ? '??' : symbolizedText(i, this.symbols),
            symbol: sym ? (sym.offset === 0n ? sym.name : `${sym.name}+${hex(sym.offset)}`) : undefined,
            presentationHint: i.invalid ? 'invalid' : undefined,
          };
          if (loc) {
            if (loc.file !== lastFile) out.location = new Source(basename(loc.file), this.convertDebuggerPathToClient(loc.file));
            lastFile = loc.file;
            out.line = loc.line;
          }
          return out;
        }),
      };
      this.sendResponse(response);
    } catch (e) {
      this.fail(response, `disassemble: ${(e as Error).message}`);
    }
  }

  // ---- breakpoints --------------------------------------------------------------------------

  /**
   * Re-arms DR0-3 (and the int3s beyond them) from the breakpoint table; tells the client
   * about breakpoints that changed state. Planned while stopped: what is mapped decides
   * which code breakpoints get the debug registers (breakpoints.ts hardwarePlan).
   */
  private async arm(exceptGroup?: Breakpoint[]): Promise<void> {
    const machine = this.machine;
    const vcpu = this.vcpu!;
    if (!machine || machine.ended) return;
    const { plan, result } = await vcpu.withStopped(async () => {
      await vcpu.sregs().catch(() => undefined);
      // Code a trap cannot take (unmapped yet, or an instruction shorter than the port trap) gets the debug registers first.
      const plan = this.breakpoints.hardwarePlan({ software: machine.int3.delivered, mapped: (a) => this.software!.fits(vcpu.paging, a) });
      const result = await machine.armHardware(plan.requests);
      this.software!.breakpoints.set(plan.requests.flatMap((r, i) => (r.kind === 'execute' && result.software[i] ? [r.address] : [])));
      return { plan, result };
    });
    this.debugreg = assignHwSlots(plan.requests, await machine.watchMechanisms()).debugreg;
    const changed = this.breakpoints.applyArmResult(plan, result);
    for (const b of changed) if (!exceptGroup?.includes(b) && b.kind !== 'exception') this.sendEvent(new BreakpointEvent('changed', this.toDap(b)));
  }

  /**
   * Looks the exception vectors' handlers up in the guest's IDT now (vector-breakpoints.ts);
   * re-arms when one changed. With the vCPUs stopped (pausing them briefly when they run).
   */
  private async refreshVectors(): Promise<void> {
    const vcpu = this.vcpu;
    if (!vcpu || !this.machine || this.machine.ended) return;
    if (this.vectors.vectors.length === 0 && !this.breakpoints.all().some((b) => b.kind === 'exception')) return;
    await vcpu.withStopped(async () => {
      const sregs = this.idtSregs = await vcpu.sregs().catch(() => undefined);
      const read = this.view!.reader();
      const specs = this.vectors.specs(sregs, (a, n) => read.readExact(a, n));
      if (!this.vectors.changed(specs)) return;
      this.breakpoints.replace('exception', specs);
      await this.arm();
    });
  }

  /** While the guest runs with exception vectors on: look at its IDT every IDT_POLL_MS. */
  private watchIdt(): void {
    clearTimeout(this.idtTimer);
    if (this.vectors.vectors.length === 0) return;
    this.idtTimer = setTimeout(() => {
      if (this.vcpu?.state !== 'running' || this.vcpu.internalHold) return;
      // Cheap look (no pause): the gates in memory under the last IDTR; a changed one, or every Nth look, pauses.
      try {
        const idt = this.view!.reader();
        const cheap = this.idtSregs && ++this.idtLooks % IDT_PAUSE_EVERY !== 0
          && !this.vectors.differs(this.vectors.specs(this.idtSregs, (a, n) => idt.readExact(a, n)));
        if (cheap) this.watchIdt();
        else void this.refreshVectors().catch((e: Error) => this.note(`exception vectors: ${e.message}`));
      } catch (e) {
        this.note(`exception vectors: ${(e as Error).message}`);
      }
    }, IDT_POLL_MS);
    this.idtTimer.unref?.();
  }

  /** At a stop the user will see: describe a stop at an exception handler, then look at the IDT again. */
  private async atStop(stop: StopReason): Promise<void> {
    this.vectorStop = undefined;
    try {
      const bp = stop.reason === 'breakpoint' ? this.breakpoints.matching(stop).find((b) => b.kind === 'exception') : undefined;
      if (bp?.vector !== undefined && stop.reason === 'breakpoint') {
        const [regs, sregs] = await Promise.all([this.vcpu!.regs(), this.vcpu!.sregs()]);
        const sym = this.symbols?.symbolize(stop.address);
        const name = sym ? (sym.offset === 0n ? sym.name : `${sym.name}+${hex(sym.offset)}`) : undefined;
        this.vectorStop = describeVectorStop(bp.vector, stop.address, regs, sregs, (a, n) => this.view!.readExact({ space: 'v', address: a }, n), name);
      }
      await this.refreshVectors();
    } catch (e) {
      this.note(`exception vectors: ${(e as Error).message}`);
    }
  }

  private toDap(b: Breakpoint): DebugProtocol.Breakpoint {
    const out = new DapBreakpoint(b.verified) as DebugProtocol.Breakpoint;
    out.id = b.id;
    if (b.message) out.message = b.message;
    if (b.line !== undefined) out.line = b.line;
    if (b.path) out.source = new Source(basename(b.path), this.convertDebuggerPathToClient(b.path));
    if (b.addresses[0] !== undefined) out.instructionReference = formatRef('v', b.addresses[0]);
    if (!b.verified && !b.message) out.message = 'not armed';
    return out;
  }

  private async setGroup(response: DebugProtocol.Response & { body: { breakpoints: DebugProtocol.Breakpoint[] } }, group: string, specs: BreakpointSpec[]): Promise<void> {
    try {
      const list = this.breakpoints.replace(group, specs);
      try {
        await this.arm(list);
      } catch (e) {
        for (const b of list) if (!b.message) b.message = `could not be armed: ${(e as Error).message}`;
      }
      response.body = { breakpoints: list.map((b) => this.toDap(b)) };
      this.sendResponse(response);
    } catch (e) {
      // Called without await by the set*Breakpoints handlers: a throw here must still answer.
      if (!response.seq) this.fail(response, `${response.command}: ${(e as Error).message}`);
    }
  }

  protected override setBreakPointsRequest(response: DebugProtocol.SetBreakpointsResponse, args: DebugProtocol.SetBreakpointsArguments): void {
    const path = args.source.path ? this.convertClientPathToDebugger(args.source.path) : args.source.name ?? '';
    const specs = (args.breakpoints ?? []).map((bp): BreakpointSpec => {
      const line = this.convertClientLineToDebugger(bp.line);
      const base = { key: `${path}:${line}`, kind: 'source' as const, condition: bp.condition, hitCondition: bp.hitCondition, path, line };
      if (!this.symbols) return { ...base, problem: 'no symbols: set "symbols" in launch.json to an ELF with DWARF line tables' };
      const r = this.symbols.resolveBreakpoint(this.sourceMap.unmapSource(path), line);
      if (!r || r.addresses.length === 0) return { ...base, problem: `no code at or after line ${line} of ${basename(path)} in the DWARF line tables of ${this.symbols.name}` };
      return { ...base, line: r.line, addresses: r.addresses };
    });
    void this.setGroup(response as never, `source:${path}`, specs);
  }

  protected override setFunctionBreakPointsRequest(response: DebugProtocol.SetFunctionBreakpointsResponse, args: DebugProtocol.SetFunctionBreakpointsArguments): void {
    const specs = args.breakpoints.map((bp): BreakpointSpec => {
      const name = bp.name.trim();
      const base = { key: `fn:${name}`, kind: 'function' as const, condition: bp.condition, hitCondition: bp.hitCondition };
      const literal = /^\*?(0x[0-9a-f]+)$/i.exec(name);
      const address = literal ? BigInt(literal[1]) : this.symbols?.addressOf(name);
      if (address === undefined) return { ...base, problem: this.symbols ? `no function named "${name}" in ${this.symbols.name}` : `no symbols to look "${name}" up in: set "symbols" in launch.json` };
      return { ...base, addresses: [address] };
    });
    void this.setGroup(response as never, 'function', specs);
  }

  protected override setInstructionBreakpointsRequest(response: DebugProtocol.SetInstructionBreakpointsResponse, args: DebugProtocol.SetInstructionBreakpointsArguments): void {
    const specs = args.breakpoints.map((bp): BreakpointSpec => {
      const base = { key: `insn:${bp.instructionReference}+${bp.offset ?? 0}`, kind: 'instruction' as const, condition: bp.condition, hitCondition: bp.hitCondition };
      try {
        const ref = parseRef(bp.instructionReference);
        if (ref.space === 'p') return { ...base, problem: 'instruction breakpoints take virtual addresses (v:0x...), not physical ones' };
        const address = BigInt.asUintN(64, ref.address + BigInt(bp.offset ?? 0));
        return { ...base, key: `insn:${hex(address)}`, addresses: [address] };
      } catch (e) {
        return { ...base, problem: (e as Error).message };
      }
    });
    void this.setGroup(response as never, 'instruction', specs);
  }

  protected override dataBreakpointInfoRequest(response: DebugProtocol.DataBreakpointInfoResponse, args: DebugProtocol.DataBreakpointInfoArguments & { asAddress?: boolean; bytes?: number }): void {
    const none = (description: string): void => { response.body = { dataId: null, description }; this.sendResponse(response); };
    if (args.variablesReference) return none('registers cannot be watched: watch a global variable or an address');
    const name = args.name.trim();
    let address: bigint | undefined;
    let size = args.bytes ?? 4;
    let label = name;
    const sym = this.symbols?.table.lookup(name);
    if (!args.asAddress && sym) {
      address = this.symbols!.toRuntime(sym.address);
      size = Number(sym.size) || 4;
    } else {
      try { address = parseRef(name).address; } catch { /* not an address */ }
      if (address !== undefined && !args.asAddress && args.bytes === undefined) size = 4;
      label = address !== undefined ? hex(address) : name;
    }
    if (address === undefined) return none(`"${name}" is neither a global symbol nor an address`);
    // The whole object: debug registers take up to 8 aligned bytes, page protection any size (hw-breakpoints.ts).
    const length = Math.max(1, Math.min(size, MAX_PAGE_WATCH));
    response.body = {
      dataId: dataId(address, length),
      description: `${label} (${length} byte${length === 1 ? '' : 's'} at ${hex(address)}${length < size ? `, the first ${length} of ${size}` : ''})`,
      accessTypes: ['write', 'readWrite'],
      canPersist: true,
    };
    this.sendResponse(response);
  }

  protected override setDataBreakpointsRequest(response: DebugProtocol.SetDataBreakpointsResponse, args: DebugProtocol.SetDataBreakpointsArguments): void {
    const specs = args.breakpoints.map((bp): BreakpointSpec => {
      const base = { key: `data:${bp.dataId}:${bp.accessType ?? 'write'}`, kind: 'data' as const, condition: bp.condition, hitCondition: bp.hitCondition };
      const id = parseDataId(bp.dataId);
      if (!id) return { ...base, problem: `"${bp.dataId}" is not a data breakpoint id of this adapter` };
      if (!(id.length >= 1 && id.length <= MAX_PAGE_WATCH)) return { ...base, problem: `a watchpoint covers 1 byte to ${MAX_PAGE_WATCH} bytes, not ${id.length}` };
      if (bp.accessType === 'read') return { ...base, problem: 'x86 debug registers cannot watch reads alone: use "read/write" (readWrite) instead' };
      return { ...base, watch: { address: id.address, length: id.length as HwLength, access: bp.accessType === 'readWrite' ? 'readWrite' : 'write' } };
    });
    void this.setGroup(response as never, 'data', specs);
  }

  protected override async setExceptionBreakPointsRequest(response: DebugProtocol.SetExceptionBreakpointsResponse, args: DebugProtocol.SetExceptionBreakpointsArguments): Promise<void> {
    const requested = [...(args.filters ?? []).map((filterId) => ({ filterId, condition: undefined as string | undefined })), ...(args.filterOptions ?? [])];
    const results: DebugProtocol.Breakpoint[] = [];
    const good: { filterId: string; condition?: string }[] = [];
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
      if (this.machine && !this.machine.ended) await this.vcpu!.withStopped(() => this.machine!.setExitBreakpoints(merged));
      await this.refreshVectors();
    } catch (e) {
      return this.fail(response, `VM-exit breakpoints: ${(e as Error).message}`);
    }
    // The vector filter says which handlers are not found (yet) or not armed.
    const pending = this.breakpoints.all().filter((b) => b.kind === 'exception' && !b.verified).map((b) => b.message).filter(Boolean);
    requested.forEach((f, i) => {
      if (f.filterId === 'vector' && results[i].verified && pending.length > 0) results[i].message = pending.join('; ');
    });
    response.body = { breakpoints: results };
    this.sendResponse(response);
  }

  /** kvmdbg's kvm/* requests (custom-requests.ts); answers itself, never throws (guardHandlers would misread its arguments). */
  protected override customRequest(command: string, response: DebugProtocol.Response, args: unknown): void {
    if (!this.kvm.handles(command)) return super.customRequest(command, response, args);
    this.kvm.handle(command, (args ?? {}) as Record<string, unknown>).then(
      (body) => { response.body = body; this.sendResponse(response); },
      (e: unknown) => this.fail(response, `${command}: ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  protected override exceptionInfoRequest(response: DebugProtocol.ExceptionInfoResponse): void {
    const stop = this.lastStop;
    if (stop?.reason === 'exit') {
      response.body = {
        exceptionId: filterOf(stop.exit), description: stop.description, breakMode: 'always',
        details: { message: exitDetails(stop.exit), typeName: 'VM exit', fullTypeName: `VM exit: ${stop.exit.kind}` },
      };
    } else if (stop?.reason === 'breakpoint' && this.vectorStop) {
      response.body = {
        exceptionId: 'vector', description: this.vectorStop.description, breakMode: 'always',
        details: { message: this.vectorStop.details, typeName: 'guest exception', fullTypeName: this.vectorStop.description.split(' handler')[0] },
      };
    } else if (stop?.reason === 'debug') {
      response.body = {
        exceptionId: 'debug', description: `debug exception ${stop.exit.exception} at ${hex(stop.exit.pc)}`, breakMode: 'always',
        details: { message: `dr6: ${hex(stop.exit.dr6)}\ndr7: ${hex(stop.exit.dr7)}`, typeName: 'debug exception' },
      };
    } else {
      return this.fail(response, 'the vCPU did not stop at a VM exit');
    }
    this.sendResponse(response);
  }

  // ---- the end ------------------------------------------------------------------------------

  private async endVm(message: string): Promise<void> {
    if (this.machine && !this.machine.ended) await this.machine.stop(message).catch(() => undefined);
    this.console.dispose();
  }

  protected override async terminateRequest(response: DebugProtocol.TerminateResponse): Promise<void> {
    await this.endVm('ended by the debugger (terminate)');
    this.sendResponse(response);
  }

  protected override async disconnectRequest(response: DebugProtocol.DisconnectResponse, args: DebugProtocol.DisconnectArguments): Promise<void> {
    await this.endVm('ended by the debugger (disconnect)');
    super.disconnectRequest(response, args);
  }
}
