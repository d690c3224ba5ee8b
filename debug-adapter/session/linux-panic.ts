/**
 * Kernel panics, oopses, BUG()s and WARN()s as stops, on kernel hooks
 * (kernel-hooks.ts) and shown as exception breakpoint filters:
 *
 *   linux-panic  "Kernel panic and oops" (on by default; launch.json
 *                stopOnPanic): panic() with its message formatted from its
 *                format and arguments, and __die() (an oops) with its text,
 *                the stack then shown from the crashing pt_regs
 *   linux-bug    "Kernel BUG()": report_bug() for a BUG (not a WARN)
 *   linux-warn   "Kernel WARN()": __warn()
 *
 * Each stop says what happened in its text ("Kernel panic: sysrq triggered
 * crash"), prints the end of the kernel log to the Debug Console, and
 * exceptionInfo carries both. A triple fault after a panic says so.
 */
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { Regs } from '../../native/types';
import type { HookContext, HookResult, HookStop } from '../kernel-hooks';
import { formatRecord, readKernelLog } from '../linux/dmesg';
import { Kernel, LinuxError, memberOf, printable } from '../linux/kernel';
import { walkList } from '../linux/tasks';
import type { CType } from '../dwarf/model';
import { formatPrintk, variadicArgs } from '../linux/printk-format';
import { ptRegs } from '../linux/task-stack';
import { sizeOf } from '../variables/ctype';
import type { SessionState } from './state';
import { KERNEL_HALF } from '../linux/kernel-memory';

export const PANIC_FILTERS: DebugProtocol.ExceptionBreakpointsFilter[] = [
  {
    filter: 'linux-panic', label: 'Kernel panic and oops', default: true,
    description: 'A Linux guest with symbols: stop at panic() with its message, and at an oops (__die) with the crashing stack; the end of the kernel log goes to the Debug Console. launch.json "stopOnPanic" sets the default.',
  },
  { filter: 'linux-bug', label: 'Kernel BUG()', default: false, description: 'A Linux guest with symbols: stop when the kernel reports a BUG() (report_bug), before the oops, at the BUG\'s registers.' },
  { filter: 'linux-warn', label: 'Kernel WARN()', default: false, description: 'A Linux guest with symbols: stop at a WARN() (__warn), with the warning\'s file and line.' },
];
const FILTER_IDS = new Set(PANIC_FILTERS.map((f) => f.filter));

/** The records of the kernel log a panic stop shows. */
export const DMESG_TAIL = 20;

interface Shown { filter: string; text: string; message: string; tail: string }

export interface PanicHost {
  kernel(): Promise<Kernel>;
  arm(): Promise<void>;
}

export class PanicStops {
  private readonly enabled = new Set<string>(['linux-panic']);
  private readonly installed = new Map<string, (() => void)[]>();
  /** What the current stop is (exceptionInfo); cleared when the guest runs. */
  private shown?: Shown;
  /** The last panic's message, for a triple fault or reset that follows it. */
  panicked?: string;

  constructor(readonly state: SessionState, private readonly host: PanicHost) {}

  isFilter(id: string): boolean {
    return FILTER_IDS.has(id);
  }

  /** launch.json's stopOnPanic: the panic filter's state until the client sets filters. */
  launch(stopOnPanic: boolean): void {
    if (!stopOnPanic) this.enabled.delete('linux-panic');
    this.install();
  }

  /** setExceptionBreakpoints: the panic filters among `ids` are on, the others off. */
  async setFilters(ids: string[]): Promise<DebugProtocol.Breakpoint[]> {
    this.enabled.clear();
    for (const id of ids) if (FILTER_IDS.has(id)) this.enabled.add(id);
    this.install();
    if (this.state.machine && !this.state.machine.ended) await this.host.arm();
    const problems = this.state.hooks.problems();
    const linux = this.linux;
    return ids.filter((id) => FILTER_IDS.has(id)).map((id) => {
      if (!linux) return { verified: false, message: 'not armed: the kernel\'s symbols have no panic() and printk(), so it is not a Linux kernel with symbols' };
      const symbols = HOOKS[id].map((h) => h.symbol);
      const missing = problems.filter((p) => symbols.some((s) => p.startsWith(`${s}:`)));
      return missing.length === symbols.length ? { verified: false, message: `not armed: ${missing.join('; ')}` } : { verified: true };
    });
  }

