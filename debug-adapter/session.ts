/**
 * The DAP session: a thin translator. Requests go to the modules in
 * session/ (launch, run control, breakpoints, VM-exit and exception
 * breakpoints, frames, variables, memory), which drive the machine (vmm/)
 * through the modules beside this file; their answers and the machine's
 * events come back here as DAP responses and events. Decisions live there.
 */
import type { Writable } from 'node:stream';
import {
  DebugSession, Event, ExitedEvent, InitializedEvent, InvalidatedEvent, OutputEvent, Response, TerminatedEvent, Thread, ThreadEvent,
} from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { VmEnd } from '../vmm/machine/protocol';
import { ConsoleBatcher } from './console-output';
import { KvmCustomRequests } from './custom-requests';
import { ScreenRequests } from './screen';
import { EXIT_FILTERS } from './exit-breakpoints';
import type { Stepper, StepOutcome } from './stepping';
import { RequestError, SessionState, THREAD_ID, type ClientPaths } from './session/state';
import { Launcher } from './session/launch';
import { RunControl } from './session/run-control';
import { BreakpointRequests } from './session/breakpoint-requests';
import { ExceptionRequests } from './session/exception-requests';
import { Frames } from './session/frames';
import { VariablesRequests } from './session/variables';
import { MemoryRequests } from './session/memory-requests';
import { rawProtocolOut, sendRawReadMemory } from './session/raw-response';
import { LinuxRequests } from './session/linux-requests';
import { PANIC_FILTERS, PanicStops } from './session/linux-panic';
import { ModuleTracker } from './linux/module-tracker';

/** Requests that read the machine: before a launch they get one clear error. */
const NEEDS_VM = new Set(['stackTrace', 'scopes', 'readMemory', 'writeMemory', 'disassemble', 'setVariable']);

export class KvmDebugSession extends DebugSession {
  private readonly state = new SessionState((event) => this.sendEvent(event));
  private readonly kvm = new KvmCustomRequests((event, body) => this.sendEvent(new Event(event, body)));
  private readonly screen = new ScreenRequests((event, body) => this.sendEvent(new Event(event, body)));
  private readonly console = new ConsoleBatcher((text) => this.sendEvent(new OutputEvent(text, 'stdout')), { bytes: (b) => this.kvm.console(b) });
  private readonly paths: ClientPaths = {
    toClientPath: (p) => this.convertDebuggerPathToClient(p),
    toDebuggerPath: (p) => this.convertClientPathToDebugger(p),
    toClientLine: (l) => this.convertDebuggerLineToClient(l),
    toDebuggerLine: (l) => this.convertClientLineToDebugger(l),
  };
  private readonly breakpoints = new BreakpointRequests(this.state, this.paths);
  private readonly exceptions = new ExceptionRequests(this.state, this.breakpoints);
  private readonly frames = new Frames(this.state, this.paths);
  private readonly variables = new VariablesRequests(this.state, this.frames);
  private readonly memory = new MemoryRequests(this.state, this.paths);
  /** Kernel commands in the Debug Console, the Tasks and Kernel Log views, task stacks (Linux guests). */
  readonly linux = new LinuxRequests(this.state);
  /** Kernel panic, oops, BUG and WARN stops (exception filters on kernel hooks). */
  private readonly panic = new PanicStops(this.state, { kernel: () => this.linux.kernel(), arm: () => this.breakpoints.arm() });
  private readonly run = new RunControl(this.state, this.breakpoints, this.exceptions, {
    evalContext: (snapshot) => this.variables.evalContext(snapshot),
    cContext: (vcpu) => this.variables.c.innermost(vcpu),
    running: () => { this.kvm.running(); this.linux.invalidate(); this.panic.resumed(); },
    stopping: () => { this.console.flush(); this.kvm.paused(); this.variables.reset(); this.linux.invalidate(); },
    together: (send) => {
      // Messages sent together leave in one write (a write to the client's pipe wakes it: tens of us each).
      const out = (this as unknown as { _writableStream?: Writable })._writableStream;
      out?.cork();
      try { send(); } finally { out?.uncork(); }
    },
  });
  private readonly moduleTracker = (this.state.modules = new ModuleTracker(this.state, { arm: () => this.breakpoints.arm() }));
  private progressReporting = false;
  private readonly launcher = new Launcher(this.state, this.exceptions, {
    showsProgress: () => this.progressReporting,
    created: (machine, vcpu) => { this.kvm.attach(machine, vcpu); this.screen.attach(machine, vcpu); },
    output: (bytes) => this.console.push(bytes),
    ended: (end) => this.onEnded(end),
  });
  private configurationDone!: () => void;
  private readonly configured = new Promise<void>((r) => { this.configurationDone = r; });

