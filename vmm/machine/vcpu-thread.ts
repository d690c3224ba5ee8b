/**
 * The main thread's side of one vCPU worker: its run state, its control word
 * and kick token, and its pending requests. Never blocks: commands are
 * messages, a pause is a control bit plus a kick. The Machine owns one per
 * vCPU and turns their events into its own.
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { kick } from '../../native';
import { HaltWatch } from '../debug/halt-watch';
import { CONTROL_PAUSE, CONTROL_STOP, type Command, type Event, type ReplyOf, type StopReason, type WorkerInit } from './protocol';
import { decodeRegs, decodeSregs, REGS_BYTES, RIP_WORD, STATE_BYTES } from '../../native/state-layout';
import { createLane, LaneClient, laneServed, RESULT_BREAKPOINT, RESULT_MESSAGE, RESULT_PAUSE, RESULT_STEP } from './step-lane';

/** Offsets in kvm_sregs (native/state-layout.ts): CS is its first segment (db at 17, l at 19), CR0 follows 8 segments and 2 tables. */
const CS_DB = 17;
const CS_L = 19;
const CR0 = 8 * 24 + 2 * 16;

/** How long the main thread waits for a fast step synchronously before waiting for it asynchronously (a step takes tens of us). */
const FAST_STEP_WAIT_MS = 2;

/** A command that expects a reply, without its id. */
export type VcpuRequest = Extract<Command, { id: number }> extends infer C ? (C extends unknown ? Omit<C, 'id'> : never) : never;

/** Requests that leave the general and system registers as they are (the others forget the copy from the last stop). */
const KEEPS_REGISTERS = new Set<VcpuRequest['type']>(['getRegs', 'getSregs', 'getFpu', 'getMsrs', 'translate', 'runStats', 'setTiming', 'devices',
  'armHardware', 'setExitBreakpoints', 'setStepIntoInterrupts']);

export type VcpuRunState = 'starting' | 'stopped' | 'running' | 'ended';

export interface VcpuThreadEvents {
  stopped(stop: StopReason, rip: bigint): void;
  /** The worker reported the end of the VM (power-off, triple fault, ...). */
  ended(e: Extract<Event, { type: 'ended' }>['end']): void;
  log(level: 'info' | 'guest-error', message: string): void;
  /** The worker thread is gone; `error` when it crashed. */
  exit(error?: Error): void;
}

export class VcpuThread {
  state: VcpuRunState = 'starting';
  kickToken = -1;
  readonly control: Int32Array;
  private worker?: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private stopWaiters: ((s: StopReason) => void)[] = [];
  /** A step in flight (a halted vCPU's step waits for the interrupt that wakes it: a pause may end it). */
  private stepping?: Promise<unknown>;
  /** The registers as of the last stop or step (raw, copied from the shared state buffer on receipt), until anything may change them (answers getRegs/getSregs). */
  private atStop?: DataView;
  /** Where the worker leaves the registers at a stop (WorkerInit.state). */
  private readonly stateBuffer = new Uint8Array(new SharedArrayBuffer(STATE_BYTES));
  private readonly laneBuffer = createLane();
  private readonly lane = new LaneClient(this.laneBuffer);
  /**
   * Steps go through the lane only on a one-vCPU VM (the worker serves it only then): on two vCPUs,
   * Debian's kernel under gdb once triple-faulted or hung with it, never explained; SMP keeps messages.
   */
  private laneOn = false;
  private gone = false;
  private readonly goneWaiters: (() => void)[] = [];
  /** The HLT breakpoint's periodic kick while running (halt-watch.ts). */
  readonly haltWatch = new HaltWatch(() => { if (this.kickToken >= 0) kick(this.kickToken); });

  constructor(readonly id: number, private readonly events: VcpuThreadEvents) {
    this.control = new Int32Array(new SharedArrayBuffer(4));
  }

