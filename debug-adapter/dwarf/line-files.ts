/**
 * The file table of one .debug_line unit header, for DW_AT_decl_file and
 * DW_AT_call_file (indices into it). Only the header is read, never the line
 * program (symbols/line-table.ts owns line programs and does not expose a
 * unit's own file list). DWARF 5 counts files from 0 (file 0 is the primary
 * source file); DWARF 2-4 from 1. Paths are joined with their directory and
 * the unit's compile directory.
 */
import { ByteReader, DwarfError } from '../symbols/dwarf-reader';
import { FormContext, readForm } from '../symbols/forms';
import { normalizePath } from '../symbols/line-table';
import type { Section } from './model';
import { sectionBytes } from './section-io';

const DW_LNCT_path = 1;
const DW_LNCT_directory_index = 2;
/** A header longer than this is damage (a kernel unit's lists a few hundred files). */
const MAX_HEADER = 1 << 22;
const MAX_ENTRIES = 1 << 16;

/** File names by the index DW_AT_decl_file / DW_AT_call_file use. */
export type FileTable = ReadonlyMap<number, string>;

/** Reads the header of the line table at `offset`; throws a DwarfError on damage. */
export function readFileTable(
  debugLine: Section | undefined, offset: number, compDir: string | undefined,
  strings: (section: 'str' | 'line_str', offset: number) => string | undefined,
): FileTable {
  const head = sectionBytes(debugLine, offset, Math.min(16, (debugLine?.size ?? 0) - offset), '.debug_line');
  const r0 = new ByteReader(head, 0, head.length, '.debug_line');
  const il = r0.initialLength();
  const total = Math.min(il.length + r0.pos, MAX_HEADER, (debugLine?.size ?? 0) - offset);
  const u = new ByteReader(sectionBytes(debugLine, offset, total, '.debug_line'), r0.pos, total, `.debug_line unit at 0x${offset.toString(16)}`);
  const version = u.u16();
  if (version < 2 || version > 5) throw new DwarfError(`${u.what}: line table version ${version} is not supported`);
  let addressSize = 8;
  if (version >= 5) { addressSize = u.u8(); u.u8(); }
  const headerLength = u.offset(il.offsetSize);
  const h = u.sub(Math.min(headerLength, u.remaining), `${u.what} header`);
  h.u8(); // minimum_instruction_length
  if (version >= 4) h.u8(); // maximum_operations_per_instruction
  h.u8(); h.i8(); h.u8(); // default_is_stmt, line_base, line_range
  const opcodeBase = h.u8();
  h.skip(Math.max(0, opcodeBase - 1));
  const base = compDir ?? '';
  const files = new Map<number, string>();
  if (version >= 5) {
    const ctx: FormContext = { version, addressSize, offsetSize: il.offsetSize, strings };
    const dirs = entries(h, ctx).map((e) => e.path ?? '');
    const dir = (i: number): string => join(i === 0 ? base : join(base, dirs[0] ?? ''), i === 0 ? dirs[0] ?? '' : dirs[i] ?? '');
    entries(h, ctx).forEach((e, i) => files.set(i, join(dir(e.dir ?? 0), e.path ?? `<file ${i}>`)));
  } else {
    const dirs = [base];
    for (let i = 0; i < MAX_ENTRIES; i++) {
      const d = h.cstr();
      if (d === '') break;
      dirs.push(join(base, d));
    }
    for (let n = 1; n < MAX_ENTRIES; n++) {
      const name = h.cstr();
      if (name === '') break;
      const d = h.uleb();
      h.uleb(); h.uleb(); // mtime, length
      files.set(n, join(dirs[d] ?? base, name));
    }
  }
  return files;
}

function entries(h: ByteReader, ctx: FormContext): { path?: string; dir?: number }[] {
  const formats: [number, number][] = [];
  for (let i = 0, n = h.u8(); i < n; i++) formats.push([h.uleb(), h.uleb()]);
  const count = h.uleb();
  if (count > MAX_ENTRIES) throw new DwarfError(`${h.what}: ${count} entries`);
  const out: { path?: string; dir?: number }[] = [];
  for (let i = 0; i < count; i++) {
    const e: { path?: string; dir?: number } = {};
    for (const [type, form] of formats) {
      const v = readForm(h, form, ctx);
      if (type === DW_LNCT_path && v.kind === 'string') e.path = v.value;
      else if (type === DW_LNCT_directory_index && v.kind === 'number') e.dir = Number(v.value & 0xffffn);
    }
    out.push(e);
  }
  return out;
}

function join(dir: string, name: string): string {
  if (name.startsWith('/') || dir === '') return name === '' ? dir : normalizePath(name);
  return normalizePath(`${dir}/${name}`);
}
