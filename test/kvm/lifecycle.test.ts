// KVM tier: faults and lifecycle, with nothing lost.
//  - the CLI SIGKILLed at random points of a boot (several seeds): no process
//    or thread of it left, no temp file left in /tmp or /dev/shm;
//  - many Machine create/resume/stop cycles in ONE process: fds, threads and
//    RSS before/after, bounded growth (the numbers are printed);
//  - many CLI runs in fresh processes: each ends with status 0, none left;
//  - guest faults end in a clear end, never a hang (triple fault through the
//    Machine API; the CLI's triple fault and SIGTERM/SIGINT of a guest spinning
//    with interrupts off are in cli.test.ts).
// Knobs: KVMDBG_LIFECYCLE_CYCLES (in-process, default 100),
// KVMDBG_LIFECYCLE_PROCS (fresh processes, default 100),
// KVMDBG_KILL_SEEDS (default "1,2,3,4").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { Machine } from '../../vmm/machine/machine';
import { BOOT_MS, MEMORY_64M, defaultOutput, kernelPath, within } from './helpers/guests';
import { processesWith, runCli, startCli } from './helpers/cli';
import { rng } from '../unit/helpers/fuzz-budget';
import { descendants, ownUsage, tempEntries } from './helpers/leaks';
import { budget, seeds } from './helpers/soak-budget';

const CYCLES = budget('KVMDBG_LIFECYCLE_CYCLES', 20, 100);
const PROCS = budget('KVMDBG_LIFECYCLE_PROCS', 5, 100);
const KILL_SEEDS = seeds('KVMDBG_KILL_SEEDS', '1,2', '1,2,3,4');

for (const seed of KILL_SEEDS) {
  test(`SIGKILL of \`kvmdbg run\` at a random point of a boot (seed ${seed}): nothing left running, no temp files`, async () => {
    const rand = rng(seed);
    const marker = `marker${randomBytes(6).toString('hex')}`;
    const before = tempEntries();
    // 0-4 s covers: node start, kernel load, VM creation, the first exits, and the running guest.
    const delay = Math.floor(rand() * 4000);
    const run = startCli(['run', '--kernel', kernelPath('pvh64'), '--memory', '64M', '--cmdline', `spin ${marker}`], { keepStdinOpen: true });
    const pid = run.child.pid!;
    await new Promise((r) => setTimeout(r, delay));
    const kids = descendants(pid);
    run.child.kill('SIGKILL');
    const r = await within(run.done, 30_000, 'the killed kvmdbg to be reaped');
    assert.equal(r.signal, 'SIGKILL');
    // Give the kernel a moment to tear the killed process's threads down.
    const deadline = Date.now() + 10_000;
    while ((processesWith(marker).length || kids.some((k) => { try { readFileSync(`/proc/${k}/stat`); return true; } catch { return false; } })) && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 100));
    }
    console.log(`SIGKILL after ${delay} ms (stdout so far ${JSON.stringify(r.stdout.slice(0, 40))}): children then ${JSON.stringify(kids)}`);
    assert.deepEqual(processesWith(marker), [], 'no process with our marker left');
    assert.deepEqual(descendants(pid), [], 'no child of the killed process left');
    const added = [...tempEntries()].filter((e) => !before.has(e));
    assert.deepEqual(added, [], 'no temp files left behind');
  });
}

function usage(): { fds: number; threads: number; rssKiB: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  return {
    fds: readdirSync('/proc/self/fd').length,
    threads: Number(/^Threads:\s+(\d+)/m.exec(status)![1]),
    rssKiB: Number(/^VmRSS:\s+(\d+)/m.exec(status)![1]),
  };
}

async function cycle(i: number): Promise<void> {
  const machine = await within(Machine.create({ kernel: kernelPath('pvh64'), cmdline: 'spin', memoryBytes: MEMORY_64M }), BOOT_MS, `Machine.create, cycle ${i}`);
  machine.resume();
  // Stop at a varying point: before the guest runs, while it boots, while it spins.
  if (i % 3) await new Promise((r) => setTimeout(r, (i * 37) % 200));
  const end = await within(machine.stop('lifecycle test'), 30_000, `stop(), cycle ${i}`);
  assert.equal(end.kind, 'stopped', JSON.stringify(end));
}

