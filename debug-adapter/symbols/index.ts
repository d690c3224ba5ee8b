/**
 * The symbol layer of the debug adapter: `loadSymbols(kernel)` reads an ELF
 * kernel's symbol table, DWARF line tables, DWARF compile units and call
 * frame information, and answers the debugger's questions (where is this
 * line, which line and function is this address, what are the caller
 * frames). It never throws: what could not be read is said in `summary`
 * and `warnings`, one sentence each, and the queries answer with what there is.
 */
import { basename } from 'node:path';
import { ByteSource, openFileSource } from '../../vmm/boot/byte-source';
import { parseCallFrameInfo, CallFrameInfo, UnwindRow } from './cfi';
import { DebugInfo, DebugInfoInput, debugInfoFacts, openDebugInfo, parseDebugInfo, subprogramAt } from './dwarf-info';
import { NameIndexOptions, NameIndexService, openNameIndex } from '../dwarf/name-index-service';
import { readAranges } from '../dwarf/aranges';
import { sectionOf } from '../dwarf/model';
import { describeError, stringAt } from './dwarf-reader';
import { sectionString } from '../dwarf/section-io';
import { HeaderInput } from './line-program';
import { LineTable, openLineTables, parseLineTables, SourceLocation, UnitRange } from './line-table';
import { FACTS_VERSION, factsPath, LoadFacts, readFacts, writeFacts } from './load-facts';
import { quickSymbols } from './elf-symtab';
import { ObjectFile, objectFileFromElf } from './object-file';
import { SymbolTable, Symbolized } from './symbol-table';
import type { DebugData } from '../dwarf/model';
import { ReadMemory, RegisterSnapshot, unwindStack, UnwindResult } from './unwind';

/** dwarf/ (the C data reader, 20 modules) is loaded when C data is first asked for, not with the symbols. */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const dwarf = (): typeof import('../dwarf') => require('../dwarf') as typeof import('../dwarf');

export { ByteReader, DwarfError } from './dwarf-reader';
export { LineTable, parseLineTables } from './line-table';
export type { LineRow, SourceLocation, LineTableInput } from './line-table';
export { CallFrameInfo, parseCallFrameInfo } from './cfi';
export type { CfaRule, RegisterRule, UnwindRow, CfiInput, FrameSection } from './cfi';
export { unwindStack } from './unwind';
export type { ReadMemory, RegisterSnapshot, StackFrame, UnwindOptions, UnwindResult } from './unwind';
export { SymbolTable } from './symbol-table';
export type { SymbolEntry, Symbolized, ElfSymbolLike } from './symbol-table';
export { parseDebugInfo, subprogramAt } from './dwarf-info';
export type { CompileUnit, Subprogram, DebugInfo, DebugInfoInput } from './dwarf-info';
export { objectFileFromElf } from './object-file';
export type { ObjectFile, SectionData } from './object-file';
export { X86_64_ABI, I386_ABI, abiFor, registerName, registerNumber } from './dwarf-registers';

export interface LoadOptions {
  /** Name for messages (default: the path's basename, or "kernel"). */
  name?: string;
  /** A System.map's text: used for names when the ELF has no symbol table. */
  systemMap?: string;
  /**
   * Start the DWARF name index (`Symbols.names`) of a file loaded by path:
   * from its build-id's cache, else built in a worker (never waited for).
   */
  nameIndex?: Omit<NameIndexOptions, 'buildId'>;
}

/** A function's extent: from DWARF (subprogram) or the symbol table (sized symbol). */
export interface FunctionInfo {
  name: string;
  start: bigint;
  end: bigint;
}

/**
 * x86-64 Linux's kernel-image mapping (__START_KERNEL_map, 1 GiB): the
 * addresses a KASLR slide moves. Others (per-CPU offsets, modules, user
 * space, a non-Linux kernel's low addresses) are never rebased.
 */
export const SLIDABLE_START = 0xffff_ffff_8000_0000n;
export const SLIDABLE_END = 0xffff_ffff_c000_0000n;

