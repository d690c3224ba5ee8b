/**
 * .debug_line: runs the line-number programs of DWARF 2-5 and answers what
 * a debugger asks of them: which addresses begin a source line (breakpoints),
 * which line covers an address (stack frames, stops), and the address range
 * of the current line (stepping).
 *
 * A damaged unit is skipped with a problem sentence; the units before it
 * (and, when its length is intact, after it) still count. Nothing here
 * throws out of parseLineTables or the LineTable queries.
 */
import { posix } from 'node:path';
import { ByteReader, DwarfError, describeError } from './dwarf-reader';
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

/** A source position; `address` is where its row begins. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
  address: bigint;
}

export interface LineTableInput {
  debugLine: Uint8Array;
  debugLineStr?: Uint8Array;
  debugStr?: Uint8Array;
  /** Address size when a (pre-v5) header does not say: 4 for ELF32, 8 for ELF64. */
  addressSize?: 4 | 8;
  /** Compilation directory by .debug_line offset (DW_AT_stmt_list), for relative paths of DWARF 2-4. */
  compDirs?: ReadonlyMap<number, string>;
}

/** A contiguous address range attributed to one row (rows at one address collapsed). */
interface Span {
  start: bigint;
  end: bigint;
  file: number;
  line: number;
  column: number;
  /** The merged range of neighbouring spans with the same file and line. */
  blockStart: bigint;
  blockEnd: bigint;
}

export class LineTable {
  /** Full source paths, deduplicated; rows refer to them by index. */
  readonly files: string[] = [];
  /** Line-program versions seen (2-5). */
  readonly versions = new Set<number>();
  /** Number of units parsed successfully. */
  units = 0;
  /** One sentence per damaged unit. */
  readonly problems: string[] = [];
  /** Sequences of rows, each ending with an end_sequence row. */
  readonly sequences: LineRow[][] = [];
  private readonly fileIndex = new Map<string, number>();
  private spans: Span[] = [];
  private maxSpanLength = 0n;

  /** @internal */
  addFile(path: string): number {
    let i = this.fileIndex.get(path);
    if (i === undefined) {
      i = this.files.length;
      this.files.push(path);
      this.fileIndex.set(path, i);
    }
    return i;
  }

  /** @internal Builds the address index after all sequences are in. */
  finish(): void {
    const spans: Span[] = [];
    for (const seq of this.sequences) {
      const local: Span[] = [];
      let i = 0;
      while (i < seq.length - 1) {
        // Several rows at one address: the first statement row names the location.
        const address = seq[i].address;
        let pick = -1;
        let j = i;
        while (j < seq.length - 1 && seq[j].address === address) {
          if (pick < 0 && seq[j].isStmt) pick = j;
          j++;
        }
        if (pick < 0) pick = i;
        const end = seq[j].address;
        if (end > address) {
          const r = seq[pick];
          local.push({ start: address, end, file: r.file, line: r.line, column: r.column, blockStart: address, blockEnd: end });
        }
        i = j;
      }
      for (let k = 0; k < local.length;) {
        let m = k;
        while (m + 1 < local.length && local[m + 1].file === local[k].file && local[m + 1].line === local[k].line && local[m + 1].start === local[m].end) m++;
        for (let n = k; n <= m; n++) { local[n].blockStart = local[k].start; local[n].blockEnd = local[m].end; }
        k = m + 1;
      }
      spans.push(...local);
    }
    spans.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    let max = 0n;
    for (const s of spans) if (s.end - s.start > max) max = s.end - s.start;
    this.spans = spans;
    this.maxSpanLength = max;
  }

  get rowCount(): number {
    let n = 0;
    for (const s of this.sequences) n += s.length;
    return n;
  }

  /** Source files that have at least one row. */
  sourceFiles(): string[] {
    const used = new Set<number>();
    for (const seq of this.sequences) for (const r of seq) used.add(r.file);
    return [...used].map((i) => this.files[i]).sort();
  }

  /** Indices of the files best matching `file`: full path, path suffix ("kernel/main.c") or basename. */
  matchFiles(file: string): number[] {
    const query = normalizePath(file);
    if (query === '' || query === '.') return [];
    const exact = this.fileIndex.get(query);
    if (exact !== undefined) return [exact];
    const q = query.split('/').filter((c) => c !== '');
    const absolute = query.startsWith('/');
    let best = 0;
    let out: number[] = [];
    this.files.forEach((path, index) => {
      const c = path.split('/').filter((x) => x !== '');
      let k = 0;
      while (k < q.length && k < c.length && q[q.length - 1 - k] === c[c.length - 1 - k]) k++;
      // A relative query must match as a whole suffix; an absolute one (a
      // workspace elsewhere than the build directory) by its longest tail.
      if (k === 0 || (!absolute && k < q.length)) return;
      if (k > best) { best = k; out = [index]; } else if (k === best) out.push(index);
    });
    return out;
  }

