// kvm-needs: linux
// (an unmodified Linux guest)
/**
 * Debian's real gdb against `kvmdbg run --gdb ... --cpus 2` booting Debian's
 * packaged kernel: one gdb thread per vCPU, each with its own registers,
 * all-stop on Ctrl-C. Needs a host with 2 CPUs (test/sandbox/run -c 2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { runGdb, startGdbVm, vmContext } from './helpers/gdb';
import { buildInitramfs, debianKernel, LINUX_TIMEOUT_MS, testOutput } from './helpers/linux-initramfs';

test('gdb: `info threads` shows both vCPUs of --cpus 2, at entry and after Ctrl-C in the booted kernel', { timeout: LINUX_TIMEOUT_MS + 60_000 }, async () => {
  assert.ok(availableParallelism() >= 2, `needs a host with at least 2 CPUs (this one has ${availableParallelism()}): run it in test/sandbox/run -c 2`);
  const initrd = buildInitramfs({ dir: testOutput('gdb-smp'), init: ['echo "GDB-SMP-READY $(grep -c ^processor /proc/cpuinfo)"', 'sleep 100000'] });
  const vm = await startGdbVm(debianKernel(), 'console=ttyS0 panic=-1', { memory: '256M', vmArgs: ['--initrd', initrd, '--cpus', '2'] });
  try {
    let interrupted = false;
    let watching = false;
    const gdb = await runGdb(vm.port, [
      'info threads',
      'continue',
      'info threads',
      'thread 2', 'p/x $rip', 'p/x $rsp',
      'thread 1', 'p/x $rip', 'p/x $rsp',
      'kill',
    ], {
      timeoutMs: LINUX_TIMEOUT_MS,
      context: () => vmContext(vm),
      // Ctrl-C once the guest's init has run on a kernel with both CPUs up.
      onOutput: (p) => {
        if (watching) return;
        watching = true;
        const timer = setInterval(() => {
          if (!vm.output().includes('GDB-SMP-READY')) return;
          clearInterval(timer);
          if (!interrupted) { interrupted = true; p.kill('SIGINT'); }
        }, 200);
        p.once('close', () => clearInterval(timer));
      },
    });
    const context = `\n--- gdb ---\n${gdb}${vmContext(vm)}`;
    assert.match(vm.output(), /GDB-SMP-READY 2/, `the guest should see 2 CPUs${context}`);
    // At entry (before continue) and again after the interrupt: two threads, one per vCPU.
    // (either thread may be gdb's current one, `*`: the interrupt is reported on whichever vCPU stopped first)
    const lists = gdb.match(/^\*?\s+1\s+Thread 1 .*vCPU 0.*\n\*?\s+2\s+Thread 2 .*vCPU 1.*$/gm) ?? [];
    assert.ok(lists.length >= 2, `two 'info threads' listings with threads 1 and 2${context}`);
    assert.match(gdb, /received signal SIGINT/, `Ctrl-C stops the machine${context}`);
    assert.match(gdb, /\[Switching to thread 2 .*\]/, `gdb can select vCPU 1's thread${context}`);
    const values = [...gdb.matchAll(/^\$\d+ = (0x[0-9a-f]+)$/gm)].map((m) => BigInt(m[1]));
    assert.equal(values.length, 4, `rip and rsp of each thread${context}`);
    const [rip2, rsp2, rip1, rsp1] = values;
    for (const rip of [rip1, rip2]) assert.ok(rip >= 0xffff_ffff_8000_0000n, `both vCPUs are in the kernel: rip ${rip.toString(16)}${context}`);
    assert.notEqual(rsp1, rsp2, `each thread has its own registers (its own idle stack)${context}`);
    assert.notEqual(await vm.exited, 0, 'kill ends the VM');
  } finally {
    vm.kill();
  }
});
