/**
 * Units of .debug_info: their headers (DWARF 2-5, 32- and 64-bit offsets,
 * every DWARF 5 unit type), and per unit what its root DIE says that the
 * rest of the unit depends on: the bases of DWARF 5's offset tables
 * (str_offsets_base, addr_base, rnglists_base, loclists_base), the base
 * address of its lists (DW_AT_low_pc), its name, compile directory and line
 * table. A unit resolves the indexed forms (strx*, addrx*) through them.
 *
 * Only headers are read at open (a few bytes each); a root DIE is read when
 * its unit is first asked about.
 */
import { ByteReader, DwarfError, describeError } from '../symbols/dwarf-reader';
import type { FormContext } from '../symbols/forms';
import { DW_AT, DW_UT } from './constants';
import type { Attr, UnitShape } from './dies';
import type { DwarfSections } from './model';
import { sectionBytes } from './section-io';

export interface UnitHeader {
  /** Section offset of the unit (its initial length). */
  offset: number;
  /** Total bytes, initial length included. */
  length: number;
  version: number;
  unitType: number;
  addressSize: 4 | 8;
  offsetSize: 4 | 8;
  abbrevOffset: number;
  /** Unit-relative offset of the first DIE. */
  firstDie: number;
}

/** A kernel has a few thousand units; more than this is damage. */
const MAX_UNITS = 1 << 20;

/** Every unit header of .debug_info. Never throws: damage ends the list with a problem sentence. */
export function readUnitHeaders(sections: DwarfSections, problems: string[]): UnitHeader[] {
  const info = sections.debugInfo;
  const out: UnitHeader[] = [];
  if (!info) return out;
  let offset = 0;
  while (offset < info.size && out.length < MAX_UNITS) {
    try {
      const h = readHeader(info.size, sectionBytes(info, offset, Math.min(32, info.size - offset), '.debug_info'), offset);
      out.push(h);
      offset += h.length;
    } catch (e) {
      problems.push(`${describeError(e)}; the rest of .debug_info is ignored`);
      break;
    }
  }
  return out;
}

function readHeader(sectionSize: number, head: Uint8Array, offset: number): UnitHeader {
  const what = `.debug_info unit at 0x${offset.toString(16)}`;
  const r = new ByteReader(head, 0, head.length, what);
  const il = r.initialLength();
  const length = il.length + r.pos;
  if (offset + length > sectionSize) throw new DwarfError(`${what}: its length 0x${il.length.toString(16)} runs past the section's end`);
  const version = r.u16();
  if (version < 2 || version > 5) throw new DwarfError(`${what}: DWARF version ${version} is not supported (2-5 are)`);
  let unitType: number = DW_UT.compile;
  let addressSize: number;
  let abbrevOffset: number;
  if (version >= 5) {
    unitType = r.u8();
    addressSize = r.u8();
    abbrevOffset = r.offset(il.offsetSize);
    if (unitType === DW_UT.skeleton || unitType === DW_UT.split_compile) r.skip(8); // dwo_id
    else if (unitType === DW_UT.type || unitType === DW_UT.split_type) { r.skip(8); r.offset(il.offsetSize); } // signature, type_offset
  } else {
    abbrevOffset = r.offset(il.offsetSize);
    addressSize = r.u8();
  }
  if (addressSize !== 4 && addressSize !== 8) throw new DwarfError(`${what}: address size ${addressSize} is not supported`);
  if (r.pos > length) throw new DwarfError(`${what}: the header is longer than the unit`);
  return { offset, length, version, unitType, addressSize, offsetSize: il.offsetSize, abbrevOffset, firstDie: r.pos };
}

/** One unit: its header, its root DIE's facts, and the indexed-form resolution they make possible. */
export class DwarfUnit implements UnitShape {
  readonly forms: FormContext;
  name?: string;
  compDir?: string;
  producer?: string;
  stmtList?: number;
  /** DW_AT_low_pc of the root: the base address of the unit's location and range lists (0 when absent). */
  baseAddress = 0n;
  strOffsetsBase?: number;
  addrBase?: number;
  rnglistsBase?: number;
  loclistsBase?: number;
  /** The root DIE's attributes, kept for its pc ranges. */
  rootAttrs: Attr[] = [];
  rootTag = 0;

  constructor(readonly index: number, readonly header: UnitHeader, private readonly sections: DwarfSections,
    strings: (section: 'str' | 'line_str', offset: number) => string | undefined) {
    this.forms = { version: header.version, addressSize: header.addressSize, offsetSize: header.offsetSize, strings };
  }

  get offset(): number { return this.header.offset; }
  get firstDie(): number { return this.header.firstDie; }
  get version(): number { return this.header.version; }
  get addressSize(): 4 | 8 { return this.header.addressSize; }

