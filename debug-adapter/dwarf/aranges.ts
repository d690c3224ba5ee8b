/**
 * .debug_aranges: which unit covers which addresses, the fast way to the
 * unit holding a pc (gcc writes it; clang does not by default, so callers
 * fall back to the units' own ranges). Read once, whole, into a sorted list.
 */
import { ByteReader, describeError } from '../symbols/dwarf-reader';
import type { Section } from './model';
import { sectionBytes } from './section-io';

export interface ArangeEntry { low: bigint; high: bigint; unitOffset: number }

/** A kernel has a few hundred thousand; more is damage. */
const MAX_ENTRIES = 1 << 22;

/** Every address range of .debug_aranges, sorted by start. Never throws: damage ends the list. */
export function readAranges(section: Section | undefined, problems: string[]): ArangeEntry[] {
  const out: ArangeEntry[] = [];
  if (!section || section.size === 0) return out;
  try {
    const r = new ByteReader(sectionBytes(section, 0, section.size, '.debug_aranges'), 0, section.size, '.debug_aranges');
    while (r.remaining > 0 && out.length < MAX_ENTRIES) {
      const start = r.pos;
      const il = r.initialLength();
      const set = r.sub(il.length);
      set.u16(); // version 2
      const unitOffset = set.offset(il.offsetSize);
      const size = set.u8();
      const segment = set.u8();
      if (size !== 4 && size !== 8) throw new Error(`address size ${size} in the set at 0x${start.toString(16)}`);
      // Tuples start at a multiple of their own size from the set's start.
      const tuple = 2 * size + segment;
      const pad = (tuple - ((set.pos - start) % tuple)) % tuple;
      set.skip(Math.min(pad, set.remaining));
      while (set.remaining >= tuple && out.length < MAX_ENTRIES) {
        if (segment) set.skip(segment);
        const low = set.unsigned(size);
        const length = set.unsigned(size);
        if (low === 0n && length === 0n) break;
        if (length > 0n) out.push({ low, high: low + length, unitOffset });
      }
    }
  } catch (e) {
    problems.push(`.debug_aranges: ${describeError(e)}; its later entries are ignored`);
  }
  return out.sort((a, b) => (a.low < b.low ? -1 : a.low > b.low ? 1 : 0));
}

/** The unit offsets whose ranges hold `pc` (overlaps allowed: a few hops back at most). */
export function arangeUnits(list: readonly ArangeEntry[], pc: bigint): number[] {
  let lo = 0;
  let hi = list.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].low <= pc) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  const out: number[] = [];
  for (let i = found; i >= 0 && i > found - 64; i--) {
    if (pc < list[i].high && !out.includes(list[i].unitOffset)) out.push(list[i].unitOffset);
  }
  return out;
}
