// kvm-needs: linux
// (an unmodified Linux guest)
// KVM tier: the Linux-aware debugger on kvmdbg's small Linux (issue 15),
// through the real debug adapter, one boot with 2 vCPUs and no console on
// the serial port (console=hvc0: this kernel has no hvc, so nothing is
// printed anywhere; the /init script speaks through /dev/kmsg):
//  1. while the guest runs, kvm/dmesg (what the Kernel Log view polls)
//     returns the kernel's own boot messages, exactly as it printed them
//     ("Linux version 6.1...", "Command line: console=hvc0 panic=-1
//     nokaslr"), then incrementally only what is new; the Debug Console's
//     `dmesg`, `version` and `cmdline` answer while running too;
//  2. paused: `ps` and kvm/tasks list init with pid 1; kvm/selectTask of
//     pid 1 shows its stack (an extra thread "task 1 init" unwound from its
//     saved registers, down to the system call it sleeps in, with its
//     arguments; or its vCPU's thread if it is running);
//  3. setting panic_timeout to 42 tells /init to `echo c >
//     /proc/sysrq-trigger`: the session stops with "Kernel panic: sysrq
//     triggered crash" in panic() called from sysrq_handle_crash, and the
//     end of dmesg ("sysrq: Trigger a crash") is on the Debug Console and in
//     exceptionInfo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { buildInitramfs, LINUX_TIMEOUT_MS, testOutput } from './helpers/linux-initramfs';
import { smallLinux } from './helpers/small-linux';
import { finishDap, frames, launchDap, startDap, stopAfter, topFrame } from './helpers/dap-session';
import type { DmesgBody, SelectTaskBody, TasksBody } from '../../debug-adapter/protocol-extensions';

const T = 600_000;
const CMDLINE = 'console=hvc0 panic=-1';

