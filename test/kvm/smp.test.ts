// kvm-needs: linux
// (an unmodified Linux guest)
// KVM tier: SMP. Debian's packaged kernel on two vCPUs, each on its own
// thread: through the CLI (/proc/cpuinfo shows 2, ACPI power-off ends with
// status 0), through the Machine API (one vCPU paused while the other runs,
// each vCPU's own registers, a power-off performed by the AP ends
// everything), and through the debug adapter on kvmdbg's small Linux (a
// thread per vCPU with its own stack and registers, stepping either thread,
// a breakpoint both vCPUs hit stopping each).
// Run in a sandbox with two CPUs (test/sandbox/run -c 2): `--cpus` is capped
// at the host's CPU count, so on one CPU these tests fail and say so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { Machine } from '../../vmm/machine/machine';
import { Console, within } from './helpers/guests';
import { buildInitramfs, consoleContext, debianKernel, LINUX_TIMEOUT_MS, runCli, testOutput } from './helpers/linux-initramfs';
import { smallLinux } from './helpers/small-linux';
import { finishDap, frames, launchDap, registerText, rip, startDap, stopAfter, waitForText } from './helpers/dap-session';

const T = LINUX_TIMEOUT_MS;
const KERNEL_TEXT = 0xffff_ffff_8000_0000n;
/** panic=-1: a panic ends the VM at once instead of hanging until the timeout. */
const CMDLINE = 'console=ttyS0 panic=-1';

function needTwoCpus(): void {
  assert.ok(availableParallelism() >= 2, `SMP tests need a host with at least 2 CPUs (this one has ${availableParallelism()}): run them in test/sandbox/run -c 2`);
}

test('Debian\'s kernel with --cpus 2 brings both CPUs online and powers off with status 0', { timeout: T + 10_000 }, async () => {
  needTwoCpus();
  const initrd = buildInitramfs({
    dir: testOutput('smp-cli'),
    init: ['echo "KVMDBG-SMP cpus: $(grep -c ^processor /proc/cpuinfo) online: $(cat /sys/devices/system/cpu/online)"', 'poweroff -f'],
  });
  const r = await runCli(['run', '--kernel', debianKernel(), '--initrd', initrd, '--cmdline', CMDLINE, '--memory', '256M', '--cpus', '2', '-v']);
  const context = consoleContext(r);
  assert.match(r.stdout, /KVMDBG-SMP cpus: 2 online: 0-1\r?\n/, `/proc/cpuinfo should list 2 processors, both online${context}`);
  assert.match(r.stdout, /smp: Brought up 1 node, 2 CPUs/, `the kernel should bring up both CPUs${context}`);
  assert.match(r.stderr, /guest powered off/, `the VM should end by ACPI power-off${context}`);
  assert.equal(r.status, 0, `exit status${context}`);
  console.log(`# 2 vCPUs: start to power-off in ${(r.ms / 1000).toFixed(1)} s`);
});

test('--cpus above the host\'s CPU count is refused with one sentence', async () => {
  const r = await runCli(['run', '--kernel', debianKernel(), '--cpus', String(availableParallelism() + 1)]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`--cpus ${availableParallelism() + 1}: this host can run 1 to ${availableParallelism()} vCPUs`));
});

