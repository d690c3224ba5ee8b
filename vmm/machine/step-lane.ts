/**
 * The fast lane for instruction steps between the main thread and a vCPU
 * thread: a few words of shared memory and futex waits instead of a
 * postMessage each way. Measured on the PVM host (hrtime marks through the
 * path), each postMessage hop cost 30-35 us of a ~350 us step (serialize,
 * wake the other event loop, dispatch); a futex wake of a thread already
 * waiting for exactly this costs a fraction of that.
 *
 * After a step the vCPU thread stays in `LaneServer.serve()` for a while
 * (steps come in bursts: one per keypress, or a client's loop), waiting on
 * the doorbell word synchronously; messages that arrive meanwhile are taken
 * with receiveMessageOnPort and handled there, so nothing waits behind it.
 * The main thread rings the doorbell for every command it sends, so the
 * vCPU thread wakes at once for messages too.
 *
 * The synchronous waits on both sides are raw futexes (native/futex.ts), not
 * Atomics.wait: through V8's one process-wide mutex each hand-over took three
 * wake-ups, and the instruction steps of the PVM host went from ~1,400/s to
 * ~2,800/s without them. The event loops' asynchronous waits
 * (Atomics.waitAsync) stay, so every wake is sent both ways.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { FutexWords } from '../../native';

/** Bumped by the main thread for every command (fast step or message): the vCPU thread waits on it. */
const DOOR = 0;
/** Fast steps asked for (main thread) and done (vCPU thread). */
const ASKED = 1;
const DONE = 2;
/** How the last fast step ended (RESULT_*), and the request id it answers. */
const RESULT = 3;
const ID = 4;
/** 1 while the vCPU thread waits in serve() (it answers fast steps at once then). */
const SERVING = 5;
/** Command messages posted so far (main thread), and how many of them came before the fast step asked for. */
const POSTED = 6;
const STEP_AFTER = 7;
const WORDS = 8;

/** The step executed one instruction: the registers are in the state buffer. */
export const RESULT_STEP = 0;
/** An instruction breakpoint at RIP (the state buffer's). */
export const RESULT_BREAKPOINT = 1;
/** A pause ended the step. */
export const RESULT_PAUSE = 2;
/** Anything else: the answer comes as an ordinary reply message with the request's id. */
export const RESULT_MESSAGE = 3;

/** Whether a VM of `cpus` vCPUs steps through the lane (vcpu-thread.ts says why only one). */
export function laneServed(cpus: number): boolean {
  return cpus === 1;
}

export function createLane(): SharedArrayBuffer {
  return new SharedArrayBuffer(WORDS * 4);
}

/** How long the vCPU thread keeps waiting on the lane after its last command before going back to its event loop. */
const SERVE_MS = 200;

/** The main thread's side. */
export class LaneClient {
  private readonly words: Int32Array;
  private readonly futex: FutexWords;

  constructor(buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer);
    this.futex = new FutexWords(buffer);
  }

  /** Wakes the vCPU thread for a message just posted (one futex wake, well under a microsecond when nobody waits). */
  posted(): void {
    Atomics.add(this.words, POSTED, 1);
    this.ring();
  }

  private ring(): void {
    Atomics.add(this.words, DOOR, 1);
    this.futex.wake(DOOR);
    Atomics.notify(this.words, DOOR);
  }

  /** Whether the vCPU thread waits in its lane now (a step asked of it starts at once). */
  get serving(): boolean {
    return Atomics.load(this.words, SERVING) === 1;
  }

  /** Asks for one step answering request `id`; returns the DONE count to wait past. */
  askStep(id: number): number {
    const done = Atomics.load(this.words, DONE);
    Atomics.store(this.words, ID, id);
    // Commands are done in the order they were sent: the messages posted before this step first.
    Atomics.store(this.words, STEP_AFTER, Atomics.load(this.words, POSTED));
    Atomics.add(this.words, ASKED, 1);
    this.ring();
    return done;
  }

  /**
   * Waits for the step after `before` at most `ms` (a bounded wait on the
   * DAP thread: a single step takes tens of us; longer ones are waited for
   * asynchronously by `whenDone`). The RESULT_* code, or undefined.
   */
  waitDone(before: number, ms: number): number | undefined {
    this.futex.wait(DONE, before, ms);
    return Atomics.load(this.words, DONE) !== before ? Atomics.load(this.words, RESULT) : undefined;
  }

  /** Resolves with the RESULT_* code once the step after `before` is done. */
  async whenDone(before: number): Promise<number> {
    for (;;) {
      if (Atomics.load(this.words, DONE) !== before) return Atomics.load(this.words, RESULT);
      const w = Atomics.waitAsync(this.words, DONE, before);
      if (w.async) await w.value;
    }
  }
}

export interface LaneHandlers {
  /** Executes one step; the RESULT_* code (RESULT_MESSAGE: it posted the reply for `id` itself). */
  step(id: number): number;
  /** An ordinary command message. */
  message(m: unknown): void;
}

/** The vCPU thread's side. */
export class LaneServer {
  private readonly words: Int32Array;
  private readonly futex: FutexWords;
  private answered = 0;
  /** Command messages handled so far (from the event loop or taken here). */
  private handled = 0;

  constructor(buffer: SharedArrayBuffer, private readonly port: MessagePort, private readonly handlers: LaneHandlers) {
    this.words = new Int32Array(buffer);
    this.futex = new FutexWords(buffer);
    // Steps asked before this side existed are still to be done: only DONE counts what was answered.
    this.answered = Atomics.load(this.words, DONE);
  }

  /** True when a fast step waits to be done. */
  get pending(): boolean {
    return Atomics.load(this.words, ASKED) !== this.answered;
  }

  /** True when a fast step waits and every message sent before it was handled: its turn. */
  get due(): boolean {
    return this.pending && this.handled >= Atomics.load(this.words, STEP_AFTER);
  }

  /** The event loop handled a command message (they count towards a step's turn). */
  noteMessage(): void {
    this.handled++;
  }

  /** The doorbell's value now (the event loop waits on it asynchronously when not serving). */
  get door(): number {
    return Atomics.load(this.words, DOOR);
  }

  get buffer(): Int32Array {
    return this.words;
  }

  /**
   * Answers fast steps and messages, waiting synchronously on the doorbell,
   * until SERVE_MS pass without any; then returns to the event loop.
   */
  serve(): void {
    Atomics.store(this.words, SERVING, 1);
    try {
      let until = performance.now() + SERVE_MS;
      for (;;) {
        const door = Atomics.load(this.words, DOOR);
        if (this.due) { this.stepOnce(); until = performance.now() + SERVE_MS; continue; }
        const m = receiveMessageOnPort(this.port);
        if (m) {
          this.handled++;
          // Leave the lane while a long command runs (a continue): a fast step cannot be asked then.
          Atomics.store(this.words, SERVING, 0);
          this.handlers.message(m.message);
          Atomics.store(this.words, SERVING, 1);
          until = performance.now() + SERVE_MS;
          continue;
        }
        const left = until - performance.now();
        if (left <= 0) return;
        this.futex.wait(DOOR, door, left);
      }
    } finally {
      Atomics.store(this.words, SERVING, 0);
    }
  }

  private stepOnce(): void {
    this.answered = Atomics.load(this.words, ASKED);
    const result = this.handlers.step(Atomics.load(this.words, ID));
    Atomics.store(this.words, RESULT, result);
    Atomics.add(this.words, DONE, 1);
    this.futex.wake(DONE);
    Atomics.notify(this.words, DONE);
  }
}
