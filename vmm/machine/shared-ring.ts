/**
 * A single-producer, single-consumer byte ring over a SharedArrayBuffer.
 * It carries the guest console between the vCPU thread and the main thread
 * with no message per byte (ARCHITECTURE rule 3): the producer copies bytes
 * and bumps `head`; the consumer wakes through Atomics.waitAsync only when it
 * asked to be woken, so a busy guest pays no notify per byte.
 */

const HEAD = 0;     // total bytes ever written (wraps at 2^31, compared modulo)
const TAIL = 1;     // total bytes ever read
const WAITING = 2;  // 1 while the consumer sleeps in waitAsync
const CLOSED = 3;   // 1 once either side closed the ring
const HEADER_INTS = 4;
const HEADER_BYTES = HEADER_INTS * 4;

export class SharedRing {
  private readonly header: Int32Array;
  private readonly data: Uint8Array;
  private readonly mask: number;

  constructor(readonly buffer: SharedArrayBuffer) {
    const capacity = buffer.byteLength - HEADER_BYTES;
    if (capacity <= 0 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError('SharedRing capacity must be a power of two');
    }
    this.header = new Int32Array(buffer, 0, HEADER_INTS);
    this.data = new Uint8Array(buffer, HEADER_BYTES);
    this.mask = capacity - 1;
  }

  static create(capacity = 1 << 16): SharedRing {
    return new SharedRing(new SharedArrayBuffer(HEADER_BYTES + capacity));
  }

  get capacity(): number { return this.mask + 1; }

  /** Bytes waiting to be read. */
  get available(): number {
    return (Atomics.load(this.header, HEAD) - Atomics.load(this.header, TAIL)) | 0;
  }

  get closed(): boolean { return Atomics.load(this.header, CLOSED) === 1; }

  close(): void {
    Atomics.store(this.header, CLOSED, 1);
    Atomics.notify(this.header, HEAD);
    Atomics.notify(this.header, TAIL);
  }

  /**
   * Producer: append one byte. When the ring is full the producer waits for
   * the consumer (backpressure slows the guest instead of losing output), up
   * to `maxWaitMs`; returns false if the byte had to be dropped.
   */
  push(byte: number, maxWaitMs = 1000): boolean {
    const head = Atomics.load(this.header, HEAD);
    if (((head - Atomics.load(this.header, TAIL)) | 0) > this.mask && !this.waitForSpace(head, maxWaitMs)) return false;
    this.data[head & this.mask] = byte;
    Atomics.store(this.header, HEAD, (head + 1) | 0);
    if (Atomics.load(this.header, WAITING) === 1) {
      Atomics.store(this.header, WAITING, 0);
      Atomics.notify(this.header, HEAD);
    }
    return true;
  }

  /** Producer: append bytes; returns how many were accepted. */
  write(bytes: Uint8Array, maxWaitMs = 1000): number {
    let n = 0;
    for (; n < bytes.length; n++) if (!this.push(bytes[n], maxWaitMs)) break;
    return n;
  }

  private waitForSpace(head: number, maxWaitMs: number): boolean {
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      const tail = Atomics.load(this.header, TAIL);
      if (((head - tail) | 0) <= this.mask) return true;
      if (this.closed) return false;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      Atomics.wait(this.header, TAIL, tail, Math.min(left, 50));
    }
  }

  /** Consumer: take everything available (possibly nothing). */
  drain(): Uint8Array {
    const tail = Atomics.load(this.header, TAIL);
    const n = (Atomics.load(this.header, HEAD) - tail) | 0;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.data[(tail + i) & this.mask];
    Atomics.store(this.header, TAIL, (tail + n) | 0);
    if (n > 0) Atomics.notify(this.header, TAIL);
    return out;
  }

  /** Consumer: take one byte, or -1 when empty. */
  shift(): number {
    const tail = Atomics.load(this.header, TAIL);
    if (Atomics.load(this.header, HEAD) === tail) return -1;
    const b = this.data[tail & this.mask];
    Atomics.store(this.header, TAIL, (tail + 1) | 0);
    Atomics.notify(this.header, TAIL);
    return b;
  }

  /** Consumer: resolves when bytes are available or the ring is closed. */
  async waitForData(): Promise<void> {
    for (;;) {
      const head = Atomics.load(this.header, HEAD);
      if (head !== Atomics.load(this.header, TAIL) || this.closed) return;
      Atomics.store(this.header, WAITING, 1);
      const r = Atomics.waitAsync(this.header, HEAD, head);
      if (r.async) await r.value;
    }
  }
}
