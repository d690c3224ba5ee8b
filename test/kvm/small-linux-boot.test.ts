// kvm-needs: linux
// (an unmodified Linux guest)
// kvmdbg's small Linux (scripts/build-linux.mjs: linux-source-6.1, tinyconfig
// + test/guests/linux/kvmdbg.config; virtio-blk built in) booted both ways
// through the CLI: as a bzImage by the Linux boot protocol, and as the ELF
// vmlinux by its Xen PVH entry note (32-bit entry, hvm_start_info with the
// command line, the e820 map, the initrd as module 0 and the ACPI RSDP).
// A busybox init prints a marker, writes a string to /dev/vda (a raw image
// made here) and powers off through ACPI; the test checks the marker, the
// exit status and the bytes on the host image. Then damaged images: one
// sentence each, status 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildInitramfs, consoleContext, LINUX_TIMEOUT_MS, runCli, testOutput } from './helpers/linux-initramfs';
import { smallLinux } from './helpers/small-linux';

const CMDLINE = 'console=ttyS0 panic=-1';
const DISK_BYTES = 1024 * 1024;

for (const way of ['bzImage', 'vmlinux'] as const) {
  const marker = `KVMDBG-SMALL-LINUX-${way.toUpperCase()}-OK`;
  const diskText = `KVMDBG-SMALL-LINUX-DISK-${way}`;
  test(`the small Linux boots as ${way === 'bzImage' ? 'a bzImage (Linux boot protocol)' : 'a PVH vmlinux (Xen PVH note)'} to a busybox init, writes the virtio disk and powers off`, { timeout: LINUX_TIMEOUT_MS + 10_000 }, async () => {
    const k = smallLinux();
    const dir = testOutput(`small-linux-${way}`);
    const initrd = buildInitramfs({
      dir,
      init: [
        `echo ${marker}`,
        'echo "vda sectors: $(cat /sys/block/vda/size 2>/dev/null || echo none)"',
        `if echo ${diskText} | dd of=/dev/vda conv=fsync 2>/dev/null; then echo "disk write: ok"; else echo "disk write: failed"; fi`,
        'poweroff -f',
      ],
    });
    const disk = join(dir, 'disk.img');
    writeFileSync(disk, Buffer.alloc(DISK_BYTES));
    const r = await runCli(['run', '--kernel', way === 'bzImage' ? k.bzImage : k.vmlinux, '--initrd', initrd, '--cmdline', CMDLINE,
      '--memory', '256M', '--disk', disk, '-v']);
    const context = consoleContext(r);
    assert.match(r.stderr, way === 'bzImage' ? /booting Linux bzImage, boot protocol 2\.\d+, 64-bit entry/ : /booting PVH ELF64, entry 0x[0-9a-f]+/, context);
    assert.ok(r.stdout.includes(marker), `the init's marker never appeared${context}`);
    assert.match(r.stdout, /Linux version 6\.1\./, `the kernel's banner${context}`);
    assert.match(r.stdout, /vda sectors: 2048\r?\n/, `/dev/vda (virtio-blk over virtio-mmio, found through ACPI) has 2048 sectors${context}`);
    assert.match(r.stdout, /disk write: ok\r?\n/, context);
    assert.match(r.stderr, /guest powered off/, `the VM should end by ACPI power-off${context}`);
    assert.doesNotMatch(r.stderr, /guest error/, context);
    assert.equal(r.status, 0, `exit status${context}`);
    const image = readFileSync(disk);
    assert.equal(image.subarray(0, diskText.length + 1).toString('latin1'), `${diskText}\n`, 'the host image starts with what the guest wrote');
    assert.ok(image.subarray(diskText.length + 1).every((b) => b === 0), 'nothing else changed');
    console.log(`# small Linux as ${way}: start to power-off in ${(r.ms / 1000).toFixed(1)} s`);
  });
}

test('a truncated vmlinux or bzImage of the small Linux: one sentence naming the problem, status 1, no VM', { timeout: 60_000 }, async () => {
  const k = smallLinux();
  const dir = testOutput('small-linux-bad');
  const cut = (from: string, name: string, length: (n: number) => number): string => {
    const bytes = readFileSync(from);
    const out = join(dir, name);
    writeFileSync(out, bytes.subarray(0, length(bytes.length)));
    return out;
  };
  buildInitramfs({ dir, init: [] });
  const cases: [string, RegExp][] = [
    // Inside the first PT_LOAD (.text): the loader must not boot half a kernel.
    [cut(k.vmlinux, 'vmlinux-cut-text', () => 0x20_0000), /vmlinux-cut-text: program header \d+ extends past the end of the file \(offset 0x[0-9a-f]+, size 0x[0-9a-f]+, file size 0x200000\)/],
    [cut(k.vmlinux, 'vmlinux-cut-header', () => 40), /vmlinux-cut-header: is truncated: 40 bytes, shorter than the 64-byte ELF64 header/],
    [cut(k.bzImage, 'bzImage-cut', (n) => n >> 1), /bzImage-cut: is truncated: [\d.]+ [KM]iB, but its header says the kernel after the \d+-byte setup code is/],
  ];
  for (const [file, message] of cases) {
    const r = await runCli(['run', '--kernel', file, '--memory', '256M']);
    assert.equal(r.status, 1, `${file}: exit status\n${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one sentence:\n${r.stderr}`);
    assert.equal(r.stdout, '');
  }
});
