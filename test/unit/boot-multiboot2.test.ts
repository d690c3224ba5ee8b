import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadKernel } from '../../vmm/boot/detect';
import { MB2_INFO_ADDR } from '../../vmm/boot/multiboot2-info';
import { setFirmwareMode } from '../../vmm/boot/multiboot2-framebuffer';
import { BochsVbe } from '../../vmm/devices/bochs-vbe';
import { pcMemoryMap } from '../../vmm/memory/memory-map';
import { layoutAcpi } from '../../vmm/acpi/tables';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import type { BootModule } from '../../vmm/boot/layout';
import { buildElf, concat, multibootHeader, pattern } from './helpers/elf-builder';
import { parseCli, UsageError } from '../../vmm/cli/args';
import { LaunchConfigError, validateLaunchArgs } from '../../debug-adapter/launch-config';
import { join } from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { classifyKernelFile } from '../../extension/detect';

const GUESTS = join(__dirname, '..', '..', '..', 'test', 'guests', 'build');
import { assertDescriptorMatches, dirtyMemory, expectBootError } from './helpers/boot-check';
import { mb2Header, readMb2Info, tagOf, type Mb2TagSpec } from './helpers/mb2-builder';

const FILE = 'hobby.elf';
const REQUEST_ALL = { type: 1, words: [1, 2, 3, 4, 6, 8, 9, 14, 15, 21] };
const FB_1024 = { type: 5, words: [1024, 768, 32] };

function mb2Elf(tags: Mb2TagSpec[], prefix: Uint8Array = new Uint8Array(0)) {
  const text = concat(prefix, mb2Header(tags), pattern(300));
  return buildElf({
    bits: 32,
    entry: 0x100100,
    segments: [
      { paddr: 0x100000, data: text, memsz: text.length },
      { paddr: 0x101000, data: pattern(64, 3), memsz: 0x2000 },
    ],
    symbols: [{ name: 'start', value: 0x100100, size: 4 }],
  });
}

const boot = (kernel: Uint8Array, modules: BootModule[] = [], memory = dirtyMemory(), cmdline = 'quiet x=1') =>
  () => loadKernel({ kernelPath: FILE, kernel, memory, cmdline, modules });
const text = (m: GuestMemory, at: number, size: number) => Buffer.from(m.read(at, size)).toString('latin1');

