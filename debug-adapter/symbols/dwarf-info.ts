/**
 * A minimal walk of .debug_info/.debug_abbrev (DWARF 2-5): compile units
 * (name, comp_dir, stmt_list, pc range) and subprograms with a pc range
 * (low_pc/high_pc, high_pc as an address or an offset). Everything else is
 * skipped by form size; an unknown form ends that unit with a problem
 * sentence (its size is unknowable), the other units still count.
 *
 * Lazily: at load only each unit's header and first DIE are read (name,
 * comp_dir, stmt_list, pc range); a unit's subprograms are read the first
 * time an address inside it is asked about. A kernel has thousands of units
 * and tens of MiB of DIEs; a stop needs a few units.
 *
 * .debug_info may be a Section read on demand (a distro vmlinux's is 170+
 * MB): the load pass reads each unit's first bytes only, a walk reads one
 * unit's bytes and lets them go.
 */
import { Section, sectionOf } from '../dwarf/model';
import { ByteReader, DwarfError, describeError, stringAt } from './dwarf-reader';
import { fixedFormSize, FormContext, FormValue, readForm, skipForm } from './forms';

const DW_TAG_compile_unit = 0x11;
const DW_TAG_partial_unit = 0x3c;
const DW_TAG_skeleton_unit = 0x4a;
const DW_TAG_subprogram = 0x2e;
const DW_AT_name = 0x03;
const DW_AT_stmt_list = 0x10;
const DW_AT_low_pc = 0x11;
const DW_AT_high_pc = 0x12;
const DW_AT_language = 0x13;
const DW_AT_comp_dir = 0x1b;
const DW_AT_producer = 0x25;
const DW_AT_abstract_origin = 0x31;
const DW_AT_specification = 0x47;
const DW_AT_linkage_name = 0x6e;
const DW_AT_str_offsets_base = 0x72;
const DW_AT_addr_base = 0x73;
const DW_UT_type = 0x02;
const DW_UT_skeleton = 0x04;
const DW_UT_split_compile = 0x05;
const DW_UT_split_type = 0x06;

export interface CompileUnit {
  offset: number;
  version: number;
  name?: string;
  compDir?: string;
  producer?: string;
  language?: number;
  /** Offset of this unit's line program in .debug_line. */
  stmtList?: number;
  lowPc?: bigint;
  highPc?: bigint;
}

export interface Subprogram {
  name: string;
  lowPc: bigint;
  highPc: bigint;
  /** Index into DebugInfo.units. */
  unit: number;
}

export interface DebugInfoInput {
  debugInfo: Uint8Array | Section;
  /** Whole, or read piecewise (a distro kernel's is 5 MB; a walk needs one unit's table). */
  debugAbbrev: Uint8Array | Section;
  debugStr?: Uint8Array;
  debugLineStr?: Uint8Array;
  debugStrOffsets?: Uint8Array;
  debugAddr?: Uint8Array;
  /** Resolves .debug_str/.debug_line_str offsets instead of debugStr/debugLineStr (string sections read piecewise). */
  strings?: (section: 'str' | 'line_str', offset: number) => string | undefined;
  /** Walk every unit at the first query up to this much .debug_info (default 1 MiB; tests set 0 to exercise the lazy path). */
  eagerLimit?: number;
}

export interface DebugInfo {
  units: CompileUnit[];
  /** Sorted by lowPc. Reading it walks every unit (tests, stripped symbol tables); queries use subprogramAt. */
  readonly subprograms: Subprogram[];
  versions: Set<number>;
  problems: string[];
  /** @internal The subprograms of units (by index), walked on first use. */
  unitSubprograms(unit: number): Subprogram[];
  /** @internal Unit indices by DW_AT_stmt_list. */
  unitByStmtList: Map<number, number>;
  /** @internal True when every unit is walked at the first query (small files). */
  eager: boolean;
}

/** Up to this much .debug_info, the first query walks every unit (what a small kernel costs anyway). */
const EAGER_LIMIT = 1 << 20;

interface AttrSpec { name: number; form: number; implicitConst: bigint }
/** `named`: has DW_AT_name or DW_AT_linkage_name (an abstract origin's name is looked up by it). */
interface Abbrev {
  tag: number; hasChildren: boolean; attrs: AttrSpec[]; named: boolean;
  /** Bytes of all its values when every form has a fixed size in the context `fixedFor` (else -1): such a DIE is skipped in one step. */
  fixed?: number; fixedFor?: number;
}

/**
 * Parses the abbreviation table at `offset`; with `only`, just that code's
 * entry (the others are skipped without being built: at load only each
 * unit's first DIE is read, and a kernel has a table per unit).
 */
