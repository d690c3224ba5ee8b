/**
 * Linux modules in a debug session, automatic: kernel hooks on
 * `do_init_module` (RDI = the struct module, its sections final and
 * sect_attrs filled, its init not run yet) and on `free_module` (RDI = the
 * module going away) learn of every load and unload; each loaded module's
 * debug file is found, relocated and added to the session's SymbolSpace;
 * breakpoints that were pending bind (and go pending again at unload), the
 * client gets `breakpoint` and `module` events, and the guest continues,
 * all without a stop the user sees. At every reported stop the kernel's
 * `modules` list is walked (a few reads a module; the rest only when the
 * list changed) so modules loaded before the session looked are found too.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ModuleEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { HookContext, HookResult } from '../kernel-hooks';
import type { SessionState } from '../session/state';
import { Symbols, symbolsFromObject } from '../symbols';
import { relocatableObject } from '../symbols/relocate';
import { SymbolSpace } from '../symbols/symbol-space';
import { moduleFilesIn, moduleKey, releaseOfBanner, type ModuleSearch } from './module-files';
import { moduleBase, moduleLayout, moduleRanges, readModule, walkModules, type KernelModule, type ModuleLayout, type ReadGuest } from './module-list';
import { loadModuleSymbols } from './module-symbols';
import { freedMessage, pendingFunctionMessage, pendingSourceMessage, rebindBreakpoints } from './module-breakpoints';
import { lsmodText } from './module-lsmod';

/** Where module unload is seen, first found wins (free_module since 2.6; static, so maybe inlined elsewhere). */
const FREE_HOOKS = ['free_module'];
const LOAD_HOOK = 'do_init_module';
/** The longest a module load waits for the kernel's name index (it finds struct module). */
const NAME_INDEX_WAIT_MS = 20_000;
/** .ko files in modulePaths read to learn which module a pending breakpoint's file belongs to. */
const OWNER_SCAN_FILES = 64;

export interface ModuleTrackerHost {
  /** Re-arms the breakpoint table (BreakpointRequests.arm: sends the changed breakpoints). */
  arm(): Promise<void>;
}

interface Tracked {
  module: KernelModule;
  symbols: Symbols;
  path?: string;
  status: string;
}

const hex = (v: bigint): string => '0x' + v.toString(16);

export class ModuleTracker {
  private layout?: ModuleLayout;
  private layoutProblem?: string;
  private readonly loaded = new Map<string, Tracked>();
  /** Modules seen unloaded or found on disk: which files they have (pending breakpoints name them). */
  private readonly owners = new Map<string, Symbols>();
  private ownersScanned = false;
  private lastWalk = '';
  private readonly said = new Set<string>();
  /** True once the hooks are installed: the kernel is a Linux with modules. */
  active = false;

  constructor(private readonly state: SessionState, private readonly host: ModuleTrackerHost) {}

  private get space(): SymbolSpace | undefined {
    return this.state.symbols instanceof SymbolSpace ? this.state.symbols : undefined;
  }

  private once(text: string): void {
    if (this.said.has(text)) return;
    this.said.add(text);
    this.state.note(text);
  }

  /** At launch, with the symbols loaded: when they are a Linux kernel with modules, hook its load and unload. */
  install(): void {
    const space = this.space;
    if (!space || space.kernel.table.lookup(LOAD_HOOK) === undefined) return;
    this.active = true;
    this.state.hooks.add({ symbol: LOAD_HOOK, label: 'module load tracking', handler: (ctx) => this.onLoad(ctx) });
    const free = FREE_HOOKS.find((n) => space.kernel.table.lookup(n) !== undefined);
    if (free) this.state.hooks.add({ symbol: free, label: 'module unload tracking', handler: (ctx) => this.onFree(ctx) });
    else this.state.note(`kvmdbg: ${space.name} has no ${FREE_HOOKS.join(' or ')} symbol: a module's unload is noticed at the next stop only`);
  }

  private search(): ModuleSearch {
    const space = this.space!;
    const banner = space.kernel.table.lookup('linux_banner');
    const size = banner && banner.size > 0n && banner.size < 128n ? Number(banner.size) : 128;
    const bytes = banner ? space.kernel.linkedBytes(banner.address, size) : undefined;
    return {
      modulePaths: this.state.config?.modulePaths ?? [],
      vmlinux: this.state.config?.symbols,
      release: releaseOfBanner(bytes && Buffer.from(bytes).toString('latin1')),
    };
  }

  /** The kernel's struct module layout; undefined (and said once) when its types cannot be read, or not yet (the name index building). */
  private layoutNow(evenWhileIndexing = false): ModuleLayout | undefined {
    if (this.layout) return this.layout;
    // While the index builds a type lookup scans units (slow): a stop waits for a later one, a load does not.
    if (this.space?.names?.state === 'building' && !evenWhileIndexing) return undefined;
    const l = moduleLayout(this.space?.debug);
    if (typeof l === 'string') { this.layoutProblem = l; this.once(`kvmdbg: modules: ${l}; module symbols and the Modules view are off`); return undefined; }
    return (this.layout = l);
  }