test('multiboot2 ELF32: the spec\'s entry state and every information tag GRUB gives, read back from guest memory', () => {
  const memory = dirtyMemory();
  const elf = mb2Elf([REQUEST_ALL, FB_1024, { type: 6 }]);
  const modules = [{ path: 'initrd.img', data: pattern(5000, 9), cmdline: 'initrd.img root=ram' }, { path: 'extra.bin', data: pattern(10, 4) }];
  const info = boot(elf.bytes, modules, memory, 'console=ttyS0 debug')();
  assert.equal(info.protocol, 'multiboot2');
  assert.equal(info.entry, 0x100100);
  assert.equal(info.description, 'multiboot2 ELF32, entry 0x100100, framebuffer 1024x768x32 at 0xfd000000');
  assert.deepEqual(info.framebuffer, { width: 1024, height: 768, bpp: 32 });
  const { regs, sregs } = info.cpu;
  assert.equal(regs.rax, 0x36d76289n);
  assert.equal(regs.rbx, BigInt(MB2_INFO_ADDR));
  assert.equal(regs.rip, 0x100100n);
  assert.equal(regs.rflags, 0x2n, 'IF clear');
  assert.equal(sregs.cr0 & 1n, 1n, 'protected mode');
  assert.equal(sregs.cr0 >> 31n, 0n, 'paging off');
  for (const s of [sregs.cs, sregs.ds, sregs.es, sregs.fs, sregs.gs, sregs.ss]) {
    assert.deepEqual([s.base, s.limit, s.db, s.l], [0n, 0xffffffff, true, false]);
    assertDescriptorMatches(memory, sregs.gdt!.base, s);
  }

  const mbi = readMb2Info(memory, MB2_INFO_ADDR);
  assert.deepEqual(mbi.tags.map((t) => t.type), [1, 2, 3, 3, 4, 6, 8, 9, 14, 15, 21, 0]);
  const cmd = tagOf(mbi, 1);
  assert.equal(text(memory, cmd.addr + 8, cmd.size - 8), 'console=ttyS0 debug\0');
  const loader = tagOf(mbi, 2);
  assert.equal(text(memory, loader.addr + 8, loader.size - 8), 'kvmdbg\0');
  const [m0, m1] = mbi.tags.filter((t) => t.type === 3);
  assert.equal(memory.readU32(m0.addr + 8), 0x103000, 'module 0 page-aligned after the image');
  assert.equal(memory.readU32(m0.addr + 12), 0x103000 + 5000);
  assert.equal(text(memory, m0.addr + 16, m0.size - 16), 'initrd.img root=ram\0');
  assert.deepEqual(memory.read(0x103000, 5000), pattern(5000, 9));
  assert.equal(memory.readU32(m1.addr + 8), 0x105000);
  assert.equal(text(memory, m1.addr + 16, m1.size - 16), 'extra.bin\0', 'no module cmdline: its path');
  const meminfo = tagOf(mbi, 4);
  assert.deepEqual([meminfo.size, memory.readU32(meminfo.addr + 8), memory.readU32(meminfo.addr + 12)], [16, 639, 64512]);
  const mmap = tagOf(mbi, 6);
  assert.deepEqual([memory.readU32(mmap.addr + 8), memory.readU32(mmap.addr + 12)], [24, 0], 'entry_size 24, version 0');
  const entries = [];
  for (let at = mmap.addr + 16; at < mmap.addr + mmap.size; at += 24) {
    entries.push({ addr: Number(memory.readU64(at)), size: Number(memory.readU64(at + 8)), type: memory.readU32(at + 16) });
    assert.equal(memory.readU32(at + 20), 0);
  }
  assert.deepEqual(entries, pcMemoryMap(memory));
  const fb = tagOf(mbi, 8);
  assert.equal(fb.size, 38);
  assert.equal(memory.readU64(fb.addr + 8), 0xfd000000n);
  assert.deepEqual([memory.readU32(fb.addr + 16), memory.readU32(fb.addr + 20), memory.readU32(fb.addr + 24)], [4096, 1024, 768]);
  assert.deepEqual([...memory.read(fb.addr + 28, 10)], [32, 1, 0, 0, 16, 8, 8, 8, 0, 8], 'bpp 32, RGB, reserved, R 16/8 G 8/8 B 0/8');
  const es = tagOf(mbi, 9);
  const [num, entsize, shndx] = [memory.readU32(es.addr + 8), memory.readU32(es.addr + 12), memory.readU32(es.addr + 16)];
  assert.deepEqual([num, entsize, es.size], [6, 40, 20 + 6 * 40], 'null, .seg0, .seg1, .symtab, .strtab, .shstrtab');
  assert.equal(shndx, 5);
  // .symtab (section 3) was not loaded by any segment: GRUB copies it into RAM and sets sh_addr; so do we.
  const symtabAddr = memory.readU32(es.addr + 20 + 3 * 40 + 12);
  assert.equal(symtabAddr, 0x106000, 'the first page after the modules');
  assert.deepEqual(memory.read(symtabAddr, 32), elf.bytes.subarray(elf.symtabOffset, elf.symtabOffset + 32));
  assert.equal(memory.readU32(es.addr + 20 + 1 * 40 + 12), 0x100000, 'a loaded section keeps its own address');
  const rsdp = layoutAcpi(1).tables['RSD PTR '].bytes;
  const old = tagOf(mbi, 14);
  assert.deepEqual([old.size, memory.read(old.addr + 8, 20)], [28, rsdp.subarray(0, 20)]);
  const fresh = tagOf(mbi, 15);
  assert.deepEqual([fresh.size, memory.read(fresh.addr + 8, 36)], [44, rsdp]);
  assert.equal(text(memory, fresh.addr + 8, 8), 'RSD PTR ');
  assert.deepEqual(memory.read(0xf0000, 36), rsdp, 'and the tables themselves are in the BIOS area');
  const base = tagOf(mbi, 21);
  assert.deepEqual([base.size, memory.readU32(base.addr + 8)], [12, 0x100000]);
});

