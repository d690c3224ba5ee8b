// kvm-needs: linux
// (an unmodified Linux guest)
// Boots Debian's packaged kernel (apt linux-image-amd64, /boot/vmlinuz-*)
// through the CLI with a busybox initramfs built here, on one vCPU: the
// init prints a marker and the CPU count and powers off through ACPI
// (\_S5 -> PM1a_CNT at 0x604), which must end kvmdbg with status 0.
// -v makes kvmdbg name the protocol it booted and how the VM ended.
// Missing packages FAIL the test with the apt command, never skip it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildInitramfs, consoleContext, debianKernel, LINUX_TIMEOUT_MS, runCli, testOutput } from './helpers/linux-initramfs';

const MARKER = 'KVMDBG-LINUX-INIT-OK';
/**
 * console=ttyS0: the console is our COM1. panic=-1: a panic reboots at once
 * (the VM ends) instead of hanging until the test's timeout; the marker and
 * "guest powered off" checks keep a reboot from passing for success.
 */
const CMDLINE = 'console=ttyS0 panic=-1';

test('Debian\'s kernel boots to a busybox init on one vCPU and powers off with status 0', { timeout: LINUX_TIMEOUT_MS + 10_000 }, async () => {
  const kernel = debianKernel();
  const initrd = buildInitramfs({
    dir: testOutput('linux-boot'),
    init: [
      `echo ${MARKER}`,
      'echo "cpus: $(grep -c ^processor /proc/cpuinfo)"',
      'poweroff -f',
    ],
  });
  const r = await runCli(['run', '--kernel', kernel, '--initrd', initrd, '--cmdline', CMDLINE, '--memory', '256M', '--cpus', '1', '-v']);
  const context = consoleContext(r);
  assert.match(r.stderr, /booting Linux bzImage, boot protocol 2\.\d+, 64-bit entry/, context);
  assert.ok(r.stdout.includes(MARKER), `the init's marker never appeared${context}`);
  assert.match(r.stdout, /cpus: 1\r?\n/, `/proc/cpuinfo should list 1 processor${context}`);
  assert.match(r.stderr, /guest powered off/, `the VM should end by ACPI power-off${context}`);
  assert.equal(r.status, 0, `exit status${context}`);
  console.log(`# ${kernel}: start to power-off in ${(r.ms / 1000).toFixed(1)} s`);
});