  // ---- hooks --------------------------------------------------------------------------------

  /** The name index finds struct module: a module loading while it still builds waits for it (once, bounded). */
  private async namesReady(): Promise<void> {
    const names = this.space?.names;
    if (names?.state !== 'building') return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([names.ready, new Promise((r) => { timer = setTimeout(r, NAME_INDEX_WAIT_MS); })]);
    clearTimeout(timer);
  }

  private async onLoad(ctx: HookContext): Promise<HookResult> {
    await this.namesReady();
    const layout = this.layoutNow(true);
    if (!layout) return 'continue';
    const address = (await ctx.regs()).rdi;
    const m = readModule(layout, address, ctx.read, true);
    if (typeof m === 'string') { this.state.note(`kvmdbg: a module is loading, but ${m}: its symbols are not loaded`); return 'continue'; }
    await this.add(m, ctx.read);
    await this.rebind();
    return 'continue';
  }

  private async onFree(ctx: HookContext): Promise<HookResult> {
    const address = (await ctx.regs()).rdi;
    const gone = [...this.loaded.values()].find((t) => t.module.address === address);
    if (!gone) return 'continue';
    this.remove(gone.module.name);
    await this.rebind();
    return 'continue';
  }

  // ---- the list -----------------------------------------------------------------------------

  /** At a stop the user will see: modules loaded or freed behind our back (before the hooks, a missed hook). */
  async atStop(): Promise<void> {
    if (!this.active) return;
    const space = this.space;
    const layout = this.layoutNow();
    const head = space?.kernel.addressOf('modules');
    if (!space || !layout || head === undefined) return;
    await this.state.vcpu?.sregs().catch(() => undefined);
    const read: ReadGuest = (a, n) => this.state.view!.readExact({ space: 'v', address: a }, n);
    const walk = walkModules(layout, head, read, false);
    // The head unreadable: kernel memory not mapped here (user mode with PTI, early boot). Nothing is known.
    if (walk.problem && walk.modules.length === 0 && /head/.test(walk.problem)) return;
    if (walk.problem) this.once(`kvmdbg: ${walk.problem}`);
    const key = walk.modules.map((m) => `${m.address}:${m.name}:${moduleRanges(m).join('/')}`).join(',');
    if (key === this.lastWalk) return;
    this.lastWalk = key;
    let changed = false;
    for (const m of walk.modules) {
      const have = this.loaded.get(m.name);
      if (have && have.module.address === m.address) {
        have.module = { ...m, sections: have.module.sections };
        // Its init sections freed: breakpoints there are unbound (rebind).
        if (space.setRanges(m.name, moduleRanges(m))) changed = true;
        continue;
      }
      if (m.state === 'unformed') continue;   // not loaded yet, or being freed
      const full = readModule(layout, m.address, read, true);
      if (typeof full !== 'string') { await this.add(full, read); changed = true; }
    }
    // A damaged walk proves nothing about the modules it did not reach.
    if (!walk.problem) {
      const listed = new Set(walk.modules.filter((m) => m.state !== 'unformed').map((m) => m.name));
      for (const name of [...this.loaded.keys()]) if (!listed.has(name)) { this.remove(name); changed = true; }
    }
    if (changed) await this.rebind();
  }

  private async add(m: KernelModule, read: ReadGuest): Promise<void> {
    const space = this.space!;
    const previous = this.loaded.get(m.name);
    if (previous && previous.module.address === m.address) return;
    if (previous) this.remove(m.name);
    const loaded = await loadModuleSymbols(m, this.search(), { resolve: (n) => space.kernel.addressOf(n), read });
    for (const n of loaded.notes) this.state.note(n);
    const tracked: Tracked = { module: m, symbols: loaded.symbols, path: loaded.path, status: loaded.status };
    this.loaded.set(m.name, tracked);
    this.owners.delete(moduleKey(m.name));
    space.add({ name: m.name, symbols: loaded.symbols, ranges: moduleRanges(m) });
    const at = moduleBase(m);
    this.state.note(`kvmdbg: module ${m.name} loaded${at === undefined ? '' : ` at ${hex(at)}`}: ${loaded.status === 'Symbols loaded' ? `symbols from ${loaded.path}` : loaded.status}`);
    this.state.send(new ModuleEvent('new', this.toDap(tracked)));
  }

  private remove(name: string): void {
    const t = this.loaded.get(name);
    if (!t) return;
    this.loaded.delete(name);
    this.space?.remove(name);
    // Kept for its file names: a breakpoint in it says which module it waits for.
    this.owners.set(moduleKey(name), t.symbols);
    this.state.note(`kvmdbg: module ${name} unloaded`);
    this.state.send(new ModuleEvent('removed', { id: name, name }));
  }