  /** Whether the symbols are a Linux kernel's (panic and printk): the filters mean nothing elsewhere. */
  private get linux(): boolean {
    const symbols = this.state.symbols;
    return symbols?.addressOf('panic') !== undefined && (symbols.addressOf('_printk') !== undefined || symbols.addressOf('printk') !== undefined);
  }

  /** Adds the hooks of enabled filters (a Linux kernel's symbols only), removes the others'. */
  private install(): void {
    const linux = this.linux;
    for (const id of FILTER_IDS) {
      const on = linux && this.enabled.has(id);
      const off = this.installed.get(id);
      if (on && !off) this.installed.set(id, HOOKS[id].map((h) => this.state.hooks.add({ symbol: h.symbol, label: `${h.symbol} (${id})`, handler: (ctx) => h.handle(this, ctx) })));
      if (!on && off) { for (const f of off) f(); this.installed.delete(id); }
    }
  }

  /** The guest runs again: the stop's crashing registers and its exceptionInfo are gone. */
  resumed(): void {
    this.shown = undefined;
    this.state.shownRegs = undefined;
  }

  exceptionInfo(): DebugProtocol.ExceptionInfoResponse['body'] | undefined {
    const s = this.shown;
    if (!s || this.state.lastStop?.reason !== 'breakpoint') return undefined;
    return {
      exceptionId: s.filter, description: s.text, breakMode: 'always',
      details: { message: `${s.message}\n\nThe end of the kernel log:\n${s.tail}`, typeName: s.text.split(':')[0], fullTypeName: s.text },
    };
  }

  /** A triple fault or reset message (the VM ended, or the shutdown filter stopped), with "after a kernel panic" when one came first. */
  endMessage(message: string): string {
    return this.panicked && /triple.?fault|shut ?down|reset the machine/i.test(message) ? `${message} (after a kernel panic: ${this.panicked})` : message;
  }

  /** Shows a stop: the dmesg tail to the console, the text in the stopped event, the details for exceptionInfo. */
  async stop(filter: string, kind: 'panic' | 'oops' | 'BUG' | 'WARN', text: string, message: string, ctx: HookContext, crashRegs?: Regs): Promise<HookStop> {
    if (crashRegs) this.state.shownRegs = { vcpu: ctx.vcpu, regs: crashRegs };
    const tail = await this.dmesgTail();
    this.shown = { filter, text, message, tail };
    this.state.note(`${text}\n--- the end of the kernel log (dmesg) ---\n${tail}\n---`, 'important');
    return { reason: 'exception', description: `Paused on a kernel ${kind}`, text };
  }

  private async dmesgTail(): Promise<string> {
    try {
      const log = readKernelLog(await this.host.kernel(), { last: DMESG_TAIL });
      return log.records.map(formatRecord).join('\n') || '(the kernel log is empty)';
    } catch (e) {
      if (e instanceof LinuxError) return `(the kernel log cannot be read: ${e.message})`;
      throw e;
    }
  }

  async kernel(): Promise<Kernel> {
    return this.host.kernel();
  }
}

// ---- the hooks ---------------------------------------------------------------------------------

interface Hook { symbol: string; handle(p: PanicStops, ctx: HookContext): Promise<HookResult> }