test('multiboot2 framebuffer tag: no preference is 1024x768x32, a 16-bit request is RGB565, a size the display cannot show is 1024x768', () => {
  const fbTag = (words: number[]) => {
    const memory = dirtyMemory();
    const info = boot(mb2Elf([{ type: 5, words }]).bytes, [], memory)();
    const fb = tagOf(readMb2Info(memory, MB2_INFO_ADDR), 8);
    return { mode: info.framebuffer, pitch: memory.readU32(fb.addr + 16), fields: [...memory.read(fb.addr + 28, 10)] };
  };
  assert.deepEqual(fbTag([0, 0, 0]), { mode: { width: 1024, height: 768, bpp: 32 }, pitch: 4096, fields: [32, 1, 0, 0, 16, 8, 8, 8, 0, 8] });
  assert.deepEqual(fbTag([800, 600, 16]), { mode: { width: 800, height: 600, bpp: 16 }, pitch: 1600, fields: [16, 1, 0, 0, 11, 5, 5, 6, 0, 5] });
  assert.deepEqual(fbTag([8000, 6000, 32]).mode, { width: 1024, height: 768, bpp: 32 });
  assert.deepEqual(fbTag([640, 480, 8]).mode, { width: 640, height: 480, bpp: 32 }, 'indexed colour is not offered: 32 bpp');
});

test('multiboot2 without a framebuffer tag stays in VGA text mode and says so (framebuffer type 2, EGA text at 0xB8000)', () => {
  const memory = dirtyMemory();
  const info = boot(mb2Elf([]).bytes, [], memory)();
  assert.equal(info.framebuffer, undefined, 'no mode set');
  assert.match(info.description, /, VGA text$/);
  const fb = tagOf(readMb2Info(memory, MB2_INFO_ADDR), 8);
  assert.equal(fb.size, 32);
  assert.equal(memory.readU64(fb.addr + 8), 0xb8000n);
  assert.deepEqual([memory.readU32(fb.addr + 16), memory.readU32(fb.addr + 20), memory.readU32(fb.addr + 24), memory.readU8(fb.addr + 28), memory.readU8(fb.addr + 29)],
    [160, 80, 25, 16, 2]);
  // Console flags that refuse EGA text, and no framebuffer tag: no framebuffer information at all.
  const noText = dirtyMemory();
  boot(mb2Elf([{ type: 4, words: [0] }]).bytes, [], noText)();
  assert.ok(!readMb2Info(noText, MB2_INFO_ADDR).tags.some((t) => t.type === 8));
  expectBootError(boot(mb2Elf([{ type: 4, words: [1] }]).bytes), FILE,
    'requires a console (console flags tag, bit 0) but accepts neither EGA text (bit 1) nor a framebuffer');
});

