/**
 * .debug_aranges (DWARF 2-5): which compile unit covers which addresses,
 * without reading the units or running their line programs. A distro
 * kernel's is a few hundred KB for 170 MB of .debug_info.
 */
import { ByteReader, describeError } from './dwarf-reader';

export interface ArangeEntry {
  start: bigint;
  end: bigint;
  /** Offset of the compile unit in .debug_info. */
  unit: number;
}

/** Every range of every set; a damaged set ends the reading with a problem sentence. Never throws. */
export function parseAranges(data: Uint8Array): { ranges: ArangeEntry[]; problems: string[] } {
  const ranges: ArangeEntry[] = [];
  const problems: string[] = [];
  const r = new ByteReader(data, 0, data.length, '.debug_aranges');
  while (r.remaining > 0) {
    const setOffset = r.pos;
    try {
      const il = r.initialLength();
      const set = r.sub(il.length, `.debug_aranges set at 0x${setOffset.toString(16)}`);
      const version = set.u16();
      if (version !== 2 && version !== 3) throw new Error(`${set.what}: version ${version} is not supported (2 is)`);
      const unit = set.offset(il.offsetSize);
      const addressSize = set.u8();
      const segmentSize = set.u8();
      if (addressSize !== 4 && addressSize !== 8) throw new Error(`${set.what}: address size ${addressSize} is not supported`);
      if (segmentSize !== 0) throw new Error(`${set.what}: segmented addresses are not supported`);
      // Tuples start at a multiple of twice the address size from the set's start.
      const tuple = addressSize * 2;
      const rel = set.pos - setOffset;
      set.skip(Math.min(set.remaining, (tuple - (rel % tuple)) % tuple));
      while (set.remaining >= tuple) {
        const start = set.unsigned(addressSize);
        const length = set.unsigned(addressSize);
        if (start === 0n && length === 0n) break;
        if (length > 0n) ranges.push({ start, end: start + length, unit });
      }
    } catch (e) {
      problems.push(`${describeError(e)}; the rest of .debug_aranges is ignored`);
      break;
    }
  }
  return { ranges, problems };
}
