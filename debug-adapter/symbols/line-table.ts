/**
 * .debug_line: runs the line-number programs of DWARF 2-5 and answers what
 * a debugger asks of them: which addresses begin a source line (breakpoints),
 * which line covers an address (stack frames, stops), and the address range
 * of the current line (stepping).
 *
 * Loading reads each unit's header (its files). Which unit covers an
 * address comes from the caller (`unitRanges`: .debug_aranges or the
 * compile units' own ranges) or, without it, from running each program once
 * keeping only each sequence's address range. The rows of a unit are made
 * the first time a query needs that unit (by address, or by a file its
 * header names). A kernel's tables hold millions of rows; a stop or a
 * breakpoint needs a handful of units.
 *
 * A damaged unit is skipped with a problem sentence; the units before it
 * (and, when its length is intact, after it) still count. Nothing here
 * throws out of parseLineTables or the LineTable queries.
 */
import type { Section } from '../dwarf/model';
import { ByteReader, describeError } from './dwarf-reader';
import { FileRegistry, Header, HeaderInput, LineRow, joinPath, normalizePath, readHeader, runProgram } from './line-program';
import { buildSpans, cmpBig, findSpan, type Span } from './line-spans';

export type { LineRow } from './line-program';
export { normalizePath } from './line-program';

/** A source position; `address` is where its row begins. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
  address: bigint;
}

export interface LineTableInput extends HeaderInput {
  debugLine: Uint8Array;
  /**
   * The address ranges each unit covers, by its .debug_line offset (the
   * DW_AT_stmt_list of the compile unit that .debug_aranges names). The
   * programs of the units they cover do not run at load; the others' (all,
   * without them) run once to learn their sequences' ranges.
   */
  unitRanges?: readonly UnitRange[];
}

export interface UnitRange { start: bigint; end: bigint; stmtList: number }

/**
 * One unit of .debug_line. Its header (directories, files) is read at load;
 * its program is run once at load without keeping rows, to learn which
 * addresses it covers, and again, keeping rows, the first time a query needs
 * it: a kernel's line tables hold millions of rows, a debugger needs a few units.
 */
interface Unit {
  /** Undefined until read (a table opened from LineTableFacts reads a header when a query needs its unit). */
  header?: Header;
  /** The bytes `bodyStart`/`bodyEnd` index: all of .debug_line, or (opened from facts) this unit's own until its rows are made. */
  bytes?: Uint8Array;
  bodyStart: number;
  bodyEnd: number;
  /** Offset of the unit in .debug_line (what DW_AT_stmt_list says). */
  offset: number;
  sequences?: LineRow[][];
  spans?: Span[];
  maxSpanLength: bigint;
}

/** The address range of one sequence and the unit it belongs to. */
interface Range { start: bigint; end: bigint; unit: number }

/**
 * What a parsed table knows that is worth keeping across sessions (the
 * symbol layer caches it by build-id): a table opened from it reads no
 * header until a query needs that unit, and every header only for queries
 * by file name.
 */
export interface LineTableFacts {
  /** .debug_line offsets of the units whose headers read, in file order. */
  unitOffsets: number[];
  /** LineTable.units. */
  units: number;
  versions: number[];
  /** Files the headers name (LineTable.fileCount). */
  fileCount: number;
  /** The address index: [start, end, unit index into unitOffsets]. */
  ranges: [bigint, bigint, number][];
  problems: string[];
}

export class LineTable implements FileRegistry {
  /** Full source paths, deduplicated; rows refer to them by index (reading it reads every header). */
  get files(): readonly string[] { this.readAllHeaders(); return this.fileList; }
  private readonly fileList: string[] = [];
  /** Line-program versions seen (2-5). */
  readonly versions = new Set<number>();
  /** Number of units parsed successfully. */
  units = 0;
  /** One sentence per damaged unit. */
  readonly problems: string[] = [];
  private readonly fileIndex = new Map<string, number>();
  /** Path components of each file, last first, for suffix matching (built on first use). */
  private fileTails: string[][] = [];
  private readonly unitList: Unit[] = [];
  /** (file, unit) pairs as headers name them, indexed into `fileUnits` when a query needs it (load stays cheap). */
  private readonly pairs: number[] = [];
  private pairsIndexed = 0;
  /** Units whose header lists each file. */
  private readonly fileUnits = new Map<number, number[]>();
  /** Files some header names, and how many. */
  private readonly named: number[] = [];
  private namedCount = 0;
  private ranges: Range[] = [];
  private maxRangeLength = 0n;
  /** @internal Load-time caches: a kernel's units repeat the same strings and paths thousands of times. */
  readonly stringCache = new Map<number, string>();
  /** @internal Resolved directory -> entry name -> file index. */
  readonly pathCache = new Map<string, Map<string, number>>();
  private readonly dirCache = new Map<string, Map<string, string>>();

