import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadKernel } from '../../vmm/boot/detect';
import { loadMultiboot } from '../../vmm/boot/multiboot';
import { MBI, MBI_CMDLINE, MBI_LOADER_NAME, MBI_MEMORY, MBI_MMAP, MBI_MODS } from '../../vmm/boot/multiboot-info';
import { BOOT_INFO_ADDR, GDT_ADDR } from '../../vmm/boot/layout';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { buildElf, concat, multibootHeader, pattern } from './helpers/elf-builder';
import { assertDescriptorMatches, dirtyMemory, expectBootError } from './helpers/boot-check';

const FILE = 'hobby.elf';
const MiB = 2 ** 20;

function multibootElf(flags = 0x3) {
  const text = concat(multibootHeader(flags), pattern(500));
  return buildElf({
    bits: 32,
    entry: 0x10000c,
    segments: [
      { paddr: 0x100000, data: text, memsz: text.length },
      { paddr: 0x101000, data: pattern(100, 3), memsz: 0x2000 },
    ],
  });
}

const modules = [
  { path: 'initrd.img', data: pattern(5000, 9), cmdline: 'initrd.img root=ram' },
  { path: 'extra.bin', data: pattern(10, 4) },
];

test('multiboot ELF32: segments loaded, bss zeroed, CPU state per the spec', () => {
  const memory = dirtyMemory();
  const elf = multibootElf();
  const info = loadKernel({ kernelPath: FILE, kernel: elf.bytes, memory, cmdline: 'console=ttyS0 debug', modules });
  assert.equal(info.protocol, 'multiboot');
  assert.equal(info.entry, 0x10000c);
  assert.equal(info.imageStart, 0x100000);
  assert.equal(info.imageEnd, 0x103000);
  assert.match(info.description, /multiboot v1 ELF32, entry 0x10000c/);
  assert.deepEqual(memory.read(0x100000, 512), concat(multibootHeader(0x3), pattern(500)));
  assert.deepEqual(memory.read(0x101000, 100), pattern(100, 3));
  assert.ok(memory.read(0x101000 + 100, 0x2000 - 100).every((b) => b === 0), 'bss zeroed');

  const { regs, sregs } = info.cpu;
  assert.equal(regs.rax, 0x2badb002n);
  assert.equal(regs.rbx, BigInt(BOOT_INFO_ADDR));
  assert.equal(regs.rip, 0x10000cn);
  assert.equal(regs.rflags, 0x2n, 'IF clear');
  assert.equal(sregs.cr0 & 1n, 1n, 'protected mode');
  assert.equal(sregs.cr0 >> 31n, 0n, 'paging off');
  assert.equal(sregs.efer, 0n);
  for (const s of [sregs.cs, sregs.ds, sregs.es, sregs.fs, sregs.gs, sregs.ss]) {
    assert.equal(s.base, 0n);
    assert.equal(s.limit, 0xffffffff);
    assert.equal(s.db, true);
    assert.ok(s.present);
    assertDescriptorMatches(memory, sregs.gdt!.base, s);
  }
  assert.equal(sregs.cs.type & 0xa, 0xa, 'CS execute/read');
  assert.equal(sregs.ds.type & 0xa, 0x2, 'DS read/write data');
  assert.equal(sregs.gdt!.base, BigInt(GDT_ADDR));
  assertDescriptorMatches(memory, sregs.gdt!.base, sregs.tr!);
});

