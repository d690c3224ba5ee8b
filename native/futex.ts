/**
 * Raw futex wait and wake on the 32-bit words of a SharedArrayBuffer, for
 * threads that hand work to each other many times a second (the step lane).
 * native/src/futex.cc says why not Atomics.wait/notify. A word waited on here
 * is woken only by wake() here, and one waited on with Atomics.wait only by
 * Atomics.notify: a side that may find either kind of waiter does both.
 */
import { binding } from './addon';

export class FutexWords {
  private readonly bytes: Uint8Array;

  constructor(buffer: SharedArrayBuffer) {
    this.bytes = new Uint8Array(buffer);
  }

  /** Blocks while word `index` equals `expected`, at most `timeoutMs`. */
  wait(index: number, expected: number, timeoutMs: number): 'changed' | 'timed-out' {
    return binding.futexWait(this.bytes, index * 4, expected, timeoutMs);
  }

  /** Wakes up to `count` threads in wait() on word `index`; how many it woke. */
  wake(index: number, count = 1): number {
    return binding.futexWake(this.bytes, index * 4, count);
  }
}