  /** @internal `dir` under `base`, joined and normalised once per pair (every unit of a kernel lists the same include directories). */
  dirIn(base: string, dir: string): string {
    let byDir = this.dirCache.get(base);
    if (!byDir) this.dirCache.set(base, (byDir = new Map()));
    let joined = byDir.get(dir);
    if (joined === undefined) byDir.set(dir, (joined = joinPath(base, dir)));
    return joined;
  }

  /** @internal The file index of `name` in directory `dir` (joined and normalised once per pair), listed for `unit`. */
  fileIn(dir: string, name: string, unit: number): number {
    let byName = this.pathCache.get(dir);
    if (!byName) this.pathCache.set(dir, (byName = new Map()));
    let i = byName.get(name);
    if (i === undefined) byName.set(name, (i = this.addFile(joinPath(dir, name))));
    this.note(i, unit);
    return i;
  }

  /** @internal */
  addFile(path: string, unit?: number): number {
    let i = this.fileIndex.get(path);
    if (i === undefined) {
      i = this.fileList.length;
      this.fileList.push(path);
      this.fileIndex.set(path, i);
    }
    if (unit !== undefined) this.note(i, unit);
    return i;
  }

  private note(file: number, unit: number): void {
    this.pairs.push(file, unit);
    if (this.named[file] !== 1) { this.named[file] = 1; this.namedCount++; }
  }

  /** The units whose headers name `file`. */
  private unitsOfFile(file: number): readonly number[] {
    for (; this.pairsIndexed < this.pairs.length; this.pairsIndexed += 2) {
      const f = this.pairs[this.pairsIndexed];
      const u = this.pairs[this.pairsIndexed + 1];
      let list = this.fileUnits.get(f);
      if (!list) this.fileUnits.set(f, (list = []));
      if (list[list.length - 1] !== u) list.push(u);
    }
    return this.fileUnits.get(file) ?? [];
  }

  /** @internal A unit whose header was read and whose program was scanned. */
  addUnit(data: Uint8Array, unit: Unit, ranges: Range[]): void {
    unit.bytes = data;
    this.unitList.push(unit);
    for (const r of ranges) this.ranges.push(r);
  }

  /** Set when opened from facts: where a unit's header is read from when a query first needs it. */
  private lazy?: { section: Section; input: HeaderInput; unread: number };

  /** @internal A table whose headers are read on demand (see openLineTables). */
  openFrom(section: Section, input: HeaderInput, facts: LineTableFacts): void {
    for (const offset of facts.unitOffsets) this.unitList.push({ offset, bodyStart: 0, bodyEnd: 0, maxSpanLength: 0n });
    for (const [start, end, unit] of facts.ranges) if (unit >= 0 && unit < this.unitList.length) this.ranges.push({ start, end, unit });
    for (const v of facts.versions) this.versions.add(v);
    this.units = facts.units;
    this.problems.push(...facts.problems);
    this.lazy = { section, input, unread: this.unitList.length };
    this.finish();
  }

  /** Unit `index` with its header read (now, if opened from facts); undefined when it cannot be read. */
  private unit(index: number): Unit | undefined {
    const u = this.unitList[index];
    if (!u || u.header || !this.lazy || u.bytes) return u?.header ? u : undefined;
    const what = `.debug_line unit at 0x${u.offset.toString(16)}`;
    this.lazy.unread--;
    try {
      const { section, input } = this.lazy;
      const head = section.bytes(u.offset, Math.min(12, section.size - u.offset));
      const il = new ByteReader(head, 0, head.length, what).initialLength();
      const start = il.offsetSize === 8 ? 12 : 4;
      const bytes = section.bytes(u.offset, start + il.length);
      const r = new ByteReader(bytes, start, bytes.length, what);
      u.header = readHeader(r, il.offsetSize, input, u.offset, this, index);
      u.bytes = bytes;
      u.bodyStart = r.pos;
      u.bodyEnd = bytes.length;
      return u;
    } catch (e) {
      // It read when the facts were made: the file changed under the same build-id.
      const msg = describeError(e);
      this.problems.push(msg.startsWith('.debug_line') ? msg : `${what}: ${msg}`);
      u.bytes = new Uint8Array(0);
      return undefined;
    }
  }

