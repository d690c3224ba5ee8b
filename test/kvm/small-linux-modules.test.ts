// kvm-needs: linux
// (an unmodified Linux guest)
// KVM tier: kernel modules through the real debug adapter (issue 15). kvmdbg's
// small Linux boots an initramfs whose /init runs `insmod /kvmdbg_mod.ko`
// (test/guests/linux/module/kvmdbg_mod.c, built with the kernel), then
// `rmmod kvmdbg_mod`. One boot:
//  1. a breakpoint at the bp:mod-return line of kvmdbg_mod.c, set before boot,
//     is pending ("pending: in module kvmdbg_mod, which is not loaded");
//  2. insmod: the module's load is seen by a hidden hook on do_init_module, the
//     breakpoint becomes verified (a `breakpoint` event), a `module` event says
//     kvmdbg_mod is new, and the guest stops in kvmdbg_mod_sum at that line
//     with n = 10 and total = 385 in the Variables; the `modules` request
//     lists vmlinux and kvmdbg_mod with its address range around the pc;
//  3. rmmod: the module's exit function calls kvmdbg_mod_sum(3): a stop there
//     with n = 3 and total = 14;
//  4. once free_module runs, kvmdbg_mod is removed (a `module` event), gone
//     from `modules`, and the breakpoint is pending again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { buildInitramfs, LINUX_TIMEOUT_MS, testOutput } from './helpers/linux-initramfs';
import { smallLinux } from './helpers/small-linux';
import { markerLine } from './helpers/guests';
import { finishDap, launchDap, named, nextStop, scopeVariables, startDap, stopAfter, topFrame, until, waitForText } from './helpers/dap-session';

const T = 500_000;
const PENDING = 'pending: in module kvmdbg_mod, which is not loaded';

