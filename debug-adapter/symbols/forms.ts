/**
 * DWARF attribute forms (DWARF 2-5 plus the GNU extensions gcc emits): read
 * a value, or skip it by its size. Used by .debug_info and by the DWARF 5
 * line table header (directory/file entry formats). An unknown form is a
 * DwarfError: its size is unknowable, so the caller must stop the unit.
 */
import { ByteReader, DwarfError, stringAt } from './dwarf-reader';

export const DW_FORM = {
  addr: 0x01, block2: 0x03, block4: 0x04, data2: 0x05, data4: 0x06, data8: 0x07,
  string: 0x08, block: 0x09, block1: 0x0a, data1: 0x0b, flag: 0x0c, sdata: 0x0d,
  strp: 0x0e, udata: 0x0f, ref_addr: 0x10, ref1: 0x11, ref2: 0x12, ref4: 0x13,
  ref8: 0x14, ref_udata: 0x15, indirect: 0x16, sec_offset: 0x17, exprloc: 0x18,
  flag_present: 0x19, strx: 0x1a, addrx: 0x1b, ref_sup4: 0x1c, strp_sup: 0x1d,
  data16: 0x1e, line_strp: 0x1f, ref_sig8: 0x20, implicit_const: 0x21,
  loclistx: 0x22, rnglistx: 0x23, ref_sup8: 0x24, strx1: 0x25, strx2: 0x26,
  strx3: 0x27, strx4: 0x28, addrx1: 0x29, addrx2: 0x2a, addrx3: 0x2b, addrx4: 0x2c,
  GNU_addr_index: 0x1f01, GNU_str_index: 0x1f02, GNU_ref_alt: 0x1f20, GNU_strp_alt: 0x1f21,
} as const;

/** What a form reads to. `ref` is a unit-relative DIE offset; `index` needs a base table. */
export type FormValue =
  | { kind: 'number'; value: bigint }
  | { kind: 'address'; value: bigint }
  | { kind: 'string'; value: string }
  | { kind: 'ref'; value: number }
  /** DW_FORM_ref_addr: a .debug_info section offset (may be in another unit). */
  | { kind: 'refAddr'; value: number }
  | { kind: 'index'; form: 'strx' | 'addrx' | 'loclistx' | 'rnglistx'; value: number }
  /** block*, exprloc, data16: a view of the bytes (never a copy). */
  | { kind: 'block'; bytes: Uint8Array }
  | { kind: 'none' };

/** Everything form sizes depend on. */
export interface FormContext {
  version: number;
  addressSize: number;
  offsetSize: 4 | 8;
  debugStr?: Uint8Array;
  debugLineStr?: Uint8Array;
  /**
   * Resolves DW_FORM_strp/line_strp offsets instead of debugStr/debugLineStr
   * (dwarf/ reads string sections through the Section interface, not whole).
   */
  strings?: (section: 'str' | 'line_str', offset: number) => string | undefined;
}