function readAbbrevs(data: Uint8Array, offset: number, only?: number): Map<number, Abbrev> {
  const r = new ByteReader(data, 0, data.length, '.debug_abbrev');
  r.seek(offset);
  const table = new Map<number, Abbrev>();
  for (;;) {
    const code = r.uleb();
    if (code === 0) return table;
    const tag = r.uleb();
    const hasChildren = r.u8() !== 0;
    if (only !== undefined && code !== only) {
      for (;;) {
        const name = r.uleb();
        const form = r.uleb();
        if (form === 0x21) r.slebBig();
        if (name === 0 && form === 0) break;
      }
      continue;
    }
    const attrs: AttrSpec[] = [];
    for (;;) {
      const name = r.uleb();
      const form = r.uleb();
      const implicitConst = form === 0x21 ? r.slebBig() : 0n;
      if (name === 0 && form === 0) break;
      attrs.push({ name, form, implicitConst });
    }
    table.set(code, { tag, hasChildren, attrs, named: attrs.some((a) => a.name === DW_AT_name || a.name === DW_AT_linkage_name) });
    if (only !== undefined) return table;
  }
}

/** The table at `offset` of a whole or piecewise .debug_abbrev: a piece at a time, growing until the table ends inside it. */
function abbrevTableAt(data: Uint8Array | Section, offset: number, only?: number): Map<number, Abbrev> {
  if (data instanceof Uint8Array) return readAbbrevs(data, offset, only);
  for (let window = 16 * 1024; offset >= 0 && window < data.size - offset; window *= 4) {
    try {
      return readAbbrevs(data.bytes(offset, window), 0, only);
    } catch {
      // Runs past this piece (or is damaged): a larger one.
    }
  }
  // The rest of the section (or damage): read as a whole section is, for the same sentences.
  return readAbbrevs(data.bytes(0, data.size), offset, only);
}

/** A unit's place in .debug_info: `offset` of its initial length, `size` in all, `start` of its header (after the length). */
interface UnitWindow { offset: number; size: number; start: number; offsetSize: 4 | 8 }

/** The load pass reads this much of each unit (its header and first DIE), the whole unit only when that is not enough. */
const FIRST_DIE_BYTES = 256;

function unitReader(section: Section, w: UnitWindow, length = w.size): ByteReader {
  return new ByteReader(section.bytes(w.offset, length), w.start, length, `.debug_info unit at 0x${w.offset.toString(16)}`);
}

/** What the load pass learns, kept across sessions by the symbol layer (cached by build-id). */
export interface DebugInfoFacts {
  units: CompileUnit[];
  versions: number[];
  problems: string[];
}

/** The facts of a parsed DebugInfo (for openDebugInfo on the same bytes later). */
export function debugInfoFacts(info: DebugInfo): DebugInfoFacts {
  return { units: info.units, versions: [...info.versions], problems: [...info.problems] };
}

/** Unit `offset`'s window, from its initial length. */
function windowAt(section: Section, offset: number): UnitWindow {
  const head = section.bytes(offset, Math.min(12, section.size - offset));
  const il = new ByteReader(head, 0, head.length, '.debug_info').initialLength();
  const start = il.offsetSize === 8 ? 12 : 4;
  if (il.length > section.size - offset - start) {
    throw new DwarfError(`.debug_info: ${il.length}-byte unit at offset 0x${(offset + start).toString(16)} runs past the end (0x${section.size.toString(16)})`);
  }
  return { offset, size: start + il.length, start, offsetSize: il.offsetSize };
}

/**
 * The units `facts` lists (an earlier parseDebugInfo of the same bytes),
 * without the load pass: a unit's header is read when it is first walked.
 * Never throws.
 */
export function openDebugInfo(input: DebugInfoInput, facts: DebugInfoFacts): DebugInfo {
  return parseDebugInfo(input, facts);
}

