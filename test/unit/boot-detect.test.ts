import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadKernel, LoadKernelRequest } from '../../vmm/boot/detect';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { buildElf, concat, multibootHeader, pattern, pvhNote, SegmentSpec } from './helpers/elf-builder';
import { expectBootError } from './helpers/boot-check';

const FILE = 'kernel.elf';
const MiB = 2 ** 20;

function boot(kernel: Uint8Array, extra: Partial<LoadKernelRequest> = {}) {
  return () => loadKernel({ kernelPath: FILE, kernel, memory: GuestMemory.allocate(32 * MiB), cmdline: '', modules: [], ...extra });
}

const elf64 = (segments: SegmentSpec[], entry: number | bigint = 0x100000) => buildElf({ bits: 64, entry, segments }).bytes;

test('detection picks PVH, then multiboot, then ELF64', () => {
  const run = (kernel: Uint8Array, protocol?: LoadKernelRequest['protocol']) => boot(kernel, { protocol })().protocol;
  const mb = buildElf({ bits: 64, entry: 0x100000, segments: [{ paddr: 0x100000, data: concat(multibootHeader(0), pattern(16)) }] }).bytes;
  const pvh = buildElf({ bits: 64, entry: 0x100000, segments: [{ paddr: 0x100000, data: pattern(16) }], notes: [pvhNote(0x100000)] }).bytes;
  const plain = elf64([{ paddr: 0x100000, data: pattern(16) }]);
  assert.equal(run(pvh), 'pvh');
  assert.equal(run(mb), 'multiboot');
  assert.equal(run(plain), 'elf64');
  assert.equal(run(pvh, 'elf64'), 'elf64', 'a forced protocol wins');
  assert.equal(run(mb, 'elf64'), 'elf64');
  assert.equal(run(pvh, 'auto'), 'pvh');
  expectBootError(boot(plain, { protocol: 'multiboot' }), FILE, 'has no multiboot header');
  expectBootError(boot(plain, { protocol: 'linux' }), FILE, 'is not a Linux bzImage');
});

test('files that are not kernels: one sentence each', () => {
  expectBootError(boot(new Uint8Array()), FILE, /^kernel\.elf: is empty$/);
  const good = elf64([{ paddr: 0x100000, data: pattern(16) }]);
  expectBootError(boot(good.slice(0, 30)), FILE, 'is truncated: 30 bytes, shorter than the 64-byte ELF64 header');
  expectBootError(boot(good.slice(0, 100)), FILE, 'program header table extends past the end of the file');
  const arm = buildElf({ bits: 64, machine: 183, entry: 0x100000, segments: [{ paddr: 0x100000, data: pattern(16) }] }).bytes;
  expectBootError(boot(arm), FILE, /^kernel\.elf: is an ELF for AArch64 \(machine 183\); kvmdbg boots x86 kernels$/);
  const elf32 = buildElf({ bits: 32, entry: 0x100000, segments: [{ paddr: 0x100000, data: pattern(16) }] }).bytes;
  expectBootError(boot(elf32), FILE, 'is a 32-bit ELF with neither a multiboot header nor a PVH note');
  const bz = new Uint8Array(0x1000);
  bz.set([0x4d, 0x5a], 0);
  bz.set(Buffer.from('HdrS'), 0x202);
  // "HdrS" sends it to the Linux loader (test/unit/boot-linux.test.ts), which reads its header.
  expectBootError(boot(bz), FILE, /^kernel\.elf: uses Linux boot protocol 0\.00; kvmdbg needs 2\.10 or newer/);
  expectBootError(boot(Buffer.from('#!/bin/sh\necho hello world, I am a script\n')), FILE,
    /^kernel\.elf: is not a kernel kvmdbg can boot: no PVH note, no multiboot header, not an x86-64 ELF \(first bytes: 23 21 2f 62 69 6e 2f 73 68 0a 65 63 68 6f 20 68 \.\.\.\)$/);
  expectBootError(boot(Uint8Array.of(1, 2)), FILE, '(first bytes: 01 02)');
  const noLoad = buildElf({ bits: 64, entry: 0x100000, segments: [] }).bytes;
  expectBootError(boot(noLoad), FILE, 'has no loadable segments');
});