function readString(ctx: HookContext, address: bigint, max: number): string | undefined {
  const out: number[] = [];
  for (let at = address; out.length < max; ) {
    const chunk = Math.min(max - out.length, 64 - Number(at % 64n));
    const bytes = ctx.read(at, chunk);
    if (!bytes) return out.length > 0 ? Buffer.from(out).toString('latin1') : undefined;
    for (const b of bytes) { if (b === 0) return Buffer.from(out).toString('latin1'); out.push(b); }
    at += BigInt(chunk);
  }
  return Buffer.from(out).toString('latin1');
}

function readU64(ctx: HookContext, address: bigint): bigint | undefined {
  const b = ctx.read(address, 8);
  return b ? new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true) : undefined;
}

const sym = (p: PanicStops, a: bigint): string => p.state.symbolName(a) ?? `0x${a.toString(16)}`;

async function crashRegisters(p: PanicStops, address: bigint): Promise<Regs | undefined> {
  if (address < KERNEL_HALF) return undefined;
  try { return ptRegs(await p.kernel(), address); } catch (e) { if (e instanceof LinuxError) return undefined; throw e; }
}

const PANIC: Hook = {
  symbol: 'panic',
  async handle(p, ctx) {
    const regs = await ctx.regs();
    const fmt = readString(ctx, regs.rdi, 512) ?? `<the format at 0x${regs.rdi.toString(16)} is unreadable>`;
    const message = printable(formatPrintk(fmt, {
      next: variadicArgs(regs, 1, (a) => readU64(ctx, a)),
      string: (a, max) => readString(ctx, a, max),
      symbolize: (a) => p.state.symbolName(a),
    }).replace(/\n+$/, ''));
    p.panicked = message;
    return p.stop('linux-panic', 'panic', `Kernel panic: ${message}`, `panic("${printable(fmt.replace(/\n+$/, ''))}") called: ${message}`, ctx);
  },
};

const DIE: Hook = {
  symbol: '__die',
  async handle(p, ctx) {
    // void __die(const char *str, struct pt_regs *regs, long err)
    const regs = await ctx.regs();
    const str = printable(readString(ctx, regs.rdi, 128) ?? 'oops');
    const crash = await crashRegisters(p, regs.rsi);
    const err = (regs.rdx & 0xffffn).toString(16).padStart(4, '0');
    const where = crash ? ` at ${sym(p, crash.rip)}` : '';
    return p.stop('linux-panic', 'oops', `Kernel oops: ${str}: ${err}${where}`, `__die("${str}", regs, ${err}): the stack is the crashing one, from its pt_regs${crash ? '' : ' (unreadable: shown from __die)'}`, ctx, crash);
  },
};

const BUG: Hook = {
  symbol: 'report_bug',
  async handle(p, ctx) {
    // enum bug_trap_type report_bug(unsigned long bugaddr, struct pt_regs *regs): a WARN comes here too (its own filter stops in __warn).
    const regs = await ctx.regs();
    const entry = await bugEntry(p, regs.rdi);
    if (entry?.warning) return 'continue';
    const crash = await crashRegisters(p, regs.rsi);
    const at = entry?.file ? `${entry.file}:${entry.line}` : sym(p, regs.rdi);
    return p.stop('linux-bug', 'BUG', `Kernel BUG at ${at}`, `BUG() at ${sym(p, regs.rdi)}`, ctx, crash);
  },
};

const WARN: Hook = {
  symbol: '__warn',
  async handle(p, ctx) {
    // void __warn(const char *file, int line, void *caller, unsigned taint, struct pt_regs *regs, struct warn_args *args)
    const regs = await ctx.regs();
    const file = regs.rdi ? printable(readString(ctx, regs.rdi, 256) ?? '?') : undefined;
    const line = Number(BigInt.asIntN(32, regs.rsi));
    const crash = regs.r8 ? await crashRegisters(p, regs.r8) : undefined;
    const at = file ? `${file}:${line}` : sym(p, regs.rdx);
    return p.stop('linux-warn', 'WARN', `Kernel WARN at ${at}`, `WARN() at ${at}, in ${sym(p, regs.rdx)}`, ctx, crash);
  },
};

