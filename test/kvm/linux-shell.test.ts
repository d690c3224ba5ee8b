// kvm-needs: linux
// (an unmodified Linux guest)
// Interactive: Debian's kernel boots to a busybox shell on the serial
// console; the test types a command on kvmdbg's stdin (the guest's COM1,
// interrupt-driven on IRQ 4), reads the answer, then types `poweroff -f`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildInitramfs, consoleContext, debianKernel, LINUX_TIMEOUT_MS, runCli, testOutput } from './helpers/linux-initramfs';

const READY = 'KVMDBG-SHELL-READY';

test('typing into the guest shell over the serial console: echo $((6*7)) answers 42, poweroff -f ends with status 0', { timeout: LINUX_TIMEOUT_MS + 10_000 }, async () => {
  const kernel = debianKernel();
  const initrd = buildInitramfs({
    dir: testOutput('linux-shell'),
    init: [
      `echo ${READY}`,
      'exec setsid cttyhack sh',
    ],
  });
  let step = 0;
  const r = await runCli(['run', '--kernel', kernel, '--initrd', initrd, '--cmdline', 'console=ttyS0 panic=-1', '--memory', '256M'], (out) => {
    // busybox ash follows its prompt ("/ # ") with a cursor-position query (ESC [6n).
    if (step === 0 && out.includes(READY) && /[#$] (\x1b\[6n)?$/.test(out)) { step = 1; return 'echo $((6*7))\n'; }
    if (step === 1 && /\r?\n42\r?\n/.test(out)) { step = 2; return 'poweroff -f\n'; }
    return undefined;
  });
  const context = consoleContext(r);
  assert.ok(step >= 1, `the shell prompt never appeared${context}`);
  assert.equal(step, 2, `the shell never answered 42${context}`);
  assert.equal(r.status, 0, `exit status${context}`);
});