test('multiboot info block: memory, cmdline, modules, mmap, loader name', () => {
  const memory = dirtyMemory(64 * MiB);
  const info = loadKernel({ kernelPath: FILE, kernel: multibootElf().bytes, memory, cmdline: 'console=ttyS0 debug', modules });
  const b = Number(info.cpu.regs.rbx);
  const u32 = (o: number): number => memory.readU32(b + o);
  assert.equal(u32(MBI.flags), MBI_MEMORY | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME);
  assert.equal(u32(MBI.memLower), 639);
  assert.equal(u32(MBI.memUpper), (64 * MiB - MiB) / 1024);
  assert.equal(memory.readCString(u32(MBI.cmdline)), 'console=ttyS0 debug');
  assert.equal(memory.readCString(u32(MBI.bootLoaderName)), 'kvmdbg');
  assert.equal(u32(MBI.modsCount), 2);
  const mods = u32(MBI.modsAddr);
  const start0 = memory.readU32(mods);
  assert.equal(start0 % 4096, 0, 'modules page-aligned');
  assert.ok(start0 >= info.imageEnd, 'modules after the kernel');
  assert.equal(memory.readU32(mods + 4), start0 + 5000);
  assert.equal(memory.readCString(memory.readU32(mods + 8)), 'initrd.img root=ram');
  assert.deepEqual(memory.read(start0, 5000), modules[0].data);
  const start1 = memory.readU32(mods + 16);
  assert.equal(start1, start0 + 8192);
  assert.equal(memory.readU32(mods + 20), start1 + 10);
  assert.equal(memory.readCString(memory.readU32(mods + 24)), 'extra.bin', 'without a cmdline the module string is its path');
  assert.deepEqual(memory.read(start1, 10), modules[1].data);

  const mmapLen = u32(MBI.mmapLength);
  const mmapAddr = u32(MBI.mmapAddr);
  const entries: [number, number, number][] = [];
  for (let o = mmapAddr; o < mmapAddr + mmapLen; o += memory.readU32(o) + 4) {
    entries.push([Number(memory.readU64(o + 4)), Number(memory.readU64(o + 12)), memory.readU32(o + 20)]);
  }
  assert.deepEqual(entries, [
    [0, 0x9fc00, 1],
    [0x9fc00, 0x400, 2],
    [0xf0000, 0x10000, 2],
    [0x100000, 64 * MiB - MiB, 1],
  ]);
});

test('multiboot ELF64 kernels load by physical address too', () => {
  const text = concat(multibootHeader(0), pattern(64));
  const elf = buildElf({ bits: 64, entry: 0xffffffff80100000n, segments: [{ paddr: 0x100000, vaddr: 0xffffffff80100000n, data: text }] });
  const info = loadKernel({ kernelPath: FILE, kernel: elf.bytes, memory: dirtyMemory(), cmdline: '', modules: [] });
  assert.equal(info.protocol, 'multiboot');
  assert.equal(info.entry, 0x100000, 'virtual entry translated to its physical address');
  assert.equal(info.cpu.regs.rip, 0x100000n);
});

test('a.out kludge: a flat binary lands at load_addr with its bss', () => {
  // The header sits 0x20 bytes into the file; the file is loaded at 0x200000.
  const body = pattern(0x200, 5);
  const header = multibootHeader(0x10003, { headerAddr: 0x200020, loadAddr: 0x200000, loadEndAddr: 0x200000 + 0x300, bssEndAddr: 0x204000, entryAddr: 0x200040 });
  const file = concat(new Uint8Array(0x20).fill(0x90), header, body, new Uint8Array(0x300 - 0x20 - 32 - 0x200).fill(0xcc), new Uint8Array(64).fill(0xee));
  const memory = dirtyMemory();
  const info = loadKernel({ kernelPath: 'flat.bin', kernel: file, memory, cmdline: 'x', modules: [] });
  assert.equal(info.protocol, 'multiboot');
  assert.match(info.description, /a\.out kludge/);
  assert.equal(info.entry, 0x200040);
  assert.equal(info.imageStart, 0x200000);
  assert.equal(info.imageEnd, 0x204000);
  assert.deepEqual(memory.read(0x200000, 0x300), file.subarray(0, 0x300), 'file bytes up to load_end_addr');
  assert.ok(memory.read(0x200300, 0x4000 - 0x300).every((b) => b === 0), 'bss zeroed, bytes past load_end_addr not copied');
  assert.equal(memory.readU32(0x6000 + MBI.modsCount), 0);
});

