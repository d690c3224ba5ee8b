/**
 * The last VM exits, in a SharedArrayBuffer: the vCPU thread writes four
 * numbers per exit into a preallocated Float64Array (no allocation, no
 * message, no ioctl: RIP is not read, that would be a KVM_GET_REGS per
 * exit); the main thread reads the newest ones for the VM-exits view.
 * Reads are unsynchronized: while the vCPU runs, an entry being written
 * can read torn. That is fine for a diagnostic view, and when the vCPU is
 * stopped the ring is stable.
 *
 * Layout: [0] = exits written so far (free-running), then ENTRIES x
 * [kind index (EXIT_KINDS), a, b, c]:
 *   io    a = port, b = value (first item; NaN for an IN not handled yet), c = size | out<<8 | count<<16
 *   mmio  a = address, b = value (NaN for a read not handled yet), c = size | write<<8
 *   debug a = pc (as a double: exact below 2^53), b = exception
 *   other a = b = c = 0
 */
import type { VcpuExit } from '../../native/types';
import { EXIT_KINDS } from './exit-stats';

/** A power of two (the index is a mask). */
export const EXIT_RING_ENTRIES = 64;
const STRIDE = 4; // record() shifts by 2
const IO = EXIT_KINDS.indexOf('io');
const MMIO = EXIT_KINDS.indexOf('mmio');
const DEBUG = EXIT_KINDS.indexOf('debug');
const UNKNOWN = EXIT_KINDS.indexOf('unknown');
const INDEX = new Map(EXIT_KINDS.map((k, i) => [k, i]));

export interface RingExit {
  /** 0-based number of this exit since the VM started. */
  seq: number;
  kind: string;
  a: number;
  b: number;
  c: number;
}

export class ExitRing {
  private readonly f: Float64Array;
  private last = 1;
  private n = 0;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer((1 + EXIT_RING_ENTRIES * STRIDE) * 8)) {
    this.f = new Float64Array(buffer);
    this.n = this.f[0];
  }

  /** vCPU thread, once per exit: four stores and a counter. */
  record(exit: VcpuExit): void {
    const f = this.f;
    // The writer's own count (a small integer: cheaper than reading the shared slot back).
    const n = this.n;
    const at = 1 + ((n & (EXIT_RING_ENTRIES - 1)) << 2);
    this.last = at;
    if (exit.kind === 'io') {
      f[at] = IO; f[at + 1] = exit.port;
      f[at + 2] = exit.direction === 'out' ? le(exit.data, exit.size) : NaN;
      f[at + 3] = exit.size | (exit.direction === 'out' ? 0x100 : 0) | (exit.count * 0x10000);
    } else if (exit.kind === 'mmio') {
      f[at] = MMIO; f[at + 1] = exit.address;
      f[at + 2] = exit.isWrite ? le(exit.data, Math.min(exit.size, 4)) : NaN;
      f[at + 3] = exit.size | (exit.isWrite ? 0x100 : 0);
    } else if (exit.kind === 'debug') {
      f[at] = DEBUG; f[at + 1] = Number(exit.pc); f[at + 2] = exit.exception; f[at + 3] = 0;
    } else {
      f[at] = INDEX.get(exit.kind) ?? UNKNOWN; f[at + 1] = 0; f[at + 2] = 0; f[at + 3] = 0;
    }
    this.n = n + 1;
    f[0] = n + 1;
  }

  /** vCPU thread: the value an IN or an MMIO read returned, once its device answered. */
  setLastValue(value: number): void {
    this.f[this.last + 2] = value;
  }

  /** Main thread: the newest `count` exits, oldest first. */
  recent(count: number): RingExit[] {
    const f = this.f;
    const n = f[0];
    const take = Math.max(0, Math.min(Math.floor(count), EXIT_RING_ENTRIES, n));
    const out: RingExit[] = [];
    for (let seq = n - take; seq < n; seq++) {
      const at = 1 + (seq % EXIT_RING_ENTRIES) * STRIDE;
      out.push({ seq, kind: EXIT_KINDS[f[at]] ?? 'unknown', a: f[at + 1], b: f[at + 2], c: f[at + 3] });
    }
    return out;
  }

  get written(): number { return this.f[0]; }
}

function le(b: Uint8Array, size: number): number {
  if (size === 1) return b[0];
  if (size === 2) return b[0] | (b[1] << 8);
  return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
}