/** Bug table entries looked through at most, over vmlinux's table and every module's. */
const MAX_BUG_ENTRIES = 1 << 20;
/** Modules on module_bug_list looked at at most (a corrupt list ends the search, not the stop). */
const MAX_BUG_MODULES = 4096;

interface BugEntry { warning: boolean; file?: string; line?: number }

/**
 * The kernel's bug table entry for `address` (struct bug_entry, relative
 * pointers or not): vmlinux's __bug_table, then each module's bug_table on
 * module_bug_list (a WARN in a module is in its own table). Bounded; a
 * table we cannot read is no entry, and the stop shows the address.
 */
async function bugEntry(p: PanicStops, address: bigint): Promise<BugEntry | undefined> {
  let k: Kernel;
  try { k = await p.kernel(); } catch { return undefined; }
  const type = k.type('struct bug_entry');
  if (!type) return undefined;
  const size = BigInt(sizeOf(type));
  if (size === 0n) return undefined;
  const budget = { left: MAX_BUG_ENTRIES };
  try {
    const symbols = p.state.symbols;
    const start = symbols?.addressOf('__start___bug_table');
    const end = symbols?.addressOf('__stop___bug_table');
    if (start !== undefined && end !== undefined && end > start) {
      const found = findBug(k, type, size, start, (end - start) / size, address, budget);
      if (found) return found;
    }
    for (const m of moduleBugTables(k)) {
      const found = findBug(k, type, size, m.table, m.count, address, budget);
      if (found) return found;
    }
  } catch (e) {
    if (e instanceof LinuxError) return undefined;
    throw e;
  }
  return undefined;
}

/** Each module's bug table (module_bug_list, linked through struct module's bug_list). */
function moduleBugTables(k: Kernel): { table: bigint; count: bigint }[] {
  const head = k.global('module_bug_list');
  const moduleType = k.type('struct module');
  if (!head || !moduleType) return [];
  const link = memberOf(moduleType, 'bug_list');
  if (!link) return [];
  const modules = walkList(k, k.address(head, 'module_bug_list'), BigInt(link.offset), { left: MAX_BUG_MODULES }, 'module_bug_list');
  return modules.map((address) => {
    const m = k.at(moduleType, address);
    return { table: k.int(k.field(m, 'bug_table', 'a module\'s bug table'), 'bug_table'), count: k.int(k.field(m, 'num_bugs', 'a module\'s bug table'), 'num_bugs') };
  }).filter((m) => m.table >= KERNEL_HALF && m.count > 0n);
}

/** The entry for `address` among `count` entries at `start`, each counted against the budget. */
function findBug(k: Kernel, type: CType, size: bigint, start: bigint, count: bigint, address: bigint, budget: { left: number }): BugEntry | undefined {
  for (let i = 0n; i < count && budget.left > 0; i++, budget.left--) {
    const at = start + i * size;
    const e = k.at(type, at);
    const dispMember = k.member(e, 'bug_addr_disp');
    const bugAddr = dispMember ? at + k.int(dispMember, 'bug_addr_disp') : k.int(k.field(e, 'bug_addr', 'the bug table'), 'bug_addr');
    if (BigInt.asUintN(64, bugAddr) !== address) continue;
    const flags = Number(k.int(k.field(e, 'flags', 'the bug table'), 'flags'));
    const fileMember = k.member(e, 'file_disp');
    const fileAddr = fileMember ? k.address(fileMember, 'file_disp') + k.int(fileMember, 'file_disp') : undefined;
    const lineMember = k.member(e, 'line');
    return {
      warning: (flags & 1) !== 0,
      file: fileAddr !== undefined ? k.string(fileAddr, 'the file of a BUG', 256) : undefined,
      line: lineMember ? Number(k.int(lineMember, 'line')) : undefined,
    };
  }
  return undefined;
}

const HOOKS: Record<string, Hook[]> = { 'linux-panic': [PANIC, DIE], 'linux-bug': [BUG], 'linux-warn': [WARN] };
