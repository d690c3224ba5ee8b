/**
 * What loading a kernel's symbols learns from full parses, kept on disk by
 * build-id next to the name index (~/.cache/kvmdbg/index/<build-id>.load.v1.json):
 * the compile units' first DIEs, the line tables' unit offsets, address
 * index and file count, the CFI's count, and the problems found. With it, a
 * later load of the same file reads none of those sections until a query
 * needs a part (index.ts), and says the same summary sentence.
 *
 * A file that does not read back as the same facts (another format version,
 * another build-id or section sizes, damage) is ignored and written again.
 */
import { join } from 'node:path';
import { DEFAULT_INDEX_DIR, readIndexFile, writeIndexFile } from '../dwarf/name-index-service';
import type { CompileUnit, DebugInfoFacts } from './dwarf-info';
import type { LineTableFacts } from './line-table';

/** Bump when a parser's answers change (counts, problems, unit facts). */
export const FACTS_VERSION = 1;

export interface LoadFacts {
  version: number;
  buildId: string;
  /** Sizes of .debug_info and .debug_line (a second check besides the build-id). */
  sizes: number[];
  info?: DebugInfoFacts;
  lines?: LineTableFacts;
  cfi: { fdeCount: number; sources: string[] };
  /** Symbols the table keeps (elf-symtab.ts's count); undefined when it was not counted in place. */
  symbolCount?: number;
  /** Symbols.problems at the end of the load. */
  problems: string[];
}

/** Where the facts of a file with this build-id live, or undefined (no cache asked for, no build-id). */
export function factsPath(buildId: string | undefined, cacheDir: string | null | undefined): string | undefined {
  const dir = cacheDir === undefined ? DEFAULT_INDEX_DIR : cacheDir;
  if (!dir || !buildId || !/^[0-9a-f]+$/i.test(buildId)) return undefined;
  return join(dir, `${buildId}.load.v${FACTS_VERSION}.json`);
}

/**
 * On disk: JSON, with the compile units as rows over a string table (a
 * kernel's 2000+ units share one producer and compile directory) and
 * addresses as hex strings.
 */
interface Stored {
  version: number;
  buildId: string;
  sizes: number[];
  strings: string[];
  /** [offset, version, name, compDir, producer, language, stmtList, lowPc, highPc] (strings by index, -1 = none). */
  units?: (number | string)[][];
  infoVersions?: number[];
  infoProblems?: string[];
  lines?: Omit<LineTableFacts, 'ranges'> & { ranges: string[] };
  cfi: { fdeCount: number; sources: string[] };
  symbolCount?: number;
  problems: string[];
}

const hex = (a: bigint | undefined): string => (a === undefined ? '' : a.toString(16));
const big = (s: string | number): bigint | undefined => (s === '' || typeof s !== 'string' ? undefined : BigInt(`0x${s}`));

function encode(f: LoadFacts): Stored {
  const strings: string[] = [];
  const ids = new Map<string, number>();
  const id = (x: string | undefined): number => {
    if (x === undefined) return -1;
    let i = ids.get(x);
    if (i === undefined) { i = strings.length; strings.push(x); ids.set(x, i); }
    return i;
  };
  return {
    version: f.version, buildId: f.buildId, sizes: f.sizes, strings,
    units: f.info?.units.map((u) => [u.offset, u.version, id(u.name), id(u.compDir), id(u.producer), u.language ?? -1, u.stmtList ?? -1, hex(u.lowPc), hex(u.highPc)]),
    infoVersions: f.info?.versions, infoProblems: f.info?.problems,
    lines: f.lines && { ...f.lines, ranges: f.lines.ranges.flatMap(([a, b, u]) => [hex(a), hex(b), String(u)]) },
    cfi: f.cfi, symbolCount: f.symbolCount, problems: f.problems,
  };
}

function decode(s: Stored): LoadFacts {
  const str = (i: number | string): string | undefined => (typeof i === 'number' && i >= 0 ? s.strings[i] : undefined);
  const num = (i: number | string): number | undefined => (typeof i === 'number' && i >= 0 ? i : undefined);
  const units: CompileUnit[] | undefined = s.units?.map((r) => {
    const u: CompileUnit = { offset: r[0] as number, version: r[1] as number };
    const set = <K extends keyof CompileUnit>(k: K, v: CompileUnit[K] | undefined): void => { if (v !== undefined) u[k] = v; };
    set('name', str(r[2])); set('compDir', str(r[3])); set('producer', str(r[4]));
    set('language', num(r[5])); set('stmtList', num(r[6])); set('lowPc', big(r[7])); set('highPc', big(r[8]));
    return u;
  });
  let lines: LineTableFacts | undefined;
  if (s.lines) {
    const ranges: [bigint, bigint, number][] = [];
    const flat = s.lines.ranges;
    for (let i = 0; i + 2 < flat.length; i += 3) ranges.push([BigInt(`0x${flat[i]}`), BigInt(`0x${flat[i + 1]}`), Number(flat[i + 2])]);
    lines = { ...s.lines, ranges };
  }
  return {
    version: s.version, buildId: s.buildId, sizes: s.sizes,
    info: units && { units, versions: s.infoVersions ?? [], problems: s.infoProblems ?? [] },
    lines, cfi: s.cfi, symbolCount: typeof s.symbolCount === 'number' ? s.symbolCount : undefined, problems: s.problems,
  };
}

/** The facts at `path` if they are this file's (same build-id and section sizes), else undefined. Never throws. */
export function readFacts(path: string, buildId: string, sizes: number[]): LoadFacts | undefined {
  try {
    const bytes = readIndexFile(path);
    if (!bytes) return undefined;
    const s = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as Stored;
    if (s.version !== FACTS_VERSION || s.buildId !== buildId || JSON.stringify(s.sizes) !== JSON.stringify(sizes)) return undefined;
    if (!Array.isArray(s.problems) || !Array.isArray(s.strings) || typeof s.cfi?.fdeCount !== 'number' || !Array.isArray(s.cfi.sources)) return undefined;
    if (s.lines && !(Array.isArray(s.lines.unitOffsets) && Array.isArray(s.lines.ranges) && Array.isArray(s.lines.versions) && typeof s.lines.fileCount === 'number')) return undefined;
    if (s.units !== undefined && !Array.isArray(s.units)) return undefined;
    return decode(s);
  } catch {
    return undefined;
  }
}

/** Writes the facts atomically; false when it could not (a read-only cache: the next load parses again). */
export function writeFacts(path: string, facts: LoadFacts): boolean {
  try {
    writeIndexFile(path, Buffer.from(JSON.stringify(encode(facts))));
    return true;
  } catch {
    return false;
  }
}
