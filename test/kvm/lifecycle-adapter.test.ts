// KVM tier: the debug adapter's lifecycle, with nothing lost.
//  - N launch/disconnect cycles in ONE adapter process (the adapter in
//    `--server=PORT` mode, @vscode/debugadapter's multi-session server: each
//    connection is a session with its own VM), stopping at varying points
//    (right after launch, while the guest runs, stopped on entry, stopped at a
//    breakpoint): the adapter's fds, threads and RSS before/after (printed),
//    no growth beyond noise; every cycle's VM is gone (threads back to base);
//  - N cycles in fresh adapter processes (stdio, as VS Code runs it): each
//    process exits after disconnect, none is left, no temp file appears, the
//    host's process count is back where it was;
//  - the adapter SIGKILLed at random points (during boot, while running, while
//    stopped at a breakpoint, during the guest's disk writes): nothing of it is
//    left running (no process, no thread: /proc), no temp file, and the disk
//    image keeps every flushed sector (helpers/disk-kill.ts).
// Knobs (helpers/soak-budget.ts: CI's short budget / `npm run soak`'s):
// KVMDBG_ADAPTER_CYCLES (12 / 100), KVMDBG_ADAPTER_PROCS (3 / 100),
// KVMDBG_KILL_SEEDS ("1" / "1,2,3").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { BOOT_MS, ROOT, kernelPath, within } from './helpers/guests';
import { alive, descendants, fmtUsage, ownUsage, newTempEntries, tempEntries, usage, waitGone } from './helpers/leaks';
import { rng } from '../unit/helpers/fuzz-budget';
import { budget, seeds } from './helpers/soak-budget';
import { checkDiskAfterKill, DISKWRITE_READY, makeDiskImage, VQHAMMER } from './helpers/disk-kill';
import { rmSync } from 'node:fs';

const ADAPTER = join(ROOT, 'out', 'debug-adapter', 'main.js');
const CYCLES = budget('KVMDBG_ADAPTER_CYCLES', 12, 100);
const PROCS = budget('KVMDBG_ADAPTER_PROCS', 3, 100);
const KILL_SEEDS = seeds('KVMDBG_KILL_SEEDS', '1', '1,2,3');
const T = BOOT_MS;
/** The four points a cycle ends at (cycle i ends at POINTS[i % 4]). */
const POINTS = ['after-launch', 'running', 'entry', 'breakpoint'] as const;
type Point = typeof POINTS[number];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** A fresh adapter process over stdio, as VS Code runs it, and that process. */
async function startAdapter(): Promise<{ dc: DebugClient; child: ChildProcess }> {
  const dc = new DebugClient('node', ADAPTER, 'kvm');
  dc.defaultTimeout = T;
  await dc.start();
  return { dc, child: (dc as unknown as { _adapterProcess: ChildProcess })._adapterProcess };
}

/** initialize + launch pvh64 `spin` (runs until stopped), driven to `point`. */
async function session(dc: DebugClient, point: Point): Promise<void> {
  // Listen before launching: a stop on entry comes right after the launch response.
  const stopped = point === 'entry' || point === 'breakpoint' ? dc.waitForEvent('stopped', T) : undefined;
  stopped?.catch(() => {});
  const launched = Promise.all([
    dc.initializeRequest({ adapterID: 'kvm', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' })
      .then(() => dc.launchRequest({ kernel: kernelPath('pvh64'), memory: '64M', cmdline: point === 'breakpoint' ? '' : 'spin', stopOnEntry: point === 'entry' } as DebugProtocol.LaunchRequestArguments)),
    dc.waitForEvent('initialized', T).then(async () => {
      if (point === 'breakpoint') await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'compute_checksum' }] });
      await dc.configurationDoneRequest();
    }),
  ]);
  if (point === 'after-launch') { await within(launched, T, 'launch'); return; }
  await within(launched, T, 'launch');
  if (point === 'entry' || point === 'breakpoint') {
    const ev = await within(stopped!, T, `stopped (${point})`) as DebugProtocol.StoppedEvent;
    assert.equal(ev.body.reason, point === 'entry' ? 'entry' : 'function breakpoint');
  } else {
    await new Promise((r) => setTimeout(r, 150));
  }
}