  /**
   * Addresses where a statement row begins `line` of `file` (a row whose
   * predecessor in its sequence is on another line), ascending. One line may
   * have several (loops, inlined copies, code split by the compiler).
   */
  addressesForLine(file: string, line: number): bigint[] {
    try {
      const files = new Set(this.matchFiles(file));
      if (files.size === 0) return [];
      const out = new Set<bigint>();
      for (const seq of this.sequences) {
        // A run is consecutive rows on one line; its first statement row begins the line.
        let runHasStmt = false;
        for (let i = 0; i < seq.length - 1; i++) {
          const r = seq[i];
          const p = i > 0 ? seq[i - 1] : undefined;
          if (!p || p.line !== r.line || p.file !== r.file) runHasStmt = false;
          if (!r.isStmt) continue;
          if (!runHasStmt && r.line === line && files.has(r.file)) out.add(r.address);
          runHasStmt = true;
        }
      }
      return [...out].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    } catch {
      return [];
    }
  }

  /**
   * Where a breakpoint on `line` really goes: that line if it has code,
   * otherwise the next line of the same file that does (within `maxForward`
   * lines), as debuggers do for blank lines, comments and declarations.
   */
  resolveLine(file: string, line: number, maxForward = 50): { line: number; addresses: bigint[] } | undefined {
    for (let l = line; l <= line + maxForward; l++) {
      const addresses = this.addressesForLine(file, l);
      if (addresses.length > 0) return { line: l, addresses };
    }
    return undefined;
  }

  private spanAt(address: bigint): Span | undefined {
    const s = this.spans;
    let lo = 0;
    let hi = s.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid].start <= address) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    // Overlapping sequences are rare; look back only as far as the longest span reaches.
    for (let i = found; i >= 0 && address - s[i].start < this.maxSpanLength; i--) {
      if (address < s[i].end) return s[i];
    }
    return undefined;
  }

  /** The file and line of the row covering `address`, or undefined outside every sequence. */
  lineForAddress(address: bigint): SourceLocation | undefined {
    const sp = this.spanAt(address);
    return sp && { file: this.files[sp.file], line: sp.line, column: sp.column, address: sp.start };
  }

  /**
   * [start, end) of the addresses of the current line: the covering row
   * merged with its neighbours in the same sequence on the same line. A step
   * over ends when the pc leaves this range.
   */
  lineRange(address: bigint): [bigint, bigint] | undefined {
    const sp = this.spanAt(address);
    return sp && [sp.blockStart, sp.blockEnd];
  }
}

/** Posix-normalised path with forward slashes ("C:\\a\\b" -> "C:/a/b"). */
export function normalizePath(p: string): string {
  const n = posix.normalize(p.replace(/\\/g, '/'));
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function joinPath(dir: string, name: string): string {
  if (name.startsWith('/') || dir === '') return normalizePath(name);
  return normalizePath(`${dir}/${name}`);
}

interface Header {
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

/** Parses every unit of .debug_line. Never throws: damage is reported in `problems`. */
export function parseLineTables(input: LineTableInput): LineTable {
  const table = new LineTable();
  const data = input.debugLine;
  const r = new ByteReader(data, 0, data.length, '.debug_line');
  while (r.remaining > 0) {
    const unitOffset = r.pos;
    let unit: ByteReader;
    let offsetSize: 4 | 8;
    try {
      const il = r.initialLength();
      offsetSize = il.offsetSize;
      if (il.length === 0) continue;
      unit = r.sub(il.length, `.debug_line unit at 0x${unitOffset.toString(16)}`);
    } catch (e) {
      table.problems.push(`${describeError(e)}; the rest of .debug_line is ignored`);
      break;
    }
    try {
      const header = readHeader(unit, offsetSize, input, unitOffset, table);
      table.versions.add(header.version);
      runProgram(unit, header, table);
      table.units++;
    } catch (e) {
      // The complete sequences of a unit whose program is cut short are kept.
      const msg = describeError(e);
      table.problems.push(msg.startsWith('.debug_line') ? msg : `.debug_line unit at 0x${unitOffset.toString(16)}: ${msg}`);
    }
  }
  try {
    table.finish();
  } catch (e) {
    table.problems.push(describeError(e));
  }
  return table;
}

function readHeader(u: ByteReader, offsetSize: 4 | 8, input: LineTableInput, unitOffset: number, table: LineTable): Header {
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
    const ctx: FormContext = { version, addressSize, offsetSize, debugStr: input.debugStr, debugLineStr: input.debugLineStr };
    const dirEntries = readEntries(h, ctx);
    dirs = dirEntries.map((e) => e.path ?? '');
    if (dirs.length > 0 && !dirs[0].startsWith('/') && compDir) dirs[0] = joinPath(compDir, dirs[0]);
    for (let i = 1; i < dirs.length; i++) dirs[i] = joinPath(dirs[0], dirs[i]);
    const fileEntries = readEntries(h, ctx);
    fileEntries.forEach((e, i) => {
      const dir = dirs[e.dir ?? 0] ?? '';
      fileIndex.set(i, table.addFile(joinPath(dir, e.path ?? `<file ${i}>`)));
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
      fileIndex.set(n, table.addFile(joinPath(dirs[dir] ?? '', name)));
    }
  }
  u.seek(h.end);
  return {
    version, minInstLength, maxOpsPerInst: maxOpsPerInst || 1, defaultIsStmt, lineBase, lineRange,
    opcodeBase, standardLengths, fileIndex, dirs, addressSize,
  };
}

/** DWARF 5 directory or file entries, described by their own format list. */
function readEntries(h: ByteReader, ctx: FormContext): { path?: string; dir?: number }[] {
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
      const v = readForm(h, form, ctx);
      if (type === DW_LNCT_path && v.kind === 'string') e.path = v.value;
      else if (type === DW_LNCT_directory_index && v.kind === 'number') e.dir = Number(v.value & 0xffffffffn);
    }
    out.push(e);
    if (h.pos === start && i >= 1024) throw new DwarfError(`${h.what}: ${count} zero-sized entries`);
  }
  return out;
}

