/**
 * DW_TAG_variable / DW_TAG_formal_parameter DIEs to VariableInfo: the name,
 * type and declaration line come from the DIE or its abstract origin (an
 * inlined or out-of-line copy names its abstract instance), the location
 * from the concrete DIE: an expression, a location list looked up at the
 * frame's pc (pc - 1 in a caller frame), or DW_AT_const_value. DW_OP_fbreg
 * uses the enclosing concrete function's DW_AT_frame_base, evaluated in the
 * same frame when first needed.
 *
 * Closures keep offsets, units and copied expressions, never DIEs (a DIE
 * holds its unit's tree, which the reader's LRU must be free to drop).
 */
import { describeError } from '../symbols/dwarf-reader';
import { DW_AT, DW_OP, DW_TAG } from './constants';
import type { Attr, Die } from './dies';
import { BaseTypeInfo, ExpressionContext, evaluate, frameBaseValue, leBytes } from './expression';
import { FileTable, readFileTable } from './line-files';
import { expressionAt } from './location-lists';
import type { FrameContext, Location, Section, VariableInfo, VariableKind } from './model';
import type { DwarfReader } from './reader';
import { TypeReader, storageSize, strip } from './types';
import { DwarfUnit, constantOf } from './units';

export class VariableFactory {
  private readonly files = new Map<number, FileTable | null>();

  constructor(private readonly reader: DwarfReader, readonly types: TypeReader, private readonly debugLine: Section | undefined) {}

  /** A file name by DW_AT_decl_file/call_file index in `unit`'s line table. */
  fileName(unit: DwarfUnit, index: number): string | undefined {
    let t = this.files.get(unit.index);
    if (t === undefined) {
      t = null;
      if (unit.stmtList !== undefined && this.debugLine) {
        try {
          t = readFileTable(this.debugLine, unit.stmtList, unit.compDir, this.reader.strings);
        } catch (e) {
          this.reader.problem(`the line table header of the unit at 0x${unit.offset.toString(16)}: ${describeError(e)}`);
        }
      }
      this.files.set(unit.index, t);
    }
    return t?.get(index);
  }

  /**
   * A variable for `die`, or undefined when it is not one to show (no name,
   * an extern declaration). `frameBase` = the concrete subprogram whose
   * DW_AT_frame_base DW_OP_fbreg means.
   */
  make(die: Die, kind: VariableKind, frameBase?: Die): VariableInfo | undefined {
    const r = this.reader;
    if (r.flag(die, DW_AT.declaration)) return undefined;
    const name = r.nameOf(die);
    if (name === undefined) return undefined;
    const unit = r.unitOf(die);
    const loc = r.attr(die, DW_AT.location);
    const constValue = loc ? undefined : r.inherited(die, DW_AT.const_value);
    if (kind === 'local' && loc && isStaticAddress(loc)) kind = 'static';
    const type = this.types.thunk(die, true);
    const ctx = this.context(unit, frameBase);
    const locAttr = loc && copyAttr(loc);
    const cv = constValue && copyAttr(constValue.attr);
    const v: VariableInfo = {
      name, kind, type, id: die.offset,
      location: (frame: FrameContext): Location => {
        try {
          if (locAttr) return this.locate(unit, locAttr, frame, ctx(frame));
          if (cv) return constantLocation(cv, storageSize(type()));
          return { kind: 'unavailable', reason: 'optimized out' };
        } catch (e) {
          return { kind: 'unavailable', reason: `the location could not be read (${describeError(e)})` };
        }
      },
    };
    const file = r.inherited(die, DW_AT.decl_file);
    const fileIndex = file && constantOf(file.attr);
    if (file && fileIndex !== undefined && fileIndex <= 0xffffn) {
      const f = this.fileName(r.unitOf(file.die), Number(fileIndex));
      if (f !== undefined) v.declFile = f;
    }
    const line = constantOf(r.inherited(die, DW_AT.decl_line)?.attr);
    if (line !== undefined && line <= 0xffff_ffffn) v.declLine = Number(line);
    return v;
  }

  /** Evaluates a location attribute (expression or list) in `frame`. */
  private locate(unit: DwarfUnit, attr: Attr, frame: FrameContext, ctx: ExpressionContext): Location {
    const pc = frame.innermost ? frame.pc : frame.pc - 1n;
    const expr = expressionAt(this.reader, unit, attr, pc);
    if (!(expr instanceof Uint8Array)) return { kind: 'unavailable', reason: expr.reason };
    return evaluate(expr, frame, ctx);
  }