  /** Reads the root DIE's facts (called once, by the reader, with the root's attributes). */
  setRoot(tag: number, attrs: Attr[]): void {
    this.rootTag = tag;
    this.rootAttrs = attrs;
    const get = (n: number): Attr | undefined => attrs.find((a) => a.name === n);
    const num = (a: Attr | undefined): number | undefined =>
      a?.value.kind === 'number' && a.value.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(a.value.value) : undefined;
    // Bases first: the root's own strx/addrx/rnglistx values need them.
    this.strOffsetsBase = num(get(DW_AT.str_offsets_base));
    this.addrBase = num(get(DW_AT.addr_base)) ?? num(get(DW_AT.GNU_addr_base));
    this.rnglistsBase = num(get(DW_AT.rnglists_base));
    this.loclistsBase = num(get(DW_AT.loclists_base));
    const s = (n: number): string | undefined => { const a = get(n); return a && this.string(a); };
    this.name = s(DW_AT.name);
    this.compDir = s(DW_AT.comp_dir);
    this.producer = s(DW_AT.producer);
    this.stmtList = num(get(DW_AT.stmt_list));
    const low = get(DW_AT.low_pc);
    this.baseAddress = (low && this.address(low)) ?? 0n;
  }

  /** A string attribute's text (strx through .debug_str_offsets). */
  string(a: Attr): string | undefined {
    const v = a.value;
    if (v.kind === 'string') return v.value;
    if (v.kind === 'index' && v.form === 'strx') {
      const size = this.header.offsetSize;
      // Without DW_AT_str_offsets_base, the table right after the section's first header (DWARF 5 split units do this).
      const base = this.strOffsetsBase ?? (size === 8 ? 16 : 8);
      try {
        const b = sectionBytes(this.sections.debugStrOffsets, base + v.value * size, size, '.debug_str_offsets');
        const off = new ByteReader(b).offset(size);
        return this.forms.strings?.('str', off);
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  /** An address attribute's value (addr, or addrx through .debug_addr). Link-time. */
  address(a: Attr): bigint | undefined {
    const v = a.value;
    if (v.kind === 'address') return v.value;
    if (v.kind === 'index' && v.form === 'addrx') return this.addressAt(v.value);
    return undefined;
  }

  /** Entry `index` of this unit's .debug_addr table (DW_FORM_addrx, DW_OP_addrx, DW_LLE_*x). */
  addressAt(index: number): bigint | undefined {
    const size = this.header.addressSize;
    const base = this.addrBase ?? 8;
    try {
      return new ByteReader(sectionBytes(this.sections.debugAddr, base + index * size, size, '.debug_addr')).unsigned(size);
    } catch {
      return undefined;
    }
  }

  /**
   * The section offset of a loclistx/rnglistx index: the table of offsets at
   * the base holds offsets relative to the base.
   */
  listOffset(kind: 'loclists' | 'rnglists', index: number): number | undefined {
    const size = this.header.offsetSize;
    const base = (kind === 'loclists' ? this.loclistsBase : this.rnglistsBase) ?? (size === 8 ? 20 : 12);
    const section = kind === 'loclists' ? this.sections.debugLoclists : this.sections.debugRnglists;
    try {
      return base + new ByteReader(sectionBytes(section, base + index * size, size, `.debug_${kind}`)).offset(size);
    } catch {
      return undefined;
    }
  }

  /** A reference attribute as a .debug_info section offset (unit-relative refs and ref_addr). */
  refOffset(a: Attr): number | undefined {
    const v = a.value;
    if (v.kind === 'ref') return this.header.offset + v.value;
    if (v.kind === 'refAddr') return v.value;
    return undefined;
  }
}

/** A constant attribute's value: unsigned for data/udata forms, signed for sdata/implicit_const. */
export function constantOf(a: Attr | undefined): bigint | undefined {
  return a?.value.kind === 'number' ? a.value.value : undefined;
}

/** DW_FORM_data1/2/4/8 (whose signedness the consumer decides), by byte size; 0 for other forms. */
export function dataFormSize(form: number): number {
  switch (form) {
    case 0x0b: return 1;
    case 0x05: return 2;
    case 0x06: return 4;
    case 0x07: return 8;
    default: return 0;
  }
}

/** A constant read as signed: sdata as is; dataN sign-extended from N bytes. */
export function signedConstantOf(a: Attr | undefined): bigint | undefined {
  const v = constantOf(a);
  if (v === undefined || !a) return undefined;
  const n = dataFormSize(a.form);
  return n ? BigInt.asIntN(n * 8, v) : v;
}
