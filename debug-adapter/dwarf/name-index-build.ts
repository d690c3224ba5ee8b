/**
 * Builds the name index: for every unit of .debug_info, its top-level named
 * DIEs (variables, functions, struct/union/enum/typedef/base types; the
 * children of namespaces too) with their section offsets. Children of other
 * DIEs (members, locals, parameters) are skipped: by DW_AT_sibling where the
 * producer wrote one, else by the sizes of their forms, without decoding.
 *
 * One unit's bytes at a time are read from the Section (a distro vmlinux's
 * .debug_info is 170+ MB); names are interned by their .debug_str offset so
 * a name repeated in every unit is decoded once. A damaged unit is skipped
 * with a problem sentence; the others still count. Runs in a worker
 * (name-index-worker.ts): a kernel takes seconds.
 */
import type { Section } from './model';
import { ByteReader, DwarfError, describeError } from '../symbols/dwarf-reader';
import { DW_FORM } from '../symbols/forms';
import { DW_TAG, KIND, NameIndexBuilder } from './name-index-format';

export interface NameIndexInput {
  debugInfo: Section;
  debugAbbrev: Uint8Array;
  debugStr?: Uint8Array;
  debugLineStr?: Uint8Array;
  debugStrOffsets?: Uint8Array;
}

const DW_AT = { sibling: 0x01, name: 0x03, declaration: 0x3c, specification: 0x47, abstract_origin: 0x31, str_offsets_base: 0x72 } as const;

interface AttrSpec { name: number; form: number; size: number }
interface Abbrev { tag: number; children: boolean; attrs: AttrSpec[]; fixed: number; interesting: boolean }

/** Tags whose DIEs are indexed, and what kind of name each is. */
const INDEXED = new Map<number, number>([
  [DW_TAG.variable, KIND.variable], [DW_TAG.subprogram, KIND.function],
  [DW_TAG.structure_type, KIND.struct], [DW_TAG.union_type, KIND.union], [DW_TAG.enumeration_type, KIND.enum],
  [DW_TAG.typedef, KIND.typedef], [DW_TAG.base_type, KIND.base], [DW_TAG.class_type, KIND.struct],
]);
const DW_TAG_namespace = 0x39;

/** A form's size when it is fixed (-1: variable, read to know). */
function fixedSize(form: number, version: number, addressSize: number, offsetSize: number): number {
  switch (form) {
    case DW_FORM.addr: return addressSize;
    case DW_FORM.data1: case DW_FORM.ref1: case DW_FORM.flag: case DW_FORM.strx1: case DW_FORM.addrx1: return 1;
    case DW_FORM.data2: case DW_FORM.ref2: case DW_FORM.strx2: case DW_FORM.addrx2: return 2;
    case DW_FORM.strx3: case DW_FORM.addrx3: return 3;
    case DW_FORM.data4: case DW_FORM.ref4: case DW_FORM.strx4: case DW_FORM.addrx4: case DW_FORM.ref_sup4: return 4;
    case DW_FORM.data8: case DW_FORM.ref8: case DW_FORM.ref_sig8: case DW_FORM.ref_sup8: return 8;
    case DW_FORM.data16: return 16;
    case DW_FORM.strp: case DW_FORM.sec_offset: case DW_FORM.line_strp: case DW_FORM.strp_sup:
    case DW_FORM.GNU_ref_alt: case DW_FORM.GNU_strp_alt: return offsetSize;
    case DW_FORM.ref_addr: return version <= 2 ? addressSize : offsetSize;
    case DW_FORM.flag_present: case DW_FORM.implicit_const: return 0;
    default: return -1;
  }
}