test('a.out kludge with load_end_addr 0 loads the whole file', () => {
  const file = concat(multibootHeader(0x10000, { headerAddr: 0x300000, loadAddr: 0x300000, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x300020 }), pattern(100));
  const memory = dirtyMemory();
  const info = loadMultiboot({ kernelPath: 'flat.bin', kernel: file, memory, cmdline: '', modules: [] });
  assert.equal(info.imageEnd, 0x300000 + file.length);
  assert.deepEqual(memory.read(0x300000, file.length), file);
});

test('multiboot header problems: one sentence each', () => {
  const memory = (): GuestMemory => GuestMemory.allocate(16 * MiB);
  const boot = (kernel: Uint8Array, path = FILE) => () => loadKernel({ kernelPath: path, kernel, memory: memory(), cmdline: '', modules: [] });
  expectBootError(boot(multibootElf(0x3 | 0x10 | 0x20).bytes), FILE, 'requires features kvmdbg does not provide (flag bits 4, 5)');
  // The video mode request (bit 2) is optional for us: ignored, and said so.
  const video = loadKernel({ kernelPath: FILE, kernel: multibootElf(0x7).bytes, memory: memory(), cmdline: '', modules: [] });
  assert.match(video.description, /video mode request ignored/);
  const kludge = (a: Partial<{ headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number }>, tail = 0x100): Uint8Array =>
    concat(multibootHeader(0x10000, { headerAddr: 0x200000, loadAddr: 0x200000, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x200000, ...a }), new Uint8Array(tail));
  expectBootError(boot(kludge({ loadAddr: 0x200010 }), 'flat.bin'), 'flat.bin', 'multiboot a.out kludge: header_addr 0x200000 is below load_addr 0x200010');
  expectBootError(boot(kludge({ headerAddr: 0x200100 }), 'flat.bin'), 'flat.bin', 'would start 0x100 bytes before the beginning of the file');
  expectBootError(boot(kludge({ loadEndAddr: 0x300000 }), 'flat.bin'), 'flat.bin', 'past the end of the file');
  expectBootError(boot(kludge({ loadEndAddr: 0x100000 }), 'flat.bin'), 'flat.bin', 'load_end_addr 0x100000 is below load_addr');
  expectBootError(boot(kludge({ bssEndAddr: 0x200010 }), 'flat.bin'), 'flat.bin', 'bss_end_addr 0x200010 is below load_end_addr');
  expectBootError(boot(kludge({ entryAddr: 0x500000 }), 'flat.bin'), 'flat.bin', 'entry_addr 0x500000 is outside the loaded image');
  expectBootError(boot(kludge({ bssEndAddr: 0x8000000 }), 'flat.bin'), 'flat.bin', 'the a.out image at [0x200000, 0x8000000) is not in guest RAM (16 MiB');
  expectBootError(boot(kludge({ headerAddr: 0x8000, loadAddr: 0x8000, entryAddr: 0x8000 }), 'flat.bin'), 'flat.bin', "overlaps kvmdbg's boot structures");
  expectBootError(boot(concat(multibootHeader(0x10000), new Uint8Array(8)), 'flat.bin'), 'flat.bin', 'address fields are cut off by the end of the file');
  expectBootError(boot(concat(multibootHeader(0), new Uint8Array(64)), 'flat.bin'), 'flat.bin', 'without the a.out kludge (flag 16) but is not an ELF file');
  // A header beyond the first 8 KiB does not count.
  const late = concat(new Uint8Array(8192), multibootHeader(0x10000, { headerAddr: 0x200000, loadAddr: 0x200000, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x200000 }));
  expectBootError(boot(late, 'late.bin'), 'late.bin', 'is not a kernel kvmdbg can boot');
  // A bad checksum is no header either.
  const bad = multibootElf().bytes.slice();
  const at = multibootElf().segmentOffsets[0];
  bad[at + 8] ^= 1;
  expectBootError(boot(bad), FILE, 'is a 32-bit ELF with neither a multiboot header nor a PVH note');
});
