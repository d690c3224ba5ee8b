// KVM tier: the `kvmdbg` command line as a user runs it — a VM is a process:
// the console is stdin/stdout, the exit status is the guest's, signals end it,
// and mistakes get one sentence, never a stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BOOT_MS, ROOT, TEST_KERNELS, banner, defaultOutput, kernelPath, within } from './helpers/guests';
import { STACK_LINE, processesWith, runCli, startCli } from './helpers/cli';

/** How long a process may take to end after a signal (the sandbox is slow; this is a hang bound). */
const SIGNAL_MS = 30_000;

const run64M = (kernel: string, ...more: string[]) => ['run', '--kernel', kernel, '--memory', '64M', ...more];

for (const name of TEST_KERNELS) {
  test(`kvmdbg run ${name}.elf: exact console output, status 0 on power-off, nothing on stderr`, async () => {
    const r = await runCli(run64M(kernelPath(name)), BOOT_MS);
    assert.equal(r.stdout, defaultOutput(name));
    assert.equal(r.stderr, '');
    assert.deepEqual([r.status, r.signal], [0, null]);
  });
}

test('kvmdbg run --cmdline exit=5: status 11 ((5 << 1) | 1)', async () => {
  const r = await runCli(run64M(kernelPath('pvh64'), '--cmdline', 'exit=5'), BOOT_MS);
  assert.equal(r.stdout, defaultOutput('pvh64', 'exit=5'));
  assert.equal(r.stderr, '');
  assert.deepEqual([r.status, r.signal], [11, null]);
});

test('kvmdbg run --cmdline triple: ends (no hang) with a non-zero status and a sentence about the triple fault', async () => {
  const r = await runCli(run64M(kernelPath('multiboot32'), '--cmdline', 'triple'), BOOT_MS);
  assert.equal(r.stdout, banner('multiboot32') + 'triple faulting\n');
  assert.notEqual(r.status, 0);
  assert.equal(r.signal, null, 'it exits by itself, not by a signal');
  assert.match(r.stderr, /^kvmdbg: .*triple.fault/im);
  assert.doesNotMatch(r.stderr, STACK_LINE);
});

test('kvmdbg run --cmdline echo: piped stdin reaches the guest, which echoes it', async () => {
  const r = await runCli(run64M(kernelPath('pvh64'), '--cmdline', 'echo'), BOOT_MS, { input: 'hello q' });
  assert.equal(r.stdout, banner('pvh64') + 'echo ready\nhello \necho done\n');
  assert.equal(r.stderr, '');
  assert.deepEqual([r.status, r.signal], [0, null]);
});

test('kvmdbg run whose console reader goes away (| head): the run ends quietly, status 0, no EPIPE stack', async () => {
  const marker = `marker${randomBytes(6).toString('hex')}`;
  const run = startCli(run64M(kernelPath('pvh64'), '--cmdline', `echo ${marker}`), { keepStdinOpen: true });
  try {
    run.child.stdin!.write('hello ');
    await run.waitForStdout('hello ', BOOT_MS);
    run.child.stdout!.destroy();
    // The guest echoes this into a closed pipe.
    run.child.stdin!.write('more input, echoed to nobody ');
    const r = await within(run.done, SIGNAL_MS, 'kvmdbg to end once its stdout is closed');
    assert.doesNotMatch(r.stderr, /EPIPE/);
    assert.doesNotMatch(r.stderr, STACK_LINE);
    assert.deepEqual([r.status, r.signal], [0, null]);
    assert.deepEqual(processesWith(marker), [], 'no process left running');
  } finally {
    run.child.kill('SIGKILL');
  }
});

