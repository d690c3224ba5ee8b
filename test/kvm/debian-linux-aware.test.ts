// kvm-needs: linux
// (an unmodified Linux guest)
// KVM tier: the Linux-aware debugger on Debian's own kernel with its -dbg
// package (issue 15), through the real debug adapter, one boot (KASLR as
// Debian ships it; scripts/debian-kernel.mjs prepares the files):
//  1. a breakpoint in kvmdbg's test module (built against Debian's headers),
//     set before boot, is pending, then stops on insmod with n = 10 and
//     total = 385; the Modules view lists it; dmesg has Debian's banner, `ps`
//     has init with pid 1, `lsmod` the module;
//  2. a function breakpoint on binfmt_misc's init (a Debian module, its
//     DWARF from the -dbg package's /usr/lib/debug/lib/modules) is pending,
//     then stops there on insmod, in fs/binfmt_misc.c;
//  3. with "Kernel WARN()" and "Kernel BUG()" on: insmod of kvmdbg_fault
//     with fault=1 stops at its WARN with its file and line (found in the
//     module's own bug table), fault=2 at its BUG, then the oops that
//     follows ("invalid opcode") stops with the crashing stack;
//  4. `echo c > /proc/sysrq-trigger` stops as "Kernel panic: sysrq
//     triggered crash" with the crashing stack and the dmesg tail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { buildInitramfs, LINUX_TIMEOUT_MS, testOutput } from './helpers/linux-initramfs';
import { debianKernel } from './helpers/debian-kernel';
import { markerLine } from './helpers/guests';
import { finishDap, frames, launchDap, named, nextStop, scopeVariables, startDap, stopAfter, topFrame, until } from './helpers/dap-session';

const T = 900_000;

