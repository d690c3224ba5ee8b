/**
 * Every object with symbols in the guest at once: the kernel (vmlinux, with
 * its KASLR slide) and each loaded module (relocated to where it is, so its
 * addresses are run-time ones already). A SymbolSpace is a Symbols, so the
 * session's lookups (breakpoint lines, stack frames and their source,
 * scopes and variables, disassembly names, unwinding) stay one call: by
 * address they go to the object whose memory holds it, by file or name to
 * every object, the kernel first.
 */
import type { CType, DebugData, FunctionScope, UnitScope, VariableInfo } from '../dwarf/model';
import type { CallFrameInfo, UnwindRow } from './cfi';
import type { DebugInfo } from './dwarf-info';
import type { LineTable, SourceLocation } from './line-table';
import type { SymbolTable, Symbolized } from './symbol-table';
import { Symbols, type FunctionInfo } from './index';

/** One loaded module's symbols and the memory it occupies now. */
export interface SpaceObject {
  /** The module's name as the kernel knows it ("kvmdbg_mod"). */
  name: string;
  symbols: Symbols;
  /** [start, end) ranges of its code and data at run time (init ones go when the kernel frees them). */
  ranges: [bigint, bigint][];
}

/** Which object answered a file:line lookup, and where. */
export interface ObjectLines { object: string; line: number; addresses: bigint[] }

export class SymbolSpace extends Symbols {
  private readonly objects = new Map<string, SpaceObject>();
  private composite?: DebugData;

  constructor(readonly kernel: Symbols) {
    super(kernel.name);
    this.summary = kernel.summary;
    this.warnings.push(...kernel.warnings);
    this.problems.push(...kernel.problems);
    this.bits = kernel.bits;
    this.names = kernel.names;
    this.linkedBytes = (a, n) => kernel.linkedBytes(a, n);
    this.close = () => kernel.close();
  }

  // The kernel's parts are the space's (the symbol table by name, line tables by file...).
  override get lines(): LineTable { return this.kernel.lines; }
  override set lines(v: LineTable) { this.kernel.lines = v; }
  override get cfi(): CallFrameInfo { return this.kernel.cfi; }
  override set cfi(v: CallFrameInfo) { this.kernel.cfi = v; }
  override get table(): SymbolTable { return this.kernel.table; }
  override set table(v: SymbolTable) { this.kernel.table = v; }
  override get info(): DebugInfo | undefined { return this.kernel.info; }
  override set info(v: DebugInfo | undefined) { this.kernel.info = v; }

  /** C data of every object: scopes by pc, variables and types by name (the kernel first). */
  override get debug(): DebugData | undefined {
    if (!this.kernel.debug && this.objects.size === 0) return undefined;
    return (this.composite ??= this.compositeDebug());
  }
  override set debug(v: DebugData | undefined) { this.kernel.debug = v; }

  override get slide(): bigint { return this.kernel.slide; }
  override rebase(slide: bigint): void { this.kernel.rebase(slide); }

  // ---- the objects ------------------------------------------------------------------------

  /** Adds (or replaces) a module's symbols. */
  add(object: SpaceObject): void {
    this.objects.set(object.name, object);
  }

  /** Removes a module; true when it was there. */
  remove(name: string): boolean {
    const o = this.objects.get(name);
    if (o) o.symbols.close();
    return this.objects.delete(name);
  }

  /** A module's memory changed (the kernel freed its init sections); true when it did. */
  setRanges(name: string, ranges: [bigint, bigint][]): boolean {
    const o = this.objects.get(name);
    if (!o || o.ranges.join('/') === ranges.join('/')) return false;
    o.ranges = ranges;
    return true;
  }

  get modules(): readonly SpaceObject[] { return [...this.objects.values()]; }
  module(name: string): SpaceObject | undefined { return this.objects.get(name); }

  /** The module whose memory holds `address`, or undefined (the kernel, or nothing known). */
  moduleAt(address: bigint): SpaceObject | undefined {
    for (const o of this.objects.values()) {
      for (const [start, end] of o.ranges) if (address >= start && address < end) return o;
    }
    return undefined;
  }

  /** The object that answers for `address`. */
  private at(address: bigint): Symbols {
    return this.moduleAt(address)?.symbols ?? this.kernel;
  }

  // ---- by address -------------------------------------------------------------------------

  override objectNameAt(address: bigint): string { return this.moduleAt(address)?.name ?? this.kernel.name; }