test('multiboot2 address tag (the a.out-kludge layout): a flat binary loaded by the header\'s addresses, bss zeroed, entered at the entry tag', () => {
  // The header at file offset 8, to be at 0x200008: the file from offset 0 goes to 0x200000.
  const header = mb2Header([{ type: 2, words: [0x200008, 0x200000, 0x200200, 0x203000] }, { type: 3, words: [0x200100] }]);
  const file = concat(pattern(8, 5), header, pattern(0x300 - 8 - header.length, 6));
  const memory = dirtyMemory();
  const info = boot(file, [], memory)();
  assert.equal(info.protocol, 'multiboot2');
  assert.deepEqual([info.entry, info.imageStart, info.imageEnd], [0x200100, 0x200000, 0x203000]);
  assert.match(info.description, /^multiboot2 address tag, entry 0x200100, VGA text$/);
  assert.deepEqual(memory.read(0x200000, 0x200), file.subarray(0, 0x200), 'load_end_addr - load_addr bytes');
  assert.ok(memory.read(0x200200, 0x2e00).every((b) => b === 0), 'bss zeroed');
  const mbi = readMb2Info(memory, MB2_INFO_ADDR);
  assert.ok(!mbi.tags.some((t) => t.type === 9), 'no ELF sections for a flat binary');
  assert.equal(memory.readU32(tagOf(mbi, 21).addr + 8), 0x200000);
  // load_addr -1: from the file's first byte; load_end_addr 0: the whole file.
  const whole = mb2Header([{ type: 2, words: [0x300000, 0xffffffff, 0, 0] }, { type: 3, words: [0x300040] }]);
  const flat = concat(whole, pattern(0x100, 7));
  const m2 = dirtyMemory();
  assert.deepEqual([boot(flat, [], m2)().imageStart, m2.read(0x300000, flat.length)], [0x300000, flat]);
  expectBootError(boot(mb2Header([{ type: 2, words: [0x200000, 0x200000, 0, 0] }])), FILE,
    'multiboot2 header has an address tag but no entry address tag');
  expectBootError(boot(concat(mb2Header([{ type: 2, words: [0x200000, 0x200000, 0x201000, 0] }, { type: 3, words: [0x200010] }]), pattern(64))), FILE,
    'multiboot2 address tag: load_end_addr 0x201000 asks for 0x1000 bytes from file offset 0x0, past the end of the file');
  expectBootError(boot(concat(mb2Header([{ type: 2, words: [0x200000, 0x200000, 0, 0] }, { type: 3, words: [0x300000] }]), pattern(64))), FILE,
    'multiboot2 entry address 0x300000 is outside the loaded image [0x200000, 0x200080)');
});

test('bad multiboot2 headers: a wrong checksum, a misaligned or too distant magic are no header; broken lengths and tags are one sentence each', () => {
  const plainElf32 = 'is a 32-bit ELF with neither a multiboot header nor a PVH note';
  const noHeader = (kernel: Uint8Array) => expectBootError(boot(kernel), FILE, plainElf32);
  const badSum = buildElf({ bits: 32, entry: 0x100000, segments: [{ paddr: 0x100000, data: concat(mb2Header([], { badChecksum: true }), pattern(64)) }] });
  noHeader(badSum.bytes);
  const misaligned = buildElf({ bits: 32, entry: 0x100000, segments: [{ paddr: 0x100000, data: concat(pattern(4), mb2Header([]), pattern(64)) }] });
  noHeader(misaligned.bytes);
  const far = buildElf({ bits: 32, entry: 0x100000, segments: [{ paddr: 0x100000, data: concat(new Uint8Array(32768), mb2Header([]), pattern(64)) }] });
  noHeader(far.bytes);

  const fails = (tags: Mb2TagSpec[], ...parts: string[]) => expectBootError(boot(mb2Elf(tags).bytes), FILE, 'multiboot2 header (at offset 0x', ...parts);
  expectBootError(boot(mb2Header([], { arch: 4 })), FILE, 'is for MIPS (architecture 4); kvmdbg boots i386 (architecture 0) kernels');
  expectBootError(boot(mb2Header([], { lengthDelta: 64 })), FILE, 'has header_length 0x58, which runs past the end of the file (size 0x18)');
  expectBootError(boot(concat(mb2Header([{ type: 6 }], { noEnd: true }), pattern(32))), FILE, 'has no end tag (type 0, size 8) before its header_length ends');
  fails([{ type: 5, words: [1024, 768, 32], size: 4 }], 'tag 5 (framebuffer) at offset', 'has size 4; a tag is at least 8 bytes');
  fails([{ type: 5, words: [1024, 768, 32], size: 400 }], 'tag 5 (framebuffer)', 'has size 400, which runs past the header\'s end');
  fails([{ type: 5, words: [1024], size: 12 }], 'tag 5 (framebuffer)', 'has size 12; this tag is 20 bytes');
  fails([{ type: 1, words: [1], size: 10 }], 'has size 10, not a whole number of 4-byte requests');
});