  /** Starts the worker; resolves with its 'ready' event. */
  start(init: Omit<WorkerInit, 'control' | 'state' | 'vcpuId' | 'lane'>): Promise<Extract<Event, { type: 'ready' }>> {
    const data: WorkerInit = { ...init, vcpuId: this.id, control: this.control.buffer as SharedArrayBuffer, state: this.stateBuffer.buffer as SharedArrayBuffer, lane: this.laneBuffer };
    this.laneOn = laneServed(init.options.cpus);
    const worker = new Worker(join(__dirname, 'vcpu-worker.js'), { workerData: data });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      worker.on('message', (e: Event) => {
        if (e.type === 'ready') { this.kickToken = e.kickToken; this.state = 'stopped'; resolve(e); }
        else if (e.type === 'initFailed') reject(new Error(this.id === 0 ? e.message : `vCPU ${this.id}: ${e.message}`));
        else this.onEvent(e);
      });
      worker.on('error', (err) => {
        reject(err);
        this.exited(err);
      });
      worker.on('exit', () => {
        reject(new Error(`the thread of vCPU ${this.id} ended while starting`));
        this.exited();
      });
    });
  }

  private exited(error?: Error): void {
    if (this.gone) return;
    this.gone = true;
    this.state = 'ended';
    this.haltWatch.stopped();
    this.failPending(error?.message ?? 'its thread ended');
    this.events.exit(error);
    for (const w of this.goneWaiters.splice(0)) w();
  }

  private onEvent(e: Event): void {
    switch (e.type) {
      case 'stopped': {
        this.state = 'stopped';
        this.atStop = this.stateAtStop(e.state);
        this.haltWatch.stopped();
        for (const w of this.stopWaiters.splice(0)) w(e.stop);
        this.events.stopped(e.stop, e.rip);
        break;
      }
      case 'ended': this.state = 'ended'; this.haltWatch.stopped(); this.events.ended(e.end); break;
      case 'reply': {
        const p = this.pending.get(e.id);
        this.pending.delete(e.id);
        if (e.state) this.atStop = this.stateAtStop(e.state);
        if (e.error !== undefined) p?.reject(new Error(e.error)); else p?.resolve(e.result);
        break;
      }
      case 'log': this.events.log(e.level, e.message); break;
    }
  }

  /** A copy of the shared state buffer the worker just wrote (it writes again only after another command). */
  private stateAtStop(inShared: true | undefined): DataView | undefined {
    return inShared ? new DataView(this.stateBuffer.slice().buffer) : undefined;
  }

  /**
   * The code's width at this stop (CS.L, CS.D, CR0.PE as bitnessOf reads
   * them) straight from the raw state, without decoding the system
   * registers; undefined when the state is not at hand.
   */
  codeBits(): 16 | 32 | 64 | undefined {
    const v = this.atStop;
    if (!v) return undefined;
    if (v.getUint8(REGS_BYTES + CS_L) !== 0) return 64;
    if ((v.getUint8(REGS_BYTES + CR0) & 1) === 0) return 16;
    return v.getUint8(REGS_BYTES + CS_DB) !== 0 ? 32 : 16;
  }

  failPending(why: string): void {
    for (const p of this.pending.values()) p.reject(new Error(`the VM has ended: ${why}`));
    this.pending.clear();
  }

  get isGone(): boolean { return this.gone; }

  /** Resolves once the worker thread has exited. */
  whenGone(): Promise<void> {
    return this.gone ? Promise.resolve() : new Promise((r) => this.goneWaiters.push(r));
  }

  request<R extends VcpuRequest>(cmd: R): Promise<R['type'] extends keyof ReplyOf ? ReplyOf[R['type']] : never> {
    if (this.state === 'ended') return Promise.reject(new Error('the VM has ended'));
    if (this.state === 'running') return Promise.reject(new Error(`vCPU ${this.id} is running: pause it first`));
    if (this.atStop && (cmd.type === 'getRegs' || cmd.type === 'getSregs') && !cmd.fresh) {
      // Decoded anew each time: callers may change what they get.
      return Promise.resolve(cmd.type === 'getRegs' ? decodeRegs(this.atStop) : decodeSregs(this.atStop)) as never;
    }
    // The lane carries one step at a time: a step asked while one is in flight follows it (as messages queued did).
    if (cmd.type === 'step' && this.stepping) {
      const previous = this.stepping;
      return previous.then(() => undefined, () => undefined).then(() => this.request(cmd)) as never;
    }
    if (!KEEPS_REGISTERS.has(cmd.type)) this.atStop = undefined;
    const id = this.nextId++;
    const reply = new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (cmd.type === 'step' && this.laneOn) this.fastStep(id);
      else this.post({ ...(cmd as object), id } as Command);
    });
    if (cmd.type === 'step' || cmd.type === 'rangeStep') {
      const step = (this.stepping = reply.finally(() => { if (this.stepping === step) this.stepping = undefined; }));
      step.catch(() => {});
    }
    return reply as never;
  }

  /** A command message, and the lane's doorbell (the vCPU thread may be waiting there rather than in its event loop). */
  private post(cmd: Command): void {
    this.worker!.postMessage(cmd);
    this.lane.posted();
  }

  /** An instruction step through the lane (step-lane.ts): waited for here briefly when the vCPU thread is waiting for it. */
  private fastStep(id: number): void {
    const before = this.lane.askStep(id);
    const result = this.lane.serving ? this.lane.waitDone(before, FAST_STEP_WAIT_MS) : undefined;
    if (result !== undefined) this.fastStepDone(id, result);
    else void this.lane.whenDone(before).then((r) => this.fastStepDone(id, r));
  }

  private fastStepDone(id: number, result: number): void {
    // RESULT_MESSAGE: the reply message settles it.
    if (result === RESULT_MESSAGE) return;
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.atStop = this.stateAtStop(true);
    if (result === RESULT_STEP) p.resolve({ reason: 'step' } satisfies StopReason);
    else if (result === RESULT_PAUSE) p.resolve({ reason: 'pause' } satisfies StopReason);
    else if (result === RESULT_BREAKPOINT) p.resolve({ reason: 'breakpoint', address: this.atStop!.getBigUint64(RIP_WORD * 8, true) } satisfies StopReason);
  }

  resume(): void {
    if (this.state !== 'stopped') return;
    this.state = 'running';
    this.atStop = undefined;
    this.post({ type: 'continue' } satisfies Command);
    this.haltWatch.running();
  }

  signal(bit: number): void {
    Atomics.or(this.control, 0, bit);
    if (this.kickToken >= 0) kick(this.kickToken);
  }

  /** True while a step of this vCPU is in flight. */
  get isStepping(): boolean { return this.stepping !== undefined; }

  /** Stops the vCPU wherever it is (a step in flight ends with reason pause); resolves at once when it is not running. */
  pause(): Promise<StopReason> {
    if (this.stepping) {
      // The worker clears stale pause bits when a step starts, so keep asking until this one ends.
      const step = this.stepping;
      this.signal(CONTROL_PAUSE);
      const again = setInterval(() => this.signal(CONTROL_PAUSE), 50);
      return step.then(() => ({ reason: 'pause' as const }), () => ({ reason: 'pause' as const })).finally(() => clearInterval(again));
    }
    if (this.state !== 'running') return Promise.resolve({ reason: 'pause' });
    const stopped = new Promise<StopReason>((r) => this.stopWaiters.push(r));
    this.signal(CONTROL_PAUSE);
    // A 'continue' the worker has not started yet clears the pause bit when it does (stale pauses
    // must not stop a new run): ask again until the stop arrives.
    const again = setInterval(() => this.signal(CONTROL_PAUSE), 50);
    return stopped.finally(() => clearInterval(again));
  }

  /** Asks the thread to end (it closes its vCPU); hard-terminates it after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.gone) return;
    if (!this.worker) { this.exited(); return; }  // never started (an earlier vCPU failed to)
    const worker = this.worker;
    if (this.state === 'starting') { await worker.terminate(); return this.whenGone(); }
    this.signal(CONTROL_STOP);
    this.post({ type: 'stop' } satisfies Command);
    const timer = setTimeout(() => void worker.terminate(), graceMs);
    await this.whenGone();
    clearTimeout(timer);
  }
}