test('Machine API: pause vCPU 1 while vCPU 0 runs, read each vCPU\'s registers, resume; a power-off done by the AP ends every thread', { timeout: 2 * T }, async () => {
  needTwoCpus();
  const initrd = buildInitramfs({
    dir: testOutput('smp-machine'),
    init: [
      // The console's IRQ and the ticker stay on CPU 0, so it keeps printing while vCPU 1 is
      // paused (an interrupt routed to a paused CPU waits for it, as on any machine).
      'echo 1 > /proc/irq/4/smp_affinity || echo "KVMDBG-IRQ-AFFINITY-FAILED"',
      'echo "SMP-READY $(grep -c ^processor /proc/cpuinfo)"',
      'taskset 1 sh -c \'i=0; while true; do echo "tick-$i"; i=$((i+1)); sleep 0.1; done\' &',
      'read go',
      'echo "POWERING-OFF-ON-CPU1"',
      'poweroff -f',
    ],
  });
  // reboot=s1: Linux performs power-off (and reboot) on CPU 1, so the ACPI
  // PM1a write that ends the VM is the AP's, through its device mailbox.
  const machine = await within(Machine.create({ kernel: debianKernel(), initrd, cmdline: `${CMDLINE} reboot=s1`, memoryBytes: 256 << 20, cpus: 2 }), T, 'creating the VM');
  const out = new Console(machine);
  // Waits for console text; a VM that ends meanwhile fails at once with its reason.
  const see = (text: string, ms: number) => Promise.race([
    out.waitFor(text, ms),
    machine.whenEnded().then((e) => { throw new Error(`the VM ended (${e.message}) before printing ${JSON.stringify(text)}:\n${out.text.slice(-3000)}`); }),
  ]);
  try {
    assert.equal(machine.cpus, 2);
    assert.deepEqual([machine.vcpuState(0), machine.vcpuState(1)], ['stopped', 'stopped'], 'both start stopped');
    const stops: { vcpu: number; reason: string }[] = [];
    machine.on('stopped', (s, _rip, vcpu: number) => stops.push({ vcpu, reason: s.reason }));
    machine.resume();
    await see('SMP-READY 2', T);
    await see('tick-2\r\n', T);

    const paused = await within(machine.pause(1), 60_000, 'pausing vCPU 1');
    assert.equal(paused.reason, 'pause');
    assert.deepEqual([machine.vcpuState(0), machine.vcpuState(1)], ['running', 'stopped'], 'only vCPU 1 stopped');
    assert.deepEqual(stops, [{ vcpu: 1, reason: 'pause' }], 'one stopped event, naming vCPU 1');
    const ap = await machine.getRegs(1);
    assert.ok(ap.rip >= KERNEL_TEXT, `vCPU 1 runs the kernel: RIP ${ap.rip.toString(16)}`);
    await assert.rejects(machine.getRegs(0), /vCPU 0 is running/, 'a running vCPU\'s registers are refused');
    // vCPU 0 keeps going: the ticker prints on.
    const ticks = (out.text.match(/tick-\d+/g) ?? []).length;
    await see(`tick-${ticks + 2}\r\n`, 60_000);

    await within(machine.pause(0), 60_000, 'pausing vCPU 0');
    assert.equal(machine.running, false);
    const [bsp, ap2] = [await machine.getRegs(0), await machine.getRegs(1)];
    assert.deepEqual(ap2, ap, 'vCPU 1 did not move while paused');
    assert.ok(bsp.rip >= KERNEL_TEXT || bsp.rip < 0x8000_0000_0000n, `vCPU 0 RIP ${bsp.rip.toString(16)}`);
    assert.notEqual(bsp.rsp, ap.rsp, 'each vCPU has its own registers (its own stack)');

    machine.resume();
    assert.deepEqual([machine.vcpuState(0), machine.vcpuState(1)], ['running', 'running']);
    const after = (out.text.match(/tick-\d+/g) ?? []).length;
    await see(`tick-${after + 1}\r\n`, 60_000);

    const apIoBefore = machine.exits.parts[1].snapshot().io ?? 0;
    machine.sendInput(Buffer.from('go\n'));
    const end = await within(machine.whenEnded(), T, 'the power-off');
    assert.deepEqual([end.kind, end.status], ['poweroff', 0], `${end.message}\n${out.text.slice(-3000)}`);
    assert.ok(out.text.includes('POWERING-OFF-ON-CPU1'));
    assert.ok((machine.exits.parts[1].snapshot().io ?? 0) > apIoBefore, 'vCPU 1 did port I/O on its way to power-off (through vCPU 0\'s devices)');
    assert.deepEqual([machine.vcpuState(0), machine.vcpuState(1)], ['ended', 'ended'], 'every vCPU thread is gone when \'ended\' fires');
  } finally {
    await machine.stop('test over');
  }
});

