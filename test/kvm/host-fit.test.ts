// KVM tier: a Linux kernel on this host, as a user starts one. Where the host
// probe says an unmodified Linux cannot run (PVM), `kvmdbg run` and F5 (a DAP
// launch) say so in one sentence within 2 s, naming where it can run, and
// nothing starts; where it says Linux can run, both start booting it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { probeHost } from '../../vmm/machine/host-probe';
import { works } from '../../vmm/host/probe/capabilities';
import { debianKernel, LINUX_TIMEOUT_MS, SILENT_MS } from './helpers/linux-initramfs';
import { runCli, startCli } from './helpers/cli';
import { finishDap, launchDap, startDap, waitForText } from './helpers/dap-session';

const REFUSAL = /^vmlinuz-\S+ is a Linux kernel, and this host's KVM cannot run an unmodified Linux \(.+\): run it on hardware or nested KVM, or inside the KVM sandbox/;

test('kvmdbg run --no-sandbox with Debian\'s kernel: refused in one sentence within 2 s where the probe says Linux cannot run, else it boots', async () => {
  const kernel = debianKernel();
  const linux = works(await probeHost(), 'linux');
  const args = ['run', '--no-sandbox', '--kernel', kernel, '--memory', '256M', '--cmdline', 'console=ttyS0 earlyprintk=serial'];
  if (!linux) {
    const t0 = Date.now();
    const r = await runCli(args, 10_000);
    const ms = Date.now() - t0;
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr.replace(/^kvmdbg: /, ''), REFUSAL);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one sentence');
    assert.ok(ms < 2000, `refused after ${ms} ms`);
    return;
  }
  const run = startCli(args);
  try {
    await run.waitForStdout('Linux version', LINUX_TIMEOUT_MS);
  } finally {
    run.child.kill('SIGKILL');
    await run.done;
  }
});

test('F5 (DAP launch) on Debian\'s kernel: the launch fails with that sentence within 2 s where Linux cannot run, else the kernel prints its banner', async () => {
  const kernel = debianKernel();
  const linux = works(await probeHost(), 'linux');
  const s = await startDap(LINUX_TIMEOUT_MS);
  try {
    const t0 = Date.now();
    const launch = launchDap(s, { kernel, memory: '256M', cmdline: 'console=ttyS0' });
    if (!linux) {
      await assert.rejects(launch, (e: Error) => { assert.match(e.message, REFUSAL); return true; });
      assert.ok(Date.now() - t0 < 2000, `refused after ${Date.now() - t0} ms`);
      return;
    }
    await launch;
    await waitForText(s.stdout, 'Linux version', LINUX_TIMEOUT_MS, 'the kernel\'s banner', SILENT_MS);
  } finally {
    await finishDap(s);
  }
});