test('a required tag kvmdbg cannot honour is refused in one sentence naming it; optional ones are ignored and said so', () => {
  const fails = (tags: Mb2TagSpec[], part: string) => expectBootError(boot(mb2Elf(tags).bytes), FILE, part);
  fails([{ type: 42, words: [7] }], 'has tag type 42 at offset 0x', );
  fails([{ type: 42, words: [7] }], 'which kvmdbg does not know, marked required (flags bit 0 clear); mark it optional (flags = 1) or drop it');
  fails([{ type: 9, words: [0x100100] }], 'requires the EFI amd64 entry address tag (9), which only a UEFI boot can honour; kvmdbg boots like GRUB on a BIOS PC');
  fails([{ type: 7 }], 'requires the EFI boot services tag (7)');
  fails([{ type: 1, words: [1, 10] }], 'multiboot2 header requires the APM table (information tag 10), which kvmdbg does not provide; mark the information request optional (flags = 1) to boot without it');
  fails([{ type: 1, words: [12] }], 'requires the EFI 64-bit system table (information tag 12)');
  fails([{ type: 1, words: [99] }], 'requires information tag 99, which kvmdbg does not know');
  fails([{ type: 4, words: [0] }, { type: 1, words: [8] }], 'requires the framebuffer information (information tag 8), which kvmdbg does not provide because its console flags refuse VGA text');
  fails([{ type: 10, words: [0x10000000, 0x10100000, 0x1000, 1] }],
    'multiboot2 relocatable tag allows [0x10000000, 0x10100000] aligned to 0x1000, but no RAM there above kvmdbg\'s boot area holds the 12 KiB image; widen the range or use a larger --memory');
  const info = boot(mb2Elf([{ type: 1, flags: 1, words: [10, 12, 99] }, { type: 42, flags: 1 }, { type: 9, flags: 1, words: [0x100100] },
    { type: 10, words: [0x100000, 0x800000, 0x1000, 0] }]).bytes)();
  assert.equal(info.description, 'multiboot2 ELF32, entry 0x100100, VGA text; ignored the optional unknown tag 42, EFI amd64 entry address tag');
});

test('a kernel with both a multiboot v1 and a multiboot2 header boots as multiboot2; the entry tag overrides the ELF entry', () => {
  const elf = mb2Elf([{ type: 3, words: [0x100120] }], concat(multibootHeader(3), new Uint8Array(4)));
  const info = boot(elf.bytes)();
  assert.deepEqual([info.protocol, info.entry], ['multiboot2', 0x100120]);
  assert.equal(boot(elf.bytes, [], dirtyMemory(), '')().cpu.regs.rax, 0x36d76289n);
  assert.equal(loadKernel({ kernelPath: FILE, kernel: elf.bytes, memory: dirtyMemory(), cmdline: '', modules: [], protocol: 'multiboot' }).protocol, 'multiboot');
});

test('the framebuffer is set "as if firmware did it": the dispi enabled in the mode the boot information names, linear, cleared', () => {
  const vram = new Uint8Array(16 * 2 ** 20).fill(0x55);
  const vbe = new BochsVbe({ vram });
  setFirmwareMode(vbe, { width: 1024, height: 768, bpp: 32 });
  assert.deepEqual(vbe.state.mode, { width: 1024, height: 768, bpp: 32, stride: 4096, offset: 0, dac8: false });
  assert.ok(vram.subarray(0, 1024 * 768 * 4).every((b) => b === 0), 'the visible screen is black');
  assert.equal(vbe.describe()[0][1], '1024x768x32, 4096 bytes a line');
});