  /** Every unit's header (queries by file name need to know which units name a file). */
  private readAllHeaders(): void {
    if (!this.lazy || this.lazy.unread === 0) return;
    for (let i = 0; i < this.unitList.length; i++) this.unit(i);
    this.lazy.unread = 0;
  }

  /** What openLineTables needs to open this table again without reading its headers. */
  facts(): LineTableFacts {
    this.readAllHeaders();
    return {
      unitOffsets: this.unitList.map((u) => u.offset),
      units: this.units,
      versions: [...this.versions],
      fileCount: this.namedCount,
      ranges: this.ranges.map((r) => [r.start, r.end, r.unit]),
      problems: [...this.problems],
    };
  }

  /** @internal The next unit's index (for addFile). */
  get nextUnit(): number { return this.unitList.length; }

  /** @internal Address ranges known without running the programs (see LineTableInput.unitRanges). */
  addRanges(ranges: readonly UnitRange[]): void {
    const byOffset = new Map<number, number>();
    this.unitList.forEach((u, i) => byOffset.set(u.offset, i));
    for (const r of ranges) {
      const unit = byOffset.get(r.stmtList);
      if (unit !== undefined && r.end > r.start) this.ranges.push({ start: r.start, end: r.end, unit });
    }
  }

  /** @internal Builds the address index after all units are in. */
  finish(): void {
    this.ranges.sort((a, b) => cmpBig(a.start, b.start));
    let max = 0n;
    for (const r of this.ranges) if (r.end - r.start > max) max = r.end - r.start;
    this.maxRangeLength = max;
  }

  /** The rows of one unit, run on first use (a damaged program keeps its complete sequences). */
  private unitSequences(index: number): LineRow[][] {
    const u = this.unitList[index];
    if (!u.sequences) {
      const seqs: LineRow[][] = [];
      try {
        const ready = this.unit(index);
        if (ready?.header && ready.bytes) {
          runProgram(new ByteReader(ready.bytes, u.bodyStart, u.bodyEnd, `.debug_line unit at 0x${u.offset.toString(16)}`), ready.header, this, index,
            { row: true, sequence: (rows) => { seqs.push(rows); } });
        }
      } catch {
        // Reported when the unit was scanned at load.
      }
      // A unit's own bytes (opened from facts) are not needed once its rows are made.
      if (this.lazy) u.bytes = new Uint8Array(0);
      u.sequences = seqs;
      const { spans, max } = buildSpans(seqs);
      u.spans = spans;
      u.maxSpanLength = max;
    }
    return u.sequences;
  }

  /** Sequences of rows, each ending with an end_sequence row (every unit: runs them all). */
  get sequences(): LineRow[][] {
    this.readAllHeaders();
    const out: LineRow[][] = [];
    for (let i = 0; i < this.unitList.length; i++) out.push(...this.unitSequences(i));
    return out;
  }

  get rowCount(): number {
    let n = 0;
    for (const s of this.sequences) n += s.length;
    return n;
  }

  /** Files named by the units' headers (every header is read, if opened from facts). */
  get fileCount(): number { this.readAllHeaders(); return this.namedCount; }

  /** Source files that have at least one row (runs every unit). */
  sourceFiles(): string[] {
    const used = new Set<number>();
    for (const seq of this.sequences) for (const r of seq) used.add(r.file);
    return [...used].map((i) => this.fileList[i]).sort();
  }