  /** The expression context of `unit`, with the frame base of `fn` computed once per frame. */
  private context(unit: DwarfUnit, fn: Die | undefined): (frame: FrameContext) => ExpressionContext {
    const fbAttr = fn && this.reader.attr(fn, DW_AT.frame_base);
    const fbCopy = fbAttr && copyAttr(fbAttr);
    const fbUnit = fn && this.reader.unitOf(fn);
    const baseType = (off: number): BaseTypeInfo | undefined => this.baseType(unit, off);
    return (frame) => {
      let fb: bigint | string | undefined;
      const base: ExpressionContext = {
        addressSize: unit.addressSize, offsetSize: unit.header.offsetSize,
        addressAt: (i) => unit.addressAt(i), baseType,
      };
      base.frameBase = (): bigint | string => {
        if (fb === undefined) {
          if (!fbCopy || !fbUnit) fb = 'the function has no frame base (DW_AT_frame_base)';
          else {
            // The frame base itself must not use DW_OP_fbreg.
            const loc = this.locate(fbUnit, fbCopy, frame, { ...base, frameBase: undefined });
            fb = frameBaseValue(loc, frame);
          }
        }
        return fb;
      };
      return base;
    };
  }

  /** A base type DIE at a unit-relative offset, for the typed-stack ops. */
  private baseType(unit: DwarfUnit, off: number): BaseTypeInfo | undefined {
    const t = strip(this.types.typeAt(unit.offset + off));
    if (t.kind !== 'base') return undefined;
    return { size: t.size, signed: t.encoding === 'signed' || t.encoding === 'signed-char', float: t.encoding === 'float' || t.encoding === 'complex-float' };
  }

  /**
   * A unit's file-scope variables with a location or a constant value:
   * statics first, then globals. A definition that completes a declaration
   * (DW_AT_specification) is external when the declaration says so.
   */
  unitVariables(root: Die): VariableInfo[] {
    const statics: VariableInfo[] = [];
    const globals: VariableInfo[] = [];
    for (const d of root.children) {
      if (d.tag !== DW_TAG.variable) continue;
      if (!this.reader.attr(d, DW_AT.location) && !this.reader.attr(d, DW_AT.const_value)) continue;
      const external = this.isExternal(d);
      const v = this.make(d, external ? 'global' : 'static');
      if (v) (external ? globals : statics).push(v);
    }
    return [...statics, ...globals];
  }

  /** A unit's extern declarations of variables (gcc emits them for the ones the unit uses), by name. */
  unitExterns(root: Die): string[] {
    const names: string[] = [];
    for (const d of root.children) {
      if (d.tag !== DW_TAG.variable || !this.reader.flag(d, DW_AT.declaration)) continue;
      if (this.reader.attr(d, DW_AT.location) || this.reader.attr(d, DW_AT.const_value)) continue;
      const name = this.reader.nameOf(d);
      if (name) names.push(name);
    }
    return names;
  }

  isExternal(d: Die): boolean {
    const ext = this.reader.inherited(d, DW_AT.external);
    return ext?.attr.value.kind === 'number' && ext.attr.value.value !== 0n;
  }
}

/** An attribute whose block bytes are copied (a view would keep the unit's bytes alive). */
function copyAttr(a: Attr): Attr {
  return a.value.kind === 'block' ? { ...a, value: { kind: 'block', bytes: Uint8Array.from(a.value.bytes) } } : a;
}

/** A location that is DW_OP_addr/addrx alone: a static local. */
function isStaticAddress(a: Attr): boolean {
  if (a.value.kind !== 'block') return false;
  const op = a.value.bytes[0];
  return op === DW_OP.addr || op === DW_OP.addrx || op === DW_OP.GNU_addr_index;
}

/** DW_AT_const_value as the value's bytes (a constant is as wide as its type; a block is the bytes). */
function constantLocation(a: Attr, size: number): Location {
  const v = a.value;
  if (v.kind === 'number') return { kind: 'value', bytes: leBytes(v.value, size > 0 && size <= 16 ? size : 8) };
  if (v.kind === 'block') return { kind: 'value', bytes: v.bytes };
  if (v.kind === 'string') return { kind: 'value', bytes: new TextEncoder().encode(`${v.value}\0`) };
  return { kind: 'unavailable', reason: 'optimized out' };
}
