/**
 * Split virtqueues (virtio 1.x, 2.7): the descriptor table, the available
 * ring (driver -> device) and the used ring (device -> driver), all in guest
 * RAM at addresses the guest chose. Everything read from them is the
 * guest's (ARCHITECTURE rule 5) and checked here before a device sees it:
 *   - the rings' addresses, alignment and size (on QueueReady);
 *   - the available index (at most `size` entries ahead of what we took);
 *   - every head and `next` index (< size), the chain's length (at most
 *     `size` descriptors: a loop cannot spin us), device-readable before
 *     device-writable, each buffer inside guest RAM, the total length;
 *   - indirect tables (when VIRTIO_F_INDIRECT_DESC was negotiated): a
 *     multiple of 16 bytes, at most MAX_INDIRECT entries, inside RAM, not
 *     nested, not combined with NEXT.
 * A violation throws VirtqueueError; GuestMemory's own GuestMemoryError is
 * a backstop. The transport turns either into DEVICE_NEEDS_RESET and a
 * logged guest error, never a crash.
 */
import { GuestMemory, GuestMemoryError } from '../memory/guest-memory';

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;

export const DESC_SIZE = 16;
/** Largest queue a split virtqueue can have (2^15). */
export const MAX_QUEUE_SIZE = 32768;
/** Indirect tables hold at most this many descriptors (QEMU's VIRTQUEUE_MAX_SIZE). */
export const MAX_INDIRECT = 1024;
/** A chain may describe at most this many bytes in all (a device caps lower as it likes). */
export const MAX_CHAIN_BYTES = 256 * 1024 * 1024;

/** The guest broke the virtqueue rules; the message says how. */
export class VirtqueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VirtqueueError';
  }
}

/** One buffer of a chain: guest-physical, already checked to lie in RAM. */
export interface Segment {
  addr: number;
  len: number;
}

/** A descriptor chain taken from the available ring. */
export interface Chain {
  /** The head's index: what goes back in the used ring. */
  head: number;
  /** Device-readable buffers (driver -> device), in order. */
  readable: Segment[];
  /** Device-writable buffers (device -> driver), in order. */
  writable: Segment[];
  readableBytes: number;
  writableBytes: number;
}

const hex = (n: number) => '0x' + n.toString(16);

export class Virtqueue {
  /** Queue size the driver chose (QueueNum), 1..maxSize. */
  size = 0;
  descAddr = 0;
  driverAddr = 0;
  deviceAddr = 0;
  ready = false;
  /** Next available-ring entry we will take (free-running 16-bit). */
  lastAvail = 0;
  /** Our used index (free-running 16-bit). */
  usedIdx = 0;
  indirect = false;

  constructor(readonly index: number, readonly maxSize: number, private readonly memory: GuestMemory) {}

  reset(): void {
    this.size = 0;
    this.descAddr = this.driverAddr = this.deviceAddr = 0;
    this.ready = false;
    this.lastAvail = this.usedIdx = 0;
    this.indirect = false;
  }

  /**
   * Checks the layout the driver wrote before the queue goes live: size in
   * 1..maxSize, each ring aligned (16/2/4) and wholly inside guest RAM.
   */
  validate(): void {
    const name = `queue ${this.index}`;
    if (!Number.isInteger(this.size) || this.size < 1 || this.size > this.maxSize) {
      throw new VirtqueueError(`${name}: QueueNum ${this.size} is not in 1..${this.maxSize}`);
    }
    const check = (what: string, addr: number, len: number, align: number) => {
      if (addr % align !== 0) throw new VirtqueueError(`${name}: ${what} at ${hex(addr)} is not ${align}-byte aligned`);
      if (!this.memory.contains(addr, len)) throw new VirtqueueError(`${name}: ${what} at ${hex(addr)} (${len} bytes) is not inside guest RAM`);
    };
    check('descriptor table', this.descAddr, DESC_SIZE * this.size, 16);
    check('available ring', this.driverAddr, 6 + 2 * this.size, 2);
    check('used ring', this.deviceAddr, 6 + 8 * this.size, 4);
  }

  /** The driver's available index. */
  private availIdx(): number {
    return this.memory.readU16(this.driverAddr + 2);
  }

  /** True when the driver asked not to be interrupted (VIRTQ_AVAIL_F_NO_INTERRUPT). */
  interruptSuppressed(): boolean {
    return (this.memory.readU16(this.driverAddr) & VIRTQ_AVAIL_F_NO_INTERRUPT) !== 0;
  }

  /** The next chain the driver made available, or undefined when there is none. Throws on a bad ring or chain. */
  pop(): Chain | undefined {
    if (!this.ready) return undefined;
    const avail = this.availIdx();
    const pending = (avail - this.lastAvail) & 0xffff;
    if (pending === 0) return undefined;
    if (pending > this.size) {
      throw new VirtqueueError(`queue ${this.index}: available index ${avail} is ${pending} entries ahead of the device's ${this.lastAvail}, more than the queue's ${this.size}`);
    }
    const head = this.memory.readU16(this.driverAddr + 4 + 2 * (this.lastAvail % this.size));
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    return this.walk(head);
  }

  /** Reads descriptor `i` of the table at `table`. */
  private desc(table: number, i: number) {
    const at = table + DESC_SIZE * i;
    const addr = this.memory.readU64(at);
    return {
      addr,
      len: this.memory.readU32(at + 8),
      flags: this.memory.readU16(at + 12),
      next: this.memory.readU16(at + 14),
    };
  }

