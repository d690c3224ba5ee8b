// The panic stop's handlers on a fake kernel: panic()'s message formatted
// from its format and arguments, the stop's text, the dmesg tail on the
// console and in exceptionInfo; an oops (__die) shown from its pt_regs;
// the filters installing and removing their hooks; "after a kernel panic";
// a module's BUG and WARN found in that module's own bug table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { Breakpoint } from '../../debug-adapter/breakpoints';
import type { HookContext } from '../../debug-adapter/kernel-hooks';
import type { Regs } from '../../native/types';
import { PanicStops } from '../../debug-adapter/session/linux-panic';
import { SessionState } from '../../debug-adapter/session/state';
import type { Symbols } from '../../debug-adapter/symbols';
import type { RecordType, VariableInfo } from '../../debug-adapter/dwarf/model';
import { at, base, FakeMemory, ptr, struct, T, variable } from './helpers/c-fixtures';
import { kernelOf, linuxTypes, listHead, prbGlobals, writeRing } from './helpers/linux-fixtures';

const FMT = 0xffffffff82000000n;
const NAME = 0xffffffff82000100n;
const STACK = 0xffffc90000010000n;
const PT_REGS = 0xffffc90000011f58n;
const regNames = ['r15', 'r14', 'r13', 'r12', 'bp', 'bx', 'r11', 'r10', 'r9', 'r8', 'ax', 'cx', 'dx', 'si', 'di', 'orig_ax', 'ip', 'cs', 'flags', 'sp', 'ss'];
const ptRegsType = struct('pt_regs', 168, regNames.map((n, i) => [n, T.ulong, i * 8] as [string, typeof T.ulong, number]));

function setup(extra: { globals?: VariableInfo[]; types?: Record<string, RecordType> } = {}) {
  const mem = new FakeMemory();
  writeRing(mem, [
    { text: 'KVMDBG-SYSRQ', tsNsec: 5_000_000_000n, level: 4 },
    { text: 'sysrq: Trigger a crash', tsNsec: 5_100_000_000n, level: 6 },
  ], { countBits: 3, sizeBits: 8 });
  mem.str(FMT, 'Attempted to kill %s! exitcode=0x%08x\n').str(NAME, 'init');
  mem.map(STACK, 64).u64(STACK + 8n, 0x1234n);
  const events: DebugProtocol.Event[] = [];
  const state = new SessionState((e) => events.push(e));
  const addresses: Record<string, bigint> = { panic: 0xffffffff81231066n, _printk: 0xffffffff81231676n, __die: 0xffffffff81230685n };
  state.symbols = { addressOf: (n: string) => addresses[n], symbolize: () => undefined } as unknown as Symbols;
  const kernel = kernelOf(mem, [...prbGlobals(), ...(extra.globals ?? [])], { ...linuxTypes, 'struct pt_regs': ptRegsType, ...extra.types });
  let arms = 0;
  const panic = new PanicStops(state, { kernel: async () => kernel, arm: async () => { arms++; } });
  const ctx = (regs: Partial<Regs>): HookContext => {
    const full = { rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n, rsp: STACK, rbp: 0n, r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n, rip: 0n, rflags: 2n, ...regs };
    return {
      vcpu: 1, address: 0n, stop: { reason: 'breakpoint', address: 0n } as HookContext['stop'],
      regs: async () => full, sregs: async () => { throw new Error('unused'); },
      read: (a, n) => mem.read(a, n), c: async () => undefined, evaluate: async () => { throw new Error('unused'); },
    };
  };
  const hit = (symbol: string): Breakpoint[] => [{ kind: 'hook', key: `hook:${symbol}` } as Breakpoint];
  return { mem, state, events, panic, ctx, hit, arms: () => arms };
}

test('panic(): the message from its format and arguments, the dmesg tail on the console and in exceptionInfo', async () => {
  const { state, events, panic, ctx, hit } = setup();
  panic.launch(true);
  assert.equal(state.hooks.size, 2, 'panic and __die');
  const stop = await state.hooks.handle(hit('panic'), ctx({ rdi: FMT, rsi: NAME, rdx: 0x9n }));
  assert.deepEqual(stop, { reason: 'exception', description: 'Paused on a kernel panic', text: 'Kernel panic: Attempted to kill init! exitcode=0x00000009' });
  state.lastStop = { reason: 'breakpoint', address: 0xffffffff81231066n } as SessionState['lastStop'];
  const info = panic.exceptionInfo()!;
  assert.equal(info.exceptionId, 'linux-panic');
  assert.equal(info.description, 'Kernel panic: Attempted to kill init! exitcode=0x00000009');
  assert.equal(info.details?.message, 'panic("Attempted to kill %s! exitcode=0x%08x") called: Attempted to kill init! exitcode=0x00000009\n\n'
    + 'The end of the kernel log:\n[    5.000000] KVMDBG-SYSRQ\n[    5.100000] sysrq: Trigger a crash');
  const out = events.map((e) => (e as DebugProtocol.OutputEvent).body.output).join('');
  assert.equal(out, 'Kernel panic: Attempted to kill init! exitcode=0x00000009\n--- the end of the kernel log (dmesg) ---\n'
    + '[    5.000000] KVMDBG-SYSRQ\n[    5.100000] sysrq: Trigger a crash\n---\n');
  assert.equal(panic.endMessage('the guest triple-faulted (shutdown)'), 'the guest triple-faulted (shutdown) (after a kernel panic: Attempted to kill init! exitcode=0x00000009)');
  panic.resumed();
  assert.equal(panic.exceptionInfo(), undefined);
});