test('small Linux: dmesg while running with no serial console, ps and a task\'s stack, and a sysrq crash stops as a kernel panic', { timeout: T + 60_000 }, async () => {
  const k = smallLinux();
  const initrd = buildInitramfs({
    dir: testOutput('small-linux-linux-aware'),
    init: [
      'echo "KVMDBG-INIT-UP pid $$" > /dev/kmsg',
      'while [ "$(cat /proc/sys/kernel/panic)" != 42 ]; do sleep 1; done',
      'echo "KVMDBG-SYSRQ" > /dev/kmsg',
      'echo c > /proc/sysrq-trigger',
      'while true; do sleep 10; done',
    ],
  });
  const s = await startDap(T);
  const dmesg = async (args: Record<string, unknown> = {}): Promise<DmesgBody> => (await s.dc.customRequest('kvm/dmesg', args)).body as DmesgBody;
  const repl = async (expression: string, frameId?: number): Promise<string> => (await s.dc.evaluateRequest({ expression, context: 'repl', frameId })).body.result;
  try {
    await launchDap(s, { kernel: k.bzImage, symbols: k.vmlinux, initrd, cmdline: CMDLINE, memory: '256M', cpus: 2 });

    // 1. The kernel log, read from guest memory while the guest runs.
    const t0 = Date.now();
    let log: DmesgBody | undefined;
    for (;;) {
      log = await dmesg().catch(() => undefined);
      if (log?.records.some((r) => r.text.startsWith('KVMDBG-INIT-UP pid 1'))) break;
      if (Date.now() - t0 > LINUX_TIMEOUT_MS) assert.fail(`no "KVMDBG-INIT-UP pid 1" in the kernel log after ${LINUX_TIMEOUT_MS / 1000} s; it has:\n${log?.records.map((r) => r.text).join('\n') ?? '(nothing readable)'}\n${s.console()}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    console.log(`# the kernel log had /init's line after ${((Date.now() - t0) / 1000).toFixed(0)} s: ${log.records.length} records`);
    assert.equal(log.live, true, 'read while running');
    assert.equal(log.source, 'printk_ringbuffer');
    assert.match(log.records[0].text, /^Linux version 6\.1\.\d+ /, 'the first record is the banner');
    assert.equal(log.records[0].seq, 0);
    assert.equal(log.records[0].level, 5, 'KERN_NOTICE');
    assert.ok(log.records.some((r) => r.text === 'Command line: console=hvc0 panic=-1 nokaslr'), 'the command line as setup_arch printed it');
    assert.ok(log.records.every((r, i) => i === 0 || r.seq > log!.records[i - 1].seq), 'in order');
    // (Two CPUs' clocks may order neighbouring records' timestamps either way: only the span is checked.)
    assert.ok(BigInt(log.records.at(-1)!.tsNsec) > 0n, 'timestamps: the last record is after boot began');
    assert.ok(!s.stdout().includes('Linux version'), 'nothing of it came through the serial port');
    const tFull = performance.now();
    await dmesg();
    const fullMs = performance.now() - tFull;
    const tPoll = performance.now();
    const newer = await dmesg({ afterSeq: log.nextSeq - 1 });
    console.log(`# kvm/dmesg while running: a full read of ${log.records.length} records ${fullMs.toFixed(1)} ms, a poll for new ones ${(performance.now() - tPoll).toFixed(1)} ms (round trips included)`);
    assert.ok(newer.records.every((r) => r.seq >= log!.nextSeq), 'an incremental read has only newer records');
    assert.match(await repl('dmesg 3'), /^\[\s+\d+\.\d{6}\] /);
    assert.match(await repl('lx-dmesg'), /\[\s+0\.000000\] Linux version 6\.1\./);
    assert.match(await repl('version'), /^Linux version 6\.1\.\d+ \(/);
    assert.equal(await repl('cmdline'), 'console=hvc0 panic=-1 nokaslr');

    // 2. Paused: the tasks, and init's stack.
    await stopAfter(s, 'pause', () => s.dc.pauseRequest({ threadId: 1 }));
    const ps = await repl('ps');
    assert.match(ps, /^\s+PID\s+TGID\s+CPU\s+ST COMM/);
    // init's task_struct is in the direct map: 0xffff888... with 4-level paging, 0xff11... with 5-level (the sandbox's CPU may have la57).
    assert.match(ps, /^\s+1\s+1\s+[01]\s+[RSD]\s+init\s+0xff[0-9a-f]{14}\b/m, ps);
    assert.match(ps, /^\s+0\s+0\s+0\s+[RI]\s+swapper\/0\s+0xffffffff/m, ps);
    const tasks = (await s.dc.customRequest('kvm/tasks', {})).body as TasksBody;
    assert.equal(tasks.problem, undefined);
    assert.equal(tasks.live, false);
    const init = tasks.tasks.find((t) => t.pid === 1);
    assert.ok(init, JSON.stringify(tasks.tasks));
    assert.equal(init.comm, 'init');
    assert.ok(tasks.tasks.some((t) => t.comm === 'kthreadd' && t.pid === 2), 'kthreadd is pid 2');
    assert.ok(tasks.tasks.every((t) => t.runningOn === undefined || t.runningOn === 0 || t.runningOn === 1));

    const stoppedOnTask = s.dc.waitForEvent('stopped', 30_000).catch(() => undefined);
    const sel = (await s.dc.customRequest('kvm/selectTask', { pid: 1 })).body as SelectTaskBody;
    let stack: DebugProtocol.StackFrame[];
    if (sel.running) {
      assert.ok(sel.threadId === 1 || sel.threadId === 2, JSON.stringify(sel));
      stack = await frames(s, sel.threadId);
      console.log(`# init was running on ${sel.name}`);
    } else {
      assert.deepEqual(sel, { threadId: 10_000, name: 'task 1 init', running: false });
      const ev = (await stoppedOnTask) as DebugProtocol.StoppedEvent | undefined;
      assert.equal(ev?.body.threadId, 10_000, 'the client is told to show the task');
      const threads = (await s.dc.threadsRequest()).body.threads;
      assert.deepEqual(threads.map((t) => t.id), [1, 2, 10_000]);
      assert.equal(threads[2].name, 'task 1 init');
      stack = await frames(s, 10_000);
      const names = stack.map((f) => f.name);
      assert.ok(names.some((n) => /schedule/.test(n)), `a sleeping task's stack starts in the scheduler: ${names.join(' <- ')}`);
      const syscall = stack.find((f) => f.name === 'do_syscall_64');
      assert.ok(syscall, `down to its system call: ${names.join(' <- ')}`);
      const scopes = (await s.dc.scopesRequest({ frameId: syscall.id })).body.scopes;
      const args = scopes.find((x) => x.name === 'Arguments');
      assert.ok(args, `do_syscall_64 has Arguments (${scopes.map((x) => x.name).join(', ')})`);
      const vars = (await s.dc.variablesRequest({ variablesReference: args.variablesReference })).body.variables;
      assert.ok(vars.some((v) => v.name === 'regs' && v.type === 'struct pt_regs *'), JSON.stringify(vars.map((v) => [v.name, v.type])));
      const step = await s.dc.nextRequest({ threadId: 10_000 }).then(() => 'stepped', (e: Error) => e.message);
      assert.equal(step, "task 1 init is not running on a vCPU, so it cannot be stepped: step a vCPU's thread");
      console.log(`# task 1 init: ${names.join(' <- ')}`);
    }
    assert.ok(stack.length >= 3, `init's stack: ${stack.map((f) => f.name).join(' <- ')}`);

    // 3. The crash: /init sees panic_timeout 42 and triggers sysrq c.
    const top = await topFrame(s);
    const set = await s.dc.customRequest('setExpression', { expression: 'panic_timeout', value: '42', frameId: top.id }) as DebugProtocol.SetExpressionResponse;
    assert.equal(set.body.value, '42');
    const panic = await stopAfter(s, 'the kernel panic', () => s.dc.continueRequest({ threadId: 1 }));
    assert.equal(panic.body.reason, 'exception', s.console());
    assert.equal(panic.body.text, 'Kernel panic: sysrq triggered crash');
    const crash = await frames(s, panic.body.threadId ?? 1);
    const crashNames = crash.map((f) => f.name);
    assert.equal(crashNames[0], 'panic', crashNames.join(' <- '));
    assert.equal(crashNames[1], 'sysrq_handle_crash', crashNames.join(' <- '));
    assert.ok(crashNames.includes('write_sysrq_trigger'), crashNames.join(' <- '));
    const info = (await s.dc.exceptionInfoRequest({ threadId: panic.body.threadId ?? 1 })).body;
    assert.equal(info.exceptionId, 'linux-panic');
    assert.equal(info.description, 'Kernel panic: sysrq triggered crash');
    assert.match(info.details?.message ?? '', /\] KVMDBG-SYSRQ\n(\[[^\n]*\n)*\[\s+\d+\.\d{6}\] sysrq: Trigger a crash/);
    assert.match(s.console(), /Kernel panic: sysrq triggered crash\n--- the end of the kernel log \(dmesg\) ---\n[^]*\] sysrq: Trigger a crash\n/);
    console.log(`# the panic stop: ${crashNames.slice(0, 6).join(' <- ')}`);
  } finally {
    await finishDap(s);
  }
});
