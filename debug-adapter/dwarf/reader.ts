/**
 * The hub the other readers share: the unit list, each unit's DIE tree on
 * demand (kept in an LRU bounded by DIE count, so a kernel's units come and
 * go), abbreviation tables cached by offset (units often share one), string
 * sections read through `Section` with a cache, and DIE lookup by section
 * offset (refs within a unit and DW_FORM_ref_addr across units), following
 * DW_AT_abstract_origin / DW_AT_specification.
 *
 * Nothing here throws to its callers: damage becomes `undefined` plus one
 * problem sentence.
 */
import { ByteReader, describeError } from '../symbols/dwarf-reader';
import { DW_AT } from './constants';
import { Abbrev, Attr, Die, DieTree, parseDieTree, readAbbrevTable } from './dies';
import type { DwarfSections } from './model';
import { Lru, sectionBytes, sectionString } from './section-io';
import { DwarfUnit, UnitHeader, readUnitHeaders } from './units';

/** Parsed DIEs kept at once, across units (~150 bytes each: ~60 MB; a kernel's largest units have ~100k). */
const DIE_BUDGET = 400_000;
const MAX_PROBLEMS = 200;
/** abstract_origin/specification chains longer than this are damage (real ones are 1-2 long). */
const MAX_ORIGIN_DEPTH = 8;
const STRING_CACHE = 200_000;

export class DwarfReader {
  readonly problems: string[] = [];
  readonly headers: UnitHeader[];
  private readonly units: (DwarfUnit | null | undefined)[];
  private readonly trees = new Lru<number, DieTree>(DIE_BUDGET);
  private readonly abbrevs = new Map<number, Map<number, Abbrev> | string>();
  private readonly reported = new Set<string>();
  private readonly strCache = { str: new Map<number, string>(), line_str: new Map<number, string>() };
  readonly strings = (section: 'str' | 'line_str', offset: number): string | undefined => {
    const cache = this.strCache[section];
    const hit = cache.get(offset);
    if (hit !== undefined) return hit;
    const s = sectionString(section === 'str' ? this.sections.debugStr : this.sections.debugLineStr, offset);
    if (s !== undefined) {
      if (cache.size >= STRING_CACHE) cache.clear();
      cache.set(offset, s);
    }
    return s;
  };

  constructor(readonly sections: DwarfSections) {
    this.headers = readUnitHeaders(sections, this.problems);
    this.units = new Array(this.headers.length);
  }

  get unitCount(): number { return this.headers.length; }

  /** One problem sentence (each distinct one once, at most MAX_PROBLEMS). */
  problem(message: string): void {
    if (this.reported.has(message) || this.problems.length >= MAX_PROBLEMS) return;
    this.reported.add(message);
    this.problems.push(message);
  }

  /** Unit `index` with its root DIE's facts read, or undefined when its root cannot be read. */
  unit(index: number): DwarfUnit | undefined {
    const known = this.units[index];
    if (known !== undefined) return known ?? undefined;
    const h = this.headers[index];
    if (!h) return undefined;
    const unit = new DwarfUnit(index, h, this.sections, this.strings);
    try {
      const root = this.readRoot(unit);
      unit.setRoot(root.tag, root.attrs);
      this.units[index] = unit;
      return unit;
    } catch (e) {
      this.problem(`.debug_info unit at 0x${h.offset.toString(16)}: its first DIE: ${describeError(e)}`);
      this.units[index] = null;
      return undefined;
    }
  }

  /** Only the root DIE, from a small window of the unit (a lazy Section need not fetch the whole unit). */
  private readRoot(unit: DwarfUnit): { tag: number; attrs: Attr[] } {
    const h = unit.header;
    const abbrevs = this.abbrevTable(h.abbrevOffset);
    for (const window of [Math.min(h.length, 4096), h.length]) {
      try {
        const bytes = sectionBytes(this.sections.debugInfo, h.offset, window, '.debug_info');
        const r = new ByteReader(bytes, h.firstDie, bytes.length, `.debug_info unit at 0x${h.offset.toString(16)}`);
        const code = r.uleb();
        const abbrev = abbrevs.get(code);
        if (!abbrev) throw new Error(`abbreviation ${code} is not defined`);
        const tree = new DieTree(unit, bytes);
        const die: Die = { offset: h.offset + h.firstDie, tag: abbrev.tag, abbrev, at: r.pos, parent: undefined, children: [], tree };
        return { tag: abbrev.tag, attrs: tree.attrs(die) };
      } catch (e) {
        if (window === h.length) throw e;
      }
    }
    throw new Error('unreachable');
  }

