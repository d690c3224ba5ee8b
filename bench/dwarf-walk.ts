/**
 * The benchmark's stand-in for the type reader (the dwarf-reader branch's
 * `openDebugData(...).findType(...)`, debug-adapter/dwarf/index.ts): reads
 * one struct DIE and its members (names, byte offsets, anonymous
 * struct/union members flattened as gdb's ptype shows them). Bench only:
 * not a second type reader; bench/dwarf.ts uses findType once it exists.
 */
import type { Section } from '../debug-adapter/dwarf/model';
import { ByteReader } from '../debug-adapter/symbols/dwarf-reader';
import { FormContext, FormValue, readForm } from '../debug-adapter/symbols/forms';

const DW_TAG_member = 0x0d;
const DW_TAG_structure_type = 0x13;
const DW_TAG_union_type = 0x17;
const DW_AT = { name: 0x03, byte_size: 0x0b, data_member_location: 0x38, type: 0x49, data_bit_offset: 0x6b } as const;

export interface StructShape { name?: string; size: number; members: { name: string; offset: number }[] }

interface Abbrev { tag: number; children: boolean; attrs: [number, number, bigint][] }

function abbrevs(data: Uint8Array, offset: number): Map<number, Abbrev> {
  const r = new ByteReader(data, offset, data.length, '.debug_abbrev');
  const out = new Map<number, Abbrev>();
  for (;;) {
    const code = r.uleb();
    if (code === 0) return out;
    const tag = r.uleb();
    const children = r.u8() !== 0;
    const attrs: [number, number, bigint][] = [];
    for (;;) {
      const name = r.uleb();
      const form = r.uleb();
      const ic = form === 0x21 ? r.slebBig() : 0n;
      if (name === 0 && form === 0) break;
      attrs.push([name, form, ic]);
    }
    out.set(code, { tag, children, attrs });
  }
}

/** The struct/union at section offset `die` of .debug_info. */
export function readStruct(info: Section, debugAbbrev: Uint8Array, debugStr: Uint8Array | undefined, debugLineStr: Uint8Array | undefined, die: number): StructShape {
  // The unit holding the DIE: unit headers from the start (a few thousand small reads).
  let unit = 0;
  let size = 0;
  for (;;) {
    const head = new ByteReader(info.bytes(unit, 12), 0, 12);
    const il = head.initialLength();
    size = (il.offsetSize === 8 ? 12 : 4) + il.length;
    if (die < unit + size) break;
    unit += size;
  }
  const bytes = info.bytes(unit, size);
  const r = new ByteReader(bytes, 0, bytes.length, 'unit');
  const il = r.initialLength();
  const version = r.u16();
  let addressSize: number;
  let abbrevOffset: number;
  if (version >= 5) { r.u8(); addressSize = r.u8(); abbrevOffset = r.offset(il.offsetSize); } else { abbrevOffset = r.offset(il.offsetSize); addressSize = r.u8(); }
  const table = abbrevs(debugAbbrev, abbrevOffset);
  const ctx: FormContext = { version, addressSize, offsetSize: il.offsetSize, debugStr, debugLineStr };
  const readDie = (at: number): { tag: number; children: boolean; values: Map<number, FormValue>; end: number } => {
    r.seek(at);
    const a = table.get(r.uleb());
    if (!a) throw new Error(`no abbreviation for the DIE at 0x${(unit + at).toString(16)}`);
    const values = new Map<number, FormValue>();
    for (const [name, form, ic] of a.attrs) values.set(name, readForm(r, form, ctx, ic));
    return { tag: a.tag, children: a.children, values, end: r.pos };
  };
  const num = (v: FormValue | undefined): number | undefined => (v?.kind === 'number' ? Number(v.value) : undefined);
  const members = (at: number, base: number, out: { name: string; offset: number }[]): void => {
    const parent = readDie(at);
    if (!parent.children) return;
    let pos = parent.end;
    for (;;) {
      r.seek(pos);
      const code = r.uleb();
      if (code === 0) return;
      const d = readDie(pos);
      pos = d.end;
      if (d.children) pos = skipTree(pos);
      if (d.tag !== DW_TAG_member) continue;
      const name = d.values.get(DW_AT.name);
      const bit = num(d.values.get(DW_AT.data_bit_offset));
      const offset = base + (num(d.values.get(DW_AT.data_member_location)) ?? (bit !== undefined ? Math.floor(bit / 8) : 0));
      if (name?.kind === 'string') { out.push({ name: name.value, offset }); continue; }
      // Anonymous struct/union member: its members, at its offset.
      const t = d.values.get(DW_AT.type);
      if (t?.kind === 'ref') {
        const inner = readDie(t.value);
        if (inner.tag === DW_TAG_structure_type || inner.tag === DW_TAG_union_type) members(t.value, offset, out);
      }
    }
  };
  const skipTree = (pos: number): number => {
    let depth = 1;
    while (depth > 0) {
      r.seek(pos);
      if (r.uleb() === 0) { depth--; pos = r.pos; continue; }
      const d = readDie(pos);
      pos = d.end;
      if (d.children) depth++;
    }
    return pos;
  };
  const top = readDie(die - unit);
  const out: { name: string; offset: number }[] = [];
  members(die - unit, 0, out);
  const n = top.values.get(DW_AT.name);
  return { name: n?.kind === 'string' ? n.value : undefined, size: num(top.values.get(DW_AT.byte_size)) ?? 0, members: out };
}