/** Reads every unit's header and first DIE (or takes them from `known`). Never throws. */
export function parseDebugInfo(input: DebugInfoInput, known?: DebugInfoFacts): DebugInfo {
  const section = input.debugInfo instanceof Uint8Array ? sectionOf(input.debugInfo) : input.debugInfo;
  const abbrevCache = new Map<number, Map<number, Abbrev> | Error>();
  const windows: (UnitWindow | undefined)[] = [];
  const perUnit = new Map<number, Subprogram[]>();
  let all: Subprogram[] | undefined;
  const info: DebugInfo = {
    units: [], versions: new Set(), problems: [], unitByStmtList: new Map(), eager: section.size <= (input.eagerLimit ?? EAGER_LIMIT),
    get subprograms(): Subprogram[] {
      if (!all) {
        const list: Subprogram[] = [];
        for (let i = 0; i < info.units.length; i++) list.push(...info.unitSubprograms(i));
        all = list.sort((a, b) => (a.lowPc < b.lowPc ? -1 : a.lowPc > b.lowPc ? 1 : 0));
      }
      return all;
    },
    unitSubprograms(index: number): Subprogram[] {
      let list = perUnit.get(index);
      if (list) return list;
      list = [];
      let w = windows[index];
      try {
        w ??= windows[index] = windowAt(section, info.units[index].offset);
        walkUnit(unitReader(section, w), w.offset, w.offsetSize, input, abbrevCache, info, { unitIndex: index, subprograms: list });
      } catch (e) {
        const msg = describeError(e);
        if (info.problems.length < 100) info.problems.push(msg.startsWith('.debug_info') ? msg : `.debug_info unit at 0x${info.units[index].offset.toString(16)}: ${msg}`);
      }
      list.sort((a, b) => (a.lowPc < b.lowPc ? -1 : a.lowPc > b.lowPc ? 1 : 0));
      perUnit.set(index, list);
      return list;
    },
  };
  if (known) {
    info.units = known.units;
    for (const v of known.versions) info.versions.add(v);
    info.problems.push(...known.problems);
    known.units.forEach((cu, i) => { if (cu.stmtList !== undefined && !info.unitByStmtList.has(cu.stmtList)) info.unitByStmtList.set(cu.stmtList, i); });
    return info;
  }
  for (let unitOffset = 0; unitOffset < section.size;) {
    let window: UnitWindow;
    try {
      const head = section.bytes(unitOffset, Math.min(12, section.size - unitOffset));
      const il = new ByteReader(head, 0, head.length, '.debug_info').initialLength();
      const start = il.offsetSize === 8 ? 12 : 4;
      if (il.length > section.size - unitOffset - start) {
        throw new DwarfError(`.debug_info: ${il.length}-byte unit at offset 0x${(unitOffset + start).toString(16)} runs past the end (0x${section.size.toString(16)})`);
      }
      window = { offset: unitOffset, size: start + il.length, start, offsetSize: il.offsetSize };
    } catch (e) {
      info.problems.push(`${describeError(e)}; the rest of .debug_info is ignored`);
      break;
    }
    unitOffset += window.size;
    try {
      const before = info.units.length;
      try {
        walkUnit(unitReader(section, window, Math.min(window.size, FIRST_DIE_BYTES)), window.offset, window.offsetSize, input, abbrevCache, info, undefined);
      } catch (e) {
        // A first DIE longer than the bytes read (a long producer string): read the whole unit.
        if (window.size <= FIRST_DIE_BYTES || info.units.length > before) throw e;
        walkUnit(unitReader(section, window), window.offset, window.offsetSize, input, abbrevCache, info, undefined);
      }
      if (info.units.length > before) {
        windows.push(window);
        const cu = info.units[before];
        if (cu.stmtList !== undefined && !info.unitByStmtList.has(cu.stmtList)) info.unitByStmtList.set(cu.stmtList, before);
      }
    } catch (e) {
      const msg = describeError(e);
      info.problems.push(msg.startsWith('.debug_info') ? msg : `.debug_info unit at 0x${unitOffset.toString(16)}: ${msg}`);
    }
  }
  return info;
}

/**
 * Walks one unit. Without `full`: only the first DIE, which adds the unit to
 * `info.units` (the load pass). With it: every DIE, collecting the unit's
 * subprograms into `full.subprograms` (the unit is already in the list).
 */