test('kvmdbg demo fb is the framebuffer demo; any other word after demo is a usage error naming it', () => {
  const fb = parseCli(['demo', 'fb']);
  assert.ok(fb !== 'help');
  assert.deepEqual([fb.command, fb.demo], ['demo', 'fb']);
  const plain = parseCli(['demo']);
  assert.ok(plain !== 'help');
  assert.equal(plain.demo, undefined);
  assert.throws(() => parseCli(['demo', 'fx']), (e: Error) => e instanceof UsageError && e.message === "unexpected argument 'fx' (kvmdbg demo takes fb or nothing)");
  assert.throws(() => parseCli(['demo', 'fb', 'more']), /unexpected argument 'more'/);
  assert.throws(() => parseCli(['run', '--kernel', 'k', 'fb']), (e: Error) => e.message === "unexpected argument 'fb'");
});

test('modules: --module FILE[,CMDLINE] on the command line, "modules" in launch.json (strings or { path, cmdline }), after the initrd', () => {
  const a = parseCli(['run', '--kernel', 'k', '--module', 'a.bin', '--module', 'b.bin,b cmd, with commas']);
  assert.ok(a !== 'help');
  assert.deepEqual(a.modules, [{ path: 'a.bin' }, { path: 'b.bin', cmdline: 'b cmd, with commas' }]);
  assert.throws(() => parseCli(['run', '--kernel', 'k', '--module', ',x']), /--module ,x: expected FILE or FILE,CMDLINE/);
  const kernel = join(GUESTS, 'mb2.elf');
  const v = validateLaunchArgs({ kernel, initrd: kernel, modules: [kernel, `${kernel},one two`, { path: kernel, cmdline: 'three' }] });
  assert.deepEqual(v.config.modules, [{ path: kernel }, { path: kernel, cmdline: 'one two' }, { path: kernel, cmdline: 'three' }]);
  assert.equal(v.config.initrd, kernel);
  const bad = (modules: unknown, message: string) => assert.throws(() => validateLaunchArgs({ kernel, modules }), (e: Error) => e instanceof LaunchConfigError && e.message === message);
  bad('x', 'launch.json: "modules" must be a list like ["font.psf", "initrd.tar,root"], not "x"');
  bad(['/nonexistent/m'], 'launch.json: "modules"[0]: /nonexistent/m does not exist');
  bad([{ cmdline: 'x' }], 'launch.json: "modules"[0] needs a "path" (a string)');
  bad([{ path: kernel, cmdline: 3 }], 'launch.json: "modules"[0].cmdline must be a string');
  bad([''], 'launch.json: "modules"[0] is an empty path');
});

test('a higher-half ELF64 multiboot2 kernel (32-bit bootstrap, AT() physical addresses) is loaded by p_paddr and entered at the physical entry', () => {
  const text = concat(mb2Header([{ type: 5, words: [0, 0, 32] }]), pattern(300));
  const elf = buildElf({
    bits: 64,
    entry: 0xffffffff80100080n,
    segments: [{ paddr: 0x100000, vaddr: 0xffffffff80100000n, data: text, memsz: 0x3000 }],
  });
  const memory = dirtyMemory();
  const info = boot(elf.bytes, [], memory)();
  assert.deepEqual([info.protocol, info.entry, info.cpu.regs.rip, info.imageEnd], ['multiboot2', 0x100080, 0x100080n, 0x103000]);
  assert.match(info.description, /^multiboot2 ELF64, entry 0x100080, framebuffer 1024x768x32/);
  assert.deepEqual(memory.read(0x100000, text.length), text);
  const es = tagOf(readMb2Info(memory, MB2_INFO_ADDR), 9);
  assert.equal(memory.readU32(es.addr + 12), 64, 'ELF64 section headers are 64 bytes');
  assert.equal(memory.readU64(es.addr + 20 + 1 * 64 + 16), 0xffffffff80100000n, 'sh_addr kept as linked');
});