  private abbrevTable(offset: number): Map<number, Abbrev> {
    let t = this.abbrevs.get(offset);
    if (t === undefined) {
      try {
        t = readAbbrevTable(this.sections.debugAbbrev, offset);
      } catch (e) {
        t = describeError(e);
      }
      this.abbrevs.set(offset, t);
    }
    if (typeof t === 'string') throw new Error(t);
    return t;
  }

  /** Unit `index`'s DIE tree, parsed now or from the LRU. */
  tree(index: number): DieTree | undefined {
    const cached = this.trees.get(index);
    if (cached) return cached;
    const unit = this.unit(index);
    if (!unit) return undefined;
    const h = unit.header;
    let tree: DieTree;
    try {
      tree = parseDieTree(unit, sectionBytes(this.sections.debugInfo, h.offset, h.length, '.debug_info'), this.abbrevTable(h.abbrevOffset));
    } catch (e) {
      this.problem(`.debug_info unit at 0x${h.offset.toString(16)}: ${describeError(e)}`);
      return undefined;
    }
    if (tree.problem) this.problem(tree.problem);
    this.trees.set(index, tree, tree.dies.length + 1);
    return tree;
  }

  /** The index of the unit whose bytes hold section offset `offset`, or -1. */
  unitIndexAt(offset: number): number {
    const h = this.headers;
    let lo = 0;
    let hi = h.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (h[mid].offset + h[mid].length <= offset) lo = mid + 1;
      else if (h[mid].offset > offset) hi = mid - 1;
      else return mid;
    }
    return -1;
  }

  /** The DIE at a .debug_info section offset (any unit), or undefined. */
  die(offset: number): Die | undefined {
    const i = this.unitIndexAt(offset);
    return i < 0 ? undefined : this.tree(i)?.dieAt(offset);
  }

  unitOf(die: Die): DwarfUnit { return die.tree.unit as DwarfUnit; }

  /** An attribute of the DIE itself; damage reads as absent. */
  attr(die: Die, name: number): Attr | undefined {
    try {
      return die.tree.attr(die, name);
    } catch (e) {
      this.problem(`.debug_info DIE at 0x${die.offset.toString(16)}: ${describeError(e)}`);
      return undefined;
    }
  }

  /** All attributes of the DIE; damage reads as none. */
  attrs(die: Die): Attr[] {
    try {
      return die.tree.attrs(die);
    } catch (e) {
      this.problem(`.debug_info DIE at 0x${die.offset.toString(16)}: ${describeError(e)}`);
      return [];
    }
  }

  /** The DIE a reference attribute names. */
  ref(die: Die, name: number): Die | undefined {
    const a = this.attr(die, name);
    const off = a && this.unitOf(die).refOffset(a);
    return off === undefined ? undefined : this.die(off);
  }

  /** An attribute of the DIE or, when it has none, of its abstract origin / specification (transitively). */
  inherited(die: Die, name: number): { die: Die; attr: Attr } | undefined {
    let d: Die | undefined = die;
    for (let i = 0; d && i < MAX_ORIGIN_DEPTH; i++) {
      const a = this.attr(d, name);
      if (a) return { die: d, attr: a };
      d = this.ref(d, DW_AT.abstract_origin) ?? this.ref(d, DW_AT.specification);
    }
    return undefined;
  }

  /** A string attribute, own or inherited. */
  inheritedString(die: Die, name: number): string | undefined {
    const found = this.inherited(die, name);
    return found && this.unitOf(found.die).string(found.attr);
  }

  /** The DIE's own string attribute. */
  string(die: Die, name: number): string | undefined {
    const a = this.attr(die, name);
    return a && this.unitOf(die).string(a);
  }

  /** DW_AT_name, own or inherited (an inlined instance names its abstract origin). */
  nameOf(die: Die): string | undefined {
    return this.inheritedString(die, DW_AT.name);
  }

  /** A flag attribute (DW_AT_declaration, DW_AT_external), own only. */
  flag(die: Die, name: number): boolean {
    const a = this.attr(die, name);
    return a?.value.kind === 'number' && a.value.value !== 0n;
  }
}
