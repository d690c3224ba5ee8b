/**
 * The line-number program of one .debug_line unit (DWARF 2-5): its header
 * (directories and files, resolved to full paths as the standard says) and
 * the state machine that turns the program into rows. line-table.ts keeps
 * the units and answers queries; this file only reads them.
 *
 * File names: DWARF 5 (6.2.4.1) makes directory entry 0 the compilation
 * directory itself and file entry 0 the primary source file; the other
 * directories are relative to entry 0 unless absolute. DWARF 2-4 have no
 * entry 0 in the header: directory 0 is the unit's DW_AT_comp_dir.
 */
import { posix } from 'node:path';
import { ByteReader, DwarfError, stringAt } from './dwarf-reader';
import { FormContext, readForm } from './forms';

const DW_LNS_copy = 1;
const DW_LNS_advance_pc = 2;
const DW_LNS_advance_line = 3;
const DW_LNS_set_file = 4;
const DW_LNS_set_column = 5;
const DW_LNS_negate_stmt = 6;
const DW_LNS_set_basic_block = 7;
const DW_LNS_const_add_pc = 8;
const DW_LNS_fixed_advance_pc = 9;
const DW_LNS_set_prologue_end = 10;
const DW_LNS_set_epilogue_begin = 11;
const DW_LNS_set_isa = 12;
const DW_LNE_end_sequence = 1;
const DW_LNE_set_address = 2;
const DW_LNE_define_file = 3;
const DW_LNCT_path = 1;
const DW_FORM_line_strp = 0x1f;
const DW_LNCT_directory_index = 2;

/** One row of the line-number matrix; `file` indexes LineTable.files. */
export interface LineRow {
  address: bigint;
  file: number;
  line: number;
  column: number;
  isStmt: boolean;
  endSequence: boolean;
}

/** Where a header's paths go: the line table dedupes them and knows which units name each file. */
export interface FileRegistry {
  readonly stringCache: Map<number, string>;
  dirIn(base: string, dir: string): string;
  fileIn(dir: string, name: string, unit: number): number;
  addFile(path: string, unit?: number): number;
}

/** What reading a header needs besides the unit's bytes. */
export interface HeaderInput {
  debugLineStr?: Uint8Array;
  debugStr?: Uint8Array;
  /** Address size when a (pre-v5) header does not say: 4 for ELF32, 8 for ELF64. */
  addressSize?: 4 | 8;
  /** Resolves DW_FORM_strp (and line_strp without debugLineStr) instead of debugStr: .debug_str read piecewise. */
  strings?: (section: 'str' | 'line_str', offset: number) => string | undefined;
  /** Compilation directory by .debug_line offset (DW_AT_stmt_list), for relative paths of DWARF 2-4. */
  compDirs?: ReadonlyMap<number, string>;
}