function walkUnit(
  u: ByteReader, unitOffset: number, offsetSize: 4 | 8, input: DebugInfoInput,
  abbrevCache: Map<number, Map<number, Abbrev> | Error>, info: DebugInfo,
  full: { unitIndex: number; subprograms: Subprogram[] } | undefined,
): void {
  const version = u.u16();
  if (version < 2 || version > 5) throw new DwarfError(`${u.what}: DWARF version ${version} is not supported (2-5 are)`);
  let unitType = 1;
  let addressSize: number;
  let abbrevOffset: number;
  if (version >= 5) {
    unitType = u.u8();
    addressSize = u.u8();
    abbrevOffset = u.offset(offsetSize);
    if (unitType === DW_UT_skeleton || unitType === DW_UT_split_compile) u.skip(8);
    if (unitType === DW_UT_type || unitType === DW_UT_split_type) { u.skip(8); u.offset(offsetSize); }
  } else {
    abbrevOffset = u.offset(offsetSize);
    addressSize = u.u8();
  }
  if (addressSize !== 4 && addressSize !== 8) throw new DwarfError(`${u.what}: address size ${addressSize} is not supported`);
  info.versions.add(version);
  let abbrevs = abbrevCache.get(abbrevOffset);
  if (!abbrevs) {
    // The load pass reads one DIE: only its abbreviation is needed (not cached: the table is partial).
    let only: number | undefined;
    if (!full) { const at = u.pos; only = u.uleb(); u.seek(at); }
    try {
      abbrevs = abbrevTableAt(input.debugAbbrev, abbrevOffset, only);
    } catch (e) {
      abbrevs = new Error(`abbreviations at 0x${abbrevOffset.toString(16)}: ${describeError(e)}`);
    }
    if (full) abbrevCache.set(abbrevOffset, abbrevs);
  }
  if (abbrevs instanceof Error) throw new DwarfError(`${u.what}: ${abbrevs.message}`);
  const ctx: FormContext = input.strings
    ? { version, addressSize, offsetSize, strings: input.strings }
    : { version, addressSize, offsetSize, debugStr: input.debugStr, debugLineStr: input.debugLineStr };

  const cu: CompileUnit = { offset: unitOffset, version };
  const unitIndex = full ? full.unitIndex : info.units.length;
  const out = full?.subprograms ?? [];
  let strOffsetsBase: number | undefined;
  let addrBase: number | undefined;
  const names = new Map<number, string>();
  const pending: { origin: number; lowPc: bigint; highPc: bigint }[] = [];
  const resolveString = (v: FormValue): string | undefined => {
    if (v.kind === 'string') return v.value;
    if (v.kind === 'index' && v.form === 'strx' && strOffsetsBase !== undefined && input.debugStrOffsets) {
      const at = strOffsetsBase + v.value * offsetSize;
      if (at + offsetSize > input.debugStrOffsets.length) return undefined;
      const rr = new ByteReader(input.debugStrOffsets, at, at + offsetSize);
      return input.strings ? input.strings('str', rr.offset(offsetSize)) : stringAt(input.debugStr, rr.offset(offsetSize));
    }
    return undefined;
  };
  const resolveAddress = (v: FormValue): bigint | undefined => {
    if (v.kind === 'address') return v.value;
    if (v.kind === 'index' && v.form === 'addrx' && addrBase !== undefined && input.debugAddr) {
      const at = addrBase + v.value * addressSize;
      if (at + addressSize > input.debugAddr.length) return undefined;
      return new ByteReader(input.debugAddr, at, at + addressSize).unsigned(addressSize);
    }
    return undefined;
  };

  // DIEs other than subprograms are stepped over (skipForm); those with a name are marked, and
  // read again only if a subprogram names one as its abstract origin.
  const named = full ? new Uint8Array(u.end) : undefined;
  const ctxKey = version * 256 + addressSize * 16 + offsetSize;
  const nameAt = (offset: number): string | undefined => {
    u.seek(offset);
    const abbrev = abbrevs.get(u.uleb());
    if (!abbrev) return undefined;
    let n: FormValue | undefined;
    let linkage: FormValue | undefined;
    for (const a of abbrev.attrs) {
      if (a.name === DW_AT_name) n = readForm(u, a.form, ctx, a.implicitConst);
      else if (a.name === DW_AT_linkage_name) linkage = readForm(u, a.form, ctx, a.implicitConst);
      else skipForm(u, a.form, ctx);
    }
    const v = n ?? linkage;
    return v && resolveString(v);
  };
  let depth = 0;
  let first = true;
  while (u.remaining > 0) {
    // The reader's bytes begin at the unit's initial length: positions are unit-relative DIE offsets.
    const dieOffset = u.pos;
    const code = u.uleb();
    if (code === 0) {
      if (depth > 0) depth--;
      continue;
    }
    const abbrev = abbrevs.get(code);
    if (!abbrev) throw new DwarfError(`${u.what}: DIE at 0x${(unitOffset + dieOffset).toString(16)} uses abbreviation ${code}, which is not defined`);
    if (!first && named && abbrev.tag !== DW_TAG_subprogram) {
      if (abbrev.fixedFor !== ctxKey) {
        let n = 0;
        for (const a of abbrev.attrs) {
          const size = fixedFormSize(a.form, ctx);
          if (size < 0) { n = -1; break; }
          n += size;
        }
        abbrev.fixed = n;
        abbrev.fixedFor = ctxKey;
      }
      if (abbrev.fixed! >= 0) u.skip(abbrev.fixed!);
      else for (const a of abbrev.attrs) skipForm(u, a.form, ctx);
      if (abbrev.named) named[dieOffset] = 1;
      if (abbrev.hasChildren) depth++;
      continue;
    }
    const values: [number, FormValue][] = [];
    for (const a of abbrev.attrs) values.push([a.name, readForm(u, a.form, ctx, a.implicitConst)]);
    const get = (name: number): FormValue | undefined => values.find(([n]) => n === name)?.[1];

    if (first) {
      first = false;
      if (abbrev.tag === DW_TAG_compile_unit || abbrev.tag === DW_TAG_partial_unit || abbrev.tag === DW_TAG_skeleton_unit) {
        const sob = get(DW_AT_str_offsets_base);
        if (sob?.kind === 'number') strOffsetsBase = Number(sob.value);
        const ab = get(DW_AT_addr_base);
        if (ab?.kind === 'number') addrBase = Number(ab.value);
        const n = get(DW_AT_name); cu.name = n && resolveString(n);
        const d = get(DW_AT_comp_dir); cu.compDir = d && resolveString(d);
        const p = get(DW_AT_producer); cu.producer = p && resolveString(p);
        const l = get(DW_AT_language); if (l?.kind === 'number') cu.language = Number(l.value & 0xffffn);
        const s = get(DW_AT_stmt_list); if (s?.kind === 'number') cu.stmtList = Number(s.value);
        const range = pcRange(get(DW_AT_low_pc), get(DW_AT_high_pc), resolveAddress);
        if (range) { cu.lowPc = range[0]; cu.highPc = range[1]; }
        if (!full) info.units.push(cu);
      }
      if (!full) return;
    }
    const nameValue = get(DW_AT_name) ?? get(DW_AT_linkage_name);
    const name = nameValue && resolveString(nameValue);
    if (name !== undefined) names.set(dieOffset, name);
    if (abbrev.tag === DW_TAG_subprogram) {
      const range = pcRange(get(DW_AT_low_pc), get(DW_AT_high_pc), resolveAddress);
      if (range && range[1] > range[0]) {
        if (name !== undefined) out.push({ name, lowPc: range[0], highPc: range[1], unit: unitIndex });
        else {
          const origin = get(DW_AT_abstract_origin) ?? get(DW_AT_specification);
          if (origin?.kind === 'ref') pending.push({ origin: origin.value, lowPc: range[0], highPc: range[1] });
        }
      }
    }
    if (abbrev.hasChildren) depth++;
  }
  // Out-of-line copies of inline functions name their abstract instance.
  for (const p of pending) {
    const name = names.get(p.origin) ?? (named?.[p.origin] === 1 ? nameAt(p.origin) : undefined);
    if (name !== undefined) out.push({ name, lowPc: p.lowPc, highPc: p.highPc, unit: unitIndex });
  }
  if (first) throw new DwarfError(`${u.what}: unit has no DIEs`);
}