/** Reads one attribute value of `form` (implicit_const passes its value from the abbreviation). */
export function readForm(r: ByteReader, form: number, ctx: FormContext, implicitConst = 0n): FormValue {
  switch (form) {
    case DW_FORM.addr: return { kind: 'address', value: r.unsigned(ctx.addressSize) };
    case DW_FORM.data1: return { kind: 'number', value: BigInt(r.u8()) };
    case DW_FORM.data2: return { kind: 'number', value: BigInt(r.u16()) };
    case DW_FORM.data4: return { kind: 'number', value: BigInt(r.u32()) };
    case DW_FORM.data8: return { kind: 'number', value: r.u64() };
    case DW_FORM.data16: return { kind: 'block', bytes: r.bytes(16) };
    case DW_FORM.sdata: return { kind: 'number', value: r.slebBig() };
    case DW_FORM.udata: return { kind: 'number', value: r.ulebBig() };
    case DW_FORM.flag: return { kind: 'number', value: BigInt(r.u8()) };
    case DW_FORM.flag_present: return { kind: 'number', value: 1n };
    case DW_FORM.implicit_const: return { kind: 'number', value: implicitConst };
    case DW_FORM.sec_offset: return { kind: 'number', value: BigInt(r.offset(ctx.offsetSize)) };
    case DW_FORM.string: return { kind: 'string', value: r.cstr() };
    case DW_FORM.strp: {
      const at = r.offset(ctx.offsetSize);
      return str(ctx.strings ? ctx.strings('str', at) : stringAt(ctx.debugStr, at));
    }
    case DW_FORM.line_strp: {
      const at = r.offset(ctx.offsetSize);
      return str(ctx.strings ? ctx.strings('line_str', at) : stringAt(ctx.debugLineStr, at));
    }
    case DW_FORM.strp_sup: case DW_FORM.GNU_strp_alt: r.offset(ctx.offsetSize); return { kind: 'none' };
    case DW_FORM.ref1: return { kind: 'ref', value: r.u8() };
    case DW_FORM.ref2: return { kind: 'ref', value: r.u16() };
    case DW_FORM.ref4: return { kind: 'ref', value: r.u32() };
    case DW_FORM.ref8: return { kind: 'ref', value: Number(r.u64() & 0x1fffffffffffffn) };
    case DW_FORM.ref_udata: return { kind: 'ref', value: r.uleb() };
    case DW_FORM.ref_addr:
      // DWARF 2 wrote ref_addr with the address size; later versions use the offset size.
      return { kind: 'refAddr', value: ctx.version <= 2 ? Number(r.unsigned(ctx.addressSize)) : r.offset(ctx.offsetSize) };
    case DW_FORM.ref_sup4: r.skip(4); return { kind: 'none' };
    case DW_FORM.ref_sup8: case DW_FORM.ref_sig8: r.skip(8); return { kind: 'none' };
    case DW_FORM.GNU_ref_alt: r.offset(ctx.offsetSize); return { kind: 'none' };
    case DW_FORM.block1: return { kind: 'block', bytes: r.bytes(r.u8()) };
    case DW_FORM.block2: return { kind: 'block', bytes: r.bytes(r.u16()) };
    case DW_FORM.block4: return { kind: 'block', bytes: r.bytes(r.u32()) };
    case DW_FORM.block: case DW_FORM.exprloc: return { kind: 'block', bytes: r.bytes(r.uleb()) };
    case DW_FORM.strx: case DW_FORM.GNU_str_index: return { kind: 'index', form: 'strx', value: r.uleb() };
    case DW_FORM.strx1: return { kind: 'index', form: 'strx', value: r.u8() };
    case DW_FORM.strx2: return { kind: 'index', form: 'strx', value: r.u16() };
    case DW_FORM.strx3: return { kind: 'index', form: 'strx', value: r.u24() };
    case DW_FORM.strx4: return { kind: 'index', form: 'strx', value: r.u32() };
    case DW_FORM.addrx: case DW_FORM.GNU_addr_index: return { kind: 'index', form: 'addrx', value: r.uleb() };
    case DW_FORM.addrx1: return { kind: 'index', form: 'addrx', value: r.u8() };
    case DW_FORM.addrx2: return { kind: 'index', form: 'addrx', value: r.u16() };
    case DW_FORM.addrx3: return { kind: 'index', form: 'addrx', value: r.u24() };
    case DW_FORM.addrx4: return { kind: 'index', form: 'addrx', value: r.u32() };
    case DW_FORM.loclistx: return { kind: 'index', form: 'loclistx', value: r.uleb() };
    case DW_FORM.rnglistx: return { kind: 'index', form: 'rnglistx', value: r.uleb() };
    case DW_FORM.indirect: {
      const actual = r.uleb();
      if (actual === DW_FORM.indirect || actual === DW_FORM.implicit_const) {
        throw new DwarfError(`DW_FORM_indirect names form 0x${actual.toString(16)}, which cannot be indirect`);
      }
      return readForm(r, actual, ctx);
    }
    default:
      throw new DwarfError(`unknown attribute form 0x${form.toString(16)} (its size is unknown, so the rest of the unit is skipped)`);
  }
}

function str(s: string | undefined): FormValue {
  return s === undefined ? { kind: 'none' } : { kind: 'string', value: s };
}

