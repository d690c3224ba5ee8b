/**
 * What is in scope at a pc: the unit holding it (.debug_aranges, else the
 * units' own ranges), the subprogram whose ranges hold it, then down the
 * tree the lexical blocks and inlined subroutines holding it. Each inlined
 * instance starts a new FunctionScope (innermost first), named after its
 * abstract origin, with its call site (DW_AT_call_file/line/column, in the
 * caller's file) as `inlinedAt`. Every scope's DW_OP_fbreg means the
 * concrete subprogram's frame base: inlined code shares its frame.
 */
import { DW_AT, DW_TAG } from './constants';
import type { Die } from './dies';
import { arangeUnits, readAranges, ArangeEntry } from './aranges';
import type { BlockScope, FunctionScope, UnitScope, VariableInfo } from './model';
import { PcRange, dieRanges, rangesContain, rangesOf } from './ranges';
import type { DwarfReader } from './reader';
import { constantOf } from './units';
import type { VariableFactory } from './variable-info';

/** Blocks and inlined calls nested deeper than this are damage. */
const MAX_NESTING = 256;

export class ScopeReader {
  private aranges?: ArangeEntry[];
  private unitRanges?: PcRange[][];
  private readonly unitScopes = new Map<number, UnitScope>();

  constructor(private readonly reader: DwarfReader, private readonly vars: VariableFactory) {}

  /** FunctionScopes at link-time `pc`, innermost first; empty when no DWARF describes it. */
  scopesAt(pc: bigint): FunctionScope[] {
    for (const unit of this.unitsAt(pc)) {
      const tree = this.reader.tree(unit);
      const root = tree?.root;
      if (!root) continue;
      const sp = this.subprogramAt(root, pc, 0);
      if (sp) return this.chain(unit, sp, pc);
    }
    return [];
  }

  /** Indices of the units that may hold `pc`: .debug_aranges first, then each unit's own ranges. */
  unitsAt(pc: bigint): number[] {
    this.aranges ??= readAranges(this.reader.sections.debugAranges, this.reader.problems);
    const out: number[] = [];
    for (const off of arangeUnits(this.aranges, pc)) {
      const i = this.reader.unitIndexAt(off);
      if (i >= 0 && !out.includes(i)) out.push(i);
    }
    if (out.length) return out;
    if (!this.unitRanges) {
      // Every unit's root, once: a few bytes each (a kernel has thousands of units, all with ranges).
      this.unitRanges = [];
      for (let i = 0; i < this.reader.unitCount; i++) {
        const u = this.reader.unit(i);
        this.unitRanges.push(u ? rangesOf(this.reader, u, (n) => u.rootAttrs.find((a) => a.name === n)) : []);
      }
    }
    this.unitRanges.forEach((ranges, i) => { if (rangesContain(ranges, pc)) out.push(i); });
    return out;
  }

  /** The concrete subprogram holding `pc` among a unit's top-level DIEs (C++ namespaces are searched too). */
  private subprogramAt(parent: Die, pc: bigint, depth: number): Die | undefined {
    for (const d of parent.children) {
      if (d.tag === DW_TAG.subprogram) {
        if (rangesContain(dieRanges(this.reader, d), pc)) return d;
      } else if (d.tag === DW_TAG.namespace && depth < 16) {
        const found = this.subprogramAt(d, pc, depth + 1);
        if (found) return found;
      }
    }
    return undefined;
  }

  /** The subprogram and its inlined instances holding `pc`, as scopes, innermost first. */
  private chain(unitIndex: number, sp: Die, pc: bigint): FunctionScope[] {
    const frames: { fn: Die; blocks: Die[] }[] = [{ fn: sp, blocks: [] }];
    let cur = sp;
    for (let depth = 0; depth < MAX_NESTING; depth++) {
      const next = cur.children.find((c) =>
        (c.tag === DW_TAG.lexical_block || c.tag === DW_TAG.inlined_subroutine) && this.holds(c, pc));
      if (!next) break;
      if (next.tag === DW_TAG.inlined_subroutine) frames.push({ fn: next, blocks: [] });
      else frames[frames.length - 1].blocks.push(next);
      cur = next;
    }
    const unit = this.unitScope(unitIndex);
    return frames.reverse().map((f) => this.functionScope(f.fn, f.blocks, sp, pc, unit));
  }

