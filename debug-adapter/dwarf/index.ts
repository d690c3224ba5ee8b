/**
 * dwarf/: the DWARF 2-5 reader behind model.ts's `DebugData`, as gcc and
 * clang emit it. Opening reads only unit headers; units, types and lists
 * are read when a query needs them. Nothing here throws: damage is an
 * answer of "nothing there" plus a sentence in `problems`.
 */
import { describeError } from '../symbols/dwarf-reader';
import type { ObjectFile } from '../symbols/object-file';
import { NameLookup, NameResolver } from './lookup';
import type { CType, DebugData, DwarfSections, FunctionScope, Section, UnitScope, VariableInfo } from './model';
import { DwarfReader } from './reader';
import { ScopeReader } from './scopes';
import { TypeReader } from './types';
import { VariableFactory } from './variable-info';

export type { NameLookup } from './lookup';
export { canonicalBaseName } from './lookup';
export { evaluate, frameBaseValue, MAX_STEPS, MAX_STACK } from './expression';
export type { ExpressionContext, BaseTypeInfo } from './expression';
export { VOID, CYCLE, strip, storageSize } from './types';

/** model.ts's sections plus .debug_line, whose file tables name DW_AT_decl_file and DW_AT_call_file. */
export interface DebugSections extends DwarfSections {
  debugLine?: Section;
}

export interface OpenOptions {
  /** A name index (e.g. from .debug_names, or a worker's scan); without one the first lookup walks every unit. */
  names?: NameLookup;
}

/** Opens DWARF for queries. Never throws. */
export function openDebugData(sections: DebugSections, options: OpenOptions = {}): DebugData {
  let reader: DwarfReader;
  try {
    reader = new DwarfReader(sections);
  } catch (e) {
    reader = new DwarfReader({ addressSize: sections.addressSize });
    reader.problems.push(`DWARF could not be opened: ${describeError(e)}`);
  }
  // The type reader resolves declarations by name, which needs the resolver built after it.
  let names: NameResolver | undefined;
  const types = new TypeReader(reader, (kind, name) => names?.definition(kind, name));
  const factory = new VariableFactory(reader, types, sections.debugLine);
  const scopes = new ScopeReader(reader, factory);
  const resolver = new NameResolver(reader, types, factory, options.names);
  names = resolver;
  const guard = <T>(what: string, fallback: T, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      reader.problem(`${what}: ${describeError(e)}`);
      return fallback;
    }
  };
  const scopeMemo = new Map<bigint, readonly FunctionScope[]>();
  return {
    scopesAt: (pc: bigint): readonly FunctionScope[] => {
      // Every stop asks again for the same few pcs (each frame of the stack): found once each.
      let found = scopeMemo.get(pc);
      if (!found) {
        if (scopeMemo.size >= 4096) scopeMemo.clear();
        scopeMemo.set(pc, (found = guard(`scopes at 0x${pc.toString(16)}`, [], () => scopes.scopesAt(pc))));
      }
      return found;
    },
    findVariable: (name: string, near?: UnitScope): VariableInfo | undefined => guard(`variable ${name}`, undefined, () => resolver.findVariable(name, near)),
    findType: (name: string): CType | undefined => guard(`type ${name}`, undefined, () => resolver.findType(name)),
    namesStartingWith: (prefix: string, limit: number): readonly string[] =>
      guard(`names starting with ${prefix}`, [], () => resolver.namesStartingWith(prefix, Math.max(0, Math.min(limit, 10_000)))),
    get problems(): readonly string[] { return reader.problems; },
  };
}

/** The debug sections of an object file, read piecewise (a distro kernel's .debug_info is hundreds of MB). */
export function debugSectionsOf(obj: ObjectFile): DebugSections {
  const s = (name: string): Section | undefined => obj.section(name)?.source;
  return {
    debugInfo: s('.debug_info'), debugAbbrev: s('.debug_abbrev'), debugStr: s('.debug_str'),
    debugLineStr: s('.debug_line_str'), debugStrOffsets: s('.debug_str_offsets'), debugAddr: s('.debug_addr'),
    debugLoc: s('.debug_loc'), debugLoclists: s('.debug_loclists'), debugRanges: s('.debug_ranges'),
    debugRnglists: s('.debug_rnglists'), debugAranges: s('.debug_aranges'), debugNames: s('.debug_names'),
    debugLine: s('.debug_line'), addressSize: obj.bits === 64 ? 8 : 4,
  };
}
