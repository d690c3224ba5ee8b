// KVM tier: the Linux-aware parts of the debug adapter on a kernel that is
// not Linux (the cdata test kernel: DWARF, but no init_task, no printk
// buffer, no panic()): each kernel command and kvm/* request answers one
// sentence, `help` lists the commands, the panic filters say why they are
// off, C expressions in the Debug Console still work, and the session goes
// on to its breakpoint. Runs on any host (a small 64-bit guest).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOOT_MS, GUEST_DIR, ROOT } from './helpers/guests';
import { finishDap, launchDap, nextStop, startDap, stopAfter, topFrame } from './helpers/dap-session';

const SOURCE = join(ROOT, 'test', 'guests', 'kernel', 'cdata.c');

test('not a Linux kernel: the kernel commands, kvm/tasks and the panic filters say so in a sentence; C and the session go on', { timeout: BOOT_MS * 2 }, async () => {
  const s = await startDap(BOOT_MS);
  try {
    const leaf = readFileSync(SOURCE, 'utf8').split('\n').findIndex((l) => l.includes('/* bp:leaf */')) + 1;
    let filters: { verified: boolean; message?: string }[] = [];
    const entry = nextStop(s, 'entry');
    await launchDap(s, { kernel: join(GUEST_DIR, 'cdata-gcc-O0.elf'), memory: '64M', stopOnEntry: true }, async () => {
      await s.dc.setBreakpointsRequest({ source: { path: SOURCE }, breakpoints: [{ line: leaf }] });
      filters = (await s.dc.setExceptionBreakpointsRequest({ filters: ['linux-panic', 'shutdown'] })).body?.breakpoints ?? [];
    });
    await entry;
    assert.deepEqual(filters, [
      { verified: false, message: "not armed: the kernel's symbols have no panic() and printk(), so it is not a Linux kernel with symbols" },
      { verified: true },
    ]);
    const repl = async (expression: string): Promise<string> => (await s.dc.evaluateRequest({ expression, context: 'repl', frameId: (await topFrame(s)).id })).body.result;
    assert.equal(await repl('ps'), "ps: the task list needs the kernel's 'init_task', which its DWARF does not describe");
    assert.equal(await repl('lx-dmesg'), "dmesg: dmesg needs the kernel's printk buffer ('prb' or 'log_buf'), which its DWARF does not describe");
    assert.equal(await repl('version'), "version: version needs the kernel's 'linux_banner', which its DWARF does not describe");
    assert.equal(await repl('per-cpu negative'), 'cpu 0: -42', 'a kernel without SMP: its per-cpu data is plain data');
    assert.match(await repl('help'), /^Kernel commands \(also as lx-NAME, as in gdb's scripts\); anything else is a C expression:\n {2}ps /);
    assert.equal(await repl('negative + 2'), '-40', 'C in the console');
    const tasks = await s.dc.customRequest('kvm/tasks', {}).then(() => 'answered', (e: Error) => e.message);
    assert.equal(tasks, "kvm/tasks: the task list needs the kernel's 'init_task', which its DWARF does not describe");
    const select = await s.dc.customRequest('kvm/selectTask', { pid: 'one' }).then(() => 'answered', (e: Error) => e.message);
    assert.equal(select, 'kvm/selectTask: "pid" must be an integer (the task\'s pid)');
    const hit = await stopAfter(s, 'bp:leaf', () => s.dc.continueRequest({ threadId: 1 }));
    assert.equal(hit.body.reason, 'breakpoint', s.console());
  } finally {
    await finishDap(s);
  }
});
