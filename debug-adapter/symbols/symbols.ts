/**
 * Symbols: one kernel's (or module's) symbol table, line tables, DWARF and
 * call frame information, and the debugger's questions to them (which line
 * and function is this address, where is this line, what are the caller
 * frames), each answered with what there is, never thrown. Filled by
 * load.ts.
 */
import { parseCallFrameInfo, CallFrameInfo, UnwindRow } from './cfi';
import { DebugInfo, subprogramAt } from './dwarf-info';
import { NameIndexOptions, NameIndexService } from '../dwarf/name-index-service';
import { describeError } from './dwarf-reader';
import { LineTable, SourceLocation } from './line-table';
import { parseLineTables } from './line-table-load';
import { SymbolTable, Symbolized } from './symbol-table';
import type { DebugData } from '../dwarf/model';
import { ReadMemory, RegisterSnapshot, unwindStack, UnwindResult } from './unwind';

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

/** fn(), or `fallback` when it throws: the symbol layer answers with what there is. */
export function guard<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}
