/**
 * DW_AT_location (and DW_AT_frame_base) as written: an expression (exprloc,
 * or a DWARF 2-3 block), or a location list, where each entry says which
 * pcs one expression holds for: .debug_loc in DWARF 2-4 (address pairs
 * relative to a base, base address selection entries) and .debug_loclists
 * in DWARF 5 (every DW_LLE_* kind; DW_FORM_loclistx through the unit's
 * loclists_base). Lists are walked as iterators, never stored; a damaged
 * list ends where the damage is.
 */
import { ByteReader, describeError } from '../symbols/dwarf-reader';
import { DW_LLE } from './constants';
import type { Attr } from './dies';
import type { DwarfReader } from './reader';
import { sectionReader } from './section-io';
import type { DwarfUnit } from './units';

/** One entry: its expression holds for [low, high); `default` for DW_LLE_default_location. */
export interface LocationEntry { low: bigint; high: bigint; expr: Uint8Array; isDefault?: boolean }

const MAX_ENTRIES = 65_536;
/** gcc's DW_LLE_GNU_view_pair (location views in DWARF 5 lists, -gvariable-location-views=incompat5). */
const DW_LLE_GNU_view_pair = 0x09;

/**
 * The expression that holds at link-time `pc`, or why there is none ("optimized
 * out" when the list has no entry for the pc). Callers pass pc - 1 for a
 * caller frame (its pc is a return address, maybe past the call's range).
 */
export function expressionAt(reader: DwarfReader, unit: DwarfUnit, attr: Attr, pc: bigint): Uint8Array | { reason: string } {
  if (attr.value.kind === 'block') return attr.value.bytes;
  let fallback: Uint8Array | undefined;
  try {
    for (const e of locationEntries(reader, unit, attr)) {
      if (e.isDefault) fallback = e.expr;
      else if (e.low <= pc && pc < e.high) return e.expr;
    }
  } catch (e) {
    return { reason: `the location list is damaged (${describeError(e)})` };
  }
  return fallback ?? { reason: 'optimized out' };
}

/** Whether the attribute is a location list (not a single expression). */
export function isLocationList(attr: Attr): boolean {
  return attr.value.kind === 'number' || (attr.value.kind === 'index' && attr.value.form === 'loclistx');
}

/** The entries of the location list an attribute names (throws a DwarfError on damage, after the good entries). */
export function* locationEntries(reader: DwarfReader, unit: DwarfUnit, attr: Attr): Generator<LocationEntry> {
  const v = attr.value;
  if (v.kind === 'index' && v.form === 'loclistx') {
    const off = unit.listOffset('loclists', v.value);
    if (off === undefined) throw new Error(`loclistx ${v.value} is outside the unit's offset table`);
    yield* loclists(reader, unit, off);
  } else if (v.kind === 'number' && v.value <= BigInt(Number.MAX_SAFE_INTEGER)) {
    if (unit.version >= 5) yield* loclists(reader, unit, Number(v.value));
    else yield* debugLoc(reader, unit, Number(v.value));
  }
}

/** DWARF 2-4 .debug_loc. */
function* debugLoc(reader: DwarfReader, unit: DwarfUnit, offset: number): Generator<LocationEntry> {
  const size = unit.addressSize;
  const max = size === 8 ? 0xffff_ffff_ffff_ffffn : 0xffff_ffffn;
  const r = sectionReader(reader.sections.debugLoc, offset, '.debug_loc');
  let base = unit.baseAddress;
  for (let i = 0; i < MAX_ENTRIES; i++) {
    const begin = r.unsigned(size);
    const end = r.unsigned(size);
    if (begin === 0n && end === 0n) return;
    if (begin === max) { base = end; continue; }
    const expr = r.bytes(r.u16());
    yield { low: BigInt.asUintN(size * 8, base + begin), high: BigInt.asUintN(size * 8, base + end), expr };
  }
}

/** DWARF 5 .debug_loclists. */
function* loclists(reader: DwarfReader, unit: DwarfUnit, offset: number): Generator<LocationEntry> {
  const size = unit.addressSize;
  const r: ByteReader = sectionReader(reader.sections.debugLoclists, offset, '.debug_loclists');
  let base = unit.baseAddress;
  const addr = (index: number): bigint => {
    const a = unit.addressAt(index);
    if (a === undefined) throw new Error(`.debug_addr entry ${index} is missing`);
    return a;
  };
  const expr = (): Uint8Array => r.bytes(r.uleb());
  for (let i = 0; i < MAX_ENTRIES; i++) {
    const kind = r.u8();
    switch (kind) {
      case DW_LLE.end_of_list: return;
      case DW_LLE.base_addressx: base = addr(r.uleb()); break;
      case DW_LLE.startx_endx: { const low = addr(r.uleb()); const high = addr(r.uleb()); yield { low, high, expr: expr() }; break; }
      case DW_LLE.startx_length: { const low = addr(r.uleb()); const high = low + r.ulebBig(); yield { low, high, expr: expr() }; break; }
      case DW_LLE.offset_pair: { const low = base + r.ulebBig(); const high = base + r.ulebBig(); yield { low, high, expr: expr() }; break; }
      case DW_LLE.default_location: yield { low: 0n, high: 0n, expr: expr(), isDefault: true }; break;
      case DW_LLE.base_address: base = r.unsigned(size); break;
      case DW_LLE.start_end: { const low = r.unsigned(size); const high = r.unsigned(size); yield { low, high, expr: expr() }; break; }
      case DW_LLE.start_length: { const low = r.unsigned(size); const high = low + r.ulebBig(); yield { low, high, expr: expr() }; break; }
      case DW_LLE_GNU_view_pair: r.ulebBig(); r.ulebBig(); break;
      default: throw new Error(`unknown location list entry kind 0x${kind.toString(16)}`);
    }
  }
}
