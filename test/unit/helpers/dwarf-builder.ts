/**
 * Hand-built DWARF for tests: DIE trees to .debug_info + .debug_abbrev bytes
 * (DWARF 4 or 5, 32-bit offsets), with references by id (unit-relative ref4,
 * or ref_addr across units) patched after layout. Each DIE gets its own
 * abbreviation: tests want exact forms, not compact output.
 */

export interface Ref { ref: string }
export type AttrValue = number | bigint | string | Uint8Array | Ref;
export interface DieSpec {
  tag: number;
  id?: string;
  attrs?: [name: number, form: number, value: AttrValue][];
  children?: DieSpec[];
}

export const F = {
  addr: 0x01, data2: 0x05, data4: 0x06, data8: 0x07, string: 0x08, block1: 0x0a, data1: 0x0b,
  flag: 0x0c, sdata: 0x0d, udata: 0x0f, ref_addr: 0x10, ref4: 0x13, sec_offset: 0x17, exprloc: 0x18,
  flag_present: 0x19, implicit_const: 0x21, loclistx: 0x22, rnglistx: 0x23,
} as const;

export function uleb(v: number | bigint): number[] {
  let x = BigInt(v);
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x !== 0n) b |= 0x80;
    out.push(b);
  } while (x !== 0n);
  return out;
}

export function sleb(v: number | bigint): number[] {
  let x = BigInt(v);
  const out: number[] = [];
  for (;;) {
    const b = Number(x & 0x7fn);
    x >>= 7n;
    if ((x === 0n && (b & 0x40) === 0) || (x === -1n && (b & 0x40) !== 0)) { out.push(b); return out; }
    out.push(b | 0x80);
  }
}

export function le(v: number | bigint, n: number): number[] {
  let x = BigInt.asUintN(n * 8, BigInt(v));
  const out: number[] = [];
  for (let i = 0; i < n; i++) { out.push(Number(x & 0xffn)); x >>= 8n; }
  return out;
}

export interface Built {
  debugInfo: Uint8Array;
  debugAbbrev: Uint8Array;
  /** Section offset of each DIE with an id. */
  offsets: Map<string, number>;
}

/** One unit per root. */
export function buildDwarf(roots: DieSpec[], version: 4 | 5 = 5, addressSize: 4 | 8 = 8): Built {
  const info: number[] = [];
  const abbrev: number[] = [];
  const offsets = new Map<string, number>();
  const patches: { at: number; id: string; unitStart: number; form: number }[] = [];
  for (const root of roots) {
    const abbrevOffset = abbrev.length;
    const unitStart = info.length;
    info.push(0, 0, 0, 0); // unit_length, patched
    info.push(...le(version, 2));
    if (version >= 5) info.push(0x01, addressSize, ...le(abbrevOffset, 4));
    else info.push(...le(abbrevOffset, 4), addressSize);
    let code = 1;
    const emit = (d: DieSpec): void => {
      if (d.id) offsets.set(d.id, info.length);
      const c = code++;
      abbrev.push(...uleb(c), ...uleb(d.tag), d.children?.length ? 1 : 0);
      for (const [name, form, value] of d.attrs ?? []) {
        abbrev.push(...uleb(name), ...uleb(form));
        if (form === F.implicit_const) abbrev.push(...sleb(value as number));
      }
      abbrev.push(0, 0);
      info.push(...uleb(c));
      for (const [, form, value] of d.attrs ?? []) {
        if (typeof value === 'object' && 'ref' in value) {
          patches.push({ at: info.length, id: value.ref, unitStart, form });
          info.push(0, 0, 0, 0);
          continue;
        }
        info.push(...encode(form, value, addressSize));
      }
      if (d.children?.length) {
        for (const ch of d.children) emit(ch);
        info.push(0);
      }
    };
    emit(root);
    abbrev.push(0);
    const len = le(info.length - unitStart - 4, 4);
    for (let i = 0; i < 4; i++) info[unitStart + i] = len[i];
  }
  for (const p of patches) {
    const target = offsets.get(p.id);
    if (target === undefined) throw new Error(`no DIE with id ${p.id}`);
    const v = le(p.form === F.ref_addr ? target : target - p.unitStart, 4);
    for (let i = 0; i < 4; i++) info[p.at + i] = v[i];
  }
  return { debugInfo: Uint8Array.from(info), debugAbbrev: Uint8Array.from(abbrev), offsets };
}

function encode(form: number, value: AttrValue, addressSize: number): number[] {
  const n = typeof value === 'number' || typeof value === 'bigint' ? value : 0;
  switch (form) {
    case F.addr: return le(n, addressSize);
    case F.data1: case F.flag: return le(n, 1);
    case F.data2: return le(n, 2);
    case F.data4: case F.sec_offset: case F.ref4: case F.ref_addr: return le(n, 4);
    case F.data8: return le(n, 8);
    case F.udata: case F.loclistx: case F.rnglistx: return uleb(n);
    case F.sdata: return sleb(n);
    case F.string: return [...Buffer.from(String(value)), 0];
    case F.exprloc: { const b = value as Uint8Array; return [...uleb(b.length), ...b]; }
    case F.block1: { const b = value as Uint8Array; return [b.length, ...b]; }
    case F.flag_present: case F.implicit_const: return [];
    default: throw new Error(`the builder does not write form 0x${form.toString(16)}`);
  }
}