function readAbbrevTable(data: Uint8Array, offset: number, version: number, addressSize: number, offsetSize: number): Map<number, Abbrev> {
  const r = new ByteReader(data, 0, data.length, '.debug_abbrev');
  r.seek(offset);
  const table = new Map<number, Abbrev>();
  for (;;) {
    const code = r.uleb();
    if (code === 0) return table;
    const tag = r.uleb();
    const children = r.u8() !== 0;
    const attrs: AttrSpec[] = [];
    let fixed = 0;
    for (;;) {
      const name = r.uleb();
      const form = r.uleb();
      if (form === DW_FORM.implicit_const) r.slebBig();
      if (name === 0 && form === 0) break;
      const size = fixedSize(form, version, addressSize, offsetSize);
      attrs.push({ name, form, size });
      if (fixed >= 0) fixed = size < 0 ? -1 : fixed + size;
    }
    table.set(code, { tag, children, attrs, fixed, interesting: INDEXED.has(tag) || tag === DW_TAG_namespace });
  }
}

/**
 * The first definition of `name` of one of `kinds`, walking units in order
 * until one defines it: what a question asked before the index is built
 * costs (a kernel's common types are defined in its first units).
 */
export function findFirstDefinition(input: NameIndexInput, name: string, kinds: readonly number[]): number | undefined {
  class Watch extends NameIndexBuilder {
    found?: number;
    target = -1;
    override add(id: number, kind: number, offset: number, declaration: boolean): void {
      if (this.found === undefined && id === this.target && !declaration && kinds.includes(kind)) this.found = offset;
    }
  }
  const w = new Watch();
  w.target = w.intern(name);
  buildNameIndex(input, w, () => w.found !== undefined);
  return w.found;
}

/** Walks every unit into `out` (or until `stop` says so after a unit). Never throws: problems are returned, one sentence each. */
export function buildNameIndex(input: NameIndexInput, out: NameIndexBuilder, stop?: () => boolean): string[] {
  const problems: string[] = [];
  const section = input.debugInfo;
  const tables = new Map<string, Map<number, Abbrev>>();
  for (let offset = 0; offset < section.size;) {
    let size: number;
    try {
      const head = section.bytes(offset, Math.min(12, section.size - offset));
      const il = new ByteReader(head, 0, head.length, '.debug_info').initialLength();
      size = (il.offsetSize === 8 ? 12 : 4) + il.length;
      if (size > section.size - offset) throw new DwarfError(`.debug_info unit at 0x${offset.toString(16)} runs past the end of the section`);
    } catch (e) {
      problems.push(`${describeError(e)}; the rest of .debug_info is not indexed`);
      break;
    }
    try {
      walkUnit(section.bytes(offset, size), offset, input, tables, out);
    } catch (e) {
      if (problems.length < 100) problems.push(`.debug_info unit at 0x${offset.toString(16)}: ${describeError(e)} (not indexed)`);
    }
    offset += size;
    if (stop?.()) break;
  }
  return problems;
}