function runProgram(u: ByteReader, h: Header, table: LineTable): void {
  const mask = h.addressSize === 4 ? 0xffffffffn : 0xffffffffffffffffn;
  const minInst = BigInt(h.minInstLength);
  const fileOf = (n: number): number => {
    const f = h.fileIndex.get(n);
    if (f !== undefined) return f;
    const added = table.addFile(`<unknown file ${n}>`);
    h.fileIndex.set(n, added);
    return added;
  };
  let address = 0n;
  let opIndex = 0;
  let file = 1;
  let line = 1;
  let column = 0;
  let isStmt = h.defaultIsStmt;
  let seq: LineRow[] = [];
  const reset = (): void => {
    address = 0n; opIndex = 0; file = 1; line = 1; column = 0; isStmt = h.defaultIsStmt;
  };
  reset();
  const emit = (endSequence: boolean): void => {
    seq.push({ address, file: fileOf(file), line, column, isStmt, endSequence });
    if (endSequence) {
      if (seq.length >= 2) table.sequences.push(seq);
      seq = [];
      reset();
    }
  };
  const advance = (operationAdvance: bigint): void => {
    if (h.maxOpsPerInst === 1) {
      address = (address + minInst * operationAdvance) & mask;
    } else {
      const ops = BigInt(h.maxOpsPerInst);
      const total = BigInt(opIndex) + operationAdvance;
      address = (address + minInst * (total / ops)) & mask;
      opIndex = Number(total % ops);
    }
  };
  while (u.remaining > 0) {
    const op = u.u8();
    if (op >= h.opcodeBase) {
      const adj = op - h.opcodeBase;
      advance(BigInt(Math.floor(adj / h.lineRange)));
      line += h.lineBase + (adj % h.lineRange);
      emit(false);
      continue;
    }
    switch (op) {
      case 0: {
        const len = u.uleb();
        if (len === 0) break;
        const ext = u.sub(len);
        u.seek(ext.end);
        const sub = ext.u8();
        if (sub === DW_LNE_end_sequence) emit(true);
        else if (sub === DW_LNE_set_address) {
          const n = ext.remaining;
          address = n === 1 || n === 2 || n === 4 || n === 8 ? ext.unsigned(n) & mask : address;
          opIndex = 0;
        } else if (sub === DW_LNE_define_file) {
          const name = ext.cstr();
          const dir = ext.uleb();
          const n = Math.max(0, ...h.fileIndex.keys()) + 1;
          h.fileIndex.set(n, table.addFile(joinPath(h.dirs[dir] ?? '', name)));
        }
        // DW_LNE_set_discriminator and vendor extensions: skipped by length.
        break;
      }
      case DW_LNS_copy: emit(false); break;
      case DW_LNS_advance_pc: advance(u.ulebBig()); break;
      case DW_LNS_advance_line: line += u.sleb(); break;
      case DW_LNS_set_file: file = u.uleb(); break;
      case DW_LNS_set_column: column = u.uleb(); break;
      case DW_LNS_negate_stmt: isStmt = !isStmt; break;
      case DW_LNS_set_basic_block: break;
      case DW_LNS_const_add_pc: advance(BigInt(Math.floor((255 - h.opcodeBase) / h.lineRange))); break;
      case DW_LNS_fixed_advance_pc: address = (address + BigInt(u.u16())) & mask; opIndex = 0; break;
      case DW_LNS_set_prologue_end: case DW_LNS_set_epilogue_begin: break;
      case DW_LNS_set_isa: u.uleb(); break;
      default:
        // An opcode this header declares but DWARF does not define: skip its ULEB operands.
        for (let i = 0; i < (h.standardLengths[op] ?? 0); i++) u.ulebBig();
    }
  }
}