function pcRange(
  low: FormValue | undefined, high: FormValue | undefined, resolveAddress: (v: FormValue) => bigint | undefined,
): [bigint, bigint] | undefined {
  const lo = low && resolveAddress(low);
  if (lo === undefined || !high) return undefined;
  if (high.kind === 'number') return [lo, lo + high.value];
  const hi = resolveAddress(high);
  return hi === undefined ? undefined : [lo, hi];
}

/** The innermost (latest start) subprogram of a sorted list containing `address`. */
function search(s: readonly Subprogram[], address: bigint): Subprogram | undefined {
  let lo = 0;
  let hi = s.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (s[mid].lowPc <= address) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  for (let i = found; i >= 0 && i > found - 64; i--) if (address < s[i].highPc) return s[i];
  return undefined;
}

/**
 * The subprogram whose [lowPc, highPc) contains `address`, innermost first.
 * Only the units that can hold it are walked: those whose line programs
 * cover the address (`stmtLists`, from the line table) and those whose own
 * pc range does; a small file is walked whole.
 */
export function subprogramAt(info: DebugInfo, address: bigint, stmtLists: readonly number[] = []): Subprogram | undefined {
  if (info.eager) return search(info.subprograms, address);
  const units = new Set<number>();
  for (const off of stmtLists) {
    const u = info.unitByStmtList.get(off);
    if (u !== undefined) units.add(u);
  }
  info.units.forEach((cu, i) => {
    if (cu.lowPc !== undefined && cu.highPc !== undefined && cu.lowPc <= address && address < cu.highPc) units.add(i);
  });
  let best: Subprogram | undefined;
  for (const u of units) {
    const sp = search(info.unitSubprograms(u), address);
    if (sp && (!best || sp.lowPc > best.lowPc)) best = sp;
  }
  return best;
}
