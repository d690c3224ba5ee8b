/**
 * loadSymbols: fills a Symbols from a kernel file (opened and read on
 * demand, never whole) or its bytes, with what each part of the file
 * allows; what could not be read is a sentence in its summary and warnings.
 */
import { basename } from 'node:path';
import { ByteSource, openFileSource } from '../../vmm/boot/byte-source';
import { parseCallFrameInfo, CallFrameInfo } from './cfi';
import { DebugInfo, DebugInfoInput, debugInfoFacts, openDebugInfo, parseDebugInfo } from './dwarf-info';
import { openNameIndex } from '../dwarf/name-index-service';
import { readAranges } from '../dwarf/aranges';
import { sectionOf } from '../dwarf/model';
import { describeError, stringAt } from './dwarf-reader';
import { sectionString } from '../dwarf/section-io';
import { HeaderInput } from './line-program';
import { UnitRange } from './line-table';
import { openLineTables, parseLineTables } from './line-table-load';
import { FACTS_VERSION, factsPath, LoadFacts, readFacts, writeFacts } from './load-facts';
import { quickSymbols } from './elf-symtab';
import { ObjectFile, objectFileFromElf } from './object-file';
import { SymbolTable } from './symbol-table';
import { guard, type LoadOptions, Symbols } from './symbols';

/** dwarf/ (the C data reader, 20 modules) is loaded when C data is first asked for, not with the symbols. */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const dwarf = (): typeof import('../dwarf') => require('../dwarf') as typeof import('../dwarf');

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
