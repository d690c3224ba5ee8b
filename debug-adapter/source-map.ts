/**
 * launch.json's "sourceFileMap": the directory a kernel was compiled in, as
 * its DWARF names it, -> where the user has that tree. A distro kernel names
 * its sources under its build directory ("/build/linux-xyz/...", or a
 * relative "debian/build/build_amd64_none_amd64/..." when built with
 * -fdebug-prefix-map); the user's checkout is elsewhere.
 *
 *   mapSource(compiled)  -> the user's path (stack frames, disassembly)
 *   unmapSource(user)    -> the compiled path (setBreakpoints on the user's file)
 *
 * The longest matching prefix wins, on whole path components ("/a/b" maps
 * "/a/b/c.c", not "/a/bc/d.c"). A path no entry matches is returned as is.
 * Pure functions: no file system.
 */
import { posix } from 'node:path';

export interface SourceFileMap {
  /** The entries, longest compiled prefix first, normalised. */
  readonly entries: readonly { compiled: string; user: string }[];
  mapSource(compiledPath: string): string;
  unmapSource(userPath: string): string;
}

/** Forward slashes, no "." or "..", no trailing slash; a relative path stays relative. */
function norm(p: string): string {
  const n = posix.normalize(p.replace(/\\/g, '/'));
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** `path` under `prefix` (whole components): the rest ('' for the prefix itself), else undefined. */
function under(path: string, prefix: string): string | undefined {
  if (path === prefix) return '';
  if (prefix === '/') return path.startsWith('/') ? path.slice(1) : undefined;
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length + 1) : undefined;
}

function apply(path: string, pairs: readonly [string, string][]): string {
  const p = norm(path);
  for (const [from, to] of pairs) {
    const rest = under(p, from);
    if (rest !== undefined) return rest === '' ? to : to === '/' ? `/${rest}` : `${to}/${rest}`;
  }
  return path;
}

export function makeSourceFileMap(map: Readonly<Record<string, string>> = {}): SourceFileMap {
  const entries = Object.entries(map).map(([compiled, user]) => ({ compiled: norm(compiled), user: norm(user) }));
  const byCompiled = [...entries].sort((a, b) => b.compiled.length - a.compiled.length);
  const byUser = [...entries].sort((a, b) => b.user.length - a.user.length);
  return {
    entries: byCompiled,
    mapSource: (compiledPath) => apply(compiledPath, byCompiled.map((e) => [e.compiled, e.user])),
    unmapSource: (userPath) => apply(userPath, byUser.map((e) => [e.user, e.compiled])),
  };
}

/** launch.json's value checked: an object of non-empty strings. Returns the problem sentence, or undefined. */
export function sourceFileMapProblem(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  const example = '{ "debian/build/build_amd64_none_amd64": "${workspaceFolder}" }';
  if (typeof v !== 'object' || Array.isArray(v)) return `launch.json: "sourceFileMap" must be an object like ${example}, not ${JSON.stringify(v).slice(0, 60)}`;
  for (const [k, to] of Object.entries(v as Record<string, unknown>)) {
    if (k === '') return `launch.json: "sourceFileMap" has an empty compile directory; use the directory the kernel was built in, e.g. ${example}`;
    if (typeof to !== 'string' || to === '') return `launch.json: "sourceFileMap"["${k}"] must be the path of your source tree (a non-empty string), not ${JSON.stringify(to)}`;
  }
  return undefined;
}