  private walk(head: number): Chain {
    const q = `queue ${this.index}`;
    if (head >= this.size) throw new VirtqueueError(`${q}: chain head ${head} is not below the queue size ${this.size}`);
    const chain: Chain = { head, readable: [], writable: [], readableBytes: 0, writableBytes: 0 };
    let table = this.descAddr;
    let count = this.size;
    let i = head;
    let seen = 0;
    let inIndirect = false;
    for (;;) {
      if (++seen > count) {
        throw new VirtqueueError(`${q}: the chain from head ${head} is longer than its table (${count} descriptors): a loop?`);
      }
      const d = this.desc(table, i);
      if (d.flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.indirect) throw new VirtqueueError(`${q}: descriptor ${i} is INDIRECT, but VIRTIO_F_INDIRECT_DESC was not negotiated`);
        if (inIndirect) throw new VirtqueueError(`${q}: an indirect table's descriptor ${i} is INDIRECT again (nesting is not allowed)`);
        if (d.flags & VIRTQ_DESC_F_NEXT) throw new VirtqueueError(`${q}: descriptor ${i} has both INDIRECT and NEXT`);
        if (d.len === 0 || d.len % DESC_SIZE !== 0) throw new VirtqueueError(`${q}: indirect table length ${d.len} is not a non-zero multiple of ${DESC_SIZE}`);
        const n = d.len / DESC_SIZE;
        if (n > MAX_INDIRECT) throw new VirtqueueError(`${q}: indirect table of ${n} descriptors; at most ${MAX_INDIRECT} are accepted`);
        const addr = this.ramAddress(d.addr, d.len, 'indirect table');
        table = addr;
        count = n;
        i = 0;
        seen = 0;
        inIndirect = true;
        continue;
      }
      const addr = this.ramAddress(d.addr, d.len, `buffer of descriptor ${i}`);
      if (d.flags & VIRTQ_DESC_F_WRITE) {
        chain.writable.push({ addr, len: d.len });
        chain.writableBytes += d.len;
      } else {
        if (chain.writable.length > 0) throw new VirtqueueError(`${q}: descriptor ${i} is device-readable after a device-writable one`);
        chain.readable.push({ addr, len: d.len });
        chain.readableBytes += d.len;
      }
      if (chain.readableBytes + chain.writableBytes > MAX_CHAIN_BYTES) {
        throw new VirtqueueError(`${q}: the chain from head ${head} describes more than ${MAX_CHAIN_BYTES} bytes`);
      }
      if (!(d.flags & VIRTQ_DESC_F_NEXT)) return chain;
      if (d.next >= count) throw new VirtqueueError(`${q}: descriptor ${i} points to next ${d.next}, outside its table of ${count}`);
      i = d.next;
    }
  }

  /** A 64-bit guest address as a number, checked to lie (with len bytes) inside RAM. */
  private ramAddress(addr: bigint, len: number, what: string): number {
    const a = Number(addr);
    if (addr > BigInt(Number.MAX_SAFE_INTEGER) || !this.memory.contains(a, len)) {
      throw new VirtqueueError(`queue ${this.index}: ${what} at 0x${addr.toString(16)} (${len} bytes) is not inside guest RAM`);
    }
    return a;
  }

  /** Returns a chain to the driver with `written` bytes written into its writable buffers. */
  push(head: number, written: number): void {
    const slot = this.deviceAddr + 4 + 8 * (this.usedIdx % this.size);
    this.memory.writeU32(slot, head);
    this.memory.writeU32(slot + 4, written);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    // The entry must be visible before the index (x86 stores are ordered; Atomics would be needed elsewhere).
    this.memory.writeU16(this.deviceAddr + 2, this.usedIdx);
  }
}

/** Copies bytes out of a chain's readable buffers (the driver's data), across buffer boundaries. */
export class ChainReader {
  private seg = 0;
  private off = 0;
  constructor(private readonly memory: GuestMemory, private readonly segs: readonly Segment[]) {}

  /** Up to `n` bytes; fewer when the buffers run out. */
  read(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n && this.seg < this.segs.length) {
      const s = this.segs[this.seg];
      const take = Math.min(n - got, s.len - this.off);
      out.set(this.memory.view8(s.addr + this.off, take), got);
      got += take;
      this.advance(take);
    }
    return got === n ? out : out.subarray(0, got);
  }

  /** The remaining buffers as live views (for writing them to a file without a copy). */
  rest(): Uint8Array[] {
    const views: Uint8Array[] = [];
    while (this.seg < this.segs.length) {
      const s = this.segs[this.seg];
      if (s.len - this.off > 0) views.push(this.memory.view8(s.addr + this.off, s.len - this.off));
      this.seg++;
      this.off = 0;
    }
    return views;
  }

  private advance(n: number): void {
    this.off += n;
    while (this.seg < this.segs.length && this.off >= this.segs[this.seg].len) {
      this.off -= this.segs[this.seg].len;
      this.seg++;
    }
  }
}

/** Splits a chain's writable buffers: the first `dataBytes` as live views, then what remains. */
export function splitWritable(memory: GuestMemory, segs: readonly Segment[], dataBytes: number): { data: Uint8Array[]; tail: Uint8Array[] } {
  const data: Uint8Array[] = [];
  const tail: Uint8Array[] = [];
  let left = dataBytes;
  for (const s of segs) {
    const take = Math.min(left, s.len);
    if (take > 0) data.push(memory.view8(s.addr, take));
    if (s.len > take) tail.push(memory.view8(s.addr + take, s.len - take));
    left -= take;
  }
  return { data, tail };
}

export function isGuestFault(e: unknown): e is VirtqueueError | GuestMemoryError {
  return e instanceof VirtqueueError || e instanceof GuestMemoryError;
}
