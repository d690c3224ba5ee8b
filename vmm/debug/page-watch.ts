/**
 * Write watchpoints by page protection: every guest page a watched range
 * touches is mapped read-only (its own KVM_MEM_READONLY slot, slot-layout.ts),
 * so each guest write into it leaves KVM as an MMIO write exit with its
 * address and data (RIP already past the instruction, the bytes not
 * written). The vCPU thread writes them into guest RAM itself; a write that
 * overlaps a watched range is a watchpoint stop. Any size, any count, on
 * hosts whose debug registers never fire on data (PVM); writes elsewhere in
 * a watched page cost one exit each.
 *
 * Ranges are requested by virtual address and translated when armed, in the
 * stopped vCPU's address space; what is kept is guest-physical.
 */
import type { HwRequest } from './hw-breakpoints';

export const PAGE = 4096;

type WatchRequest = HwRequest & { kind: 'watch' };

interface Piece { start: number; end: number; request: WatchRequest }

export interface PageWatchPlan {
  /** Sorted page frame numbers to map read-only. */
  pages: number[];
  /** Per request (same order): why it cannot be watched, or undefined. */
  problems: (string | undefined)[];
}

export class PageWatch {
  private pieces: Piece[] = [];
  private pageSet = new Set<number>();

  /**
   * Translates each request's range page by page (`physical` gives the RAM
   * address behind a virtual one, or undefined) and keeps what it covers.
   */
  set(requests: readonly WatchRequest[], physical: (va: bigint) => number | undefined, isRam: (gpa: number) => boolean,
    /** Watches in debug registers: a write into a protected page is done by us, not the CPU, so they are checked here too. */
    inRegisters: readonly WatchRequest[] = []): PageWatchPlan {
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
    this.pageSet = new Set();
    for (const p of pieces) for (let pg = Math.floor(p.start / PAGE); pg * PAGE < p.end; pg++) this.pageSet.add(pg);
    for (const request of inRegisters) {
      const gpa = physical(request.address);
      if (gpa !== undefined && this.pageSet.has(Math.floor(gpa / PAGE))) pieces.push({ start: gpa, end: gpa + request.length, request });
    }
    this.pieces = pieces;
    return { pages: [...this.pageSet].sort((a, b) => a - b), problems };
  }

  get active(): boolean { return this.pageSet.size > 0; }
  get pages(): number[] { return [...this.pageSet].sort((a, b) => a - b); }

  /** True when a guest-physical address lies in a page we made read-only. */
  covers(gpa: number): boolean {
    return this.pageSet.has(Math.floor(gpa / PAGE));
  }

  /** The watch a write of `size` bytes at `gpa` touches, if any. */
  hit(gpa: number, size: number): WatchRequest | undefined {
    const end = gpa + size;
    return this.pieces.find((p) => gpa < p.end && end > p.start)?.request;
  }
}