export class Symbols {
  /** One line for the user: what was found, e.g. "pvh64.elf: DWARF 5 line tables for 12 files, CFI for 40 functions, 230 symbols". */
  summary = '';
  /** Sentences about what is missing and what therefore does not work. */
  readonly warnings: string[] = [];
  /** Details of damaged sections, for a log. */
  readonly problems: string[] = [];
  bits: 32 | 64 = 64;
  /**
   * The parts below are made on first use (a distro vmlinux's symbol table,
   * line-table headers and CFI cost a second to parse; a breakpoint needs a
   * few of their entries). `makers` says how; assigning a part replaces it.
   * They hold link-time addresses; every query here takes and returns
   * run-time ones (see `slide`).
   */
  private readonly parts: { lines?: LineTable; cfi?: CallFrameInfo; table?: SymbolTable; info?: DebugInfo | null; debug?: DebugData | null } = {};
  /** @internal */
  readonly makers: { lines?: () => LineTable; cfi?: () => CallFrameInfo; table?: () => SymbolTable; info?: () => DebugInfo; debug?: () => DebugData } = {};

  get lines(): LineTable { return (this.parts.lines ??= this.make('line tables', this.makers.lines) ?? parseLineTables({ debugLine: new Uint8Array(0) })); }
  set lines(v: LineTable) { this.parts.lines = v; }
  get cfi(): CallFrameInfo { return (this.parts.cfi ??= this.make('call frame information', this.makers.cfi) ?? parseCallFrameInfo({ bits: 64 })); }
  set cfi(v: CallFrameInfo) { this.parts.cfi = v; }
  get table(): SymbolTable { return (this.parts.table ??= this.make('symbol table', this.makers.table) ?? SymbolTable.empty()); }
  set table(v: SymbolTable) { this.parts.table = v; }
  get info(): DebugInfo | undefined {
    if (this.parts.info === undefined) this.parts.info = this.make('.debug_info', this.makers.info) ?? null;
    return this.parts.info ?? undefined;
  }
  set info(v: DebugInfo | undefined) { this.parts.info = v ?? null; }
  /** Closes the kernel file (loaded from a path, it stays open for reads on demand): a session that ends calls it. */
  close: () => void = () => {};
  /** C data: types, variables in scope, locations (dwarf/); absent without .debug_info. */
  get debug(): DebugData | undefined {
    if (this.parts.debug === undefined) this.parts.debug = this.make('.debug_info', this.makers.debug) ?? null;
    return this.parts.debug ?? undefined;
  }
  set debug(v: DebugData | undefined) { this.parts.debug = v ?? null; }

  private make<T>(what: string, maker: (() => T) | undefined): T | undefined {
    if (!maker) return undefined;
    try {
      return maker();
    } catch (e) {
      this.problems.push(`${what}: ${describeError(e)}`);
      return undefined;
    }
  }
  /** Names -> DIE offsets (variables, functions, types) when LoadOptions.nameIndex asked for it; empty answers until built. */
  names?: NameIndexService;
  /** The file's bytes at a link-time address (.rodata), for checks against guest memory (KASLR detection). */
  linkedBytes: (address: bigint, length: number) => Uint8Array | undefined = () => undefined;
  /** How far the running kernel is from its link addresses (KASLR); 0 = as linked. Set with rebase(). */
  private slideBy = 0n;
  /** Answers by address: every step's stack trace asks about the same few pcs again. */
  private readonly memo = {
    line: new AddressMemo<SourceLocation | undefined>(),
    range: new AddressMemo<[bigint, bigint] | undefined>(),
    symbol: new AddressMemo<Symbolized | undefined>(),
    fn: new AddressMemo<FunctionInfo | undefined>(),
    row: new AddressMemo<UnwindRow | undefined>(),
  };

  constructor(readonly name: string) {}

  get slide(): bigint { return this.slideBy; }

  /** From now on, kernel-image addresses (SLIDABLE_START..END when linked) are `slide` away at run time. */
  rebase(slide: bigint): void {
    this.slideBy = slide;
    for (const m of Object.values(this.memo)) m.clear();
  }

  /** The object file an address belongs to, for frames without a function ("vmlinux", a module's name). */
  objectNameAt(_address: bigint): string { return this.name; }

  /** A run-time address as linked (unchanged outside the slid kernel image). */
  toLinked(address: bigint): bigint {
    if (this.slideBy === 0n || address < SLIDABLE_START || address >= SLIDABLE_END) return address;
    const a = address - this.slideBy;
    return a >= SLIDABLE_START && a < SLIDABLE_END ? a : address;
  }