function walkUnit(unit: Uint8Array, base: number, input: NameIndexInput, tables: Map<string, Map<number, Abbrev>>, out: NameIndexBuilder): void {
  const r = new ByteReader(unit, 0, unit.length, `.debug_info unit at 0x${base.toString(16)}`);
  const il = r.initialLength();
  const offsetSize = il.offsetSize;
  const version = r.u16();
  if (version < 2 || version > 5) throw new DwarfError(`DWARF version ${version} is not supported (2-5 are)`);
  let addressSize: number;
  let abbrevOffset: number;
  let unitType = 1;
  if (version >= 5) {
    unitType = r.u8();
    addressSize = r.u8();
    abbrevOffset = r.offset(offsetSize);
    if (unitType === 4 || unitType === 5) r.skip(8);
    if (unitType === 2 || unitType === 6) { r.skip(8); r.offset(offsetSize); }
  } else {
    abbrevOffset = r.offset(offsetSize);
    addressSize = r.u8();
  }
  const key = `${abbrevOffset}/${version}/${addressSize}/${offsetSize}`;
  let abbrevs = tables.get(key);
  if (!abbrevs) {
    abbrevs = readAbbrevTable(input.debugAbbrev, abbrevOffset, version, addressSize, offsetSize);
    // A kernel has a table per unit: keep only the last few.
    if (tables.size > 16) tables.clear();
    tables.set(key, abbrevs);
  }
  const view = new DataView(unit.buffer, unit.byteOffset, unit.byteLength);
  let strOffsetsBase = 8;
  // Names of DIEs a later definition points at (DW_AT_specification / abstract_origin), by unit offset.
  const declared = new Map<number, number>();
  const pending: { offset: number; kind: number; origin: number; declaration: boolean }[] = [];

  const name = { id: -1, sibling: -1, declaration: false, origin: -1 };
  /** Reads one DIE's attributes at r.pos; fills `name` when `want`, else only skips. */
  const attrs = (a: Abbrev, want: boolean): void => {
    if (!want && a.fixed >= 0) { r.skip(a.fixed); return; }
    name.id = -1; name.sibling = -1; name.declaration = false; name.origin = -1;
    for (const s of a.attrs) {
      const at = r.pos;
      if (s.size >= 0) r.skip(s.size);
      else skipVariable(r, s.form, version, addressSize, offsetSize);
      if (!want) continue;
      switch (s.name) {
        case DW_AT.name: name.id = nameOf(s.form, at); break;
        case DW_AT.sibling: name.sibling = refOf(s.form, at); break;
        case DW_AT.declaration: name.declaration = s.form === DW_FORM.flag_present || (s.form === DW_FORM.flag && unit[at] !== 0); break;
        case DW_AT.specification: case DW_AT.abstract_origin: name.origin = refOf(s.form, at); break;
        case DW_AT.str_offsets_base: if (s.form === DW_FORM.sec_offset) strOffsetsBase = offsetSize === 4 ? view.getUint32(at, true) : Number(view.getBigUint64(at, true)); break;
      }
    }
  };
  const refOf = (form: number, at: number): number => {
    switch (form) {
      case DW_FORM.ref1: return unit[at];
      case DW_FORM.ref2: return view.getUint16(at, true);
      case DW_FORM.ref4: return view.getUint32(at, true);
      case DW_FORM.ref8: return Number(view.getBigUint64(at, true));
      case DW_FORM.ref_udata: { const t = new ByteReader(unit, at, unit.length); return t.uleb(); }
      default: return -1;
    }
  };
  const nameOf = (form: number, at: number): number => {
    switch (form) {
      case DW_FORM.strp: return out.internStr(input.debugStr, offsetSize === 4 ? view.getUint32(at, true) : Number(view.getBigUint64(at, true)), 0);
      case DW_FORM.line_strp: return out.internStr(input.debugLineStr, offsetSize === 4 ? view.getUint32(at, true) : Number(view.getBigUint64(at, true)), 1);
      case DW_FORM.string: { const end = unit.indexOf(0, at); return end < 0 ? -1 : out.internBytes(unit.subarray(at, end)); }
      case DW_FORM.strx1: return strx(unit[at]);
      case DW_FORM.strx2: return strx(view.getUint16(at, true));
      case DW_FORM.strx3: return strx(unit[at] | (unit[at + 1] << 8) | (unit[at + 2] << 16));
      case DW_FORM.strx4: return strx(view.getUint32(at, true));
      case DW_FORM.strx: case DW_FORM.GNU_str_index: return strx(new ByteReader(unit, at, unit.length).uleb());
      default: return -1;
    }
  };
  const strx = (index: number): number => {
    const so = input.debugStrOffsets;
    const at = strOffsetsBase + index * offsetSize;
    if (!so || at + offsetSize > so.length) return -1;
    const v = new DataView(so.buffer, so.byteOffset, so.byteLength);
    return out.internStr(input.debugStr, offsetSize === 4 ? v.getUint32(at, true) : Number(v.getBigUint64(at, true)), 0);
  };

  // The unit DIE, then its children; a namespace's children count as top level.
  let depth = 0;
  const indexDepths = new Set([1]);
  while (r.remaining > 0) {
    const dieOffset = r.pos;
    const code = r.uleb();
    if (code === 0) {
      // The end of a children list: the unit's (done) or a namespace's.
      if (depth > 1) indexDepths.delete(depth);
      depth--;
      if (depth <= 0) break;
      continue;
    }
    const a = abbrevs.get(code);
    if (!a) throw new DwarfError(`DIE at 0x${(base + dieOffset).toString(16)} uses abbreviation ${code}, which is not defined`);
    const top = depth === 0 || indexDepths.has(depth);
    attrs(a, top && (a.interesting || a.children || depth === 0));
    if (top && depth > 0) {
      const kind = INDEXED.get(a.tag);
      if (kind !== undefined) {
        if (name.id >= 0) {
          out.add(name.id, kind, base + dieOffset, name.declaration);
          declared.set(dieOffset, name.id);
        } else if (name.origin >= 0) {
          pending.push({ offset: base + dieOffset, kind, origin: name.origin, declaration: name.declaration });
        }
      }
      if (a.children) {
        if (a.tag === DW_TAG_namespace) { indexDepths.add(depth + 1); depth++; continue; }
        // Skip the children: by sibling, else walk them without decoding.
        if (name.sibling > dieOffset && name.sibling <= unit.length) { r.seek(name.sibling); continue; }
        skipChildren(r, abbrevs, version, addressSize, offsetSize, base);
        continue;
      }
      continue;
    }
    if (a.children) depth++;
  }
  for (const p of pending) {
    const id = declared.get(p.origin);
    if (id !== undefined) out.add(id, p.kind, p.offset, p.declaration);
  }
}

