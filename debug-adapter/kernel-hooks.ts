/**
 * Kernel hooks: breakpoints the user never sees, on kernel functions by
 * name, whose handler decides what the stop means. Module tracking
 * (do_init_module, free_module) and the panic stop (panic, __die, __warn)
 * are built on them.
 *
 * API (the session holds one `KernelHooks` as `state.hooks`):
 *
 *   const off = state.hooks.add({
 *     symbol: 'do_init_module',              // entry address from the symbol table, KASLR slide applied
 *     handler: async (ctx) => {              // the vCPU that hit it is stopped (all vCPUs are)
 *       const mod = (await ctx.regs()).rdi;  // registers, memory (ctx.read), C (ctx.c(), ctx.evaluate())
 *       return 'continue';                   // resume at once: no stopped event, nothing shown
 *       // or { reason: 'exception', description: 'Kernel panic', text: 'Kernel panic: ...' }: a stop the user sees
 *     },
 *   });
 *   await arm();    // BreakpointRequests.arm(): hooks added while the VM exists take effect at the next arm
 *   off();          // removes the hook (again: at the next arm)
 *
 * A hook stands at the function's entry; where the host's software trap is
 * a 2-byte port trap, which does not fit a frame-pointer kernel's 1-byte
 * `push %rbp`, it stands on the next instruction; handlers never see the
 * difference: ctx.address is the entry and ctx.regs() the registers as at
 * the entry (RSP 8 higher than the vCPU's there, at the return address).
 *
 * Hooks are the breakpoint table's own group ('hook', kind 'hook'), so a
 * setBreakpoints call never replaces them; they take a debug register or a
 * software trap like any code breakpoint, after the user's breakpoints
 * (breakpoints.ts hardwarePlan), and are never sent to the client. A user
 * breakpoint at the same address behaves as it would alone: its condition
 * and hit count decide whether that stop is shown. A handler runs on the
 * adapter's event loop as a promise (never blocking the DAP thread); one
 * that throws is said once on the console and the guest continues.
 */
import type { Regs, Sregs } from '../native/types';
import type { StopReason } from '../vmm/machine/protocol';
import type { Breakpoint, BreakpointSpec, BreakpointTable } from './breakpoints';
import type { ExprContext } from './expr';
import type { Value } from './variables/value';

/** A stop a hook wants shown: the stopped event's reason, description and text. */
export interface HookStop {
  /** DAP StoppedEvent reason ('exception', 'breakpoint', ...). */
  reason: string;
  /** The short text VS Code shows on the paused thread ("Paused on exception"). */
  description: string;
  /** The longer text (the exception widget's), e.g. "Kernel panic: Attempted to kill init!". */
  text?: string;
}

export type HookResult = 'continue' | HookStop;

/** What a handler can look at: the stopped vCPU that hit the hook. */
export interface HookContext {
  /** The vCPU index (its DAP thread is vcpu + 1). */
  vcpu: number;
  /** The function's entry (its run-time address), also where the hook stands one instruction in. */
  address: bigint;
  stop: StopReason & { reason: 'breakpoint' };
  /** The registers as at the function's entry (RIP the entry, RSP at the return address), wherever the hook stands. */
  regs(): Promise<Regs>;
  sregs(): Promise<Sregs>;
  /** Guest virtual memory through the stopped vCPU's page tables; undefined when any byte is unmapped. */
  read(address: bigint, length: number): Uint8Array | undefined;
  /** The C context of the innermost frame (the hooked function's entry), or undefined without DWARF there. */
  c(): Promise<ExprContext | undefined>;
  /** A C expression in that context (`mod->name`, `*(struct module *)0x...`); throws ExprError with one sentence. */
  evaluate(text: string): Promise<Value>;
}

export interface KernelHook {
  /** The kernel function hooked, by symbol name. */
  symbol: string;
  handler(ctx: HookContext): Promise<HookResult>;
  /** For messages (default: the symbol). */
  label?: string;
}

/** How the hooks find symbols (the session's Symbols / SymbolSpace: run-time addresses). */
export interface HookSymbols {
  addressOf(name: string): bigint | undefined;
}

/** What the code at an address allows: whether this host's software trap fits there, its first byte. */
export interface HookPlacement {
  fits(address: bigint): boolean;
  firstByte(address: bigint): number | undefined;
}

/** `push %rbp`: the one-byte first instruction of every function of a kernel built with frame pointers. */
const PUSH_RBP = 0x55;

export class KernelHooks {
  private readonly hooks = new Map<number, KernelHook>();
  private nextId = 1;
  /** The group last written to the table, as one string: unchanged means no replace. */
  private written = '';
  /** Each hooked symbol's entry address (the hook may stand one instruction in). */
  private readonly entries = new Map<string, bigint>();
  /** The last hook hit: the same call met again one instruction in is not handled twice. */
  private lastHit?: { symbol: string; vcpu: number; address: bigint; entryRsp?: bigint };
  /** Handlers that failed, said once each. */
  private readonly failed = new Set<string>();

  constructor(private readonly table: BreakpointTable, private readonly note: (text: string) => void = () => {}) {}