/**
 * Drops the client's side (socket or child process) without another request: DebugClient.stop()
 * sends a disconnect first, which a finished or killed adapter never answers (and nothing would
 * keep the test's event loop alive while it waits).
 */
function closeClient(dc: DebugClient): void {
  (dc as unknown as { stopAdapter(): void }).stopAdapter();
}

async function endSession(dc: DebugClient): Promise<void> {
  await within(dc.disconnectRequest({ terminateDebuggee: true }), T, 'disconnect');
  closeClient(dc);
}

test(`${CYCLES} launch/disconnect cycles in one adapter process (--server): no growth in fds, threads or RSS beyond noise`, { timeout: 3_600_000 }, async () => {
  const port = await freePort();
  const adapter = spawn(process.execPath, [ADAPTER, `--server=${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  adapter.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  try {
    // The library prints "waiting for debug protocol" before it calls listen(): wait for a connection to succeed.
    await within((async () => {
      for (;;) {
        const ok = await new Promise<boolean>((resolve) => {
          const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
          s.on('error', () => resolve(false));
        });
        if (ok) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    })(), T, `the adapter to listen on ${port} (stderr: ${stderr})`);
    const cycle = async (i: number) => {
      const dc = new DebugClient('node', ADAPTER, 'kvm');
      dc.defaultTimeout = T;
      await dc.start(port);
      await session(dc, POINTS[i % POINTS.length]);
      await endSession(dc);
    };
    for (let i = 0; i < 4; i++) await cycle(i); // warm-up: lazily loaded code (symbols, iced-x86), the addon
    await new Promise((r) => setTimeout(r, 500));
    const before = usage(adapter.pid!);
    const t0 = Date.now();
    for (let i = 0; i < CYCLES; i++) await cycle(i);
    // Worker threads finish exiting; the adapter's V8 collects at its own pace.
    let after = usage(adapter.pid!);
    for (let k = 0; k < 40 && after.threads > before.threads; k++) { await new Promise((r) => setTimeout(r, 250)); after = usage(adapter.pid!); }
    const line = `lifecycle-adapter: ${CYCLES} cycles in one adapter in ${((Date.now() - t0) / 1000).toFixed(1)} s `
      + `(${((Date.now() - t0) / CYCLES).toFixed(0)} ms a cycle): ${fmtUsage(before)} -> ${fmtUsage(after)}`;
    console.log(line);
    assert.ok(after.fds <= before.fds + 2, `fds grew: ${line}`);
    assert.ok(after.threads <= before.threads, `threads grew (a VM's vCPU thread left behind?): ${line}`);
    // One VM is 64 MiB of guest RAM: a leaked VM a cycle would be gigabytes; allow GC noise.
    assert.ok(after.rssKiB - before.rssKiB < 128 * 1024, `RSS grew by ${((after.rssKiB - before.rssKiB) / 1024).toFixed(1)} MiB: ${line}`);
    assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace on the adapter\'s stderr');
  } finally {
    adapter.kill('SIGKILL');
  }
});

test(`${PROCS} launch/disconnect cycles in fresh adapter processes: each exits, nothing is left, no temp files`, { timeout: 3_600_000 }, async () => {
  const temps = tempEntries();
  const host0 = ownUsage();
  const t0 = Date.now();
  for (let i = 0; i < PROCS; i++) {
    const { dc, child } = await startAdapter();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await session(dc, POINTS[i % POINTS.length]);
    await within(dc.disconnectRequest({ terminateDebuggee: true }), T, 'disconnect');
    assert.equal(await within(exited, 30_000, `adapter process ${i} to exit after disconnect`), 0);
    closeClient(dc);
    assert.deepEqual(await waitGone([child.pid!, ...descendants(child.pid!)]), []);
  }
  await new Promise((r) => setTimeout(r, 500));
  const host1 = ownUsage();
  const line = `lifecycle-adapter: ${PROCS} fresh adapter processes in ${((Date.now() - t0) / 1000).toFixed(1)} s `
    + `(${((Date.now() - t0) / PROCS).toFixed(0)} ms each): our processes ${host0.processes} -> ${host1.processes}, `
    + `MemAvailable ${(host0.memAvailableKiB / 1024).toFixed(0)} -> ${(host1.memAvailableKiB / 1024).toFixed(0)} MiB`;
  console.log(line);
  assert.deepEqual(newTempEntries(temps), [], 'no temp files');
  assert.ok(host1.processes <= host0.processes + 2, `processes left: ${line}`);
  // 100 leaked 64 MiB VMs would be 6 GiB; the sandbox has 4 GiB in all.
  assert.ok(host0.memAvailableKiB - host1.memAvailableKiB < 256 * 1024, `host memory not returned: ${line}`);
});

for (const seed of KILL_SEEDS) {
  for (const point of ['boot', 'running', 'breakpoint'] as const) {
    test(`SIGKILL of the adapter process ${point === 'boot' ? 'during boot' : point === 'running' ? 'while the guest runs' : 'while stopped at a breakpoint'} (seed ${seed}): no process or thread left, no temp files`, { timeout: 300_000 }, async () => {
      const rand = rng(seed * 7 + point.length);
      const temps = tempEntries();
      const { dc, child } = await startAdapter();
      const pid = child.pid!;
      let delay = 0;
      if (point === 'boot') {
        // Anywhere from the launch request to the first guest instructions (VM creation, loading, the worker's start).
        delay = Math.floor(rand() * 1500);
        void dc.initializeRequest({ adapterID: 'kvm' }).then(() => dc.launchRequest({ kernel: kernelPath('pvh64'), memory: '64M', cmdline: 'spin' } as DebugProtocol.LaunchRequestArguments)).catch(() => {});
        void dc.waitForEvent('initialized', T).then(() => dc.configurationDoneRequest()).catch(() => {});
        await new Promise((r) => setTimeout(r, delay));
      } else {
        await session(dc, point === 'running' ? 'running' : 'breakpoint');
        delay = Math.floor(rand() * 500);
        await new Promise((r) => setTimeout(r, delay));
      }
      const threads = usage(pid).threads;
      const kids = descendants(pid);
      child.kill('SIGKILL');
      assert.deepEqual(await waitGone([pid, ...kids]), [], 'the adapter and its children are gone');
      closeClient(dc);
      console.log(`adapter SIGKILL ${point} after ${delay} ms: ${threads} threads then; left: ${alive(pid) ? 'the adapter!' : 'nothing'}`);
      assert.ok(!alive(pid));
      assert.deepEqual(descendants(pid), []);
      assert.deepEqual(newTempEntries(temps), [], 'no temp files left behind');
    });
  }
}

for (const seed of KILL_SEEDS) {
  test(`SIGKILL of the adapter during the guest's disk writes ("disks" in launch.json, seed ${seed}): the flushed sectors are intact, nothing else changed, no partial file`, { timeout: 300_000 }, async () => {
    const { dir, disk } = makeDiskImage(`kill-adapter-disk-${seed}`);
    const temps = tempEntries();
    const { dc, child } = await startAdapter();
    const pid = child.pid!;
    let guestConsole = '';
    dc.on('output', (e: DebugProtocol.OutputEvent) => { if (e.body.category === 'stdout') guestConsole += e.body.output; });
    await within(Promise.all([
      dc.initializeRequest({ adapterID: 'kvm', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' })
        .then(() => dc.launchRequest({ kernel: VQHAMMER, memory: '64M', cmdline: 'diskwrite', disks: [disk] } as DebugProtocol.LaunchRequestArguments)),
      dc.waitForEvent('initialized', T).then(() => dc.configurationDoneRequest()),
    ]), T, 'launch');
    const deadline = Date.now() + T;
    while (!guestConsole.includes(DISKWRITE_READY) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(guestConsole.includes(DISKWRITE_READY), `the guest never flushed: ${guestConsole.slice(-500)}`);
    const delay = Math.floor(rng(seed * 11)() * 2000);
    await new Promise((r) => setTimeout(r, delay));
    const kids = descendants(pid);
    child.kill('SIGKILL');
    assert.deepEqual(await waitGone([pid, ...kids]), [], 'the adapter and its children are gone');
    closeClient(dc);
    assert.deepEqual(newTempEntries(temps), [], 'no temp files left behind');
    console.log(`adapter disk-write SIGKILL after ${delay} ms: ${checkDiskAfterKill(dir, disk)}`);
    rmSync(dir, { recursive: true, force: true });
  });
}