  /** Indices of the files best matching `file`: full path, path suffix ("kernel/main.c") or basename. */
  matchFiles(file: string): number[] {
    const query = normalizePath(file);
    if (query === '' || query === '.') return [];
    this.readAllHeaders();
    const exact = this.fileIndex.get(query);
    if (exact !== undefined) return [exact];
    const q = query.split('/').filter((c) => c !== '').reverse();
    const absolute = query.startsWith('/');
    for (let i = this.fileTails.length; i < this.fileList.length; i++) this.fileTails.push(this.fileList[i].split('/').filter((x) => x !== '').reverse());
    let best = 0;
    let out: number[] = [];
    this.fileTails.forEach((c, index) => {
      if (c[0] !== q[0]) return;
      let k = 0;
      while (k < q.length && k < c.length && q[k] === c[k]) k++;
      // A relative query must match as a whole suffix; an absolute one (a
      // workspace elsewhere than the build directory) by its longest tail.
      if (k === 0 || (!absolute && k < q.length)) return;
      if (k > best) { best = k; out = [index]; } else if (k === best) out.push(index);
    });
    return out;
  }

  /**
   * For each line in [first, last] of the files, the addresses where a
   * statement row begins it (a row whose predecessor in its sequence is on
   * another line). Only the units whose headers name the files are run.
   */
  private lineStarts(files: Set<number>, first: number, last: number): Map<number, Set<bigint>> {
    const out = new Map<number, Set<bigint>>();
    const units = new Set<number>();
    for (const f of files) for (const u of this.unitsOfFile(f)) units.add(u);
    for (const u of [...units].sort((a, b) => a - b)) {
      for (const seq of this.unitSequences(u)) {
        // A run is consecutive rows on one line; its first statement row begins the line.
        let runHasStmt = false;
        for (let i = 0; i < seq.length - 1; i++) {
          const r = seq[i];
          const p = i > 0 ? seq[i - 1] : undefined;
          if (!p || p.line !== r.line || p.file !== r.file) runHasStmt = false;
          if (!r.isStmt) continue;
          if (!runHasStmt && r.line >= first && r.line <= last && files.has(r.file)) {
            let set = out.get(r.line);
            if (!set) out.set(r.line, (set = new Set()));
            set.add(r.address);
          }
          runHasStmt = true;
        }
      }
    }
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
      return [...(this.lineStarts(files, line, line).get(line) ?? [])].sort(cmpBig);
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
    try {
      const files = new Set(this.matchFiles(file));
      if (files.size === 0) return undefined;
      const starts = this.lineStarts(files, line, line + maxForward);
      for (let l = line; l <= line + maxForward; l++) {
        const a = starts.get(l);
        if (a && a.size > 0) return { line: l, addresses: [...a].sort(cmpBig) };
      }
      return undefined;
    } catch {
      return undefined;
    }
  }

  /** The .debug_line offsets (DW_AT_stmt_list) of the units whose sequences cover `address`. */
  unitsAt(address: bigint): number[] {
    const r = this.ranges;
    let lo = 0;
    let hi = r.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (r[mid].start <= address) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    const out: number[] = [];
    // Ranges of different units may overlap (a sequence at address 0 in each unit of an object file): look back as far as the longest reaches.
    for (let i = found; i >= 0 && address - r[i].start <= this.maxRangeLength; i--) {
      if (address < r[i].end && !out.includes(r[i].unit)) out.push(r[i].unit);
    }
    return out.sort((a, b) => a - b).map((u) => this.unitList[u].offset);
  }

  private spanAt(address: bigint): Span | undefined {
    for (const offset of this.unitsAt(address)) {
      const index = this.unitList.findIndex((u) => u.offset === offset);
      this.unitSequences(index);
      const u = this.unitList[index];
      const sp = findSpan(u.spans ?? [], u.maxSpanLength, address);
      if (sp) return sp;
    }
    return undefined;
  }

  /**
   * The file and line of the row covering `address`, or undefined outside
   * every sequence. Where several rows share the address, `functionEntry`
   * (the caller knows a function starts there) picks the first ('{'), else
   * the last of that file (the statement about to run).
   */
  lineForAddress(address: bigint, functionEntry = false): SourceLocation | undefined {
    const sp = this.spanAt(address);
    if (!sp) return undefined;
    const first = functionEntry;
    return { file: this.fileList[sp.file], line: first ? sp.line : sp.lastLine, column: first ? sp.column : sp.lastColumn, address: sp.start };
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