test('a relocatable multiboot2 kernel stays where it is linked when the tag allows it, else moves (lowest or highest allowed place), entry and load base with it', () => {
  const reloc = (words: number[], entryTag = false) => {
    const memory = dirtyMemory();
    const tags: Mb2TagSpec[] = [{ type: 10, words }, ...(entryTag ? [{ type: 3, words: [0x100120] }] : [])];
    const elf = mb2Elf(tags);
    const info = boot(elf.bytes, [{ path: 'm', data: pattern(10) }], memory)();
    const mbi = readMb2Info(memory, MB2_INFO_ADDR);
    const mod = tagOf(mbi, 3);
    return { info, base: memory.readU32(tagOf(mbi, 21).addr + 8), module: memory.readU32(mod.addr + 8), memory, elf };
  };
  const stay = reloc([0x100000, 0x800000, 0x1000, 1]);
  assert.deepEqual([stay.info.entry, stay.base, stay.info.description], [0x100100, 0x100000, 'multiboot2 ELF32, entry 0x100100, VGA text']);
  const low = reloc([0x400000, 0x800000, 0x200000, 1]);
  assert.deepEqual([low.info.imageStart, low.info.imageEnd, low.info.entry, low.base, low.module], [0x400000, 0x403000, 0x400100, 0x400000, 0x403000]);
  assert.equal(low.info.description, 'multiboot2 ELF32, relocated to 0x400000, entry 0x400100, VGA text');
  assert.deepEqual(low.memory.read(0x400000, 16), low.elf.bytes.subarray(low.elf.segmentOffsets[0], low.elf.segmentOffsets[0] + 16), 'the text moved whole');
  assert.deepEqual(low.memory.read(0x401000, 64), pattern(64, 3), 'and the data with it');
  const high = reloc([0x400000, 0x800000, 0x1000, 2], true);
  assert.deepEqual([high.info.imageStart, high.info.imageEnd, high.info.entry, high.base], [0x7fd000, 0x800000, 0x7fd120, 0x7fd000], 'ends at max_addr; the entry tag moves too');
  const flat = concat(mb2Header([{ type: 2, words: [0x200000, 0x200000, 0, 0x202000] }, { type: 3, words: [0x200040] }, { type: 10, words: [0x1000000, 0x2000000, 0x1000, 0] }]), pattern(0x100));
  const m = dirtyMemory();
  const info = boot(flat, [], m)();
  assert.deepEqual([info.imageStart, info.entry], [0x1000000, 0x1000040]);
  assert.deepEqual(m.read(0x1000000, flat.length), flat);
});

test('F5 in test/guests/demo: its launch.json names the built demos, valid kvm launch arguments; F5 without one would find fbdemo.elf as a multiboot kernel', () => {
  const demoDir = join(__dirname, '..', '..', '..', 'test', 'guests', 'demo');
  const text = readFileSync(join(demoDir, '.vscode', 'launch.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '');
  const { configurations } = JSON.parse(text) as { configurations: Record<string, unknown>[] };
  assert.deepEqual(configurations.map((c) => [c.type, c.request, c.kernel]), [
    ['kvm', 'launch', '${workspaceFolder}/../build/fbdemo.elf'], ['kvm', 'launch', '${workspaceFolder}/../build/demo.elf']]);
  for (const c of configurations) {
    const v = validateLaunchArgs({ ...c, kernel: (c.kernel as string).replace('${workspaceFolder}', demoDir) });
    assert.deepEqual(v.warnings, [], `${c.name}: no unknown attributes`);
    assert.equal(v.config.symbols, v.config.kernel, `${c.name}: the ELF is its own symbols (breakpoints in the C source)`);
  }
  const fbdemo = join(GUESTS, 'fbdemo.elf');
  assert.equal(classifyKernelFile(fbdemo, statSync(fbdemo).size), 'multiboot');
});