  override toLinked(address: bigint): bigint { return this.moduleAt(address) ? address : this.kernel.toLinked(address); }
  override toRuntime(address: bigint): bigint { return this.moduleAt(address) ? address : this.kernel.toRuntime(address); }
  override lineForAddress(address: bigint): SourceLocation | undefined { return this.at(address).lineForAddress(address); }
  override lineRange(address: bigint): [bigint, bigint] | undefined { return this.at(address).lineRange(address); }
  override symbolize(address: bigint): Symbolized | undefined { return this.at(address).symbolize(address); }
  override functionAt(address: bigint): FunctionInfo | undefined { return this.at(address).functionAt(address); }
  override unwindRow(pc: bigint): UnwindRow | undefined { return this.at(pc).unwindRow(pc); }

  // ---- by file and name -------------------------------------------------------------------

  /** Every object's answer for file:line (a header's inline function may be in several). */
  resolveEverywhere(file: string, line: number): ObjectLines[] {
    const out: ObjectLines[] = [];
    const k = this.kernel.resolveBreakpoint(file, line);
    if (k && k.addresses.length > 0) out.push({ object: this.kernel.name, ...k });
    for (const o of this.objects.values()) {
      const r = o.symbols.resolveBreakpoint(file, line);
      // Code the kernel freed (a module's init sections once it is live) is no place for a breakpoint.
      const live = r?.addresses.filter((a) => this.inRanges(o, a)) ?? [];
      if (r && live.length > 0) out.push({ object: o.name, line: r.line, addresses: live });
    }
    return out;
  }

  private inRanges(o: SpaceObject, address: bigint): boolean {
    return o.ranges.length === 0 || o.ranges.some(([start, end]) => address >= start && address < end);
  }

  /** The objects whose line tables name `file` (whether or not the line has code). */
  objectsWithFile(file: string): string[] {
    const has = (s: Symbols): boolean => { try { return s.lines.matchFiles(file).length > 0; } catch { return false; } };
    return [...(has(this.kernel) ? [this.kernel.name] : []), ...[...this.objects.values()].filter((o) => has(o.symbols)).map((o) => o.name)];
  }

  /**
   * The first line at or after `line` with code in any object, with the addresses of every
   * object that has code on that same line.
   */
  override resolveBreakpoint(file: string, line: number): { line: number; addresses: bigint[] } | undefined {
    const all = this.resolveEverywhere(file, line);
    if (all.length === 0) return undefined;
    const first = Math.min(...all.map((r) => r.line));
    return { line: first, addresses: all.filter((r) => r.line === first).flatMap((r) => r.addresses) };
  }

  override addressesForLine(file: string, line: number): bigint[] {
    return [...this.kernel.addressesForLine(file, line), ...[...this.objects.values()].flatMap((o) => o.symbols.addressesForLine(file, line).filter((a) => this.inRanges(o, a)))];
  }

  override addressOf(name: string): bigint | undefined {
    const k = this.kernel.addressOf(name);
    if (k !== undefined) return k;
    for (const o of this.objects.values()) {
      const a = o.symbols.addressOf(name);
      if (a !== undefined) return a;
    }
    return undefined;
  }

  private compositeDebug(): DebugData {
    const all = (): DebugData[] => [this.kernel.debug, ...[...this.objects.values()].map((o) => o.symbols.debug)].filter((d): d is DebugData => d !== undefined);
    const space = this;
    return {
      scopesAt(pc: bigint): readonly FunctionScope[] {
        const m = space.moduleAt(pc);
        return (m ? m.symbols.debug : space.kernel.debug)?.scopesAt(pc) ?? [];
      },
      findVariable(name: string, near?: UnitScope): VariableInfo | undefined {
        for (const d of all()) {
          const v = d.findVariable(name, near);
          if (v) return v;
        }
        return undefined;
      },
      findType(name: string): CType | undefined {
        for (const d of all()) {
          const t = d.findType(name);
          if (t) return t;
        }
        return undefined;
      },
      namesStartingWith(prefix: string, limit: number): readonly string[] {
        const out = new Set<string>();
        for (const d of all()) {
          for (const n of d.namesStartingWith(prefix, limit - out.size)) out.add(n);
          if (out.size >= limit) break;
        }
        return [...out];
      },
      get problems(): readonly string[] { return all().flatMap((d) => d.problems); },
    };
  }
}