  /** Adds a hook; returns the function that removes it. Both take effect at the next arm. */
  add(hook: KernelHook): () => void {
    const id = this.nextId++;
    this.hooks.set(id, hook);
    return () => { this.hooks.delete(id); };
  }

  get size(): number { return this.hooks.size; }

  /**
   * Writes the 'hook' group of the breakpoint table for these symbols (called by every arm, so
   * a KASLR rebase or a module's symbols move the hooks too); replaces the group only when an
   * address changed. A symbol the kernel does not have is a hook that is not armed, and says why.
   */
  sync(symbols: HookSymbols | undefined, placement?: HookPlacement): void {
    const bySymbol = new Map<string, BreakpointSpec>();
    for (const h of this.hooks.values()) {
      if (bySymbol.has(h.symbol)) continue;
      const entry = symbols?.addressOf(h.symbol);
      let address = entry;
      // A 2-byte software trap (the port trap) does not fit a 1-byte `push %rbp`: the hook then
      // stands on the next instruction, where the arguments are still in their registers, and
      // leaves the debug registers to the user. Handlers still see the entry (handle()).
      if (address !== undefined && placement && !placement.fits(address) && placement.firstByte(address) === PUSH_RBP && placement.fits(address + 1n)) address += 1n;
      if (entry !== undefined) this.entries.set(h.symbol, entry); else this.entries.delete(h.symbol);
      const base = { key: `hook:${h.symbol}`, kind: 'hook' as const };
      bySymbol.set(h.symbol, address === undefined
        ? { ...base, problem: `no symbol "${h.symbol}" in the kernel's symbols` }
        : { ...base, addresses: [address] });
    }
    const specs = [...bySymbol.values()];
    const key = specs.map((s) => `${s.key}=${s.addresses?.join('/') ?? s.problem}`).join(',');
    if (key === this.written) return;
    this.written = key;
    this.table.replace('hook', specs);
  }

  /** Hooks that are not armed, and why (one sentence each): for a feature to say it is off. */
  problems(): string[] {
    return this.table.all().filter((b) => b.kind === 'hook' && !b.verified).map((b) => `${b.key.slice(5)}: ${b.message ?? 'not armed'}`);
  }

  /** After an arm: says each hook that is not armed, once, with what it costs (its label). */
  sayUnarmed(): void {
    for (const b of this.table.all()) {
      if (b.kind !== 'hook' || b.verified) continue;
      const symbol = b.key.slice(5);
      const said = `${symbol}:${b.message}`;
      if (this.unarmedSaid.has(said)) continue;
      this.unarmedSaid.add(said);
      const labels = [...new Set([...this.hooks.values()].filter((h) => h.symbol === symbol).map((h) => h.label ?? h.symbol))].join(', ');
      this.note(`kvmdbg: ${labels} is off for now: the hidden breakpoint on ${symbol} is not armed (${b.message ?? 'not armed'})`);
    }
  }
  private readonly unarmedSaid = new Set<string>();

  /**
   * A breakpoint stop at hook addresses: runs each matching hook's handler in the order they
   * were added. The first stop a handler returns is the stop to show (later handlers at the
   * same address still run); undefined means continue. A throwing handler continues.
   */
  async handle(hit: readonly Breakpoint[], ctx: HookContext): Promise<HookStop | undefined> {
    const symbols = new Set(hit.filter((b) => b.kind === 'hook').map((b) => b.key.slice(5)));
    const symbol = [...symbols][0];
    const entry = symbol === undefined ? undefined : this.entries.get(symbol);
    // One instruction in (past `push %rbp`): the handlers see the registers as they were at the entry.
    const movedIn = entry !== undefined && ctx.address === entry + 1n;
    const vcpuRegs = ctx.regs;
    const regs = movedIn ? async (): Promise<Regs> => { const r = await vcpuRegs(); return { ...r, rip: entry, rsp: BigInt.asUintN(64, r.rsp + 8n) }; } : vcpuRegs;
    const at: HookContext = { ...ctx, address: entry ?? ctx.address, regs };
    // A hook moved past `push %rbp` while its function was being entered is met again there: the same call.
    let entryRsp: bigint | undefined;
    try { entryRsp = (await at.regs()).rsp; } catch { entryRsp = undefined; }
    const last = this.lastHit;
    this.lastHit = symbol === undefined ? undefined : { symbol, vcpu: ctx.vcpu, address: ctx.address, entryRsp };
    if (last && movedIn && last.symbol === symbol && last.vcpu === ctx.vcpu && last.address === entry && entryRsp !== undefined && last.entryRsp === entryRsp) return undefined;
    ctx = at;
    let shown: HookStop | undefined;
    for (const h of [...this.hooks.values()]) {
      if (!symbols.has(h.symbol)) continue;
      try {
        const r = await h.handler(ctx);
        if (r !== 'continue' && !shown) shown = r;
      } catch (e) {
        const label = h.label ?? h.symbol;
        if (!this.failed.has(label)) {
          this.failed.add(label);
          this.note(`kvmdbg: the ${label} hook failed (${(e as Error).message}); the guest goes on`);
        }
      }
    }
    return shown;
  }
}

/** True for the hidden breakpoints of kernel hooks (never shown, never in a stopped event's ids). */
export function isHook(b: Breakpoint): boolean {
  return b.kind === 'hook';
}
