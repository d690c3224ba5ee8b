/**
 * The name index of one object file, as the adapter uses it: from the
 * on-disk cache (~/.cache/kvmdbg/index/<build-id>.idx) when a valid one
 * exists, else built in a worker thread so the adapter never waits for it
 * (a distro vmlinux takes seconds); until it is ready every lookup answers
 * nothing and the symbol table and line tables answer what they can. A
 * damaged or foreign cache file is rebuilt, with one log line saying why.
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { openFileSource } from '../../vmm/boot/byte-source';
import { objectFileFromElf } from '../symbols/object-file';
import type { NameIndexInput } from './name-index-build';
import { INDEX_VERSION, KIND, NameIndex, NameIndexBuilder, NameLookup } from './name-index-format';
import type { WorkerInput, WorkerResult } from './name-index-worker';

export { NameIndex } from './name-index-format';
export type { NameLookup } from './name-index-format';

/** The walk that builds an index (the worker's job): loaded when one is built or scanned here, not with the service. */
// eslint-disable-next-line @typescript-eslint/no-var-requires
const build = (): typeof import('./name-index-build') => require('./name-index-build') as typeof import('./name-index-build');

export const DEFAULT_INDEX_DIR = join(homedir(), '.cache', 'kvmdbg', 'index');

export interface NameIndexOptions {
  /** The object file's build-id (hex); the cache is keyed by it. Without one, nothing is cached. */
  buildId?: string;
  /** Where cache files live (default ~/.cache/kvmdbg/index); null = no cache. */
  cacheDir?: string | null;
  /** One line per event worth a log: built (how long), loaded from cache, cache damaged. */
  log?: (line: string) => void;
  /** Build on this thread instead of a worker (tests). */
  inline?: boolean;
}

/** The sections a walk needs, from a file opened here (closed by the caller through `close`). */
function openInput(path: string): { input?: NameIndexInput; debugInfoBytes: number; close(): void } {
  const file = openFileSource(path, { cacheBytes: 4 * 1024 * 1024 });
  try {
    const obj = objectFileFromElf(path, file);
    const info = obj.section('.debug_info');
    const abbrev = obj.section('.debug_abbrev');
    const input = info && abbrev ? {
      debugInfo: info.source, debugAbbrev: abbrev.data, debugStr: obj.section('.debug_str')?.data,
      debugLineStr: obj.section('.debug_line_str')?.data, debugStrOffsets: obj.section('.debug_str_offsets')?.data,
    } : undefined;
    return { input, debugInfoBytes: info?.size ?? 0, close: () => file.close() };
  } catch (e) {
    file.close();
    throw e;
  }
}

/** Reads and walks `path`'s .debug_info into index bytes (the worker's job; inline for tests). */
export function buildIndexBytes(path: string, buildId: string): { bytes: Uint8Array; problems: string[] } {
  const f = openInput(path);
  try {
    const builder = new NameIndexBuilder();
    const problems = f.input ? build().buildNameIndex(f.input, builder) : ['no .debug_info: the name index is empty'];
    return { bytes: builder.serialize(buildId, f.debugInfoBytes), problems };
  } finally {
    f.close();
  }
}

