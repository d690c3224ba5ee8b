// Kernel hooks (debug-adapter/kernel-hooks.ts): hidden breakpoints with handlers. Their own group
// in the breakpoint table (setBreakpoints never replaces them), the debug registers after the
// user's, and the run loop: 'continue' resumes with no stopped event, a returned stop is shown
// with the hook's reason and text, a user breakpoint at the same address still stops. No KVM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { BreakpointTable } from '../../debug-adapter/breakpoints';
import { KernelHooks, type HookContext } from '../../debug-adapter/kernel-hooks';
import { SessionState } from '../../debug-adapter/session/state';
import { RunControl } from '../../debug-adapter/session/run-control';
import type { StopReason } from '../../vmm/machine/protocol';
import { VcpuDebug } from '../../vmm/debug/vcpu-debug';

const SYMBOLS: Record<string, bigint> = { do_init_module: 0xffffffff81100000n, panic: 0xffffffff81200000n };
const symbols = { addressOf: (n: string) => SYMBOLS[n] };

function arm(table: BreakpointTable, software: boolean) {
  const plan = table.hardwarePlan({ software, mapped: () => true });
  const result = new VcpuDebug(() => {}).arm(plan.requests);
  table.applyArmResult(plan, result);
  return { plan, result };
}

test('hooks are their own group: a setBreakpoints replace leaves them, a missing symbol says why', () => {
  const table = new BreakpointTable();
  const hooks = new KernelHooks(table);
  hooks.add({ symbol: 'do_init_module', handler: async () => 'continue' });
  hooks.add({ symbol: 'no_such_function', handler: async () => 'continue' });
  hooks.sync(symbols);
  table.replace('function', [{ key: 'fn:a', kind: 'function', addresses: [0x1000n] }]);
  table.replace('function', []);
  arm(table, false);
  const hidden = table.all().filter((b) => b.kind === 'hook');
  assert.deepEqual(hidden.map((b) => [b.key, b.addresses, b.verified]), [
    ['hook:do_init_module', [0xffffffff81100000n], true],
    ['hook:no_such_function', [], false],
  ]);
  assert.deepEqual(hooks.problems(), ['no_such_function: no symbol "no_such_function" in the kernel\'s symbols']);
});

test('hooks move with the symbols (a KASLR slide) and go away when removed', () => {
  const table = new BreakpointTable();
  const hooks = new KernelHooks(table);
  const off = hooks.add({ symbol: 'panic', handler: async () => 'continue' });
  hooks.sync(symbols);
  hooks.sync({ addressOf: (n) => (SYMBOLS[n] === undefined ? undefined : SYMBOLS[n] + 0x200000n) });
  assert.deepEqual(table.all().map((b) => b.addresses), [[0xffffffff81400000n]]);
  off();
  hooks.sync(symbols);
  assert.deepEqual(table.all(), []);
});

test('the user\'s breakpoints get the debug registers first; hooks take software traps, or stay unarmed without them', () => {
  const table = new BreakpointTable();
  const hooks = new KernelHooks(table);
  hooks.add({ symbol: 'do_init_module', handler: async () => 'continue' });
  hooks.sync(symbols);
  const user = table.replace('function', ['a', 'b', 'c', 'd'].map((n, i) => ({ key: `fn:${n}`, kind: 'function' as const, addresses: [0x1000n + BigInt(i)] })));
  arm(table, true);
  const hook = table.all().find((b) => b.kind === 'hook')!;
  assert.deepEqual(user.map((b) => b.backend), ['hardware', 'hardware', 'hardware', 'hardware']);
  assert.equal(hook.backend, 'software');
  assert.equal(hook.verified, true);
  arm(table, false);
  assert.deepEqual(user.map((b) => b.verified), [true, true, true, true]);
  assert.equal(hook.verified, false);
  assert.match(hooks.problems()[0], /^do_init_module: all 4 hardware debug registers/);
});

