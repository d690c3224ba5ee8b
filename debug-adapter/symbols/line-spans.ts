/**
 * The address spans of a unit's line rows: one span per address range that
 * one row covers (rows at one address collapsed to the one a debugger
 * names), each knowing the block of neighbouring spans of its line (what a
 * line step runs through). Built once per unit, the first time a query
 * needs it; looked up by binary search.
 */
import type { LineRow } from './line-program';

export const cmpBig = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

/** A contiguous address range attributed to one row (rows at one address collapsed). */
export interface Span {
  start: bigint;
  end: bigint;
  file: number;
  line: number;
  column: number;
  /** The merged range of neighbouring spans with the same file and line. */
  blockStart: bigint;
  blockEnd: bigint;
  /** The last statement row of the same file at `start` (see buildSpans). */
  lastLine: number;
  lastColumn: number;
}

/** The spans of a unit's sequences, sorted by address, and the longest one's length. */
export function buildSpans(sequences: readonly LineRow[][]): { spans: Span[]; max: bigint } {
  const spans: Span[] = [];
  for (const seq of sequences) {
    const local: Span[] = [];
    let i = 0;
    while (i < seq.length - 1) {
      // Several rows at one address (DWARF 5 location views: declarations and
      // the next statement share it). The first statement row names a function's
      // entry ('{'); elsewhere the last statement row of that same file does (the
      // statement about to run, as gdb says), not an inlined callee's header line.
      const address = seq[i].address;
      let pick = -1;
      let j = i;
      while (j < seq.length - 1 && seq[j].address === address) {
        if (pick < 0 && seq[j].isStmt) pick = j;
        j++;
      }
      if (pick < 0) pick = i;
      let last = pick;
      for (let k = pick + 1; k < j; k++) if (seq[k].isStmt && seq[k].file === seq[pick].file) last = k;
      const end = seq[j].address;
      if (end > address) {
        const r = seq[pick];
        local.push({
          start: address, end, file: r.file, line: r.line, column: r.column, blockStart: address, blockEnd: end,
          lastLine: seq[last].line, lastColumn: seq[last].column,
        });
      }
      i = j;
    }
    for (let k = 0; k < local.length;) {
      let m = k;
      while (m + 1 < local.length && local[m + 1].file === local[k].file && local[m + 1].line === local[k].line && local[m + 1].start === local[m].end) m++;
      for (let n = k; n <= m; n++) { local[n].blockStart = local[k].start; local[n].blockEnd = local[m].end; }
      k = m + 1;
    }
    for (const sp of local) spans.push(sp);
  }
  spans.sort((a, b) => cmpBig(a.start, b.start));
  let max = 0n;
  for (const s of spans) if (s.end - s.start > max) max = s.end - s.start;
  return { spans, max };
}

/** The span covering `address`, or undefined. */
export function findSpan(s: readonly Span[], maxSpanLength: bigint, address: bigint): Span | undefined {
  let lo = 0;
  let hi = s.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (s[mid].start <= address) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  // Overlapping sequences are rare; look back only as far as the longest span reaches.
  for (let i = found; i >= 0 && address - s[i].start < maxSpanLength; i--) {
    if (address < s[i].end) return s[i];
  }
  return undefined;
}
