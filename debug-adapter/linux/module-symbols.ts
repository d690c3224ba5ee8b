/**
 * A loaded module's symbols at its run-time addresses: its debug file found
 * (module-files.ts), checked against the module in memory (the GNU
 * build-id the kernel loaded, when both have one: a stale .ko from an
 * older build would put every line in the wrong place), relocated to the
 * section addresses the kernel gives (symbols/relocate.ts), and read by the
 * ordinary symbol readers. Never throws: what went wrong is the status
 * sentence the Modules view shows.
 */
import { basename } from 'node:path';
import { Symbols, symbolsFromObject } from '../symbols';
import { isRelocatable, relocatableObject } from '../symbols/relocate';
import { candidateFiles, hasDebugInfo, readModuleFile, type ModuleSearch } from './module-files';
import type { KernelModule, ReadGuest } from './module-list';

export interface ModuleSymbols {
  symbols: Symbols;
  /** The file the symbols came from. */
  path?: string;
  /** "Symbols loaded", or why not ("No debug info: searched ..."). */
  status: string;
  /** Sentences for the console: damaged sections, guessed addresses. */
  notes: string[];
}

const NT_GNU_BUILD_ID = 3;

/** The build-id note the kernel loaded for this module (its .note.gnu.build-id section), as hex. */
function loadedBuildId(m: KernelModule, read: ReadGuest): string | undefined {
  const at = m.sections?.get('.note.gnu.build-id');
  if (at === undefined) return undefined;
  let head: Uint8Array | undefined;
  try { head = read(at, 16); } catch { return undefined; }
  if (!head) return undefined;
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const namesz = v.getUint32(0, true); const descsz = v.getUint32(4, true); const type = v.getUint32(8, true);
  if (namesz !== 4 || type !== NT_GNU_BUILD_ID || descsz === 0 || descsz > 64 || Buffer.from(head.subarray(12, 16)).toString('latin1') !== 'GNU\0') return undefined;
  let desc: Uint8Array | undefined;
  try { desc = read(at + 16n, descsz); } catch { return undefined; }
  return desc ? Buffer.from(desc).toString('hex') : undefined;
}

/** Section addresses: the kernel's sect_attrs, else a guess from the memory layout (text first in core and init). */
function sectionAddresses(m: KernelModule): { loads: Map<string, bigint>; guessed: boolean } {
  if (m.sections && m.sections.size > 0) return { loads: m.sections, guessed: false };
  const loads = new Map<string, bigint>();
  for (const g of m.regions) {
    if (g.kind === 'core' || g.kind === 'text') loads.set('.text', g.base);
    if (g.kind === 'init' || g.kind === 'init_text') loads.set('.init.text', g.base);
  }
  return { loads, guessed: true };
}

export async function loadModuleSymbols(m: KernelModule, search: ModuleSearch, options: { resolve(name: string): bigint | undefined; read: ReadGuest }): Promise<ModuleSymbols> {
  const { files, searched } = candidateFiles(m.name, search);
  const notes: string[] = [];
  const skipped: string[] = [];
  const want = loadedBuildId(m, options.read);
  let chosen: { path: string; bytes: Uint8Array } | undefined;
  let stripped: { path: string; bytes: Uint8Array } | undefined;
  for (const path of files) {
    let bytes: Uint8Array;
    try {
      bytes = await readModuleFile(path);
    } catch (e) {
      skipped.push((e as Error).message);
      continue;
    }
    if (!isRelocatable(bytes)) { skipped.push(`${path} is not a kernel module (not a relocatable ELF object)`); continue; }
    if (want) {
      let id: string | undefined;
      try { id = relocatableObject(path, bytes, new Map()).buildId(); } catch { id = undefined; }
      if (id && id !== want) { skipped.push(`${path} is another build of ${m.name} (build-id ${id.slice(0, 12)}..., the loaded one is ${want.slice(0, 12)}...)`); continue; }
    }
    if (hasDebugInfo(bytes)) { chosen = { path, bytes }; break; }
    stripped ??= { path, bytes };
  }
  const where = searched.length > 0 ? searched.join(', ') : 'nowhere (set "modulePaths" in launch.json)';
  const use = chosen ?? stripped;
  if (!use) {
    const why = skipped.length > 0 ? ` (${skipped.slice(0, 3).join('; ')})` : '';
    return { symbols: new Symbols(m.name), status: `No debug info: no ${m.name}.ko found; searched ${where}${why}`, notes };
  }
  const { loads, guessed } = sectionAddresses(m);
  if (guessed) notes.push(`kvmdbg: ${m.name}: ${m.sectionsProblem ?? 'the kernel gave no section addresses'}; its code is taken to start at its text base, its data addresses are unknown`);
  let symbols: Symbols;
  try {
    const object = relocatableObject(m.name, use.bytes, loads, { resolve: options.resolve });
    symbols = symbolsFromObject(object, { name: m.name });
    const problems = [...new Set([...object.problems, ...symbols.problems])];
    if (problems.length > 0) notes.push(`kvmdbg: ${basename(use.path)}: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`);
  } catch (e) {
    return { symbols: new Symbols(m.name), path: use.path, status: `No symbols: ${(e as Error).message}`, notes };
  }
  if (!chosen) return { symbols, path: use.path, status: `No debug info: ${use.path} has no DWARF (a stripped copy: names only); searched ${where}`, notes };
  return { symbols, path: use.path, status: 'Symbols loaded', notes };
}
