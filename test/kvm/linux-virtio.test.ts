// kvm-needs: linux
// (an unmodified Linux guest)
// Debian's kernel on virtio-mmio devices described in the ACPI DSDT: the
// init loads the virtio modules of that kernel, writes a known string to
// /dev/vda (a 1 MiB raw image made here), reads /dev/hwrng, and powers off.
// The host then finds the string at the start of the image. With `,ro` the
// guest's write fails and the image is unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildInitramfs, consoleContext, debianKernel, insmodLines, LINUX_TIMEOUT_MS, runCli, testOutput, VIRTIO_MODULES,
} from './helpers/linux-initramfs';

const CMDLINE = 'console=ttyS0 panic=-1';
const DISK_TEXT = 'KVMDBG-DISK-OK';
const DONE = 'KVMDBG-VIRTIO-DONE';
const DISK_BYTES = 1024 * 1024;

function initramfs(name: string): { dir: string; initrd: string; kernel: string } {
  const kernel = debianKernel();
  const dir = testOutput(name);
  const initrd = buildInitramfs({
    dir, modulesFor: kernel, modules: VIRTIO_MODULES,
    init: [
      ...insmodLines(),
      // Probing is synchronous for ACPI platform devices, but give udev-less /dev a moment.
      'for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; sleep 1; done',
      'echo "vda sectors: $(cat /sys/block/vda/size 2>/dev/null || echo none)"',
      'echo "vda ro: $(cat /sys/block/vda/ro 2>/dev/null || echo none)"',
      'echo "hwrng: $(cat /sys/class/misc/hw_random/rng_current 2>/dev/null || echo none)"',
      'echo "rng bytes: $(timeout 30 dd if=/dev/hwrng bs=16 count=1 2>/dev/null | od -An -tx1 | tr -d \' \\n\')"',
      `if echo ${DISK_TEXT} | dd of=/dev/vda conv=fsync 2>/dev/null; then echo "disk write: ok"; else echo "disk write: failed"; fi`,
      'echo "disk reads back: $(dd if=/dev/vda bs=16 count=1 2>/dev/null | head -c 14)"',
      `echo ${DONE}`,
      'poweroff -f',
    ],
  });
  return { dir, initrd, kernel };
}

function makeDisk(dir: string, fill: number): string {
  const disk = join(dir, 'disk.img');
  writeFileSync(disk, Buffer.alloc(DISK_BYTES, fill));
  return disk;
}

test('virtio-blk and virtio-rng over virtio-mmio: the guest\'s write is on the host image after power-off', { timeout: LINUX_TIMEOUT_MS + 10_000 }, async () => {
  const { dir, initrd, kernel } = initramfs('linux-virtio');
  const disk = makeDisk(dir, 0);
  const r = await runCli(['run', '--kernel', kernel, '--initrd', initrd, '--cmdline', CMDLINE, '--memory', '256M', '--disk', disk, '-v']);
  const context = consoleContext(r);
  assert.doesNotMatch(r.stdout, /KVMDBG-INSMOD-FAILED/, context);
  assert.ok(r.stdout.includes(DONE), `the init's marker never appeared${context}`);
  assert.match(r.stdout, /vda sectors: 2048\r?\n/, `/dev/vda should have 2048 sectors${context}`);
  assert.match(r.stdout, /vda ro: 0\r?\n/, context);
  assert.match(r.stdout, /hwrng: virtio_rng\.\d+\r?\n/, `virtio-rng should be the current hwrng${context}`);
  const rng = /rng bytes: ([0-9a-f]*)\r?\n/.exec(r.stdout)?.[1] ?? '';
  assert.equal(rng.length, 32, `16 bytes from /dev/hwrng${context}`);
  assert.notEqual(rng, '0'.repeat(32), context);
  assert.match(r.stdout, /disk write: ok\r?\n/, context);
  assert.match(r.stdout, new RegExp(`disk reads back: ${DISK_TEXT}`), context);
  assert.match(r.stderr, /guest powered off/, context);
  assert.doesNotMatch(r.stderr, /guest error/, context);
  assert.equal(r.status, 0, `exit status${context}`);
  const image = readFileSync(disk);
  assert.equal(image.subarray(0, DISK_TEXT.length + 1).toString('latin1'), `${DISK_TEXT}\n`, 'the host image starts with what the guest wrote');
  assert.ok(image.subarray(DISK_TEXT.length + 1).every((b) => b === 0), 'nothing else changed');
  assert.equal(image.length, DISK_BYTES);
  console.log(`# virtio boot, write and power-off in ${(r.ms / 1000).toFixed(1)} s`);
});

test('a ,ro disk: the guest sees it read-only, its write fails, and the host image is unchanged', { timeout: LINUX_TIMEOUT_MS + 10_000 }, async () => {
  const { dir, initrd, kernel } = initramfs('linux-virtio-ro');
  const disk = makeDisk(dir, 0x5a);
  const r = await runCli(['run', '--kernel', kernel, '--initrd', initrd, '--cmdline', CMDLINE, '--memory', '256M', '--disk', `${disk},ro`]);
  const context = consoleContext(r);
  assert.ok(r.stdout.includes(DONE), `the init's marker never appeared${context}`);
  assert.match(r.stdout, /vda ro: 1\r?\n/, context);
  assert.match(r.stdout, /disk write: failed\r?\n/, context);
  assert.equal(r.status, 0, `exit status${context}`);
  assert.ok(readFileSync(disk).every((b) => b === 0x5a), 'the read-only image is unchanged');
});