  /**
   * Whether a block or inlined instance holds `pc`. A lexical block without
   * pc attributes (gcc writes some) is not a scope of its own: it holds its
   * parent's pcs.
   */
  private holds(d: Die, pc: bigint): boolean {
    const ranges = dieRanges(this.reader, d);
    if (ranges.length) return rangesContain(ranges, pc);
    return d.tag === DW_TAG.lexical_block && !this.reader.attr(d, DW_AT.ranges);
  }

  private functionScope(fn: Die, blocks: Die[], frameBase: Die, pc: bigint, unit: UnitScope): FunctionScope {
    const r = this.reader;
    const range = containing(dieRanges(r, fn), pc);
    const found: { v: VariableInfo; order: number }[] = [];
    for (const c of fn.children) {
      if (c.tag !== DW_TAG.formal_parameter) continue;
      const v = this.vars.make(c, 'parameter', frameBase);
      // In declaration order: gcc lists an inlined instance's parameters reversed; their abstract origins are in source order.
      if (v) found.push({ v, order: r.ref(c, DW_AT.abstract_origin)?.offset ?? c.offset });
    }
    const parameters = found.sort((a, b) => a.order - b.order).map((x) => x.v);
    const scopes: BlockScope[] = [];
    for (const b of [...blocks].reverse()) {
      const br = containing(dieRanges(r, b), pc) ?? range;
      scopes.push({ lowPc: br?.low ?? 0n, highPc: br?.high ?? 0n, locals: this.locals(b, frameBase) });
    }
    scopes.push({ lowPc: range?.low ?? 0n, highPc: range?.high ?? 0n, locals: this.locals(fn, frameBase) });
    const scope: FunctionScope = {
      name: r.nameOf(fn) ?? r.inheritedString(fn, DW_AT.linkage_name) ?? '<unnamed>',
      lowPc: range?.low ?? 0n, highPc: range?.high ?? 0n, parameters, blocks: scopes, unit,
    };
    if (fn.tag === DW_TAG.inlined_subroutine) {
      const at: NonNullable<FunctionScope['inlinedAt']> = {};
      const file = constantOf(r.attr(fn, DW_AT.call_file));
      const line = constantOf(r.attr(fn, DW_AT.call_line));
      const column = constantOf(r.attr(fn, DW_AT.call_column));
      if (file !== undefined && file <= 0xffffn) {
        const name = this.vars.fileName(r.unitOf(fn), Number(file));
        if (name !== undefined) at.file = name;
      }
      if (line !== undefined && line <= 0xffff_ffffn) at.line = Number(line);
      if (column !== undefined && column <= 0xffffn) at.column = Number(column);
      scope.inlinedAt = at;
    }
    return scope;
  }

  /** A scope's own variables (those of nested blocks belong to those blocks). */
  private locals(scope: Die, frameBase: Die): VariableInfo[] {
    const out: VariableInfo[] = [];
    for (const c of scope.children) {
      if (c.tag !== DW_TAG.variable) continue;
      const v = this.vars.make(c, 'local', frameBase);
      if (v) out.push(v);
    }
    return out;
  }

  /** The UnitScope of unit `index` (one object per unit; its statics are read on first call). */
  unitScope(index: number): UnitScope {
    let s = this.unitScopes.get(index);
    if (s) return s;
    const u = this.reader.unit(index);
    let statics: VariableInfo[] | undefined;
    let externs: string[] | undefined;
    s = {
      externs: (): readonly string[] => {
        if (!externs) {
          const root = this.reader.tree(index)?.root;
          externs = root ? this.vars.unitExterns(root) : [];
        }
        return externs;
      },
      statics: (): readonly VariableInfo[] => {
        if (!statics) {
          const root = this.reader.tree(index)?.root;
          statics = root ? this.vars.unitVariables(root) : [];
        }
        return statics;
      },
    };
    if (u?.name !== undefined) s.name = u.name;
    if (u?.compDir !== undefined) s.compDir = u.compDir;
    this.unitScopes.set(index, s);
    return s;
  }

  /** The unit index a UnitScope object stands for (findVariable's `near`), or -1. */
  indexOf(scope: UnitScope): number {
    for (const [i, s] of this.unitScopes) if (s === scope) return i;
    return -1;
  }
}

function containing(ranges: PcRange[], pc: bigint): PcRange | undefined {
  return ranges.find((r) => r.low <= pc && pc < r.high) ?? ranges[0];
}
