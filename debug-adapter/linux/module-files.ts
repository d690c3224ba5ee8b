/**
 * Where a loaded module's debug file is on this machine, in the order a
 * kernel developer expects: launch.json's "modulePaths" (directories, an
 * out-of-tree module's M= directory, or .ko files), the kernel build tree
 * next to vmlinux (its modules.order), Debian's debug package
 * (/usr/lib/debug/lib/modules/<release>/) and the installed modules
 * (/lib/modules/<release>/, via modules.dep). The kernel spells a module's
 * name with `_` where its file may have `-`. A file without DWARF (a
 * stripped copy, what /lib/modules usually holds) is used for its symbols
 * only when nothing better is found, and said so.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Directory levels searched below a modulePaths directory, and entries looked at in all. */
const SEARCH_DEPTH = 4;
const SEARCH_ENTRIES = 20_000;
const EXTENSIONS = ['.ko', '.ko.xz', '.ko.gz', '.ko.zst'];

export interface ModuleSearch {
  /** launch.json's modulePaths. */
  modulePaths: readonly string[];
  /** The vmlinux the session reads (its directory is the build tree). */
  vmlinux?: string;
  /** The kernel's release ("6.1.0-27-amd64"), from its banner. */
  release?: string;
}

/** The module's name as the kernel compares it: `-` and `_` are the same. */
export function moduleKey(name: string): string {
  return name.replace(/-/g, '_');
}

function nameOfFile(file: string): string | undefined {
  const b = basename(file);
  const ext = EXTENSIONS.find((e) => b.endsWith(e));
  return ext ? moduleKey(b.slice(0, -ext.length)) : undefined;
}

const isFile = (p: string): boolean => { try { return statSync(p).isFile(); } catch { return false; } };
const isDir = (p: string): boolean => { try { return statSync(p).isDirectory(); } catch { return false; } };

/** Module files below `dir` (breadth first, bounded), by module name. */
function scan(dir: string, want: string | undefined, out: Map<string, string[]>): void {
  let queue: { d: string; depth: number }[] = [{ d: dir, depth: 0 }];
  let looked = 0;
  while (queue.length > 0 && looked < SEARCH_ENTRIES) {
    const next: typeof queue = [];
    for (const { d, depth } of queue) {
      let entries: import('node:fs').Dirent[];
      try { entries = readdirSync(d, { withFileTypes: true }); } catch { continue; }
      for (const e of entries) {
        if (++looked > SEARCH_ENTRIES) break;
        const p = join(d, e.name);
        if (e.isDirectory()) { if (depth < SEARCH_DEPTH && !e.name.startsWith('.')) next.push({ d: p, depth: depth + 1 }); continue; }
        const n = nameOfFile(e.name);
        if (n && (want === undefined || n === want)) out.set(n, [...(out.get(n) ?? []), p]);
      }
    }
    queue = next;
  }
}

/** Every module file below `dir` (bounded, as modulePaths are searched). */
export function moduleFilesIn(dir: string): string[] {
  const found = new Map<string, string[]>();
  if (isFile(dir)) return nameOfFile(dir) ? [dir] : [];
  scan(dir, undefined, found);
  return [...found.values()].flat();
}

/** Paths listed in a modules.order / modules.dep of `dir` whose module is `want`. */
function listed(dir: string, list: string, want: string): string[] {
  const file = join(dir, list);
  if (!isFile(file)) return [];
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch { return []; }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const rel = line.split(':')[0].trim();
    if (!rel) continue;
    // modules.order names .o files since 6.2 (.ko before).
    const ko = rel.endsWith('.o') ? rel.slice(0, -2) + '.ko' : rel;
    if (nameOfFile(ko) === want) out.push(join(dir, ko));
  }
  return out;
}

/** The places searched for `name`, in order, as candidate files and the directories looked in. */
export function candidateFiles(name: string, search: ModuleSearch): { files: string[]; searched: string[] } {
  const want = moduleKey(name);
  const files: string[] = [];
  const searched: string[] = [];
  for (const p of search.modulePaths) {
    searched.push(p);
    if (isFile(p)) { if (nameOfFile(p) === want) files.push(p); continue; }
    if (!isDir(p)) continue;
    const found = new Map<string, string[]>();
    scan(p, want, found);
    files.push(...(found.get(want) ?? []));
  }
  if (search.vmlinux) {
    const tree = dirname(search.vmlinux);
    searched.push(tree);
    files.push(...listed(tree, 'modules.order', want));
    // A module built with the kernel but not listed (or an older tree): next to vmlinux itself.
    for (const ext of EXTENSIONS) for (const n of [want, want.replace(/_/g, '-')]) if (isFile(join(tree, n + ext))) files.push(join(tree, n + ext));
  }
  if (search.release) {
    for (const root of [`/usr/lib/debug/lib/modules/${search.release}`, `/lib/modules/${search.release}`]) {
      searched.push(root);
      if (!isDir(root)) continue;
      const dep = listed(root, 'modules.dep', want);
      // Debian's debug package mirrors the installed paths, uncompressed.
      const debugTwin = root.startsWith('/usr/lib/debug') ? listed(`/lib/modules/${search.release}`, 'modules.dep', want).map((p) => p.replace(`/lib/modules/${search.release}`, root).replace(/\.ko\.(xz|gz|zst)$/, '.ko')) : [];
      for (const p of [...dep, ...debugTwin]) if (isFile(p)) files.push(p);
      if (dep.length === 0 && debugTwin.length === 0) {
        const found = new Map<string, string[]>();
        scan(root, want, found);
        files.push(...(found.get(want) ?? []));
      }
    }
  }
  return { files: [...new Set(files)], searched };
}

/** An uncompressed .ko's bytes, read at once (every read of modules' files is here: security-host.test.ts). */
export function readPlainModuleFile(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

/** A module file's ELF bytes: .ko as is, .ko.gz through zlib, .ko.xz / .ko.zst through the xz / zstd commands. */
export async function readModuleFile(path: string): Promise<Uint8Array> {
  const raw = readFileSync(path);
  if (path.endsWith('.ko.gz')) return new Uint8Array(gunzipSync(raw));
  const tool = path.endsWith('.ko.xz') ? 'xz' : path.endsWith('.ko.zst') ? 'zstd' : undefined;
  if (!tool) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  try {
    const { stdout } = await run(tool, ['-dc', path], { encoding: 'buffer', maxBuffer: 512 * 1024 * 1024 });
    return new Uint8Array(stdout);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${basename(path)} is compressed and the ${tool} command is not installed (apt-get install ${tool === 'xz' ? 'xz-utils' : 'zstd'})`);
    throw new Error(`${tool} could not decompress ${basename(path)}: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** True when ELF bytes have a .debug_info section (a cheap look at the section names). */
export function hasDebugInfo(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes('.debug_info\0');
}

/** The release in a kernel banner ("Linux version 6.1.0-27-amd64 (debian-kernel@...) ..."). */
export function releaseOfBanner(banner: string | undefined): string | undefined {
  const m = /^Linux version (\S+)/.exec(banner ?? '');
  return m?.[1];
}