/** A cache file's bytes (the name index's, or the symbol layer's load facts next to it), or undefined when there is none. */
export function readIndexFile(path: string): Uint8Array | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/** Writes `bytes` to `path` atomically (a temporary file renamed into place). */
export function writeIndexFile(path: string, bytes: Uint8Array): void {
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export class NameIndexService implements NameLookup {
  private index?: NameIndex;
  state: 'building' | 'ready' | 'failed' = 'building';
  /** How the index came: 'cache' or 'built' (after ready). */
  source?: 'cache' | 'built';
  readonly ready: Promise<NameIndex | undefined>;
  readonly cachePath?: string;

  constructor(readonly path: string, private readonly options: NameIndexOptions = {}) {
    const log = options.log ?? (() => undefined);
    const dir = options.cacheDir === undefined ? DEFAULT_INDEX_DIR : options.cacheDir;
    const buildId = options.buildId ?? '';
    if (dir && buildId && /^[0-9a-f]+$/i.test(buildId)) this.cachePath = join(dir, `${buildId}.v${INDEX_VERSION}.idx`);
    if (this.cachePath) {
      let bytes: Uint8Array | undefined;
      try { bytes = readFileSync(this.cachePath); } catch { /* no cache yet */ }
      if (bytes) {
        try {
          this.index = new NameIndex(bytes, buildId);
          this.state = 'ready';
          this.source = 'cache';
          this.ready = Promise.resolve(this.index);
          return;
        } catch (e) {
          log(`kvmdbg: the name index cache ${this.cachePath} is damaged (${(e as Error).message.replace(/^the name index is not usable: /, '')}); rebuilding it`);
          try { rmSync(this.cachePath, { force: true }); } catch { /* rebuilt over it */ }
        }
      }
    }
    this.ready = this.build(buildId, log);
  }

  private async build(buildId: string, log: (line: string) => void): Promise<NameIndex | undefined> {
    const t0 = performance.now();
    let r: WorkerResult;
    if (this.options.inline) {
      try {
        const b = buildIndexBytes(this.path, buildId);
        if (this.cachePath) writeIndexFile(this.cachePath, b.bytes);
        r = { ok: true, bytes: b.bytes, problems: b.problems, ms: performance.now() - t0 };
      } catch (e) {
        r = { ok: false, message: (e as Error).message };
      }
    } else {
      r = await new Promise<WorkerResult>((resolve) => {
        const input: WorkerInput = { path: this.path, cachePath: this.cachePath, buildId };
        const worker = new Worker(join(__dirname, 'name-index-worker.js'), { workerData: input });
        worker.unref();
        worker.once('message', (m: WorkerResult) => resolve(m));
        worker.once('error', (e) => resolve({ ok: false, message: e.message }));
        worker.once('exit', (code) => resolve({ ok: false, message: `the index worker exited (code ${code})` }));
      });
    }
    if (!r.ok) {
      this.state = 'failed';
      log(`kvmdbg: the name index of ${this.path} could not be built (${r.message}): names are looked up in the symbol table only`);
      return undefined;
    }
    try {
      this.index = new NameIndex(r.bytes, buildId);
    } catch (e) {
      this.state = 'failed';
      log(`kvmdbg: ${(e as Error).message}`);
      return undefined;
    }
    this.state = 'ready';
    this.source = 'built';
    for (const p of r.problems.slice(0, 5)) log(`kvmdbg: name index: ${p}`);
    // Said when it mattered: a cache was written, or the build took long enough to notice.
    if (this.cachePath || r.ms >= 1000) log(`kvmdbg: name index of ${this.path}: ${this.index.nameCount} names in ${(r.ms / 1000).toFixed(1)} s`
      + (this.cachePath ? (r.written ? ` (not cached: ${r.written})` : `, cached in ${this.cachePath}`) : ''));
    return this.index;
  }

  /** The index when ready (else undefined: answer from the symbol table meanwhile). */
  get current(): NameIndex | undefined { return this.index; }

  /**
   * Types by name now: from the index when it is built, else the first
   * definition found walking the units in order on this thread (a common
   * kernel type is defined in its first units; a rare one costs a walk).
   */
  typesNow(name: string): number[] {
    if (this.index) return this.index.types(name);
    const m = /^(struct|union|enum)\s+(.+)$/.exec(name.trim());
    const kinds = m ? [m[1] === 'struct' ? KIND.struct : m[1] === 'union' ? KIND.union : KIND.enum] : [KIND.struct, KIND.union, KIND.enum, KIND.typedef, KIND.base];
    const f = openInput(this.path);
    try {
      const at = f.input && build().findFirstDefinition(f.input, m ? m[2] : name.trim(), kinds);
      return at === undefined ? [] : [at];
    } finally {
      f.close();
    }
  }

  /**
   * Variables by name now: from the index when it is built, else the first
   * definition found walking the units in order on this thread, remembered
   * per name (a kernel's early globals, `init_task`, `jiffies`, are in its
   * first units; a name no unit defines costs one walk).
   */
  variablesNow(name: string): number[] {
    if (this.index) return this.index.variables(name);
    let known = this.scanned.get(name);
    if (!known) {
      const f = openInput(this.path);
      try {
        const at = f.input && build().findFirstDefinition(f.input, name.trim(), [KIND.variable]);
        known = at === undefined ? [] : [at];
      } finally {
        f.close();
      }
      if (this.scanned.size >= 1024) this.scanned.clear();
      this.scanned.set(name, known);
    }
    return known;
  }

  private readonly scanned = new Map<string, number[]>();

  variables(name: string): number[] { return this.index?.variables(name) ?? []; }
  types(name: string): number[] { return this.index?.types(name) ?? []; }
  functions(name: string): number[] { return this.index?.functions(name) ?? []; }
  namesStartingWith(prefix: string, limit: number): string[] { return this.index?.namesStartingWith(prefix, limit) ?? []; }
}

/** Starts (or loads from cache) the name index of the object file at `path`. */
export function openNameIndex(path: string, options: NameIndexOptions = {}): NameIndexService {
  return new NameIndexService(path, options);
}