/**
 * Steps over one attribute value of `form` without making it (no strings
 * decoded, no objects): walks that need a few attributes of a few DIEs
 * skip the rest this way. Throws where readForm would (unknown forms,
 * values running past the end).
 */
export function skipForm(r: ByteReader, form: number, ctx: FormContext): void {
  switch (form) {
    case DW_FORM.flag_present: case DW_FORM.implicit_const: return;
    case DW_FORM.data1: case DW_FORM.flag: case DW_FORM.ref1: case DW_FORM.strx1: case DW_FORM.addrx1: r.skip(1); return;
    case DW_FORM.data2: case DW_FORM.ref2: case DW_FORM.strx2: case DW_FORM.addrx2: r.skip(2); return;
    case DW_FORM.strx3: case DW_FORM.addrx3: r.skip(3); return;
    case DW_FORM.data4: case DW_FORM.ref4: case DW_FORM.ref_sup4: case DW_FORM.strx4: case DW_FORM.addrx4: r.skip(4); return;
    case DW_FORM.data8: case DW_FORM.ref8: case DW_FORM.ref_sup8: case DW_FORM.ref_sig8: r.skip(8); return;
    case DW_FORM.data16: r.skip(16); return;
    case DW_FORM.addr: r.skip(ctx.addressSize); return;
    case DW_FORM.sec_offset: case DW_FORM.strp: case DW_FORM.line_strp: case DW_FORM.strp_sup: case DW_FORM.GNU_strp_alt: case DW_FORM.GNU_ref_alt:
      r.skip(ctx.offsetSize); return;
    case DW_FORM.ref_addr: r.skip(ctx.version <= 2 ? ctx.addressSize : ctx.offsetSize); return;
    case DW_FORM.sdata: case DW_FORM.udata: case DW_FORM.ref_udata: case DW_FORM.strx: case DW_FORM.GNU_str_index:
    case DW_FORM.addrx: case DW_FORM.GNU_addr_index: case DW_FORM.loclistx: case DW_FORM.rnglistx:
      while ((r.u8() & 0x80) !== 0) { /* LEB128 continuation */ }
      return;
    case DW_FORM.string: {
      const end = r.data.indexOf(0, r.pos);
      if (end < 0 || end >= r.end) r.cstr(); // throws the same sentence
      else r.seek(end + 1);
      return;
    }
    case DW_FORM.block1: r.skip(r.u8()); return;
    case DW_FORM.block2: r.skip(r.u16()); return;
    case DW_FORM.block4: r.skip(r.u32()); return;
    case DW_FORM.block: case DW_FORM.exprloc: r.skip(r.uleb()); return;
    default: readForm(r, form, ctx);
  }
}

/** The bytes a value of `form` always takes in `ctx`, or -1 when it varies (LEB128, strings, blocks, indirect). */
export function fixedFormSize(form: number, ctx: FormContext): number {
  switch (form) {
    case DW_FORM.flag_present: case DW_FORM.implicit_const: return 0;
    case DW_FORM.data1: case DW_FORM.flag: case DW_FORM.ref1: case DW_FORM.strx1: case DW_FORM.addrx1: return 1;
    case DW_FORM.data2: case DW_FORM.ref2: case DW_FORM.strx2: case DW_FORM.addrx2: return 2;
    case DW_FORM.strx3: case DW_FORM.addrx3: return 3;
    case DW_FORM.data4: case DW_FORM.ref4: case DW_FORM.ref_sup4: case DW_FORM.strx4: case DW_FORM.addrx4: return 4;
    case DW_FORM.data8: case DW_FORM.ref8: case DW_FORM.ref_sup8: case DW_FORM.ref_sig8: return 8;
    case DW_FORM.data16: return 16;
    case DW_FORM.addr: return ctx.addressSize;
    case DW_FORM.sec_offset: case DW_FORM.strp: case DW_FORM.line_strp: case DW_FORM.strp_sup: case DW_FORM.GNU_strp_alt: case DW_FORM.GNU_ref_alt:
      return ctx.offsetSize;
    case DW_FORM.ref_addr: return ctx.version <= 2 ? ctx.addressSize : ctx.offsetSize;
    default: return -1;
  }
}
