// Module tracking in a session (linux/module-tracker.ts) without KVM: a "kernel" and a
// module compiled here with `gcc -c -g`, the kernel's struct module (6.1 layout) and its
// `modules` list in synthetic guest memory, the load and unload hooks called as the run loop
// calls them. What the client sees: the pending breakpoint's sentence, `module` events with
// the address range and symbol status, the breakpoint bound at the module's address and
// pending again, the modules request, lsmod; and a module found by the list walk at a stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { symbolsFromObject } from '../../debug-adapter/symbols';
import { relocatableObject } from '../../debug-adapter/symbols/relocate';
import { SymbolSpace } from '../../debug-adapter/symbols/symbol-space';
import { SessionState } from '../../debug-adapter/session/state';
import { ModuleTracker } from '../../debug-adapter/linux/module-tracker';
import type { HookContext } from '../../debug-adapter/kernel-hooks';
import type { LaunchConfig } from '../../debug-adapter/launch-config';
import { VcpuDebug } from '../../vmm/debug/vcpu-debug';
import { gcc, lineOf, Memory, named61, offsetsOf, offsetsSource, placeAll, STRUCT_MODULE_61, workDir, writeModule61 } from './helpers/kernel-modules';

const KERNEL_C = `${STRUCT_MODULE_61}${offsetsSource('61')}
struct list_head modules = { &modules, &modules };
const char linux_banner[] = "Linux version 6.1.99-kvmdbg-test (test@host) #1 SMP\\n";
__attribute__((noinline)) int do_init_module(struct module *mod) { return mod->state; }
__attribute__((noinline)) void free_module(struct module *mod) { mod->state = MODULE_STATE_UNFORMED; }
`;

const MODULE_C = `
static int calls;
__attribute__((noinline)) int kvm_mod_sum(int n)
{
	int i, total = 0;
	for (i = 1; i <= n; i++)
		total += i * i;
	calls++;
	return total; /* bp:ret */
}
`;

const KERNEL_BASE = 0xffffffff81000000n;
const MODULE_BASE = 0xffffffffa0000000n;
const MOD = 0xffffffffa0100000n;
const ATTRS = 0xffff888000100000n;
const hex = (v: bigint): string => '0x' + v.toString(16);

function session() {
  const k = gcc('tracker-kernel', KERNEL_C);
  const kernel = symbolsFromObject(relocatableObject('vmlinux', k.bytes, placeAll(k.bytes, KERNEL_BASE)), { name: 'vmlinux' });
  const o = named61(offsetsOf(k.bytes));
  const m = gcc('kvm-mod', MODULE_C);
  const modDir = mkdtempSync(join(workDir, 'modpath-'));
  const ko = join(modDir, 'kvm_mod.ko');
  writeFileSync(ko, m.bytes);
  const loads = placeAll(m.bytes, MODULE_BASE);
  const mem = new Memory();
  const head = kernel.addressOf('modules')!;
  mem.u64(head, head); mem.u64(head + 8n, head);
  const events: DebugProtocol.Event[] = [];
  const state = new SessionState((e) => events.push(e));
  state.symbols = new SymbolSpace(kernel);
  state.config = { modulePaths: [modDir] } as unknown as LaunchConfig;
  state.view = { readExact: (ref: { address: bigint }, n: number) => mem.read(ref.address, n) } as never;
  state.vcpu = { state: 'stopped', sregs: async () => ({}) } as never;
  let arms = 0;
  const tracker = new ModuleTracker(state, {
    arm: async () => {
      arms++;
      state.hooks.sync(state.symbols);
      const plan = state.breakpoints.hardwarePlan();
      const changed = state.breakpoints.applyArmResult(plan, new VcpuDebug(() => {}).arm(plan.requests));
      for (const b of changed) if (b.kind !== 'hook') events.push({ seq: 0, type: 'event', event: 'breakpoint', body: { reason: 'changed', breakpoint: { id: b.id, verified: b.verified, message: b.message } } });
    },
  });
  state.modules = tracker;
  /** The module on the kernel's list (newest first), as insmod leaves it at do_init_module. */
  const insert = (): void => {
    writeModule61(mem, o, MOD, { name: 'kvm_mod', state: 1, core: [MODULE_BASE, 0x3000], refcnt: 0, sections: loads, attrsAt: ATTRS });
    mem.u64(head, MOD + BigInt(o.list));
    mem.u64(MOD + BigInt(o.list), head);
  };
  const unlink = (): void => { mem.u64(head, head); };
  const hook = async (symbol: string): Promise<void> => {
    const hit = state.breakpoints.all().filter((b) => b.key === `hook:${symbol}`);
    assert.equal(hit.length, 1, `a hook on ${symbol}`);
    const ctx = { vcpu: 0, address: hit[0].addresses[0], regs: async () => ({ rdi: MOD, rsp: 0x8000n }), read: mem.read } as unknown as HookContext;
    assert.equal(await state.hooks.handle(hit, ctx), undefined, 'the hook continues (no stop shown)');
  };
  const notes = (): string => events.filter((e) => e.event === 'output').map((e) => (e as DebugProtocol.OutputEvent).body.output).join('');
  return { state, tracker, events, ko, m, insert, unlink, hook, notes, arms: () => arms };
}