test(`${CYCLES} Machine create/resume/stop cycles in one process: no growth in fds, threads or RSS beyond noise`, { timeout: 3_600_000 }, async () => {
  for (let i = 0; i < 3; i++) await cycle(i); // warm-up: lazily loaded code, the addon, pools
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 200));
  const before = usage();
  const t0 = Date.now();
  for (let i = 0; i < CYCLES; i++) await cycle(i + 3);
  await new Promise((r) => setTimeout(r, 500)); // worker threads finish exiting
  (globalThis as { gc?: () => void }).gc?.();
  const after = usage();
  const line = `lifecycle: ${CYCLES} cycles in ${((Date.now() - t0) / 1000).toFixed(1)} s (${((Date.now() - t0) / CYCLES).toFixed(0)} ms a cycle): `
    + `fds ${before.fds} -> ${after.fds}, threads ${before.threads} -> ${after.threads}, RSS ${(before.rssKiB / 1024).toFixed(1)} -> ${(after.rssKiB / 1024).toFixed(1)} MiB`;
  console.log(line);
  assert.ok(after.fds <= before.fds + 2, `fds grew: ${line}`);
  assert.ok(after.threads <= before.threads + 2, `threads grew: ${line}`);
  // 64 MiB of guest RAM a cycle: a leaked VM shows up as tens of MiB per cycle; allow GC noise.
  assert.ok(after.rssKiB - before.rssKiB < 96 * 1024, `RSS grew by ${((after.rssKiB - before.rssKiB) / 1024).toFixed(1)} MiB: ${line}`);
});

test(`${PROCS} CLI runs in fresh processes: each powers off with status 0, nothing left running`, { timeout: 3_600_000 }, async () => {
  const temps = tempEntries();
  const host0 = ownUsage();
  const t0 = Date.now();
  for (let i = 0; i < PROCS; i++) {
    const marker = `marker${randomBytes(6).toString('hex')}`;
    const r = await runCli(['run', '--kernel', kernelPath('pvh64'), '--memory', '64M', '--cmdline', marker], BOOT_MS);
    assert.equal(r.stdout, defaultOutput('pvh64', marker));
    assert.deepEqual([r.status, r.signal, r.stderr], [0, null, '']);
    assert.deepEqual(processesWith(marker), []);
  }
  const host1 = ownUsage();
  const line = `lifecycle: ${PROCS} fresh kvmdbg processes in ${((Date.now() - t0) / 1000).toFixed(1)} s (${((Date.now() - t0) / PROCS).toFixed(0)} ms each), `
    + `all status 0, none left; our processes ${host0.processes} -> ${host1.processes}, MemAvailable ${(host0.memAvailableKiB / 1024).toFixed(0)} -> ${(host1.memAvailableKiB / 1024).toFixed(0)} MiB`;
  console.log(line);
  assert.deepEqual([...tempEntries()].filter((e) => !temps.has(e)), [], 'no temp files');
  assert.ok(host1.processes <= host0.processes + 2, `processes left: ${line}`);
  assert.ok(host0.memAvailableKiB - host1.memAvailableKiB < 256 * 1024, `host memory not returned: ${line}`);
});

test('a triple fault through the Machine API (pvh64 `triple`) ends the VM with a clear end, no hang', async () => {
  const machine = await Machine.create({ kernel: kernelPath('pvh64'), cmdline: 'triple', memoryBytes: MEMORY_64M });
  machine.resume();
  const end = await within(machine.whenEnded(), BOOT_MS, 'the triple-faulting guest to end').catch(async (e) => { await machine.stop(); throw e; });
  assert.equal(end.kind, 'triple-fault', JSON.stringify(end));
  assert.match(end.message, /triple.fault/i);
  assert.notEqual(end.status, 0);
});
