/**
 * The pc ranges of a DIE: DW_AT_low_pc/DW_AT_high_pc (high as an address or,
 * DWARF 4+, an offset from low), or DW_AT_ranges: a .debug_ranges list in
 * DWARF 2-4 (address pairs, base address selection entries) or a
 * .debug_rnglists list in DWARF 5 (DW_RLE_* entries, DW_FORM_rnglistx through
 * the unit's rnglists_base). Addresses are link-time. Empty ranges are
 * dropped. Damaged lists end where the damage is (the entries before count).
 */
import { describeError } from '../symbols/dwarf-reader';
import { DW_AT, DW_RLE } from './constants';
import type { Attr, Die } from './dies';
import type { DwarfReader } from './reader';
import { sectionReader } from './section-io';
import type { DwarfUnit } from './units';

export interface PcRange { low: bigint; high: bigint }

/** A function split into more pieces than this is damage. */
const MAX_ENTRIES = 4096;

/** The DIE's ranges (empty when it has none: a declaration, an abstract instance). */
export function dieRanges(reader: DwarfReader, die: Die): PcRange[] {
  return rangesOf(reader, reader.unitOf(die), (name) => reader.attr(die, name));
}

/** Ranges from a DIE's attributes, given as a lookup (a unit root's are kept decoded). */
export function rangesOf(reader: DwarfReader, unit: DwarfUnit, get: (name: number) => Attr | undefined): PcRange[] {
  const ranges = get(DW_AT.ranges);
  if (ranges) return rangeList(reader, unit, ranges);
  const lowAttr = get(DW_AT.low_pc);
  const highAttr = lowAttr && get(DW_AT.high_pc);
  const low = lowAttr && unit.address(lowAttr);
  if (low === undefined || !highAttr) return [];
  const high = highAttr.value.kind === 'number' ? low + highAttr.value.value : unit.address(highAttr);
  return high !== undefined && high > low ? [{ low, high }] : [];
}

/** Whether any range holds `pc`. */
export function rangesContain(ranges: readonly PcRange[], pc: bigint): boolean {
  for (const r of ranges) if (r.low <= pc && pc < r.high) return true;
  return false;
}

/** The range list a DW_AT_ranges attribute names. */
export function rangeList(reader: DwarfReader, unit: DwarfUnit, attr: Attr): PcRange[] {
  const out: PcRange[] = [];
  try {
    const v = attr.value;
    if (v.kind === 'index' && v.form === 'rnglistx') {
      const off = unit.listOffset('rnglists', v.value);
      if (off !== undefined) readRnglist(reader, unit, off, out);
    } else if (v.kind === 'number' && v.value <= BigInt(Number.MAX_SAFE_INTEGER)) {
      // DWARF 5 sec_offset: from the start of .debug_rnglists; DWARF 2-4: of .debug_ranges.
      if (unit.version >= 5) readRnglist(reader, unit, Number(v.value), out);
      else readRanges(reader, unit, Number(v.value), out);
    }
  } catch (e) {
    reader.problem(`range list of the unit at 0x${unit.offset.toString(16)}: ${describeError(e)}`);
  }
  return out;
}

function push(out: PcRange[], low: bigint, high: bigint): void {
  if (high > low) out.push({ low, high });
}

/** DWARF 2-4 .debug_ranges: (begin, end) pairs relative to the base; (max, base) selects a new base; (0, 0) ends. */
function readRanges(reader: DwarfReader, unit: DwarfUnit, offset: number, out: PcRange[]): void {
  const size = unit.addressSize;
  const max = size === 8 ? 0xffff_ffff_ffff_ffffn : 0xffff_ffffn;
  const r = sectionReader(reader.sections.debugRanges, offset, '.debug_ranges', MAX_ENTRIES * 2 * size);
  let base = unit.baseAddress;
  for (let i = 0; i < MAX_ENTRIES; i++) {
    const begin = r.unsigned(size);
    const end = r.unsigned(size);
    if (begin === 0n && end === 0n) return;
    if (begin === max) { base = end; continue; }
    push(out, BigInt.asUintN(size * 8, base + begin), BigInt.asUintN(size * 8, base + end));
  }
}

/** DWARF 5 .debug_rnglists entries at a section offset. */
function readRnglist(reader: DwarfReader, unit: DwarfUnit, offset: number, out: PcRange[]): void {
  const size = unit.addressSize;
  const r = sectionReader(reader.sections.debugRnglists, offset, '.debug_rnglists', MAX_ENTRIES * 24);
  let base = unit.baseAddress;
  const addr = (index: number): bigint => {
    const a = unit.addressAt(index);
    if (a === undefined) throw new Error(`.debug_addr entry ${index} is missing`);
    return a;
  };
  for (let i = 0; i < MAX_ENTRIES; i++) {
    const kind = r.u8();
    switch (kind) {
      case DW_RLE.end_of_list: return;
      case DW_RLE.base_addressx: base = addr(r.uleb()); break;
      case DW_RLE.startx_endx: { const s = addr(r.uleb()); push(out, s, addr(r.uleb())); break; }
      case DW_RLE.startx_length: { const s = addr(r.uleb()); push(out, s, s + r.ulebBig()); break; }
      case DW_RLE.offset_pair: { const s = r.ulebBig(); const e = r.ulebBig(); push(out, base + s, base + e); break; }
      case DW_RLE.base_address: base = r.unsigned(size); break;
      case DW_RLE.start_end: { const s = r.unsigned(size); push(out, s, r.unsigned(size)); break; }
      case DW_RLE.start_length: { const s = r.unsigned(size); push(out, s, s + r.ulebBig()); break; }
      default: throw new Error(`unknown range list entry kind 0x${kind.toString(16)}`);
    }
  }
}