/** Posix-normalised path with forward slashes ("C:\\a\\b" -> "C:/a/b"). */
export function normalizePath(p: string): string {
  const n = posix.normalize(p.replace(/\\/g, '/'));
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

export function joinPath(dir: string, name: string): string {
  if (name.startsWith('/') || dir === '') return normalizePath(name);
  return normalizePath(`${dir}/${name}`);
}

export interface Header {
  version: number;
  minInstLength: number;
  maxOpsPerInst: number;
  defaultIsStmt: boolean;
  lineBase: number;
  lineRange: number;
  opcodeBase: number;
  standardLengths: number[];
  /** Full paths by file number as the program uses them. */
  fileIndex: Map<number, number>;
  dirs: string[];
  addressSize: number;
}

export function readHeader(u: ByteReader, offsetSize: 4 | 8, input: HeaderInput, unitOffset: number, table: FileRegistry, unitIndex: number): Header {
  const version = u.u16();
  if (version < 2 || version > 5) throw new DwarfError(`${u.what}: line table version ${version} is not supported (DWARF 2-5 are)`);
  let addressSize: number = input.addressSize ?? 8;
  if (version >= 5) {
    addressSize = u.u8();
    u.u8(); // segment_selector_size
  }
  const headerLength = u.offset(offsetSize);
  const h = u.sub(headerLength, `${u.what} header`);
  const minInstLength = h.u8();
  const maxOpsPerInst = version >= 4 ? h.u8() : 1;
  const defaultIsStmt = h.u8() !== 0;
  const lineBase = h.i8();
  const lineRange = h.u8();
  const opcodeBase = h.u8();
  if (lineRange === 0) throw new DwarfError(`${u.what}: line_range is 0`);
  const standardLengths: number[] = [0];
  for (let i = 1; i < opcodeBase; i++) standardLengths.push(h.u8());
  const fileIndex = new Map<number, number>();
  const compDir = input.compDirs?.get(unitOffset) ?? '';
  let dirs: string[];
  if (version >= 5) {
    const ctx: FormContext = input.strings
      ? { version, addressSize, offsetSize, debugLineStr: input.debugLineStr, strings: input.strings }
      : { version, addressSize, offsetSize, debugStr: input.debugStr, debugLineStr: input.debugLineStr };
    const dirEntries = readEntries(h, ctx, table.stringCache);
    dirs = dirEntries.map((e) => e.path ?? '');
    // Directory 0 is the compilation directory itself (DWARF 5, 6.2.4.1), not a path under DW_AT_comp_dir:
    // joining them doubled a relative one ("debian/build/x/debian/build/x/fs/open.c"). Only a relative
    // entry 0 under an absolute comp_dir that differs from it is taken as relative to that directory.
    if (dirs.length === 0) dirs.push(compDir);
    else if (!dirs[0].startsWith('/') && compDir.startsWith('/') && normalizePath(compDir) !== normalizePath(dirs[0])) dirs[0] = joinPath(compDir, dirs[0]);
    for (let i = 1; i < dirs.length; i++) dirs[i] = table.dirIn(dirs[0], dirs[i]);
    const fileEntries = readEntries(h, ctx, table.stringCache);
    fileEntries.forEach((e, i) => {
      const dir = dirs[e.dir ?? 0] ?? '';
      fileIndex.set(i, table.fileIn(dir, e.path ?? `<file ${i}>`, unitIndex));
    });
  } else {
    dirs = [compDir];
    for (;;) {
      const d = h.cstr();
      if (d === '') break;
      dirs.push(joinPath(compDir, d));
    }
    for (let n = 1; ; n++) {
      const name = h.cstr();
      if (name === '') break;
      const dir = h.uleb();
      h.uleb(); // mtime
      h.uleb(); // length
      fileIndex.set(n, table.addFile(joinPath(dirs[dir] ?? '', name), unitIndex));
    }
  }
  u.seek(h.end);
  return {
    version, minInstLength, maxOpsPerInst: maxOpsPerInst || 1, defaultIsStmt, lineBase, lineRange,
    opcodeBase, standardLengths, fileIndex, dirs, addressSize,
  };
}

/** DWARF 5 directory or file entries, described by their own format list. */
function readEntries(h: ByteReader, ctx: FormContext, strings: Map<number, string>): { path?: string; dir?: number }[] {
  const formatCount = h.u8();
  const formats: [number, number][] = [];
  for (let i = 0; i < formatCount; i++) formats.push([h.uleb(), h.uleb()]);
  const count = h.uleb();
  const out: { path?: string; dir?: number }[] = [];
  // Each entry takes at least one byte unless every form is zero-sized: bound the loop by the bytes left.
  for (let i = 0; i < count; i++) {
    const start = h.pos;
    const e: { path?: string; dir?: number } = {};
    for (const [type, form] of formats) {
      if (type === DW_LNCT_path && form === DW_FORM_line_strp && ctx.debugLineStr) {
        // The same .debug_line_str offsets recur in every unit: decode each once.
        const at = h.offset(ctx.offsetSize);
        let str = strings.get(at);
        if (str === undefined) {
          str = stringAt(ctx.debugLineStr, at);
          if (str !== undefined) strings.set(at, str);
        }
        if (str !== undefined) e.path = str;
        continue;
      }
      const v = readForm(h, form, ctx);
      if (type === DW_LNCT_path && v.kind === 'string') e.path = v.value;
      else if (type === DW_LNCT_directory_index && v.kind === 'number') e.dir = Number(v.value & 0xffffffffn);
    }
    out.push(e);
    if (h.pos === start && i >= 1024) throw new DwarfError(`${h.what}: ${count} zero-sized entries`);
  }
  return out;
}

/** What a run of a line program produces: rows by sequence, or only each sequence's address range. */
export interface ProgramSink {
  row: boolean;
  sequence?: (rows: LineRow[]) => void;
  range?: (start: bigint, end: bigint) => void;
}

/** Larger address offsets than this are folded into the bigint base (keeps the number math exact). */
const FOLD = 2 ** 48;

/**
 * Runs a line program. The address is a bigint base (DW_LNE_set_address)
 * plus a number offset, so the common opcodes do number math only; bigints
 * are made for rows only when rows are kept.
 */
export function runProgram(u: ByteReader, h: Header, table: FileRegistry, unitIndex: number, sink: ProgramSink): void {
  const mask = h.addressSize === 4 ? 0xffffffffn : 0xffffffffffffffffn;
  const minInst = h.minInstLength;
  // A run may add files (DW_LNE_define_file, unknown file numbers): its own copy of the header's map.
  const fileMap = new Map(h.fileIndex);
  const fileOf = (n: number): number => {
    const f = fileMap.get(n);
    if (f !== undefined) return f;
    const added = table.addFile(`<unknown file ${n}>`, unitIndex);
    fileMap.set(n, added);
    return added;
  };
  let base = 0n;
  let off = 0;
  let opIndex = 0;
  let file = 1;
  let line = 1;
  let column = 0;
  let isStmt = h.defaultIsStmt;
  let seq: LineRow[] = [];
  let count = 0;
  let first = 0n;
  const reset = (): void => {
    base = 0n; off = 0; opIndex = 0; file = 1; line = 1; column = 0; isStmt = h.defaultIsStmt;
  };
  const fold = (): void => { base = (base + BigInt(off)) & mask; off = 0; };
  const emit = (endSequence: boolean): void => {
    if (sink.row) {
      seq.push({ address: (base + BigInt(off)) & mask, file: fileOf(file), line, column, isStmt, endSequence });
    } else if (count === 0) {
      first = (base + BigInt(off)) & mask;
    }
    count++;
    if (endSequence) {
      if (count >= 2) {
        if (sink.row) sink.sequence!(seq);
        else {
          const last = (base + BigInt(off)) & mask;
          sink.range!(first < last ? first : last, first < last ? last : first);
        }
      }
      seq = [];
      count = 0;
      reset();
    }
  };
  const advance = (operationAdvance: number): void => {
    if (h.maxOpsPerInst === 1) {
      off += minInst * operationAdvance;
    } else {
      const total = opIndex + operationAdvance;
      off += minInst * Math.floor(total / h.maxOpsPerInst);
      opIndex = total % h.maxOpsPerInst;
    }
    if (off > FOLD) fold();
  };
  reset();
  while (u.remaining > 0) {
    const op = u.u8();
    if (op >= h.opcodeBase) {
      const adj = op - h.opcodeBase;
      advance(Math.floor(adj / h.lineRange));
      line += h.lineBase + (adj % h.lineRange);
      emit(false);
      continue;
    }
    switch (op) {
      case 0: {
        // Extended opcodes are read in place (no sub-reader: a kernel has one per sequence and per discriminator).
        const len = u.uleb();
        if (len === 0) break;
        const end = u.pos + len;
        if (end > u.end) u.skip(len);
        const sub = u.u8();
        if (sub === DW_LNE_end_sequence) { u.seek(end); emit(true); }
        else if (sub === DW_LNE_set_address) {
          const n = end - u.pos;
          if (n === 1 || n === 2 || n === 4 || n === 8) { base = u.unsigned(n) & mask; off = 0; }
          opIndex = 0;
          u.seek(end);
        } else if (sub === DW_LNE_define_file) {
          const ext = new ByteReader(u.data, u.pos, end, u.what);
          u.seek(end);
          const name = ext.cstr();
          const dir = ext.uleb();
          const n = Math.max(0, ...fileMap.keys()) + 1;
          fileMap.set(n, table.addFile(joinPath(h.dirs[dir] ?? '', name), unitIndex));
        } else {
          // DW_LNE_set_discriminator and vendor extensions: skipped by length.
          u.seek(end);
        }
        break;
      }
      case DW_LNS_copy: emit(false); break;
      case DW_LNS_advance_pc: {
        const v = u.ulebBig();
        if (v < BigInt(FOLD) && h.maxOpsPerInst === 1) advance(Number(v));
        else if (h.maxOpsPerInst === 1) { fold(); base = (base + BigInt(minInst) * v) & mask; }
        else {
          const ops = BigInt(h.maxOpsPerInst);
          const total = BigInt(opIndex) + v;
          fold();
          base = (base + BigInt(minInst) * (total / ops)) & mask;
          opIndex = Number(total % ops);
        }
        break;
      }
      case DW_LNS_advance_line: line += u.sleb(); break;
      case DW_LNS_set_file: file = u.uleb(); break;
      case DW_LNS_set_column: column = u.uleb(); break;
      case DW_LNS_negate_stmt: isStmt = !isStmt; break;
      case DW_LNS_set_basic_block: break;
      case DW_LNS_const_add_pc: advance(Math.floor((255 - h.opcodeBase) / h.lineRange)); break;
      case DW_LNS_fixed_advance_pc: off += u.u16(); opIndex = 0; if (off > FOLD) fold(); break;
      case DW_LNS_set_prologue_end: case DW_LNS_set_epilogue_begin: break;
      case DW_LNS_set_isa: u.uleb(); break;
      default:
        // An opcode this header declares but DWARF does not define: skip its ULEB operands.
        for (let i = 0; i < (h.standardLengths[op] ?? 0); i++) u.ulebBig();
    }
  }
}
