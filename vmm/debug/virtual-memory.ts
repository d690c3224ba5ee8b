/**
 * Reading and writing guest memory by virtual address (through the guest's
 * page tables, one walk a page) or by physical address. Unmapped pages and
 * bytes that are not RAM come back as unreadable bytes, never as an error
 * for the whole access; the top of the address space (2^64 in long mode,
 * 2^32 otherwise) ends an access instead of wrapping around.
 */
import { GuestMemory } from '../memory/guest-memory';
import { addressSpaceEnd, PagingState, walk } from './page-walk';

export interface ReadResult {
  data: Uint8Array;
  /** Per byte: 1 where read, 0 where unmapped or not RAM (data is 0 there). */
  readable: Uint8Array;
  unreadableBytes: number;
}

/** The longest single read or write (16 MiB). */
export const MAX_ACCESS_LENGTH = 16 * 1024 * 1024;
const PAGE = 4096n;
const TWO_POW_53 = 2 ** 53;

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

function checkLength(length: number, what: string): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`a guest memory ${what} needs a length that is a whole number of bytes, not ${length}`);
  }
  if (length > MAX_ACCESS_LENGTH) {
    throw new RangeError(`a guest memory ${what} of ${length} bytes is longer than the ${MAX_ACCESS_LENGTH / (1024 * 1024)} MiB kvmdbg allows at once; split it into smaller pieces`);
  }
}

function checkPhysical(physical: number): void {
  if (!Number.isSafeInteger(physical) || physical < 0) {
    throw new RangeError(`a guest physical address must be a non-negative whole number below 2^53, not ${physical}`);
  }
}

/**
 * Copies the RAM part of [physical, physical+length) into out at outOffset and
 * marks those bytes readable; returns how many were RAM.
 */
function copyFromRam(memory: GuestMemory, physical: number, length: number, out: ReadResult, outOffset: number): number {
  let copied = 0;
  const end = Math.min(physical + length, TWO_POW_53);
  for (const r of memory.regions) {
    const lo = Math.max(physical, r.guestPhys);
    const hi = Math.min(end, r.guestPhys + r.size);
    if (lo >= hi) continue;
    const at = outOffset + (lo - physical);
    out.data.set(memory.view8(lo, hi - lo), at);
    out.readable.fill(1, at, at + (hi - lo));
    copied += hi - lo;
  }
  return copied;
}

/** Length of the RAM run that starts exactly at `physical` and stays inside one region (0: not RAM). */
function ramRunAt(memory: GuestMemory, physical: number, max: number): number {
  for (const r of memory.regions) {
    if (physical >= r.guestPhys && physical < r.guestPhys + r.size) return Math.min(max, r.guestPhys + r.size - physical);
  }
  return 0;
}

function emptyResult(length: number): ReadResult {
  return { data: new Uint8Array(length), readable: new Uint8Array(length), unreadableBytes: length };
}

function finishResult(r: ReadResult, readableBytes: number): ReadResult {
  r.unreadableBytes = r.data.length - readableBytes;
  return r;
}

export function readPhysical(memory: GuestMemory, physical: number, length: number): ReadResult {
  checkPhysical(physical);
  checkLength(length, 'read');
  const r = emptyResult(length);
  return finishResult(r, copyFromRam(memory, physical, length, r, 0));
}

export function writePhysical(memory: GuestMemory, physical: number, data: Uint8Array): { written: number; firstFailure?: string } {
  checkPhysical(physical);
  checkLength(data.length, 'write');
  let written = 0;
  while (written < data.length) {
    const at = physical + written;
    const run = at < TWO_POW_53 ? ramRunAt(memory, at, data.length - written) : 0;
    if (run === 0) return { written, firstFailure: `physical address ${hex(at)} is not guest RAM` };
    memory.write(at, data.subarray(written, written + run));
    written += run;
  }
  return { written };
}

/** The start of a virtual access: in 32-bit modes linear addresses are 32 bits, as the CPU sees them. */
function startAddress(paging: PagingState, virtual: bigint): { va: bigint; end: bigint } {
  const end = addressSpaceEnd(paging);
  return { va: BigInt.asUintN(64, virtual) % end, end };
}

export function readVirtual(memory: GuestMemory, paging: PagingState, virtual: bigint, length: number): ReadResult {
  checkLength(length, 'read');
  const r = emptyResult(length);
  const { va: start, end } = startAddress(paging, virtual);
  let readable = 0;
  let pos = 0;
  while (pos < length) {
    const va = start + BigInt(pos);
    if (va >= end) break; // the top of the address space: the rest stays unreadable
    const w = walk(memory, paging, va);
    const pageSize = w.ok ? BigInt(w.pageSize) : PAGE;
    const chunk = Math.min(length - pos, Number(pageSize - (va % pageSize)));
    if (w.ok) readable += copyFromRam(memory, w.physical, chunk, r, pos);
    pos += chunk;
  }
  return finishResult(r, readable);
}

/**
 * Writes through the page tables, regardless of the W bit (a debugger may
 * patch read-only pages); stops at the first page that is unmapped or not RAM.
 */
export function writeVirtual(memory: GuestMemory, paging: PagingState, virtual: bigint, data: Uint8Array): { written: number; firstFailure?: string } {
  checkLength(data.length, 'write');
  const { va: start, end } = startAddress(paging, virtual);
  let written = 0;
  while (written < data.length) {
    const va = start + BigInt(written);
    if (va >= end) return { written, firstFailure: `the write runs past the top of the ${end === 1n << 64n ? '64' : '32'}-bit address space at ${hex(va)}` };
    const w = walk(memory, paging, va);
    if (!w.ok) return { written, firstFailure: `virtual ${hex(va)}: ${w.reason}` };
    const pageSize = BigInt(w.pageSize);
    const chunk = Math.min(data.length - written, Number(pageSize - (va % pageSize)));
    const res = writePhysical(memory, w.physical, data.subarray(written, written + chunk));
    written += res.written;
    if (res.firstFailure) return { written, firstFailure: `virtual ${hex(va + BigInt(res.written))}: ${res.firstFailure}` };
  }
  return { written };
}

/**
 * Many small reads through one paging state (one stop's stack unwind: a
 * word per frame): each 4 KiB page is walked once. Only for the life of one
 * request: the guest may change its page tables whenever it runs.
 */
export class VirtualReader {
  /** Virtual page number -> physical address of that 4 KiB page, or undefined when unmapped. */
  private readonly pages = new Map<bigint, number | undefined>();

  constructor(private readonly memory: GuestMemory, private readonly paging: PagingState) {}

  /** All `length` bytes, or undefined when any of them is unreadable. */
  readExact(virtual: bigint, length: number): Uint8Array | undefined {
    const { va, end } = startAddress(this.paging, virtual);
    const offset = Number(va & (PAGE - 1n));
    if (offset + length > Number(PAGE) || va + BigInt(length) > end) {
      const r = readVirtual(this.memory, this.paging, virtual, length);
      return r.unreadableBytes === 0 ? r.data : undefined;
    }
    const page = va >> 12n;
    let base: number | undefined;
    if (this.pages.has(page)) base = this.pages.get(page);
    else {
      const w = walk(this.memory, this.paging, va - BigInt(offset));
      base = w.ok ? w.physical : undefined;
      this.pages.set(page, base);
    }
    if (base === undefined || ramRunAt(this.memory, base + offset, length) < length) return undefined;
    return this.memory.view8(base + offset, length).slice();
  }
}