  constructor() {
    super();
    // The modules' lsmod joins the Debug Console's kernel commands (lx-lsmod too).
    this.linux.commands.add({ name: 'lsmod', usage: 'lsmod', help: 'the loaded kernel modules (name, size, used by)', run: async () => this.moduleTracker.lsmod() });
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
    if (!this.state.machine && NEEDS_VM.has(request.command)) {
      this.fail(new Response(request), `${request.command}: no VM is running (launch one first)`);
      return;
    }
    super.dispatchRequest(request);
  }

  /** A big readMemory answer goes out as raw bytes (session/raw-response.ts says why). */
  public override sendResponse(response: DebugProtocol.Response): void {
    if (response.command === 'readMemory' && response.success && !response.seq && sendRawReadMemory(response as DebugProtocol.ReadMemoryResponse, rawProtocolOut(this))) return;
    super.sendResponse(response);
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
      exceptionBreakpointFilters: [...EXIT_FILTERS, ...PANIC_FILTERS],
      supportsSetVariable: true,
      supportsTerminateRequest: true,
      supportsEvaluateForHovers: true,
      supportsSetExpression: true,
      supportsCompletionsRequest: true,
      completionTriggerCharacters: ['.', '>'],
      supportsValueFormattingOptions: true,
      supportsModulesRequest: true,
    };
    this.sendResponse(response);
  }

  protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
    this.sendResponse(response);
    this.configurationDone();
  }

  /**
   * Answers `response` with what `work` returns: at once when it returns a body, when it
   * settles when it returns a promise. A RequestError is the whole message; any other error
   * is named by `context` (a response already sent is not answered twice). True when answered.
   */
  private answer<R extends DebugProtocol.Response>(response: R, context: string | undefined, work: () => R['body'] | Promise<R['body']>): Promise<boolean> {
    const answered = (body: R['body']): boolean => {
      response.body = body;
      this.sendResponse(response);
      return true;
    };
    const failed = (e: unknown): boolean => {
      const message = e instanceof Error ? e.message : String(e);
      if (!response.seq) this.fail(response, e instanceof RequestError || context === undefined ? message : `${context}: ${message}`);
      return false;
    };
    try {
      const body = work();
      return body instanceof Promise ? body.then(answered, failed) : Promise.resolve(answered(body));
    } catch (e) {
      return Promise.resolve(failed(e));
    }
  }

  // ---- launch and the end -------------------------------------------------------------------

  protected override async launchRequest(response: DebugProtocol.LaunchResponse, args: DebugProtocol.LaunchRequestArguments): Promise<void> {
    let stopOnEntry: boolean;
    try {
      const config = await this.launcher.launch(args);
      stopOnEntry = config.stopOnEntry;
      this.panic.launch(config.stopOnPanic);
      if (this.state.hooks.size > 0) await this.breakpoints.arm();
    } catch (e) {
      return this.fail(response, e instanceof RequestError ? e.message : `launch: ${(e as Error).message}`);
    }
    this.sendEvent(new InitializedEvent());
    await this.configured;
    this.sendResponse(response);
    if (stopOnEntry) this.run.reportStop({ reason: 'entry' });
    else void this.run.runLoop();
  }

  private onEnded(end: VmEnd): void {
    this.console.dispose();
    this.kvm.exited();
    this.state.note(`The VM has ended: ${this.panic.endMessage(end.message)}`);
    this.sendEvent(new ThreadEvent('exited', THREAD_ID));
    this.sendEvent(new ExitedEvent(end.status));
    this.sendEvent(new TerminatedEvent());
  }

  private async endVm(message: string): Promise<void> {
    const { machine } = this.state;
    if (machine && !machine.ended) await machine.stop(message).catch(() => undefined);
    this.console.dispose();
    // An adapter in --server mode lives on: the kernel file read on demand must not stay open.
    this.state.symbols?.close();
  }

  protected override async terminateRequest(response: DebugProtocol.TerminateResponse): Promise<void> {
    await this.endVm('ended by the debugger (terminate)');
    this.sendResponse(response);
  }

  protected override async disconnectRequest(response: DebugProtocol.DisconnectResponse, args: DebugProtocol.DisconnectArguments): Promise<void> {
    await this.endVm('ended by the debugger (disconnect)');
    super.disconnectRequest(response, args);
  }

  // ---- run control --------------------------------------------------------------------------

  protected override continueRequest(response: DebugProtocol.ContinueResponse, args: DebugProtocol.ContinueArguments): void {
    let only: number | undefined;
    if (args.singleThread && args.threadId === this.state.taskThread?.threadId) return this.fail(response, `continue: ${this.state.taskThread.name} is not a vCPU: continue a vCPU's thread`);
    if (args.singleThread) {
      try { only = this.state.vcpuOfThread(args.threadId); } catch (e) { return this.fail(response, `continue: ${(e as Error).message}`); }
    }
    response.body = { allThreadsContinued: only === undefined };
    this.sendResponse(response);
    void this.run.runLoop(only);
  }

  protected override pauseRequest(response: DebugProtocol.PauseResponse): void {
    this.state.vcpu?.pause();
    this.sendResponse(response);
  }

  protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
    const { vcpu } = this.state;
    const task = this.state.taskThread;
    response.body = { threads: vcpu ? [...vcpu.threads().map((t) => new Thread(t.id, t.name)), ...(task ? [new Thread(task.threadId, task.name)] : [])] : [] };
    this.sendResponse(response);
  }

  /** The response goes out as the step starts; the step's end is a stopped event. */
  private step(response: DebugProtocol.Response, threadId: number | undefined, how: (s: Stepper) => Promise<StepOutcome>): void {
    // A selected task's thread is a view of a stack, not a CPU: there is nothing to step.
    if (threadId !== undefined && threadId === this.state.taskThread?.threadId) return this.fail(response, `${this.state.taskThread.name} is not running on a vCPU, so it cannot be stepped: step a vCPU's thread`);
    try {
      void this.run.step(threadId, how, () => this.sendResponse(response));
    } catch (e) {
      this.fail(response, e instanceof RequestError ? e.message : `${response.command}: ${(e as Error).message}`);
    }
  }

  protected override nextRequest(response: DebugProtocol.NextResponse, args: DebugProtocol.NextArguments): void {
    this.step(response, args.threadId, (s) => (args.granularity === 'instruction' ? s.instruction(true) : s.line('over')));
  }

  protected override stepInRequest(response: DebugProtocol.StepInResponse, args: DebugProtocol.StepInArguments): void {
    this.step(response, args.threadId, (s) => (args.granularity === 'instruction' ? s.instruction(false) : s.line('in')));
  }

  protected override stepOutRequest(response: DebugProtocol.StepOutResponse, args: DebugProtocol.StepOutArguments): void {
    this.step(response, args.threadId, (s) => s.out());
  }

  // ---- stack, scopes, variables, evaluate ---------------------------------------------------

  protected override stackTraceRequest(response: DebugProtocol.StackTraceResponse, args: DebugProtocol.StackTraceArguments): void {
    void this.answer(response, 'stack trace', () => this.frames.stackTrace(args));
  }

  protected override scopesRequest(response: DebugProtocol.ScopesResponse, args: DebugProtocol.ScopesArguments): void {
    void this.answer(response, 'registers', async () => ({ scopes: await this.variables.scopes(args) }));
  }

  protected override variablesRequest(response: DebugProtocol.VariablesResponse, args: DebugProtocol.VariablesArguments): void {
    void this.answer(response, 'variables', async () => ({ variables: await this.variables.variables(args) }));
  }

  protected override async setVariableRequest(response: DebugProtocol.SetVariableResponse, args: DebugProtocol.SetVariableArguments): Promise<void> {
    if (await this.answer(response, `${args.name} = ${args.value}`, () => this.variables.setVariable(args))) this.sendEvent(new InvalidatedEvent(['variables']));
  }

  protected override evaluateRequest(response: DebugProtocol.EvaluateResponse, args: DebugProtocol.EvaluateArguments): void {
    // `ps`, `dmesg`, `help`... in the Debug Console, stopped or running; anything else is C.
    if (args.context === 'repl' && this.linux.isCommand(args.expression)) return void this.answer(response, undefined, () => this.linux.evaluate(args.expression));
    void this.answer(response, undefined, () => this.variables.evaluate(args));
  }

  protected override async setExpressionRequest(response: DebugProtocol.SetExpressionResponse, args: DebugProtocol.SetExpressionArguments): Promise<void> {
    if (await this.answer(response, undefined, () => this.variables.setExpression(args))) this.sendEvent(new InvalidatedEvent(['variables']));
  }

  protected override completionsRequest(response: DebugProtocol.CompletionsResponse, args: DebugProtocol.CompletionsArguments): void {
    void this.answer(response, undefined, async () => ({ targets: await this.variables.completions(args) }));
  }

  /** vmlinux and the kernel modules loaded now (linux/module-tracker.ts); one page: a kernel has few. DebugSession routes it to customRequest. */
  private modulesRequest(response: DebugProtocol.ModulesResponse, args: DebugProtocol.ModulesArguments): void {
    const all = this.moduleTracker.modules();
    const start = Math.max(0, Number(args?.startModule) || 0);
    const count = Number(args?.moduleCount) || all.length;
    response.body = { modules: all.slice(start, start + count), totalModules: all.length };
    this.sendResponse(response);
  }

  // ---- memory and disassembly ---------------------------------------------------------------

  protected override readMemoryRequest(response: DebugProtocol.ReadMemoryResponse, args: DebugProtocol.ReadMemoryArguments): void {
    void this.answer(response, undefined, () => this.memory.read(args));
  }

  protected override async writeMemoryRequest(response: DebugProtocol.WriteMemoryResponse, args: DebugProtocol.WriteMemoryArguments): Promise<void> {
    // The stack may have changed under the frames unwound at this stop.
    if (await this.answer(response, undefined, () => this.memory.write(args, () => this.frames.forget()))) this.sendEvent(new InvalidatedEvent(['variables']));
  }

  protected override disassembleRequest(response: DebugProtocol.DisassembleResponse, args: DebugProtocol.DisassembleArguments): void {
    void this.answer(response, 'disassemble', () => this.memory.disassemble(args));
  }

  // ---- breakpoints --------------------------------------------------------------------------

  protected override setBreakPointsRequest(response: DebugProtocol.SetBreakpointsResponse, args: DebugProtocol.SetBreakpointsArguments): void {
    void this.answer(response, response.command, async () => ({ breakpoints: await this.breakpoints.setSource(args) }));
  }

  protected override setFunctionBreakPointsRequest(response: DebugProtocol.SetFunctionBreakpointsResponse, args: DebugProtocol.SetFunctionBreakpointsArguments): void {
    void this.answer(response, response.command, async () => ({ breakpoints: await this.breakpoints.setFunctions(args) }));
  }

  protected override setInstructionBreakpointsRequest(response: DebugProtocol.SetInstructionBreakpointsResponse, args: DebugProtocol.SetInstructionBreakpointsArguments): void {
    void this.answer(response, response.command, async () => ({ breakpoints: await this.breakpoints.setInstructions(args) }));
  }

  protected override dataBreakpointInfoRequest(response: DebugProtocol.DataBreakpointInfoResponse, args: DebugProtocol.DataBreakpointInfoArguments): void {
    void this.answer(response, response.command, async () => {
      const c = await this.variables.watchRange(args);
      if (typeof c === 'string') return { dataId: null, description: c };
      return c ? this.breakpoints.dataInfoFor(c.address, c.size, c.label) : this.breakpoints.dataInfo(args);
    });
  }

  protected override setDataBreakpointsRequest(response: DebugProtocol.SetDataBreakpointsResponse, args: DebugProtocol.SetDataBreakpointsArguments): void {
    void this.answer(response, response.command, async () => ({ breakpoints: await this.breakpoints.setData(args) }));
  }

  protected override setExceptionBreakPointsRequest(response: DebugProtocol.SetExceptionBreakpointsResponse, args: DebugProtocol.SetExceptionBreakpointsArguments): void {
    void this.answer(response, response.command, async () => {
      // The kernel panic filters are kernel hooks; the rest are VM exits. Answers keep the request's order.
      const all = [...(args.filters ?? []), ...(args.filterOptions ?? []).map((o) => o.filterId)];
      const panic = await this.panic.setFilters(all);
      const exits = await this.exceptions.setFilters({
        ...args, filters: (args.filters ?? []).filter((f) => !this.panic.isFilter(f)), filterOptions: args.filterOptions?.filter((o) => !this.panic.isFilter(o.filterId)),
      });
      let p = 0;
      let x = 0;
      return { breakpoints: all.map((id) => (this.panic.isFilter(id) ? panic[p++] : exits?.breakpoints?.[x++] ?? { verified: true })) };
    });
  }

  protected override exceptionInfoRequest(response: DebugProtocol.ExceptionInfoResponse): void {
    void this.answer(response, response.command, () => {
      const panic = this.panic.exceptionInfo();
      if (panic) return panic;
      // A triple fault (the shutdown filter) after a kernel panic says so.
      const info = this.exceptions.exceptionInfo();
      return info && { ...info, description: info.description && this.panic.endMessage(info.description) };
    });
  }

  /** kvmdbg's kvm/* requests (custom-requests.ts); answers itself, never throws (guardHandlers would misread its arguments). */
  protected override customRequest(command: string, response: DebugProtocol.Response, args: unknown): void {
    if (command === 'modules') return this.modulesRequest(response as DebugProtocol.ModulesResponse, (args ?? {}) as DebugProtocol.ModulesArguments);
    if (command === 'kvm/displayFormat') {
      this.variables.c.hex = (args as { hex?: unknown } | undefined)?.hex === true;
      this.sendResponse(response);
      if (this.state.vcpu?.state === 'stopped') this.sendEvent(new InvalidatedEvent(['variables']));
      return;
    }
    const handler = this.linux.handles(command) ? this.linux : this.screen.handles(command) ? this.screen : this.kvm.handles(command) ? this.kvm : undefined;
    if (!handler) return super.customRequest(command, response, args);
    handler.handle(command as never, (args ?? {}) as Record<string, unknown>).then(
      (body) => { response.body = body; this.sendResponse(response); },
      (e: unknown) => this.fail(response, `${command}: ${e instanceof Error ? e.message : String(e)}`),
    );
  }
}
