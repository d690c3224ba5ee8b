/**
 * Watchpoints by page protection. Every guest page a watched range touches
 * leaves the VM's normal RAM slots: a page with only write watches becomes
 * a read-only slot (slot-layout.ts), so each guest write into it leaves KVM
 * as an MMIO write exit with its address and data; a page with a read or
 * read/write watch gets no slot at all, so every guest access to it leaves
 * as an MMIO exit (a read asks for its bytes). The vCPU thread does the
 * access on guest RAM itself; one that overlaps a watched range, in the
 * direction watched, is a watchpoint stop. Any size, any count, reads alone
 * too, on hosts whose debug registers never fire on data (PVM); other
 * accesses to a watched page cost one exit each.
 *
 * Ranges are requested by virtual address and translated when armed, in the
 * stopped vCPU's address space; what is kept is guest-physical.
 */
import type { HwRequest } from './hw-breakpoints';

export const PAGE = 4096;

type WatchRequest = HwRequest & { kind: 'watch' };

interface Piece { start: number; end: number; request: WatchRequest }

export interface PageWatchPlan {
  /** Sorted page frame numbers to map read-only (write watches only). */
  readOnly: number[];
  /** Sorted page frame numbers to leave unmapped (a read or read/write watch touches them). */
  unmapped: number[];
  /** Per request (same order): why it cannot be watched, or undefined. */
  problems: (string | undefined)[];
}

/** A direction of one guest access. */
export type AccessDirection = 'read' | 'write';

const watches = (request: WatchRequest, direction: AccessDirection): boolean =>
  request.access === 'readWrite' || request.access === direction;

export class PageWatch {
  private pieces: Piece[] = [];
  private readOnlySet = new Set<number>();
  private unmappedSet = new Set<number>();

  /**
   * Translates each request's range page by page (`physical` gives the RAM
   * address behind a virtual one, or undefined) and keeps what it covers.
   */
  set(requests: readonly WatchRequest[], physical: (va: bigint) => number | undefined, isRam: (gpa: number) => boolean,
    /** Watches in debug registers: an access to a protected page is done by us, not the CPU, so they are checked here too. */
    inRegisters: readonly WatchRequest[] = [],
    /** Pages that must stay mapped (stopWatchingReads took them back): read-only at most. */
    noUnmap: ReadonlySet<number> = new Set()): PageWatchPlan {
    const pieces: Piece[] = [];
    const problems = requests.map((request): string | undefined => {
      const mine: Piece[] = [];
      const end = request.address + BigInt(request.length);
      for (let va = request.address; va < end;) {
        const pageEnd = (va / BigInt(PAGE) + 1n) * BigInt(PAGE);
        const chunkEnd = pageEnd < end ? pageEnd : end;
        const gpa = physical(va);
        if (gpa === undefined) return `0x${va.toString(16)} is not mapped (yet) in this vCPU's page tables`;
        if (!isRam(gpa)) return `0x${va.toString(16)} is not RAM (guest-physical 0x${gpa.toString(16)})`;
        mine.push({ start: gpa, end: gpa + Number(chunkEnd - va), request });
        va = chunkEnd;
      }
      pieces.push(...mine);
      return undefined;
    });
    const readOnly = new Set<number>();
    const unmapped = new Set<number>();
    for (const p of pieces) {
      for (let pg = Math.floor(p.start / PAGE); pg * PAGE < p.end; pg++) (p.request.access === 'write' ? readOnly : unmapped).add(pg);
    }
    for (const pg of noUnmap) if (unmapped.delete(pg)) {
      readOnly.add(pg);
      for (const [i, r] of requests.entries()) {
        if (r.access !== 'write' && !problems[i] && pieces.some((p) => p.request === r && Math.floor(p.start / PAGE) === pg)) {
          problems[i] = `reads cannot be watched on guest-physical page 0x${(pg * PAGE).toString(16)}: KVM could not emulate an instruction there while it was unmapped (code or page tables on the same page); a write watchpoint can`;
        }
      }
    }
    for (const pg of unmapped) readOnly.delete(pg);
    this.readOnlySet = readOnly;
    this.unmappedSet = unmapped;
    for (const request of inRegisters) {
      const gpa = physical(request.address);
      if (gpa !== undefined && this.covers(gpa)) pieces.push({ start: gpa, end: gpa + request.length, request });
    }
    this.pieces = pieces;
    return { readOnly: sorted(readOnly), unmapped: sorted(unmapped), problems };
  }

  /**
   * Maps every unmapped page read-only instead (its write watches stay) and
   * returns the read and read/write watches that no longer see reads.
   */
  stopWatchingReads(): WatchRequest[] {
    for (const pg of this.unmappedSet) this.readOnlySet.add(pg);
    const lifted = this.pieces.filter((p) => p.request.access !== 'write' && this.unmappedSet.has(Math.floor(p.start / PAGE))).map((p) => p.request);
    this.unmappedSet = new Set();
    return [...new Set(lifted)];
  }

  /** The page frames left unmapped, sorted. */
  get unmapped(): number[] { return sorted(this.unmappedSet); }
  get readOnly(): number[] { return sorted(this.readOnlySet); }

  get active(): boolean { return this.readOnlySet.size + this.unmappedSet.size > 0; }

  /** True when a guest-physical address lies in a page we took out of the normal RAM slots. */
  covers(gpa: number): boolean {
    const pg = Math.floor(gpa / PAGE);
    return this.readOnlySet.has(pg) || this.unmappedSet.has(pg);
  }

  /** The watch an access of `size` bytes at `gpa` in `direction` touches, if any. */
  hit(gpa: number, size: number, direction: AccessDirection = 'write'): WatchRequest | undefined {
    const end = gpa + size;
    return this.pieces.find((p) => gpa < p.end && end > p.start && watches(p.request, direction))?.request;
  }
}

function sorted(pages: Set<number>): number[] {
  return [...pages].sort((a, b) => a - b);
}