  /** A link-time address where it is at run time. */
  toRuntime(address: bigint): bigint {
    if (this.slideBy === 0n || address < SLIDABLE_START || address >= SLIDABLE_END) return address;
    return BigInt.asUintN(64, address + this.slideBy);
  }

  /** Addresses where `line` of `file` begins (every one; see LineTable.addressesForLine). */
  addressesForLine(file: string, line: number): bigint[] {
    return guard(() => this.lines.addressesForLine(file, line).map((a) => this.toRuntime(a)), []);
  }

  /**
   * A source breakpoint: the first line at or after `line` with code, and
   * one address per function on it (the lowest), as gdb places them: a loop
   * header gets one breakpoint, not one per iteration path.
   */
  resolveBreakpoint(file: string, line: number): { line: number; addresses: bigint[] } | undefined {
    return guard(() => {
      const r = this.lines.resolveLine(file, line);
      if (!r) return undefined;
      const perFunction = new Map<string, bigint>();
      for (const a of r.addresses) {
        const f = this.linkedFunctionAt(a);
        const key = f ? `${f.name}@${f.start}` : `@${a}`;
        const have = perFunction.get(key);
        if (have === undefined || a < have) perFunction.set(key, a);
      }
      return { line: r.line, addresses: [...perFunction.values()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((a) => this.toRuntime(a)) };
    }, undefined);
  }

  lineForAddress(address: bigint): SourceLocation | undefined {
    return this.memo.line.get(address, () => guard(() => {
      const linked = this.toLinked(address);
      const loc = this.lines.lineForAddress(linked, this.linkedFunctionAt(linked)?.start === linked);
      return loc && this.slideBy !== 0n ? { ...loc, address: this.toRuntime(loc.address) } : loc;
    }, undefined));
  }

  lineRange(address: bigint): [bigint, bigint] | undefined {
    return this.memo.range.get(address, () => guard(() => {
      const r = this.lines.lineRange(this.toLinked(address));
      return r && [this.toRuntime(r[0]), this.toRuntime(r[1])];
    }, undefined));
  }

  symbolize(address: bigint): Symbolized | undefined {
    return this.memo.symbol.get(address, () => guard(() => {
      const s = this.sourceAlias(this.table.symbolize(this.toLinked(address)));
      if (!s || this.slideBy === 0n) return s;
      return { ...s, symbol: { ...s.symbol, address: this.toRuntime(s.symbol.address) } };
    }, undefined));
  }

  /**
   * Of several symbols at one address, the one the DWARF function there is
   * called (kvmdbg_fault_init, not its alias init_module): the name the
   * Call Stack shows. Only asked where there are aliases.
   */
  private sourceAlias(s: Symbolized | undefined): Symbolized | undefined {
    if (!s || !this.info) return s;
    const aliases = this.table.at(s.symbol.address);
    if (aliases.length < 2) return s;
    const sp = subprogramAt(this.info, s.symbol.address, this.lines.unitsAt(s.symbol.address));
    const own = sp && sp.lowPc === s.symbol.address ? aliases.find((a) => a.name === sp.name) : undefined;
    return own && own !== s.symbol ? { name: own.name, offset: s.offset, symbol: own } : s;
  }

  /** The function containing `address`: DWARF subprogram first, then a sized symbol. */
  functionAt(address: bigint): FunctionInfo | undefined {
    return this.memo.fn.get(address, () => guard(() => {
      const f = this.linkedFunctionAt(this.toLinked(address));
      return f && this.slideBy !== 0n ? { name: f.name, start: this.toRuntime(f.start), end: this.toRuntime(f.end) } : f;
    }, undefined));
  }

  private linkedFunctionAt(address: bigint): FunctionInfo | undefined {
    const sp = this.info && subprogramAt(this.info, address, this.lines.unitsAt(address));
    if (sp) return { name: sp.name, start: sp.lowPc, end: sp.highPc };
    const s = this.table.symbolize(address);
    if (s && s.symbol.size > 0n) return { name: s.name, start: s.symbol.address, end: s.symbol.address + s.symbol.size };
    return undefined;
  }

  /** A function breakpoint: the address of a symbol, or of a DWARF subprogram, by name. */
  addressOf(name: string): bigint | undefined {
    return guard(() => {
      // DWARF names only when the symbol table has none (walking every unit of a kernel for a typo would take seconds).
      const a = this.table.lookup(name)?.address ?? (this.table.size === 0 ? this.info?.subprograms.find((s) => s.name === name)?.lowPc : undefined);
      return a === undefined ? undefined : this.toRuntime(a);
    }, undefined);
  }

  unwindRow(pc: bigint): UnwindRow | undefined {
    return this.memo.row.get(pc, () => guard(() => this.cfi.unwindRow(this.toLinked(pc)), undefined));
  }

  /** The frames of a stopped vCPU (CFI, then frame pointers); never throws, never loops. */
  unwind(registers: RegisterSnapshot, readMemory: ReadMemory, maxFrames?: number): UnwindResult {
    const cfi = { unwindRow: (pc: bigint) => this.unwindRow(pc) };
    return guard(
      () => unwindStack(registers, { bits: this.bits, readMemory, cfi, maxFrames }),
      { frames: [{ pc: registers.pc, sp: registers.sp, fp: registers.fp, method: 'registers' as const, registers: registers.registers ?? new Map() }], stopReason: 'the unwinder failed' },
    );
  }
}

/** Remembered answers by address, at most MEMO_ENTRIES of them (then it starts over). */
const MEMO_ENTRIES = 4096;
class AddressMemo<T> {
  private readonly answers = new Map<bigint, T>();
  get(address: bigint, compute: () => T): T {
    if (this.answers.has(address)) return this.answers.get(address) as T;
    const answer = compute();
    if (this.answers.size >= MEMO_ENTRIES) this.answers.clear();
    this.answers.set(address, answer);
    return answer;
  }
  clear(): void { this.answers.clear(); }
}

function guard<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

/** Open files of loaded Symbols, closed when those are collected. */
const openFiles = new FinalizationRegistry<{ close(): void }>((f) => { try { f.close(); } catch { /* already closed */ } });

/**
 * Loads symbols from a kernel file path or its bytes. Never throws. A path
 * is opened and read on demand (headers, symbol table, the small debug
 * sections; .debug_info a unit at a time), never read whole.
 */
export function loadSymbols(source: string | Uint8Array | ByteSource, options: LoadOptions = {}): Symbols {
  const name = options.name ?? (typeof source === 'string' ? basename(source) : 'kernel');
  const syms = new Symbols(name);
  let bytes: Uint8Array | ByteSource;
  try {
    if (typeof source === 'string') {
      const file = openFileSource(source);
      openFiles.register(syms, file, file);
      syms.close = () => { openFiles.unregister(file); try { file.close(); } catch { /* already closed */ } };
      bytes = file;
    } else bytes = source;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    syms.summary = `${name}: cannot be read (${code === 'ENOENT' ? 'no such file' : describeError(e)}): no symbols, source lines or stacks are available`;
    syms.warnings.push(syms.summary);
    return syms;
  }
  let obj: ObjectFile;
  try {
    obj = objectFileFromElf(name, bytes);
  } catch (e) {
    syms.summary = `${describeError(e)}: no symbols, source lines or stacks are available`;
    syms.warnings.push(syms.summary);
    return syms;
  }
  fillFromObject(syms, obj, options);
  if (typeof source === 'string' && options.nameIndex && syms.makers.debug) {
    try {
      const names = openNameIndex(source, { ...options.nameIndex, buildId: obj.buildId() });
      syms.names = names;
      // C lookups by name go through the index (types have an answer before it is ready: typesNow).
      syms.makers.debug = () => dwarf().openDebugData(dwarf().debugSectionsOf(obj), {
        names: {
          variables: (n) => (names.current ? names.variables(n) : names.variablesNow(n)),
          types: (n) => (names.current ? names.types(n) : names.typesNow(n)),
          namesStartingWith: (p, l) => names.namesStartingWith(p, l),
        },
      });
    } catch (e) {
      syms.problems.push(`name index: ${describeError(e)}`);
    }
  }
  return syms;
}

/** Reads every part from an already opened object file (tests, other containers). Never throws. */
export function symbolsFromObject(obj: ObjectFile, options: LoadOptions = {}): Symbols {
  const syms = new Symbols(options.name ?? obj.name);
  fillFromObject(syms, obj, options);
  return syms;
}

function fillFromObject(syms: Symbols, obj: ObjectFile, options: LoadOptions): void {
  const name = syms.name;
  syms.bits = obj.bits;
  const sec = (n: string): Uint8Array | undefined => guard(() => obj.section(n)?.data, undefined);
  const step = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      syms.problems.push(`${what}: ${describeError(e)}`);
    }
  };

  syms.linkedBytes = (address, length) => guard(() => {
    const ro = obj.section('.rodata');
    if (!ro || address < ro.addr || address - ro.addr + BigInt(length) > BigInt(ro.data.length)) return undefined;
    const at = Number(address - ro.addr);
    return ro.data.subarray(at, at + length);
  }, undefined);

  // What an earlier load of this file (by build-id) learned: then no part is parsed now.
  const buildId = options.nameIndex ? guard(() => obj.buildId(), undefined) : undefined;
  const cachePath = options.nameIndex ? factsPath(buildId, options.nameIndex.cacheDir) : undefined;
  const sizes = [guard(() => obj.section('.debug_info')?.size ?? 0, 0), guard(() => obj.section('.debug_line')?.size ?? 0, 0)];
  const known = cachePath ? readFacts(cachePath, buildId!, sizes) : undefined;

  // The symbol table: counted and searched by name in place (elf-symtab.ts); made whole when first needed.
  let symbolCount = 0;
  let countedInPlace = false;
  step('symbol table', () => {
    const raw = obj.rawSymtab?.();
    const quick = raw ? quickSymbols(raw, known?.symbolCount) : undefined;
    if (quick && quick.count > 0) {
      syms.makers.table = () => SymbolTable.lazyFromElf(() => obj.symbols(), quick);
      symbolCount = quick.count;
      countedInPlace = true;
      return;
    }
    let table = raw === null || quick ? SymbolTable.fromElf([]) : SymbolTable.fromElf(obj.symbols());
    if (table.size === 0 && options.systemMap) table = SymbolTable.fromSystemMap(options.systemMap);
    syms.table = table;
    symbolCount = table.size;
  });

  const debugInfo = guard(() => obj.section('.debug_info')?.source, undefined);
  const debugAbbrevSection = guard(() => obj.section('.debug_abbrev'), undefined);
  const hasInfo = debugInfo !== undefined && debugAbbrevSection !== undefined;
  if (hasInfo) syms.makers.debug = () => dwarf().openDebugData(dwarf().debugSectionsOf(obj));
  // The sections parsers read whole, read when a parser first asks (getters); a walk of a few
  // units (`piecewise`) reads only their abbreviation tables and strings.
  const infoInput = (piecewise: boolean): DebugInfoInput => {
    const strings = new Map<number, string | undefined>();
    const debugStr = piecewise ? guard(() => obj.section('.debug_str')?.source, undefined) : undefined;
    return {
      debugInfo: debugInfo ?? new Uint8Array(0),
      get debugAbbrev() { return (piecewise ? debugAbbrevSection?.source : sec('.debug_abbrev')) ?? new Uint8Array(0); },
      get debugStr() { return sec('.debug_str'); },
      get debugLineStr() { return sec('.debug_line_str'); },
      get debugStrOffsets() { return sec('.debug_str_offsets'); },
      get debugAddr() { return sec('.debug_addr'); },
      strings: piecewise ? (which, offset) => {
        if (which === 'line_str') return stringAt(sec('.debug_line_str'), offset);
        if (!strings.has(offset)) strings.set(offset, sectionString(debugStr, offset));
        return strings.get(offset);
      } : undefined,
    };
  };
  const headerInput = (compDirs: Map<number, string>, piecewise: boolean): HeaderInput => {
    const strings = piecewise ? infoInput(true).strings : undefined;
    return {
      get debugLineStr() { return sec('.debug_line_str'); },
      get debugStr() { return sec('.debug_str'); },
      addressSize: obj.bits === 64 ? 8 : 4,
      compDirs, strings,
    };
  };
  const compDirsOf = (info: DebugInfo | undefined): Map<number, string> => {
    const compDirs = new Map<number, string>();
    for (const u of info?.units ?? []) if (u.stmtList !== undefined && u.compDir) compDirs.set(u.stmtList, u.compDir);
    return compDirs;
  };
  const frames = (): CallFrameInfo => parseCallFrameInfo({
    ehFrame: guard(() => obj.section('.eh_frame'), undefined), debugFrame: guard(() => obj.section('.debug_frame'), undefined), bits: obj.bits,
  });

  let files: number;
  let versions: number[];
  let fdeCount: number;
  let frameSources: string[];
  if (known) {
    const infoFacts = known.info;
    if (hasInfo && infoFacts) syms.makers.info = () => openDebugInfo(infoInput(true), infoFacts);
    const lineFacts = known.lines;
    const debugLine = guard(() => obj.section('.debug_line')?.source, undefined);
    if (debugLine && lineFacts) syms.makers.lines = () => openLineTables(debugLine, headerInput(compDirsOf(syms.info), true), lineFacts);
    syms.makers.cfi = frames;
    syms.problems.push(...known.problems);
    files = known.lines?.fileCount ?? 0;
    versions = known.lines?.versions ?? [];
    fdeCount = known.cfi.fdeCount;
    frameSources = known.cfi.sources;
  } else {
    step('.debug_info', () => {
      if (hasInfo) {
        syms.info = parseDebugInfo(infoInput(false));
        syms.problems.push(...syms.info.problems.slice(0, 20));
      }
    });

    step('.debug_line', () => {
      const debugLine = sec('.debug_line');
      if (!debugLine) return;
      const stmtLists = new Map<number, number>();
      for (const u of syms.info?.units ?? []) if (u.stmtList !== undefined) stmtLists.set(u.offset, u.stmtList);
      // Which unit covers which address, from .debug_aranges: no line program runs at load for the units it names.
      const aranges = sec('.debug_aranges');
      let unitRanges: UnitRange[] | undefined;
      if (aranges && stmtLists.size > 0) {
        unitRanges = [];
        for (const r of readAranges(sectionOf(aranges), syms.problems)) {
          const stmtList = stmtLists.get(r.unitOffset);
          if (stmtList !== undefined) unitRanges.push({ start: r.low, end: r.high, stmtList });
        }
      }
      syms.lines = parseLineTables({ ...headerInput(compDirsOf(syms.info), false), debugLine, unitRanges });
      syms.problems.push(...syms.lines.problems.slice(0, 20));
    });

    step('call frame information', () => {
      syms.cfi = frames();
      syms.problems.push(...syms.cfi.problems.slice(0, 20));
    });
    syms.problems.push(...obj.problems);
    files = guard(() => syms.lines.fileCount, 0);
    versions = [...syms.lines.versions];
    fdeCount = syms.cfi.fdeCount;
    frameSources = [...new Set(syms.cfi.ranges().map((r) => r.source))];
    if (cachePath) {
      guard(() => {
        const facts: LoadFacts = {
          version: FACTS_VERSION, buildId: buildId!, sizes,
          info: syms.info && debugInfoFacts(syms.info),
          lines: sec('.debug_line') ? syms.lines.facts() : undefined,
          cfi: { fdeCount, sources: frameSources },
          symbolCount: countedInPlace ? symbolCount : undefined,
          problems: [...syms.problems],
        };
        return writeFacts(cachePath, facts);
      }, false);
    }
  }

  // The summary and what the user loses.
  const parts: string[] = [];
  if (files > 0) parts.push(`DWARF ${[...versions].sort().join('/')} line tables for ${files} file${files === 1 ? '' : 's'}`);
  if (fdeCount > 0) parts.push(`CFI for ${fdeCount} functions (${frameSources.join(', ')})`);
  const fromMap = syms.makers.table === undefined && syms.table.source === 'System.map';
  if (symbolCount > 0) parts.push(`${symbolCount} symbols${fromMap ? ' (from System.map)' : ''}`);
  syms.summary = `${name}: ${parts.length > 0 ? parts.join(', ') : 'no symbols, line tables or frame information'}`;
  if (syms.problems.length > 0) syms.summary += ` (${syms.problems.length} problem${syms.problems.length === 1 ? '' : 's'} in damaged debug sections)`;

  if (files === 0) {
    syms.warnings.push(symbolCount > 0
      ? `${name} has no DWARF line tables (built without CONFIG_DEBUG_INFO?): source breakpoints are unavailable; function breakpoints by name still work`
      : `${name} has no DWARF line tables and no symbol table (stripped?): only instruction breakpoints by address work; pass a System.map for names`);
  } else if (symbolCount === 0) {
    syms.warnings.push(`${name} has no symbol table (stripped?): frames show addresses instead of function names`);
  }
  if (fdeCount === 0) {
    syms.warnings.push(`${name} has no call frame information (.eh_frame/.debug_frame): call stacks follow the frame-pointer chain only`);
  }
}