test('Debian\'s kernel with its -dbg package: module breakpoints pending then hit (ours and binfmt_misc), dmesg, ps, lsmod, WARN, BUG, oops and panic stops', { timeout: T + 60_000 }, async () => {
  const k = debianKernel();
  const lines = { ret: markerLine(k.testModuleSource, 'mod-return'), warn: markerLine(k.faultModuleSource, 'fault-warn'), bug: markerLine(k.faultModuleSource, 'fault-bug') };
  const binfmt = join('/lib/modules', k.release, 'kernel/fs/binfmt_misc.ko');
  const initrd = buildInitramfs({
    dir: testOutput('debian-linux-aware'),
    files: { 'kvmdbg_mod.ko': k.testModule, 'kvmdbg_fault.ko': k.faultModule, 'binfmt_misc.ko': binfmt },
    init: [
      'echo "KVMDBG-INIT-UP pid $$" > /dev/kmsg',
      'insmod /kvmdbg_mod.ko && echo KVMDBG-INSMOD-OK',
      'rmmod kvmdbg_mod && echo KVMDBG-RMMOD-OK',
      'insmod /binfmt_misc.ko && echo KVMDBG-BINFMT-OK',
      'insmod /kvmdbg_fault.ko fault=1 && echo KVMDBG-WARNED',
      'rmmod kvmdbg_fault',
      'insmod /kvmdbg_fault.ko fault=2; echo KVMDBG-BUG-DONE',
      // The test sets panic_timeout to 42 (setExpression) when it is ready for the panic.
      'while [ "$(cat /proc/sys/kernel/panic)" != 42 ]; do sleep 1; done',
      'echo c > /proc/sysrq-trigger',
      'while true; do sleep 10; done',
    ],
  });
  const s = await startDap(T);
  const bpEvents: DebugProtocol.BreakpointEvent['body'][] = [];
  s.dc.on('breakpoint', (e: DebugProtocol.BreakpointEvent) => bpEvents.push(e.body));
  const repl = async (expression: string): Promise<string> => (await s.dc.evaluateRequest({ expression, context: 'repl' })).body.result;
  const modules = async (): Promise<DebugProtocol.Module[]> => ((await s.dc.customRequest('modules', {})).body as DebugProtocol.ModulesResponse['body']).modules;
  const stackNames = async (threadId = 1): Promise<string[]> => (await frames(s, threadId)).map((f) => f.name);
  try {
    let inModule: DebugProtocol.Breakpoint | undefined;
    let inBinfmt: DebugProtocol.Breakpoint | undefined;
    const firstStop = nextStop(s, 'the breakpoint in kvmdbg_mod_sum (insmod)');
    await launchDap(s, {
      kernel: k.vmlinuz, symbols: k.vmlinux, initrd, cmdline: 'console=ttyS0 panic=-1', memory: '512M',
      modulePaths: [k.dir, k.debugModules],
    }, async () => {
      inModule = (await s.dc.setBreakpointsRequest({ source: { path: k.testModuleSource }, breakpoints: [{ line: lines.ret }] })).body.breakpoints[0];
      inBinfmt = (await s.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'init_misc_binfmt' }] })).body.breakpoints[0];
      await s.dc.setExceptionBreakpointsRequest({ filters: ['linux-panic', 'linux-bug', 'linux-warn'] });
    });
    assert.ok(inModule && inBinfmt);
    assert.equal(inModule.verified, false);
    assert.equal(inModule.message, 'pending: in module kvmdbg_mod, which is not loaded');
    assert.equal(inBinfmt.verified, false);
    assert.match(inBinfmt.message ?? '', /^pending: no function named "init_misc_binfmt"/);

    // 1. Our module, built against Debian's headers.
    const stop = await firstStop;
    assert.equal(stop.body.reason, 'breakpoint', s.console());
    const top = await topFrame(s);
    assert.equal(top.name, 'kvmdbg_mod_sum');
    assert.equal(top.line, lines.ret);
    assert.equal(named(await scopeVariables(s, top.id, 'Arguments'), 'n').value, '10');
    assert.equal(named(await scopeVariables(s, top.id, 'Locals'), 'total').value, '385');
    const listed = await modules();
    assert.deepEqual(listed.map((m) => m.name), ['vmlinux', 'kvmdbg_mod']);
    assert.equal(listed[1].path, k.testModule);
    assert.equal(listed[1].symbolStatus, 'Symbols loaded');
    // KASLR: the kernel's text is not at its link address.
    assert.match(listed[0].addressRange ?? '', /^0xffffffff[89a-f][0-9a-f]{7}-0xffffffff[89a-f][0-9a-f]{7}$/);
    const log = await repl('dmesg');
    assert.match(log, new RegExp(`\\] Linux version ${k.release.replace(/\./g, '\\.')} \\(debian-kernel@lists\\.debian\\.org\\)`));
    assert.match(log, /\] KVMDBG-INIT-UP pid 1\n/);
    assert.match(await repl('version'), new RegExp(`^Linux version ${k.release.replace(/\./g, '\\.')} `));
    const ps = await repl('ps');
    assert.match(ps, /^\s+1\s+1\s+0\s+[SD]\s+init\s+0xff/m, ps);
    assert.match(ps, /^\s+\d+\s+\d+\s+0\s+R\s+insmod\s+0xff/m, `insmod is the task running on vCPU 0\n${ps}`);
    assert.match(await repl('lsmod'), /^kvmdbg_mod\s+\d+\s+.*0xffffffff[0-9a-f]{8}\s+\(loading\)$/m, 'in its init function: still loading');
    await s.dc.setBreakpointsRequest({ source: { path: k.testModuleSource }, breakpoints: [] });

    // 2. A Debian module, its symbols from the -dbg package.
    const inInit = await stopAfter(s, 'init_misc_binfmt (insmod binfmt_misc)', () => s.dc.continueRequest({ threadId: 1 }));
    assert.equal(inInit.body.reason, 'function breakpoint', s.console());
    const binTop = await topFrame(s);
    assert.equal(binTop.name, 'init_misc_binfmt');
    assert.match(binTop.source?.path ?? '', /fs\/binfmt_misc\.c$/);
    const withBinfmt = await modules();
    assert.deepEqual(withBinfmt.map((m) => m.name), ['vmlinux', 'binfmt_misc']);
    assert.equal(withBinfmt[1].path, join(k.debugModules, 'kernel/fs/binfmt_misc.ko'));
    assert.equal(withBinfmt[1].symbolStatus, 'Symbols loaded');
    assert.ok(bpEvents.some((b) => b.breakpoint.id === inBinfmt!.id && b.breakpoint.verified), JSON.stringify(bpEvents));
    await s.dc.setFunctionBreakpointsRequest({ breakpoints: [] });

    // 3. WARN and BUG in a module (its own bug table), and the oops the BUG becomes.
    const warn = await stopAfter(s, 'the WARN (insmod kvmdbg_fault fault=1)', () => s.dc.continueRequest({ threadId: 1 }));
    assert.equal(warn.body.reason, 'exception', s.console());
    assert.equal(warn.body.text, `Kernel WARN at ${k.faultModuleSource}:${lines.warn}`);
    const warnStack = await stackNames();
    assert.ok(warnStack.includes('kvmdbg_fault_init'), warnStack.join(' <- '));
    const bug = await stopAfter(s, 'the BUG (insmod kvmdbg_fault fault=2)', () => s.dc.continueRequest({ threadId: 1 }));
    assert.equal(bug.body.reason, 'exception', s.console());
    assert.equal(bug.body.text, `Kernel BUG at ${k.faultModuleSource}:${lines.bug}`);
    const bugStack = await frames(s);
    assert.equal(bugStack[0].name, 'kvmdbg_fault_init', 'the BUG\'s own registers');
    assert.equal(bugStack[0].line, lines.bug);
    const oops = await stopAfter(s, 'the oops after the BUG', () => s.dc.continueRequest({ threadId: 1 }));
    assert.equal(oops.body.reason, 'exception', s.console());
    assert.match(oops.body.text ?? '', /^Kernel oops: invalid opcode: 0000 at kvmdbg_fault_init/);
    assert.match(s.console(), /kernel BUG at [^\n]*kvmdbg_fault\.c/);

    // 4. The panic.
    const set = await s.dc.customRequest('setExpression', { expression: 'panic_timeout', value: '42', frameId: (await topFrame(s)).id }) as DebugProtocol.SetExpressionResponse;
    assert.equal(set.body.value, '42');
    const panic = await stopAfter(s, 'the kernel panic (sysrq c)', () => s.dc.continueRequest({ threadId: 1 }));
    assert.equal(panic.body.reason, 'exception', s.console());
    assert.equal(panic.body.text, 'Kernel panic: sysrq triggered crash');
    const crash = await stackNames(panic.body.threadId ?? 1);
    assert.deepEqual(crash.slice(0, 2), ['panic', 'sysrq_handle_crash'], crash.join(' <- '));
    assert.match(s.console(), /Kernel panic: sysrq triggered crash\n--- the end of the kernel log \(dmesg\) ---\n[^]*\] sysrq: Trigger a crash\n/);
    await until('KVMDBG-BUG-DONE on the guest console', LINUX_TIMEOUT_MS, () => (s.stdout().includes('KVMDBG-BUG-DONE') ? true : undefined));
  } catch (e) {
    (e as Error).message += `\n--- adapter console:\n${s.console().slice(-5000)}\n--- guest console:\n${s.stdout().slice(-4000)}\n--- breakpoint events: ${JSON.stringify(bpEvents)}`;
    throw e;
  } finally {
    await finishDap(s);
  }
});