test('DAP (small Linux, 2 vCPUs): a thread per vCPU with its own stack and registers; stepping the other thread; a function breakpoint both vCPUs run stops on each; one thread continued alone', { timeout: 2 * T }, async () => {
  needTwoCpus();
  const k = smallLinux();
  // Two busy processes keep both vCPUs in and out of the kernel (a write system call each time round).
  const initrd = buildInitramfs({ dir: testOutput('smp-dap'), init: ['yes > /dev/null &', 'yes > /dev/null &', 'echo SMP-DAP-READY', 'read go', 'poweroff -f'] });
  const s = await startDap(T);
  try {
    await launchDap(s, { kernel: k.bzImage, symbols: k.vmlinux, initrd, cmdline: CMDLINE, memory: '256M', cpus: 2 });
    await waitForText(s.stdout, 'SMP-DAP-READY', T, 'the guest\'s init');
    const threads = (await s.dc.threadsRequest()).body.threads;
    assert.deepEqual(threads.map((t) => t.id), [1, 2], JSON.stringify(threads));
    assert.match(threads[0].name, /vCPU 0/);
    assert.match(threads[1].name, /vCPU 1/);
    // Pause stops the whole machine; the stopped event names a vCPU's thread.
    const stop = await stopAfter(s, 'pause', () => s.dc.pauseRequest({ threadId: 1 }));
    const stopped = stop.body.threadId ?? 0;
    assert.ok([1, 2].includes(stopped), JSON.stringify(stop.body));
    assert.equal(stop.body.allThreadsStopped, true);
    const names = (await s.dc.threadsRequest()).body.threads.map((t) => t.name);
    assert.ok(names.every((n) => /stopped/.test(n)), `both vCPUs are stopped: ${names}`);

    // Each thread shows its own vCPU: its own registers and top frame; frame ids do not collide.
    const stacks = [await frames(s, 1), await frames(s, 2)];
    for (const f of stacks) assert.ok(f.length >= 1, 'a stack for each thread');
    assert.equal(new Set([...stacks[0], ...stacks[1]].map((f) => f.id)).size, stacks[0].length + stacks[1].length, 'frame ids are unique across threads');
    const [rip1, rip2] = [await rip(s, 1), await rip(s, 2)];
    // Linux gives each CPU its own TSS, so TR's base tells the vCPUs apart; RSP need not (two `yes` can sit at the same user stack address).
    const tssBase = async (thread: number) => /base (0x[0-9a-f]+)/.exec(await registerText(s, 'tr', thread))?.[1];
    const tss = [await tssBase(1), await tssBase(2)];
    assert.ok(tss[0] && tss[1] && tss[0] !== tss[1], `each thread has its own registers: TR bases ${tss.join(', ')}`);
    assert.equal(BigInt(stacks[0][0].instructionPointerReference!.replace(/^v:/, '')), rip1, 'thread 1\'s top frame is at its RIP');
    assert.equal(BigInt(stacks[1][0].instructionPointerReference!.replace(/^v:/, '')), rip2, 'thread 2\'s top frame is at its RIP');

    // Stepping the thread that did not stop: that vCPU moves one instruction, the stop names it, the other stays.
    const other = stopped === 1 ? 2 : 1;
    const before = await rip(s, other);
    const stayed = await rip(s, stopped);
    // One step of a `rep` string instruction runs one iteration and stays on it: up to 4 steps to see RIP move.
    let after = before;
    const seen: string[] = [];
    for (let i = 0; i < 4 && after === before; i++) {
      const stepped = await stopAfter(s, `an instruction step of thread ${other}`, () => s.dc.stepInRequest({ threadId: other, granularity: 'instruction' }));
      assert.equal(stepped.body.threadId, other, 'the step is reported on the thread that stepped');
      after = await rip(s, other);
      seen.push(`0x${after.toString(16)}`);
      assert.equal(await rip(s, stopped), stayed, 'the other vCPU did not move');
    }
    const insn = (await s.dc.customRequest('disassemble', { memoryReference: `v:0x${before.toString(16)}`, instructionCount: 1 })).body?.instructions?.[0];
    assert.notEqual(after, before, `thread ${other} moved from 0x${before.toString(16)} (${insn?.instruction}): ${seen.join(' ')}`);

    // Every write() of both `yes` enters do_syscall_64: its function breakpoint stops each vCPU in turn.
    const set = await s.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'do_syscall_64' }] });
    assert.equal(set.body.breakpoints[0].verified, true, JSON.stringify(set.body));
    const hitBy = new Set<number>();
    for (let i = 0; i < 16 && hitBy.size < 2; i++) {
      const hit = await stopAfter(s, `continue ${i + 1} to do_syscall_64`, () => s.dc.continueRequest({ threadId: 1 }));
      assert.equal(hit.body.reason, 'function breakpoint', JSON.stringify(hit.body));
      const thread = hit.body.threadId ?? 0;
      const top = (await frames(s, thread))[0];
      assert.equal(top.name, 'do_syscall_64', `thread ${thread} stopped in do_syscall_64`);
      hitBy.add(thread);
    }
    assert.deepEqual([...hitBy].sort(), [1, 2], 'both vCPUs stopped at the breakpoint (each as its own thread)');

    // DAP's singleThread continue: vCPU 1 runs alone, vCPU 0 stays stopped until the pause.
    await s.dc.setFunctionBreakpointsRequest({ breakpoints: [] });
    const cont = await s.dc.continueRequest({ threadId: 2, singleThread: true });
    assert.equal(cont.body.allThreadsContinued, false);
    let names2: string[] = [];
    for (let i = 0; i < 50; i++) {
      names2 = (await s.dc.threadsRequest()).body.threads.map((t) => t.name);
      if (names2[1] === 'vCPU 1 (running)') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(names2, ['vCPU 0 (stopped)', 'vCPU 1 (running)']);
    const paused = await stopAfter(s, 'pausing the thread that runs alone', () => s.dc.pauseRequest({ threadId: 2 }));
    assert.equal(paused.body.threadId, 2);
  } finally {
    await finishDap(s);
  }
});