test('a hook that cannot be armed is said once, by what it is for', () => {
  const table = new BreakpointTable();
  const notes: string[] = [];
  const hooks = new KernelHooks(table, (t) => notes.push(t));
  hooks.add({ symbol: 'do_init_module', label: 'module load tracking', handler: async () => 'continue' });
  hooks.sync(symbols);
  table.replace('function', ['a', 'b', 'c', 'd'].map((n, i) => ({ key: `fn:${n}`, kind: 'function' as const, addresses: [0x1000n + BigInt(i)] })));
  arm(table, false);
  hooks.sayUnarmed();
  hooks.sayUnarmed();
  assert.equal(notes.length, 1);
  assert.match(notes[0], /^kvmdbg: module load tracking is off for now: the hidden breakpoint on do_init_module is not armed \(all 4 hardware debug registers \(DR0-DR3\) are in use/);
});

test('handle: the first stop a handler returns is shown, every handler at the address runs, a throwing one is said once', async () => {
  const table = new BreakpointTable();
  const notes: string[] = [];
  const hooks = new KernelHooks(table, (t) => notes.push(t));
  const ran: string[] = [];
  hooks.add({ symbol: 'panic', handler: async () => { ran.push('one'); return { reason: 'exception', description: 'Kernel panic', text: 'Kernel panic: first' }; } });
  hooks.add({ symbol: 'panic', handler: async () => { ran.push('two'); return { reason: 'exception', description: 'x', text: 'second' }; } });
  hooks.add({ symbol: 'panic', label: 'broken', handler: async () => { throw new Error('cannot read struct module'); } });
  hooks.sync(symbols);
  arm(table, false);
  const ctx = { vcpu: 0, address: SYMBOLS.panic } as HookContext;
  const stop = await hooks.handle(table.all(), ctx);
  assert.deepEqual(stop, { reason: 'exception', description: 'Kernel panic', text: 'Kernel panic: first' });
  assert.deepEqual(ran, ['one', 'two']);
  await hooks.handle(table.all(), ctx);
  assert.deepEqual(notes, ['kvmdbg: the broken hook failed (cannot read struct module); the guest goes on']);
});

test('where the software trap does not fit a function\'s `push %rbp`, the hook stands one instruction in, and that call is handled once, with the registers as at the entry', async () => {
  const table = new BreakpointTable();
  const hooks = new KernelHooks(table);
  let calls = 0;
  const seen: [bigint, bigint, bigint][] = [];
  hooks.add({ symbol: 'do_init_module', handler: async (ctx) => { calls++; const r = await ctx.regs(); seen.push([ctx.address, r.rip, r.rsp]); return 'continue'; } });
  const entry = SYMBOLS.do_init_module;
  // Not mapped yet: at the entry (a debug register takes it).
  hooks.sync(symbols, { fits: () => false, firstByte: () => undefined });
  assert.deepEqual(table.all()[0].addresses, [entry]);
  // Mapped, a 2-byte trap: not over the 1-byte push, but over the 3-byte mov after it.
  hooks.sync(symbols, { fits: (a) => a !== entry, firstByte: (a) => (a === entry ? 0x55 : 0x48) });
  assert.deepEqual(table.all()[0].addresses, [entry + 1n]);
  // An int3 fits anywhere: the entry.
  hooks.sync(symbols, { fits: () => true, firstByte: () => 0x55 });
  assert.deepEqual(table.all()[0].addresses, [entry]);
  // Hit at the entry, then (the hook moved meanwhile) one instruction in with RSP 8 lower: one call.
  arm(table, false);
  const at = (address: bigint, rsp: bigint) => ({ vcpu: 0, address, regs: async () => ({ rsp }) }) as unknown as HookContext;
  await hooks.handle(table.all(), at(entry, 0x1000n));
  await hooks.handle(table.all(), at(entry + 1n, 0xff8n));
  assert.equal(calls, 1);
  await hooks.handle(table.all(), at(entry, 0x2000n));
  assert.equal(calls, 2);
  // Met only one instruction in: the handler sees the entry, RSP as it was there (at the return address).
  await hooks.handle(table.all(), { vcpu: 1, address: entry + 1n, regs: async () => ({ rsp: 0x2ff8n, rip: entry + 1n }) } as unknown as HookContext);
  assert.equal(calls, 3);
  assert.equal(seen.length, 3, JSON.stringify(seen, (_k, v) => (typeof v === "bigint" ? v.toString(16) : v)));
  assert.deepEqual(seen[2], [entry, entry, 0x3000n]);
});

/** A run loop over scripted stops: what the client is sent. */
function harness(stops: StopReason[]) {
  const events: DebugProtocol.Event[] = [];
  const state = new SessionState((e) => events.push(e));
  let runs = 0;
  const regs = { rdi: 0xffffffffa0001000n, rip: 0n, rsp: 0n, rbp: 0n } as never;
  state.vcpu = {
    state: 'stopped', id: 0, threadId: 1, internalHold: undefined, pauses: 0,
    run: async () => { runs++; return stops.shift(); },
    regs: async () => regs,
    sregs: async () => ({}),
  } as never;
  state.view = { readExact: () => new Uint8Array([1, 2]) } as never;
  const run = new RunControl(state, { arm: async () => {} } as never, { atStop: async () => {} } as never, {
    evalContext: () => ({}) as never, cContext: async () => undefined, running: () => {}, stopping: () => {}, together: (f) => f(),
  });
  return { state, events, run, runs: () => runs };
}

const stopped = (events: DebugProtocol.Event[]) => events.filter((e) => e.event === 'stopped') as DebugProtocol.StoppedEvent[];

test('run loop: a hook that continues is invisible; one that stops is shown with its reason, description and text', async () => {
  const at = SYMBOLS.do_init_module;
  const h = harness([{ reason: 'breakpoint', address: at }, { reason: 'breakpoint', address: at }, { reason: 'pause' }]);
  const seen: bigint[] = [];
  let calls = 0;
  h.state.hooks.add({
    symbol: 'do_init_module',
    handler: async (ctx) => {
      seen.push((await ctx.regs()).rdi);
      assert.deepEqual(ctx.read(0x1000n, 2), new Uint8Array([1, 2]));
      return ++calls === 1 ? 'continue' : { reason: 'exception', description: 'Kernel panic', text: 'Kernel panic: test' };
    },
  });
  h.state.hooks.sync(symbols);
  arm(h.state.breakpoints, false);
  await h.run.runLoop();
  assert.deepEqual(seen, [0xffffffffa0001000n, 0xffffffffa0001000n]);
  const ev = stopped(h.events);
  assert.equal(ev.length, 1);
  assert.equal(ev[0].body.reason, 'exception');
  assert.equal(ev[0].body.description, 'Kernel panic');
  assert.equal(ev[0].body.text, 'Kernel panic: test');
  assert.equal(ev[0].body.hitBreakpointIds, undefined);
  assert.equal(h.runs(), 2);
});

test('run loop: the user\'s breakpoint at a hook\'s address still stops as a breakpoint, with only its id', async () => {
  const at = SYMBOLS.do_init_module;
  const h = harness([{ reason: 'breakpoint', address: at }]);
  let calls = 0;
  h.state.hooks.add({ symbol: 'do_init_module', handler: async () => { calls++; return 'continue'; } });
  h.state.hooks.sync(symbols);
  const [user] = h.state.breakpoints.replace('function', [{ key: 'fn:do_init_module', kind: 'function', addresses: [at] }]);
  arm(h.state.breakpoints, false);
  await h.run.runLoop();
  const ev = stopped(h.events);
  assert.equal(calls, 1);
  assert.equal(ev.length, 1);
  assert.equal(ev[0].body.reason, 'function breakpoint');
  assert.deepEqual(ev[0].body.hitBreakpointIds, [user.id]);
  assert.equal(h.events.filter((e) => e.event === 'breakpoint').length, 0);
});