test('insmod and rmmod seen by the hooks: pending, bound with a module event, pending again; the modules request and lsmod in between', async () => {
  const s = session();
  s.tracker.install();
  s.state.hooks.sync(s.state.symbols);
  assert.equal(s.tracker.active, true);
  await s.state.modules!.atStop();   // an empty list: nothing happens
  const file = s.m.source;
  const line = lineOf(MODULE_C, 'bp:ret');
  const pending = s.tracker.pendingSource(file);
  assert.equal(pending, 'pending: in module kvm_mod, which is not loaded');
  const [bp] = s.state.breakpoints.replace(`source:${file}`, [{ key: `${file}:${line}`, kind: 'source', path: file, line, problem: pending, pending: true, rebind: true }]);
  assert.deepEqual(s.tracker.modules().map((m) => [m.name, m.version]), [['vmlinux', '6.1.99-kvmdbg-test']]);

  s.insert();
  await s.hook('do_init_module');
  const added = s.events.find((e) => e.event === 'module') as DebugProtocol.ModuleEvent;
  assert.deepEqual(added.body, {
    reason: 'new',
    module: { id: 'kvm_mod', name: 'kvm_mod', symbolStatus: 'Symbols loaded', path: s.ko, symbolFilePath: s.ko, addressRange: `${hex(MODULE_BASE)}-${hex(MODULE_BASE + 0x3000n)}` },
  });
  assert.match(s.notes(), new RegExp(`kvmdbg: module kvm_mod loaded at 0xffffffffa0000000: symbols from ${s.ko}`));
  const space = s.state.symbols as SymbolSpace;
  assert.equal(bp.verified, true);
  assert.equal(bp.line, line);
  assert.deepEqual(bp.addresses, space.module('kvm_mod')!.symbols.resolveBreakpoint(file, line)!.addresses);
  assert.equal(space.functionAt(bp.addresses[0])?.name, 'kvm_mod_sum');
  assert.ok(bp.addresses[0] > MODULE_BASE && bp.addresses[0] < MODULE_BASE + 0x100n);
  assert.deepEqual(s.events.filter((e) => e.event === 'breakpoint').map((e) => (e as DebugProtocol.BreakpointEvent).body.breakpoint), [{ id: bp.id, verified: true, message: undefined }]);
  assert.deepEqual(s.tracker.modules().map((m) => m.name), ['vmlinux', 'kvm_mod']);
  assert.equal(s.tracker.lsmod(), [
    'Module                  Size  Used by      Address',
    'kvm_mod                12288  0            0xffffffffa0000000  (loading)',
  ].join('\n'));
  // A stop with the list as it is: nothing loads twice.
  const before = s.events.length;
  await s.tracker.atStop();
  assert.equal(s.events.length, before);

  await s.hook('free_module');
  s.unlink();
  const removed = s.events.filter((e) => e.event === 'module').map((e) => (e as DebugProtocol.ModuleEvent).body);
  assert.deepEqual(removed[1], { reason: 'removed', module: { id: 'kvm_mod', name: 'kvm_mod' } });
  assert.equal(bp.verified, false);
  assert.equal(bp.message, 'pending: in module kvm_mod, which is not loaded');
  assert.deepEqual(bp.addresses, []);
  assert.deepEqual(s.tracker.modules().map((m) => m.name), ['vmlinux']);
  assert.equal(space.functionAt(MODULE_BASE + 1n), undefined);
  assert.match(s.notes(), /kvmdbg: module kvm_mod unloaded/);
  assert.equal(s.tracker.lsmod(), 'No modules are loaded.');
});

test('a module already loaded is found by the list walk at a stop, and dropped when it leaves the list', async () => {
  const s = session();
  s.tracker.install();
  s.insert();
  await s.tracker.atStop();
  assert.deepEqual(s.tracker.modules().map((m) => [m.name, m.symbolStatus]), [['vmlinux', 'Symbols loaded'], ['kvm_mod', 'Symbols loaded']]);
  assert.equal((s.state.symbols as SymbolSpace).addressOf('kvm_mod_sum')! >= MODULE_BASE, true);
  s.unlink();
  await s.tracker.atStop();
  assert.deepEqual(s.tracker.modules().map((m) => m.name), ['vmlinux']);
  assert.deepEqual(s.events.filter((e) => e.event === 'module').map((e) => (e as DebugProtocol.ModuleEvent).body.reason), ['new', 'removed']);
});

test('a module whose struct module is unreadable at the hook is one sentence; the guest goes on', async () => {
  const s = session();
  s.tracker.install();
  s.state.hooks.sync(s.state.symbols);
  await s.hook('do_init_module');   // nothing written at MOD
  assert.match(s.notes(), /kvmdbg: a module is loading, but the struct module at 0xffffffffa0100000 cannot be read: its symbols are not loaded/);
  assert.deepEqual(s.tracker.modules().map((m) => m.name), ['vmlinux']);
});