test('an oops: __die\'s text, and the stack shown from the crashing pt_regs until the guest runs', async () => {
  const { mem, state, panic, ctx, hit } = setup();
  mem.str(NAME, 'Oops');
  regNames.forEach((n, i) => mem.u64(PT_REGS + BigInt(i * 8), n === 'ip' ? 0xffffffff81400010n : n === 'sp' ? 0xffffc90000011ff0n : BigInt(i + 1)));
  panic.launch(true);
  const stop = await state.hooks.handle(hit('__die'), ctx({ rdi: NAME, rsi: PT_REGS, rdx: 0x2n }));
  assert.equal(stop?.text, 'Kernel oops: Oops: 0002 at 0xffffffff81400010');
  assert.equal(state.shownRegs?.vcpu, 1);
  assert.deepEqual([state.shownRegs?.regs.rip, state.shownRegs?.regs.rsp, state.shownRegs?.regs.rax, state.shownRegs?.regs.r15], [0xffffffff81400010n, 0xffffc90000011ff0n, 11n, 1n]);
  panic.resumed();
  assert.equal(state.shownRegs, undefined);
});

test('the filters: off removes the hooks, BUG and WARN add theirs, a kernel without panic() has none', async () => {
  const { state, panic, arms } = setup();
  panic.launch(false);
  assert.equal(state.hooks.size, 0, 'stopOnPanic: false');
  const r = await panic.setFilters(['linux-panic', 'linux-warn', 'pio']);
  assert.equal(state.hooks.size, 3);
  assert.equal(r.length, 2);
  assert.equal(arms(), 0, 'no machine, no arm');
  await panic.setFilters([]);
  assert.equal(state.hooks.size, 0);
  state.symbols = { addressOf: () => undefined, symbolize: () => undefined } as unknown as Symbols;
  assert.deepEqual(await panic.setFilters(['linux-panic']), [{ verified: false, message: "not armed: the kernel's symbols have no panic() and printk(), so it is not a Linux kernel with symbols" }]);
  assert.equal(state.hooks.size, 0);
});

test('a WARN(): its file and line; a BUG() without a bug table: its address', async () => {
  const { mem, state, panic, ctx, hit } = setup();
  mem.str(NAME, 'drivers/tty/sysrq.c');
  await panic.setFilters(['linux-warn', 'linux-bug']);
  const warn = await state.hooks.handle(hit('__warn'), ctx({ rdi: NAME, rsi: 155n, rdx: 0xffffffff81234567n, r8: 0n }));
  assert.deepEqual(warn, { reason: 'exception', description: 'Paused on a kernel WARN', text: 'Kernel WARN at drivers/tty/sysrq.c:155' });
  const bug = await state.hooks.handle(hit('report_bug'), ctx({ rdi: 0xffffffff81234567n, rsi: 0n }));
  assert.equal(bug?.text, 'Kernel BUG at 0xffffffff81234567');
});

test('a BUG() or WARN() in a module is found in that module\'s bug table (module_bug_list), not only vmlinux\'s', async () => {
  // struct bug_entry with relative pointers (x86-64 since 4.x): int bug_addr_disp, int file_disp, u16 line, u16 flags.
  const u16 = base('short unsigned int', 2, 'unsigned');
  const bugEntry = struct('bug_entry', 12, [['bug_addr_disp', T.int, 0], ['file_disp', T.int, 4], ['line', u16, 8], ['flags', u16, 10]]);
  const moduleType = struct('module', 64, [['state', T.int, 0], ['bug_list', listHead, 8], ['bug_table', ptr(bugEntry), 24], ['num_bugs', T.uint, 32]]);
  const BUG_LIST = 0xffffffff82e00000n;
  const MODULE = 0xffffffffc0002000n;
  const TABLE = 0xffffffffc0003000n;
  const FILE = 0xffffffffc0004000n;
  const WARN_AT = 0xffffffffc0001010n;
  const BUG_AT = 0xffffffffc0001020n;
  const { mem, state, panic, ctx, hit } = setup({ globals: [variable('module_bug_list', listHead, at(BUG_LIST))], types: { 'struct bug_entry': bugEntry, 'struct module': moduleType } });
  mem.map(BUG_LIST, 16).u64(BUG_LIST, MODULE + 8n).u64(BUG_LIST + 8n, MODULE + 8n);
  mem.map(MODULE, 64).u64(MODULE + 8n, BUG_LIST).u64(MODULE + 16n, BUG_LIST).u64(MODULE + 24n, TABLE).u32(MODULE + 32n, 2);
  mem.map(TABLE, 24);
  [[WARN_AT, 30, 1], [BUG_AT, 34, 0]].forEach(([addr, line, flags], i) => {
    const entry = TABLE + BigInt(i * 12);
    mem.u32(entry, BigInt.asUintN(32, (addr as bigint) - entry)).u32(entry + 4n, BigInt.asUintN(32, FILE - (entry + 4n)))
      .int(entry + 8n, 2, line as number).int(entry + 10n, 2, flags as number);
  });
  mem.str(FILE, '/build/fault-module/kvmdbg_fault.c');
  await panic.setFilters(['linux-bug']);
  assert.equal(await state.hooks.handle(hit('report_bug'), ctx({ rdi: WARN_AT })), undefined, 'a WARN goes on: the linux-warn filter stops in __warn');
  const bug = await state.hooks.handle(hit('report_bug'), ctx({ rdi: BUG_AT }));
  assert.equal(bug?.text, 'Kernel BUG at /build/fault-module/kvmdbg_fault.c:34');
  // A module list that loops back on itself ends the search; the stop still comes, at the address.
  mem.u64(MODULE + 8n, MODULE + 8n);
  mem.u32(MODULE + 32n, 0);
  const looped = await state.hooks.handle(hit('report_bug'), ctx({ rdi: BUG_AT }));
  assert.equal(looped?.text, 'Kernel BUG at 0xffffffffc0001020');
});