test('small Linux: a breakpoint in a module is pending, binds and stops on insmod with its locals, the Modules view lists it, rmmod makes it pending again', { timeout: T + 60_000 }, async () => {
  const k = smallLinux();
  const ko = join(k.dir, 'kvmdbg_mod.ko');
  const source = join(k.dir, 'module', 'kvmdbg_mod.c');
  for (const f of [ko, source]) if (!existsSync(f)) assert.fail(`${f} is missing: rebuild the small Linux with \`node scripts/build-linux.mjs\` (it builds kvmdbg_mod.ko too)`);
  const line = markerLine(source, 'mod-return');
  const initrd = buildInitramfs({
    dir: testOutput('small-linux-modules'),
    files: { 'kvmdbg_mod.ko': ko },
    init: [
      'echo KVMDBG-INIT-RUNS',
      'insmod /kvmdbg_mod.ko && echo KVMDBG-INSMOD-OK',
      'rmmod kvmdbg_mod && echo KVMDBG-RMMOD-OK',
      'echo KVMDBG-DONE',
      'while true; do sleep 10; done',
    ],
  });
  const s = await startDap(T);
  const bpEvents: DebugProtocol.BreakpointEvent['body'][] = [];
  const moduleEvents: DebugProtocol.ModuleEvent['body'][] = [];
  s.dc.on('breakpoint', (e: DebugProtocol.BreakpointEvent) => bpEvents.push(e.body));
  s.dc.on('module', (e: DebugProtocol.ModuleEvent) => moduleEvents.push(e.body));
  try {
    let set: DebugProtocol.Breakpoint | undefined;
    const firstStop = nextStop(s, 'the breakpoint in kvmdbg_mod_sum (insmod)');
    await launchDap(s, { kernel: k.bzImage, symbols: k.vmlinux, initrd, cmdline: 'console=ttyS0 panic=-1', memory: '256M', modulePaths: [k.dir] }, async () => {
      set = (await s.dc.setBreakpointsRequest({ source: { path: source }, breakpoints: [{ line }] })).body.breakpoints[0];
    });

    // 1. Pending before boot.
    assert.ok(set);
    assert.equal(set.verified, false);
    assert.equal(set.message, PENDING);

    // 2. insmod: bound, then the stop in the module with its locals.
    const stop = await firstStop;
    assert.equal(stop.body.reason, 'breakpoint', s.console());
    assert.deepEqual(stop.body.hitBreakpointIds, [set.id]);
    assert.match(s.stdout(), /KVMDBG-INIT-RUNS/);
    const bound = bpEvents.find((b) => b.reason === 'changed' && b.breakpoint.id === set!.id && b.breakpoint.verified);
    assert.ok(bound, `a breakpoint event made it verified (events: ${JSON.stringify(bpEvents)})`);
    assert.equal(bound.breakpoint.line, line);
    const added = moduleEvents.find((m) => m.reason === 'new' && m.module.name === 'kvmdbg_mod');
    assert.ok(added, `a module event for kvmdbg_mod (events: ${JSON.stringify(moduleEvents)})`);
    assert.equal(added.module.symbolStatus, 'Symbols loaded');
    const top = await topFrame(s);
    assert.equal(top.name, 'kvmdbg_mod_sum');
    assert.match(top.source?.path ?? '', /kvmdbg_mod\.c$/);
    assert.equal(top.line, line);
    assert.equal(named(await scopeVariables(s, top.id, 'Arguments'), 'n').value, '10');
    assert.equal(named(await scopeVariables(s, top.id, 'Locals'), 'total').value, '385');
    const pc = BigInt(top.instructionPointerReference!.replace(/^v:/, ''));

    const listed = (await s.dc.customRequest('modules', {})).body as DebugProtocol.ModulesResponse['body'];
    assert.deepEqual(listed.modules.map((m) => m.name), ['vmlinux', 'kvmdbg_mod']);
    const mod = listed.modules[1];
    assert.equal(mod.symbolStatus, 'Symbols loaded');
    assert.equal(mod.path, ko);
    const range = /^(0x[0-9a-f]+)-(0x[0-9a-f]+)$/.exec(mod.addressRange ?? '');
    assert.ok(range, `kvmdbg_mod's address range: ${mod.addressRange}`);
    assert.ok(BigInt(range[1]) <= pc && pc < BigInt(range[2]), `the pc 0x${pc.toString(16)} is in kvmdbg_mod's range ${mod.addressRange}`);
    assert.match(listed.modules[0].addressRange ?? '', /^0xffffffff81000000-0xffffffff8[0-9a-f]+$/);

    // 3. rmmod: the exit function's call.
    const again = await stopAfter(s, 'kvmdbg_mod_sum(3) from the exit function (rmmod)', () => s.dc.continueRequest({ threadId: 1 }));
    assert.equal(again.body.reason, 'breakpoint', s.console());
    const top2 = await topFrame(s);
    assert.equal(top2.name, 'kvmdbg_mod_sum');
    assert.equal(named(await scopeVariables(s, top2.id, 'Arguments'), 'n').value, '3');
    assert.equal(named(await scopeVariables(s, top2.id, 'Locals'), 'total').value, '14');

    // 4. Freed: removed, pending again.
    await s.dc.continueRequest({ threadId: 1 });
    await until('the module event removing kvmdbg_mod', 120_000, () => moduleEvents.find((m) => m.reason === 'removed' && m.module.name === 'kvmdbg_mod'));
    const pendingAgain = await until('the breakpoint pending again', 60_000, () => bpEvents.find((b) => b.breakpoint.id === set!.id && !b.breakpoint.verified));
    assert.equal(pendingAgain.breakpoint.message, PENDING);
    const after = (await s.dc.customRequest('modules', {})).body as DebugProtocol.ModulesResponse['body'];
    assert.deepEqual(after.modules.map((m) => m.name), ['vmlinux']);
    await waitForText(s.stdout, /KVMDBG-RMMOD-OK[\s\S]*KVMDBG-DONE/, LINUX_TIMEOUT_MS, 'rmmod in the guest');
    assert.doesNotMatch(s.stdout(), /KVMDBG-INSMOD-FAILED|Oops|BUG:/);
  } catch (e) {
    // One sandbox run is minutes: say everything the adapter and the guest said.
    (e as Error).message += `\n--- adapter console:\n${s.console().slice(-4000)}\n--- guest console:\n${s.stdout().slice(-3000)}\n--- breakpoint events: ${JSON.stringify(bpEvents)}\n--- module events: ${JSON.stringify(moduleEvents)}`;
    throw e;
  } finally {
    await finishDap(s);
  }
});