/** Skips the children of the DIE just read (to its terminating 0), without decoding names. */
function skipChildren(r: ByteReader, abbrevs: Map<number, Abbrev>, version: number, addressSize: number, offsetSize: number, base: number): void {
  let depth = 1;
  while (depth > 0) {
    const at = r.pos;
    const code = r.uleb();
    if (code === 0) { depth--; continue; }
    const a = abbrevs.get(code);
    if (!a) throw new DwarfError(`DIE at 0x${(base + at).toString(16)} uses abbreviation ${code}, which is not defined`);
    if (a.fixed >= 0) r.skip(a.fixed);
    else for (const s of a.attrs) {
      if (s.size >= 0) r.skip(s.size);
      else skipVariable(r, s.form, version, addressSize, offsetSize);
    }
    if (a.children) depth++;
  }
}

function skipVariable(r: ByteReader, form: number, version: number, addressSize: number, offsetSize: number): void {
  switch (form) {
    case DW_FORM.string: { const end = r.data.indexOf(0, r.pos); if (end < 0 || end >= r.end) throw new DwarfError('a string runs past the end of its unit'); r.pos = end + 1; return; }
    case DW_FORM.block1: r.skip(r.u8()); return;
    case DW_FORM.block2: r.skip(r.u16()); return;
    case DW_FORM.block4: r.skip(r.u32()); return;
    case DW_FORM.block: case DW_FORM.exprloc: r.skip(r.uleb()); return;
    case DW_FORM.udata: case DW_FORM.sdata: case DW_FORM.ref_udata: case DW_FORM.strx: case DW_FORM.addrx:
    case DW_FORM.loclistx: case DW_FORM.rnglistx: case DW_FORM.GNU_addr_index: case DW_FORM.GNU_str_index:
      while (r.u8() & 0x80) { /* LEB128 */ }
      return;
    case DW_FORM.indirect: {
      const actual = r.uleb();
      if (actual === DW_FORM.indirect) throw new DwarfError('DW_FORM_indirect names itself');
      const size = fixedSize(actual, version, addressSize, offsetSize);
      if (size >= 0) r.skip(size); else skipVariable(r, actual, version, addressSize, offsetSize);
      return;
    }
    default: throw new DwarfError(`unknown attribute form 0x${form.toString(16)}`);
  }
}