test('kvmdbg run --no-debug-exit with exit=5: the write to 0xF4 is ignored, the guest halts; SIGTERM ends it, nothing left behind', async () => {
  const marker = `marker${randomBytes(6).toString('hex')}`;
  const run = startCli(run64M(kernelPath('elf64'), '--no-debug-exit', '--cmdline', `exit=5 ${marker}`), { keepStdinOpen: true });
  try {
    await run.waitForStdout('done\n', BOOT_MS);
    // With the port gone the guest falls through to cli; hlt: the VM must not end by itself.
    const early = await Promise.race([run.done, new Promise<'running'>((r) => setTimeout(() => r('running'), 3000))]);
    assert.equal(early, 'running', `the VM ended although isa-debug-exit was removed: ${JSON.stringify(early)}`);
    assert.equal(run.stdout(), defaultOutput('elf64', `exit=5 ${marker}`));

    run.child.kill('SIGTERM');
    const r = await within(run.done, SIGNAL_MS, 'kvmdbg to end after SIGTERM (guest halted with interrupts off)');
    assert.ok(r.status !== null && r.status !== 0, `non-zero exit status, got status ${r.status} signal ${r.signal}`);
    assert.notEqual(r.status, 11, 'not the debug-exit status: the write was ignored');
    assert.doesNotMatch(r.stderr, STACK_LINE);
    assert.deepEqual(processesWith(marker), [], 'no process left running');
  } finally {
    run.child.kill('SIGKILL');
  }
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`kvmdbg run --cmdline spin: ${signal} ends a guest spinning with interrupts off, promptly`, async () => {
    const marker = `marker${randomBytes(6).toString('hex')}`;
    const run = startCli(run64M(kernelPath('pvh64'), '--cmdline', `spin ${marker}`), { keepStdinOpen: true });
    try {
      await run.waitForStdout('spinning\n', BOOT_MS);
      run.child.kill(signal);
      const r = await within(run.done, SIGNAL_MS, `kvmdbg to end after ${signal} while the guest spins`);
      assert.equal(r.stdout, banner('pvh64') + 'spinning\n');
      assert.ok(r.status !== null && r.status !== 0, `non-zero exit status, got status ${r.status} signal ${r.signal}`);
      assert.doesNotMatch(r.stderr, STACK_LINE);
      assert.deepEqual(processesWith(marker), [], 'no process left running');
    } finally {
      run.child.kill('SIGKILL');
    }
  });
}

// The demo's picture, with its colours (ANSI SGR sequences) taken out: what a person reads.
function assertDemoPicture(r: { stdout: string; stderr: string; status: number | null; signal: string | null }, ring: number): void {
  const text = r.stdout.replace(/\x1b\[[0-9;]*m/g, '');
  assert.match(text, /kvmdbg demo kernel/);
  assert.match(text, /hypervisor +KVM \(KVMKVMKVM\)/);
  assert.match(text, /console +virtio console \(the whole screen in one notification\)/, 'the demo found the VMM\'s virtio console');
  // 78x56 pixels: 28 rows of 78 cells, a cell either a space or U+2580 (two colours).
  const rows = text.split(/\r?\n/).filter((line) => /^ [ \u2580]{78}$/.test(line));
  assert.equal(rows.length, 28, `28 rows of the picture:\n${text}`);
  assert.ok((text.match(/\u2580/g) ?? []).length > 500, 'a picture of half-block pixels');
  assert.match(text, new RegExp(`78x56 pixels, 34484 iterations of fixed-point integer math in ring ${ring}\\.`));
  assert.match(text, /Goodbye from the demo kernel\.\r?\n\s*$/);
  assert.doesNotMatch(r.stderr, STACK_LINE);
  assert.deepEqual([r.status, r.signal], [0, null]);
}

test('kvmdbg demo: the Mandelbrot demo, computed in ring 3 and written through the virtio console, says goodbye and exits 0', async () => {
  assertDemoPicture(await runCli(['demo'], BOOT_MS * 2), 3);
});

test('the demo kernel without user-mode on its command line: the same picture, computed in ring 0 (where a debugger sees it on every host)', async () => {
  assertDemoPicture(await runCli(['run', '--kernel', kernelPath('demo'), '--cmdline', 'demo'], BOOT_MS * 4), 0);
});

test('kvmdbg run on a file that is not a kernel: one sentence naming the file, non-zero status, no stack trace', async () => {
  const file = join(ROOT, 'package.json');
  const r = await runCli(run64M(file), 60_000);
  assert.notEqual(r.status, 0);
  assert.equal(r.stdout, '');
  assert.doesNotMatch(r.stderr, STACK_LINE);
  assert.ok(r.stderr.includes(file), `stderr names the file: ${JSON.stringify(r.stderr)}`);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${JSON.stringify(r.stderr)}`);
});

test('kvmdbg run on a missing file: "does not exist", non-zero status, no stack trace', async () => {
  const file = join(ROOT, 'test', 'guests', 'build', 'no-such-kernel.elf');
  const r = await runCli(run64M(file), 60_000);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /does not exist/);
  assert.ok(r.stderr.includes(file), r.stderr);
  assert.doesNotMatch(r.stderr, STACK_LINE);
});

for (const memory of ['lots', '1K', '64X']) {
  test(`kvmdbg run --memory ${memory}: usage error, status 2, no VM started`, async () => {
    const r = await runCli(['run', '--kernel', kernelPath('pvh64'), '--memory', memory], 60_000);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '', 'the guest did not run');
    assert.match(r.stderr, new RegExp(`--memory ${memory}`));
    assert.match(r.stderr, /usage:/);
    assert.doesNotMatch(r.stderr, STACK_LINE);
  });
}
