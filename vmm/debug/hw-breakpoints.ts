/**
 * The four x86 debug address registers (DR0-3) shared by instruction
 * breakpoints and data watchpoints, and the DR7 value that arms them.
 * Pure data: the vCPU thread hands the result to KVM_SET_GUEST_DEBUG.
 */

/** Reads alone only page protection can watch (x86 debug registers watch writes, or reads and writes). */
export type WatchAccess = 'write' | 'read' | 'readWrite';
/** A DR watchpoint covers 1, 2, 4 or 8 bytes; a page-protection one any length (page-watch.ts). */
export type HwLength = number;

export type HwRequest =
  /** `software`: beyond the four slots, an int3 may take it (the host delivers #BP exits). */
  | { kind: 'execute'; address: bigint; software?: boolean }
  | { kind: 'watch'; address: bigint; length: HwLength; access: WatchAccess };

export interface HwAssignment {
  request: HwRequest;
  /** DR slot 0-3, or undefined when it could not be armed. */
  slot?: number;
  /** Why it could not be armed (one sentence). */
  problem?: string;
  /** No slot left, but an int3 planted at the address stands in (software-breakpoints.ts). */
  software?: boolean;
  /** A watchpoint kept by page protection (read-only or unmapped memory slots, page-watch.ts) instead of a DR. */
  page?: boolean;
}

/** What this host offers beyond DR0-3 (measured by the host probe). */
export interface WatchMechanisms {
  /** DR data watchpoints fire here (they do not on PVM). */
  drWatch: boolean;
  /** Memory slots can be cut around pages (read-only ones exit on writes, missing ones on every access): watchpoints of any size and count. */
  pageWatch: boolean;
}

export const DR_ONLY: WatchMechanisms = { drWatch: true, pageWatch: false };

export const HW_SLOTS = 4;

const DR7_GE = 1n << 9n;     // exact breakpoint enable (recommended by the SDM with data breakpoints)
const RW_EXECUTE = 0n;
const RW_WRITE = 1n;
const RW_READ_WRITE = 3n;
const LEN_BITS: Record<number, bigint> = { 1: 0n, 2: 1n, 4: 3n, 8: 2n };

/** DR7's L0/G0-L3/G3: which slots are enabled at all. */
export const DR7_ENABLE_BITS = 0xffn;

/** DR6 bits B0-B3 (which slot fired) and BS (single step). */
export const DR6_SLOT_MASK = 0xfn;
export const DR6_BS = 1n << 14n;

function problemOf(r: HwRequest): string | undefined {
  if (r.kind === 'execute') return undefined;
  if (r.access === 'read') return 'x86 debug registers cannot watch reads alone, and this host has no page protection for it: use a read/write watchpoint';
  if (!(r.length in LEN_BITS)) return `a hardware watchpoint covers 1, 2, 4 or 8 bytes, not ${r.length}`;
  if (r.address % BigInt(r.length) !== 0n) {
    return `a ${r.length}-byte hardware watchpoint must be aligned to ${r.length} bytes (0x${r.address.toString(16)} is not)`;
  }
  return undefined;
}

/** Why page protection cannot keep this watch, or undefined when it can. */
function pageProblem(r: HwRequest & { kind: 'watch' }, m: WatchMechanisms): string | undefined {
  if (!m.pageWatch) return undefined;
  if (!(r.length >= 1 && r.length <= MAX_PAGE_WATCH)) return `a watchpoint covers 1 byte to ${MAX_PAGE_WATCH / 1024 / 1024} MiB, not ${r.length} bytes`;
  return undefined;
}

/** The largest range one page-protection watchpoint covers. */
export const MAX_PAGE_WATCH = 16 * 1024 * 1024;

/**
 * Assigns slots in request order; a watch that DRs cannot take (no DR
 * watchpoints on this host, a length or alignment they cannot do, all four
 * in use) goes to page protection where the host has it; the rest get a
 * problem sentence. Returns the assignments and the DR0-DR7 values for KVM.
 */
export function assignHwSlots(requests: readonly HwRequest[], mechanisms: WatchMechanisms = DR_ONLY): { assignments: HwAssignment[]; debugreg: bigint[] } {
  const debugreg = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
  let dr7 = 0n;
  let next = 0;
  const assignments = requests.map((request): HwAssignment => {
    if (request.kind === 'watch' && mechanisms.pageWatch) {
      const usesDr = mechanisms.drWatch && !problemOf(request) && next < HW_SLOTS;
      if (!usesDr) {
        const problem = pageProblem(request, mechanisms);
        return problem ? { request, problem } : { request, page: true };
      }
    }
    if (request.kind === 'watch' && !mechanisms.drWatch) {
      return { request, problem: 'this host\'s debug registers never fire on data (DR watchpoints do not work here) and it has no read-only memory slots for page protection' };
    }
    const problem = problemOf(request);
    if (problem) return { request, problem };
    if (next >= HW_SLOTS) {
      if (request.kind === 'execute' && request.software) return { request, software: true };
      return { request, problem: 'all 4 hardware debug registers (DR0-DR3) are in use' };
    }
    const slot = next++;
    debugreg[slot] = BigInt.asUintN(64, request.address);
    const shift = 16n + 4n * BigInt(slot);
    const rw = request.kind === 'execute' ? RW_EXECUTE : request.access === 'write' ? RW_WRITE : RW_READ_WRITE;
    const len = request.kind === 'execute' ? 0n : LEN_BITS[request.length];
    dr7 |= (1n << BigInt(2 * slot + 1)) | (rw << shift) | (len << (shift + 2n));  // Gn: global enable
    if (request.kind === 'watch') dr7 |= DR7_GE;
    return { request, slot };
  });
  debugreg[7] = dr7;
  return { assignments, debugreg };
}

/** Slots that fired according to DR6. */
export function firedSlots(dr6: bigint): number[] {
  const out: number[] = [];
  for (let i = 0; i < HW_SLOTS; i++) if (dr6 & (1n << BigInt(i))) out.push(i);
  return out;
}
