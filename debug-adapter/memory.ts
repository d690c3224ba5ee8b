/**
 * Guest memory for DAP: memoryReference strings name an address space and
 * an address: "v:0xffffffff81000000" is virtual (through the stopped vCPU's
 * page tables), "p:0x1000" is guest-physical; a bare "0x1000" is virtual.
 * Reads never fail as a whole: unmapped bytes become DAP's unreadableBytes.
 */
import type { GuestMemory } from '../vmm/memory/guest-memory';
import type { PagingState } from '../vmm/debug/page-walk';
import { readPhysical, readVirtual, VirtualReader, writePhysical, writeVirtual, type ReadResult } from '../vmm/debug/virtual-memory';

export type Space = 'v' | 'p';

export interface MemoryRef { space: Space; address: bigint }

export class MemoryRefError extends Error {}

const hex = (v: bigint): string => '0x' + v.toString(16);

export function formatRef(space: Space, address: bigint): string {
  return `${space}:${hex(BigInt.asUintN(64, address))}`;
}

export function parseRef(text: string): MemoryRef {
  const m = /^\s*(?:([vp]):)?\s*(0x[0-9a-f]+|[0-9]+)\s*$/i.exec(text);
  if (!m) throw new MemoryRefError(`"${text}" is not a memory reference: use v:0xADDRESS (virtual) or p:0xADDRESS (physical)`);
  const address = BigInt(m[2]);
  if (address >= 1n << 64n) throw new MemoryRefError(`"${text}": the address does not fit in 64 bits`);
  return { space: (m[1]?.toLowerCase() as Space | undefined) ?? 'v', address };
}

/** A DAP readMemory answer: the readable run from the start, then how many unreadable bytes follow it. */
export interface DapRead { address: string; data: Uint8Array; unreadableBytes: number }

/** Shapes a per-byte result as DAP wants it: data is contiguous from the start. */
export function toDapRead(start: bigint, r: ReadResult): DapRead {
  const n = r.data.length;
  // indexOf runs natively: a byte-by-byte loop here was most of a 1 MiB read's cost.
  const runEnd = (value: 0 | 1, from: number): number => { const i = r.readable.indexOf(value, from); return i < 0 ? n : i; };
  if (n > 0 && r.readable[0]) {
    const readable = r.unreadableBytes === 0 ? n : runEnd(0, 0);
    return { address: hex(start), data: r.data.subarray(0, readable), unreadableBytes: runEnd(1, readable) - readable };
  }
  return { address: hex(start), data: new Uint8Array(0), unreadableBytes: runEnd(1, 0) };
}

/** Guest memory seen from the debugger: virtual through the current paging state, or physical. */
export class GuestMemoryView {
  constructor(private readonly memory: GuestMemory, private readonly paging: () => PagingState | undefined) {}

  private pagingOrNone(): PagingState {
    return this.paging() ?? { cr0: 0n, cr3: 0n, cr4: 0n, efer: 0n };
  }

  read(ref: MemoryRef, length: number): ReadResult {
    if (ref.space === 'p') {
      if (ref.address >= 1n << 53n) return { data: new Uint8Array(length), readable: new Uint8Array(length), unreadableBytes: length };
      return readPhysical(this.memory, Number(ref.address), length);
    }
    return readVirtual(this.memory, this.pagingOrNone(), ref.address, length);
  }

  /** All `length` bytes, or undefined when any of them is unreadable. */
  readExact(ref: MemoryRef, length: number): Uint8Array | undefined {
    const r = this.read(ref, length);
    return r.unreadableBytes === 0 ? r.data : undefined;
  }

  /**
   * For many small virtual reads within one request (a stack unwind, an IDT): each page is
   * walked once. Through `paging` (another vCPU's page tables), by default the current one.
   */
  reader(paging: PagingState = this.pagingOrNone()): VirtualReader {
    return new VirtualReader(this.memory, paging);
  }

  write(ref: MemoryRef, data: Uint8Array): { written: number; firstFailure?: string } {
    if (ref.space === 'p') {
      if (ref.address >= 1n << 53n) return { written: 0, firstFailure: `physical address ${hex(ref.address)} is not guest RAM` };
      return writePhysical(this.memory, Number(ref.address), data);
    }
    return writeVirtual(this.memory, this.pagingOrNone(), ref.address, data);
  }

  /** DAP readMemory: reference + offset, count bytes (clamped to 16 MiB). */
  readForDap(reference: string, offset: number, count: number): DapRead {
    const ref = parseRef(reference);
    const start = BigInt.asUintN(64, ref.address + BigInt(offset));
    const length = Math.max(0, Math.min(count, 16 * 1024 * 1024));
    return toDapRead(start, this.read({ space: ref.space, address: start }, length));
  }
}
