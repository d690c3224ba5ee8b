/**
 * Abbreviation tables and the DIE tree of one unit. A unit's DIEs are parsed
 * in one pass when someone first asks about the unit: each DIE keeps its tag,
 * its abbreviation, where its attributes start and its place in the tree;
 * attribute values are decoded when asked for (gimli's way: most attributes
 * of most DIEs are never looked at). The tree lives in the reader's LRU, so
 * a kernel's thousands of units are never all in memory.
 *
 * Hostile input: a tree stops at the first undecodable DIE (an unknown form
 * or abbreviation makes the rest unreadable) and keeps what came before, with
 * one problem sentence; nesting and DIE counts are bounded.
 */
import { ByteReader, DwarfError, describeError } from '../symbols/dwarf-reader';
import { FormContext, FormValue, readForm } from '../symbols/forms';
import type { Section } from './model';
import { sectionReader } from './section-io';

export interface AttrSpec { name: number; form: number; implicitConst: bigint }
export interface Abbrev { tag: number; hasChildren: boolean; attrs: readonly AttrSpec[] }

/** An abbreviation table's entries can run for this long at most (a kernel unit's is a few KiB). */
const ABBREV_WINDOW = 1 << 20;
const MAX_ABBREVS = 1 << 16;

/** The abbreviation table at `offset` of .debug_abbrev, by code. Throws a DwarfError. */
export function readAbbrevTable(section: Section | undefined, offset: number): Map<number, Abbrev> {
  const r = sectionReader(section, offset, '.debug_abbrev', ABBREV_WINDOW);
  const table = new Map<number, Abbrev>();
  for (;;) {
    const code = r.uleb();
    if (code === 0) return table;
    if (table.size >= MAX_ABBREVS) throw new DwarfError(`.debug_abbrev table at 0x${offset.toString(16)} has more than ${MAX_ABBREVS} entries`);
    const tag = r.uleb();
    const hasChildren = r.u8() !== 0;
    const attrs: AttrSpec[] = [];
    for (;;) {
      const name = r.uleb();
      const form = r.uleb();
      const implicitConst = form === 0x21 ? r.slebBig() : 0n;
      if (name === 0 && form === 0) break;
      attrs.push({ name, form, implicitConst });
    }
    // The first definition of a code wins (a duplicate is damage, not an override).
    if (!table.has(code)) table.set(code, { tag, hasChildren, attrs });
  }
}

/** What a tree needs of its unit. */
export interface UnitShape {
  /** Section offset of the unit header (DIE offsets in refs are relative to it). */
  readonly offset: number;
  readonly forms: FormContext;
  /** Unit-relative offset of the first DIE (just past the header). */
  readonly firstDie: number;
}

/** One attribute, decoded. `value` is raw: strx/addrx/ref are resolved by the unit. */
export interface Attr { name: number; form: number; value: FormValue }

export interface Die {
  /** .debug_info section offset: the DIE's identity everywhere (memo keys, VariableInfo.id). */
  readonly offset: number;
  readonly tag: number;
  readonly abbrev: Abbrev;
  /** Unit-relative position of the attribute values. */
  readonly at: number;
  readonly parent: Die | undefined;
  readonly children: Die[];
  readonly tree: DieTree;
}

/** Deeper nesting than this is damage (real C rarely passes 20). */
const MAX_DEPTH = 256;

export class DieTree {
  /** In offset order (the order of the unit's bytes), for binary search. */
  readonly dies: Die[] = [];
  problem?: string;

  /** The unit's form context without string sections: skipping a strp then reads no string. */
  readonly skip: FormContext;

  constructor(readonly unit: UnitShape, readonly bytes: Uint8Array) {
    this.skip = { version: unit.forms.version, addressSize: unit.forms.addressSize, offsetSize: unit.forms.offsetSize };
  }

  /** The unit's first DIE (compile_unit, partial_unit, type_unit...). */
  get root(): Die | undefined { return this.dies[0]; }

  /** The DIE at a .debug_info section offset, if this unit has one exactly there. */
  dieAt(sectionOffset: number): Die | undefined {
    const d = this.dies;
    let lo = 0;
    let hi = d.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const o = d[mid].offset;
      if (o === sectionOffset) return d[mid];
      if (o < sectionOffset) lo = mid + 1; else hi = mid - 1;
    }
    return undefined;
  }

  /** Every attribute of `die`, decoded (re-read from the unit's bytes: nothing is kept). */
  attrs(die: Die): Attr[] {
    const r = new ByteReader(this.bytes, die.at, this.bytes.length, `.debug_info DIE at 0x${die.offset.toString(16)}`);
    const out: Attr[] = [];
    for (const a of die.abbrev.attrs) out.push({ name: a.name, form: a.form, value: readForm(r, a.form, this.unit.forms, a.implicitConst) });
    return out;
  }

  /** One attribute of `die`, or undefined (decoding stops at it: attributes after it are skipped unread). */
  attr(die: Die, name: number): Attr | undefined {
    const specs = die.abbrev.attrs;
    let i = 0;
    while (i < specs.length && specs[i].name !== name) i++;
    if (i === specs.length) return undefined;
    const r = new ByteReader(this.bytes, die.at, this.bytes.length, `.debug_info DIE at 0x${die.offset.toString(16)}`);
    for (let j = 0; j < i; j++) readForm(r, specs[j].form, this.skip);
    return { name, form: specs[i].form, value: readForm(r, specs[i].form, this.unit.forms, specs[i].implicitConst) };
  }
}

/**
 * Parses every DIE of a unit (`bytes` = the whole unit, header included, so
 * positions are unit-relative offsets). Never throws: damage ends the tree
 * early and is described in `tree.problem`.
 */
export function parseDieTree(unit: UnitShape, bytes: Uint8Array, abbrevs: Map<number, Abbrev>): DieTree {
  const tree = new DieTree(unit, bytes);
  const what = `.debug_info unit at 0x${unit.offset.toString(16)}`;
  try {
    const r = new ByteReader(bytes, unit.firstDie, bytes.length, what);
    const skip = tree.skip;
    let parent: Die | undefined;
    let depth = 0;
    while (r.remaining > 0) {
      const pos = r.pos;
      const code = r.uleb();
      if (code === 0) {
        // A null entry ends a sibling list; padding at the unit's end has no parent to close.
        if (parent) { parent = parent.parent; depth--; }
        continue;
      }
      const abbrev = abbrevs.get(code);
      if (!abbrev) throw new DwarfError(`${what}: the DIE at 0x${(unit.offset + pos).toString(16)} uses abbreviation ${code}, which is not defined`);
      const die: Die = { offset: unit.offset + pos, tag: abbrev.tag, abbrev, at: r.pos, parent, children: [], tree };
      for (const a of abbrev.attrs) readForm(r, a.form, skip);
      tree.dies.push(die);
      if (parent) parent.children.push(die);
      else if (tree.dies.length > 1) {
        // A second top-level DIE: only the first is the unit's root; later ones are damage.
        throw new DwarfError(`${what}: a second top-level DIE at 0x${die.offset.toString(16)}`);
      }
      if (abbrev.hasChildren) {
        if (++depth > MAX_DEPTH) throw new DwarfError(`${what}: DIEs nest deeper than ${MAX_DEPTH}`);
        parent = die;
      }
    }
  } catch (e) {
    tree.problem = describeError(e).startsWith('.debug_info') ? describeError(e) : `${what}: ${describeError(e)}`;
  }
  return tree;
}