  private async rebind(): Promise<void> {
    const space = this.space;
    if (!space) return;
    rebindBreakpoints(this.state.breakpoints.all(), space, (p) => this.state.sourceMap.unmapSource(p), (f) => this.ownerOf(f));
    await this.host.arm();
  }

  // ---- pending breakpoints ------------------------------------------------------------------

  /** The module (not loaded now) whose debug info names `file`: one seen before, or a .ko in modulePaths. */
  ownerOf(file: string): string | undefined {
    const has = (s: Symbols): boolean => { try { return s.lines.matchFiles(file).length > 0; } catch { return false; } };
    for (const [name, s] of this.owners) if (has(s)) return name;
    if (!this.ownersScanned && this.space) {
      this.ownersScanned = true;
      for (const p of this.state.config?.modulePaths ?? []) {
        for (const f of moduleFilesIn(p).slice(0, OWNER_SCAN_FILES)) this.scanOwner(f);
      }
    }
    for (const [name, s] of this.owners) if (has(s)) return name;
    return undefined;
  }

  /** A .ko on disk (compressed ones are not read for this): its file names, under its module name. */
  private scanOwner(path: string): void {
    if (!path.endsWith('.ko')) return;
    const name = moduleKey(basename(path).slice(0, -3));
    if (this.loaded.has(name) || this.owners.has(name)) return;
    try {
      this.owners.set(name, symbolsFromObject(relocatableObject(name, new Uint8Array(readFileSync(path)), new Map()), { name }));
    } catch { /* not a module: it owns no file */ }
  }

  /** A source breakpoint's problem when no loaded object has its file: pending, or undefined (not a module matter). */
  pendingSource(file: string, line = 0): string | undefined {
    const space = this.space;
    if (!this.active || !space) return undefined;
    const objects = space.objectsWithFile(file);
    if (objects.includes(space.kernel.name)) return undefined;
    return objects.length > 0 ? freedMessage(file, line, objects) : pendingSourceMessage(file, this.ownerOf(file));
  }

  pendingFunction(name: string): string | undefined {
    return this.active ? pendingFunctionMessage(name) : undefined;
  }

  // ---- DAP ----------------------------------------------------------------------------------

  private toDap(t: Tracked): DebugProtocol.Module {
    const ranges = moduleRanges(t.module);
    const start = moduleBase(t.module) ?? ranges[0]?.[0];
    const end = ranges.reduce((e, [, b]) => (b > e ? b : e), 0n);
    const out: DebugProtocol.Module = { id: t.module.name, name: t.module.name, symbolStatus: t.status };
    if (t.path) { out.path = t.path; if (t.status === 'Symbols loaded') out.symbolFilePath = t.path; }
    if (start !== undefined) out.addressRange = `${hex(start)}-${hex(end)}`;
    if (t.module.version) out.version = t.module.version;
    return out;
  }

  /** The modules request: vmlinux, then each module in load order. */
  modules(): DebugProtocol.Module[] {
    const space = this.space;
    const out: DebugProtocol.Module[] = [];
    if (space) {
      const k = space.kernel;
      const text = k.table.lookup('_stext') ?? k.table.lookup('_text');
      const etext = k.table.lookup('_etext');
      const kernel: DebugProtocol.Module = { id: k.name, name: k.name, path: this.state.config?.symbols ?? this.state.config?.systemMap, symbolStatus: k.warnings.length > 0 ? `Symbols loaded (${k.warnings[0]})` : 'Symbols loaded' };
      if (text && etext) kernel.addressRange = `${hex(k.toRuntime(text.address))}-${hex(k.toRuntime(etext.address))}`;
      const release = this.search().release;
      if (release) kernel.version = release;
      out.push(kernel);
    }
    for (const t of this.loaded.values()) out.push(this.toDap(t));
    if (this.layoutProblem && this.active) out.push({ id: 'modules', name: '(modules)', symbolStatus: this.layoutProblem });
    return out;
  }

  /** lsmod's table: the kernel's list read now (the vCPUs stopped), else as last seen. */
  lsmod(): string {
    if (!this.active) return 'lsmod: the kernel has no loadable modules (no do_init_module in its symbols)';
    const layout = this.layoutNow();
    if (!layout) return `lsmod: ${this.layoutProblem}`;
    const head = this.space?.kernel.addressOf('modules');
    if (head !== undefined && this.state.vcpu?.state === 'stopped') {
      const walk = walkModules(layout, head, (a, n) => this.state.view!.readExact({ space: 'v', address: a }, n), false);
      if (walk.modules.length > 0 || !walk.problem) return lsmodText(walk.modules, walk.problem && `lsmod: ${walk.problem}`);
    }
    return lsmodText([...this.loaded.values()].map((t) => t.module));
  }
}