test('segments that do not fit: one sentence each', () => {
  expectBootError(boot(elf64([{ paddr: 0x4000000, data: pattern(16) }], 0x4000000)), FILE,
    'segment 0 at [0x4000000, 0x4000010) is not in guest RAM (32 MiB, usable from 0x100000 to 0x2000000)');
  expectBootError(boot(elf64([{ paddr: 0x1f00000, data: pattern(16), memsz: 0x200000 }], 0x1f00000)), FILE, 'is not in guest RAM');
  expectBootError(boot(elf64([{ paddr: 0xa0000, data: pattern(16) }], 0xa0000)), FILE, 'segment 0 at [0xa0000, 0xa0010) is not in guest RAM');
  expectBootError(boot(elf64([{ paddr: 0x7000, data: pattern(16) }], 0x7000)), FILE,
    "segment 0 at [0x7000, 0x7010) overlaps kvmdbg's boot structures at [0x0, 0x90000); link the kernel at or above 1 MiB");
  expectBootError(boot(elf64([{ paddr: 0x100000, data: pattern(16), memsz: 0x1000 }, { paddr: 0x100800, data: pattern(16) }])), FILE,
    'segments 0 and 1 overlap in physical memory (at 0x100800)');
  const b = buildElf({ bits: 64, entry: 0x100000, segments: [{ paddr: 0x100000, data: pattern(64) }] });
  const shrunk = b.bytes.slice();
  new DataView(shrunk.buffer).setBigUint64(b.phoff + 40, 16n, true);
  expectBootError(boot(shrunk), FILE, 'program header 0 has a file size (0x40) larger than its memory size (0x10)');
  const huge = b.bytes.slice();
  new DataView(huge.buffer).setBigUint64(b.phoff + 40, 0xffff_ffff_ffff_ff00n, true);
  expectBootError(boot(huge), FILE, 'is not in guest RAM');
});

test('modules, command line and RAM size limits', () => {
  const kernel = elf64([{ paddr: 0x100000, data: pattern(16), memsz: 0x100000 }]);
  const initrd = { path: 'initrd.img', data: new Uint8Array(40 * MiB) };
  expectBootError(boot(kernel, { modules: [initrd] }), 'initrd.img',
    /^initrd\.img: the module \(40 MiB\) does not fit in 32 MiB of guest RAM after the kernel; use --memory 64M$/);
  expectBootError(boot(kernel, { cmdline: 'x'.repeat(5000) }), FILE, 'command line is 5000 bytes; kvmdbg passes at most 4095');
  expectBootError(() => loadKernel({ kernelPath: FILE, kernel, memory: GuestMemory.allocate(64 * 1024), cmdline: '', modules: [] }), FILE,
    'cannot boot in 64 KiB of guest RAM');
  const many = Array.from({ length: 200 }, (_, i) => ({ path: `m${i}`, data: new Uint8Array(1) }));
  expectBootError(boot(kernel, { modules: many }), 'm120', 'kvmdbg passes at most 120 modules');
  const long = Array.from({ length: 20 }, (_, i) => ({ path: `m${i}`, data: new Uint8Array(1), cmdline: 'y'.repeat(4000) }));
  expectBootError(boot(kernel, { modules: long }), 'm16', 'the module command line', 'does not fit');
  // Exactly the limit still boots.
  assert.equal(boot(kernel, { cmdline: 'z'.repeat(4095) })().protocol, 'elf64');
});

test('a damaged ELF with an a.out kludge header still boots through the kludge', () => {
  const flat = concat(new Uint8Array(64), multibootHeader(0x10000, { headerAddr: 0x200040, loadAddr: 0x200000, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x200060 }), pattern(64));
  flat.set([0x7f, 0x45, 0x4c, 0x46, 9], 0); // ELF magic, impossible class
  const info = boot(flat)();
  assert.equal(info.protocol, 'multiboot');
  assert.equal(info.entry, 0x200060);
});

test('a damaged section table does not stop a kernel that boots by its segments', () => {
  const b = buildElf({ bits: 32, entry: 0x100000, segments: [{ paddr: 0x100000, data: concat(multibootHeader(0), pattern(16)) }], symbols: [{ name: 's', value: 0x100000 }] });
  const bytes = b.bytes.slice();
  new DataView(bytes.buffer).setUint32(b.shoff + 2 * b.shentsize + 20, 0x7fffffff, true); // section 2 size
  assert.equal(boot(bytes)().protocol, 'multiboot');
});
