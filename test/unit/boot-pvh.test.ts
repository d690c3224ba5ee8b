import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadKernel } from '../../vmm/boot/detect';
import { SI } from '../../vmm/boot/start-info';
import { ACPI_BASE } from '../../vmm/acpi/tables';
import { TSS_ADDR } from '../../vmm/boot/layout';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { buildElf, concat, multibootHeader, pattern, pvhNote } from './helpers/elf-builder';
import { assertDescriptorMatches, dirtyMemory, expectBootError } from './helpers/boot-check';

const FILE = 'vmlinux';
const MiB = 2 ** 20;

function pvhKernel(bits: 32 | 64, width: 4 | 8 = 4, extra: Uint8Array = new Uint8Array()) {
  return buildElf({
    bits,
    entry: bits === 64 ? 0xffffffff81000000n : 0xc1000000,
    segments: [
      { paddr: 0x1000000, vaddr: bits === 64 ? 0xffffffff81000000n : 0xc1000000, data: concat(extra, pattern(300)), memsz: 0x1000 },
      { paddr: 0x1200000, vaddr: bits === 64 ? 0xffffffff81200000n : 0xc1200000, data: pattern(40, 2), memsz: 0x10000 },
    ],
    notes: [{ name: 'GNU', type: 1, desc: new Uint8Array(16) }, pvhNote(0x1000040, width)],
  });
}

for (const [bits, width] of [[32, 4], [64, 8], [64, 4]] as const) {
  test(`PVH ELF${bits} with a ${width}-byte entry note: CPU state per the PVH ABI`, () => {
    const memory = dirtyMemory();
    const info = loadKernel({ kernelPath: FILE, kernel: pvhKernel(bits, width).bytes, memory, cmdline: 'console=hvc0', modules: [] });
    assert.equal(info.protocol, 'pvh');
    assert.equal(info.entry, 0x1000040);
    assert.equal(info.imageStart, 0x1000000);
    assert.equal(info.imageEnd, 0x1210000);
    assert.deepEqual(memory.read(0x1000000, 300), pattern(300));
    assert.ok(memory.read(0x1000000 + 300, 0x1000 - 300).every((b) => b === 0));
    assert.ok(memory.read(0x1200000 + 40, 0x10000 - 40).every((b) => b === 0));
    const { regs, sregs } = info.cpu;
    assert.equal(regs.rip, 0x1000040n);
    assert.equal(regs.rbx, 0x6000n);
    assert.equal(regs.rflags, 0x2n);
    assert.equal(sregs.cs.selector, 0x10);
    assert.equal(sregs.cs.type, 0xb);
    assert.equal(sregs.cs.db, true);
    assert.equal(sregs.cs.l, false);
    for (const s of [sregs.ds, sregs.es, sregs.ss]) assert.equal(s.selector, 0x18);
    for (const s of [sregs.cs, sregs.ds, sregs.es, sregs.fs, sregs.gs, sregs.ss, sregs.tr!]) assertDescriptorMatches(memory, sregs.gdt!.base, s);
    assert.equal(sregs.tr!.selector, 0x20);
    assert.equal(sregs.tr!.type, 0xb, 'busy 32-bit TSS');
    assert.equal(sregs.tr!.s, false);
    assert.equal(sregs.tr!.base, 0n, 'the PVH ABI: TSS base 0, limit 0x67');
    assert.equal(TSS_ADDR, 0);
    assert.equal(sregs.tr!.limit, 0x67);
    assert.equal(memory.readU16(TSS_ADDR + 0x66), 0x68, 'no I/O bitmap');
    assert.equal(sregs.cr0 & 0x80000001n, 1n, 'PE on, PG off');
    assert.equal(sregs.cr4, 0n);
    assert.equal(sregs.efer, 0n);
  });
}

test('hvm_start_info: version 1 fields, module list, memory map', () => {
  const memory = dirtyMemory(128 * MiB);
  const modules = [
    { path: 'initrd.img', data: pattern(10000, 7) },
    { path: 'second.mod', data: pattern(3, 8), cmdline: 'arg=1' },
  ];
  const info = loadKernel({ kernelPath: FILE, kernel: pvhKernel(64).bytes, memory, cmdline: 'console=hvc0 quiet', modules });
  const s = Number(info.cpu.regs.rbx);
  assert.equal(memory.readU32(s + SI.magic), 0x336ec578);
  assert.equal(memory.readU32(s + SI.version), 1);
  assert.equal(memory.readU32(s + SI.flags), 0);
  assert.equal(memory.readU32(s + SI.nrModules), 2);
  assert.equal(memory.readU64(s + SI.rsdpPaddr), BigInt(ACPI_BASE), 'Linux\'s PVH entry finds the ACPI tables through rsdp_paddr');
  assert.equal(Buffer.from(memory.read(ACPI_BASE, 8)).toString('latin1'), 'RSD PTR ');
  assert.equal(memory.readCString(Number(memory.readU64(s + SI.cmdlinePaddr))), 'console=hvc0 quiet');

  const mods = Number(memory.readU64(s + SI.modlistPaddr));
  const m0 = Number(memory.readU64(mods));
  assert.equal(m0 % 4096, 0);
  assert.ok(m0 >= info.imageEnd);
  assert.equal(memory.readU64(mods + 8), 10000n);
  assert.equal(memory.readU64(mods + 16), 0n, 'no cmdline: 0');
  assert.deepEqual(memory.read(m0, 10000), modules[0].data);
  const m1 = Number(memory.readU64(mods + 32));
  assert.equal(m1, m0 + 12288);
  assert.equal(memory.readU64(mods + 40), 3n);
  assert.equal(memory.readCString(Number(memory.readU64(mods + 48))), 'arg=1');
  assert.deepEqual(memory.read(m1, 3), modules[1].data);

  const map = Number(memory.readU64(s + SI.memmapPaddr));
  const n = memory.readU32(s + SI.memmapEntries);
  const entries = Array.from({ length: n }, (_, i) => [
    Number(memory.readU64(map + i * 24)), Number(memory.readU64(map + i * 24 + 8)), memory.readU32(map + i * 24 + 16),
  ]);
  assert.deepEqual(entries, [[0, 0x9fc00, 1], [0x9fc00, 0x400, 2], [0xf0000, 0x10000, 2], [0x100000, 127 * MiB, 1]]);
});

test('a PVH note wins over a multiboot header', () => {
  const info = loadKernel({ kernelPath: FILE, kernel: pvhKernel(32, 4, multibootHeader(3)).bytes, memory: dirtyMemory(), cmdline: '', modules: [] });
  assert.equal(info.protocol, 'pvh');
});

test('PVH problems: one sentence each', () => {
  const memory = (): GuestMemory => GuestMemory.allocate(32 * MiB);
  const boot = (kernel: Uint8Array, protocol?: 'pvh') => () => loadKernel({ kernelPath: FILE, kernel, memory: memory(), cmdline: '', modules: [], protocol });
  const withNote = (desc: Uint8Array, entry = 0x1000040) => buildElf({
    bits: 64, entry, segments: [{ paddr: 0x1000000, data: pattern(256) }], notes: [{ name: 'Xen', type: 18, desc }],
  }).bytes;
  expectBootError(boot(withNote(new Uint8Array(2))), FILE, 'has a 2-byte value; expected 4 or 8 bytes');
  expectBootError(boot(withNote(Uint8Array.of(0, 0, 0, 0, 1, 0, 0, 0))), FILE, 'gives 0x100000000, which is not a 32-bit physical address');
  expectBootError(boot(withNote(Uint8Array.of(0, 0, 0, 2))), FILE, 'PVH entry point 0x2000000 is not inside any loaded segment');
  const noNote = buildElf({ bits: 64, entry: 0x1000000, segments: [{ paddr: 0x1000000, data: pattern(16) }] }).bytes;
  expectBootError(boot(noNote, 'pvh'), FILE, 'has no Xen PVH entry note');
  expectBootError(boot(pattern(100), 'pvh'), FILE, 'is not an ELF file, so it has no PVH note');
  const arm = buildElf({ bits: 64, machine: 183, entry: 0x1000000, segments: [{ paddr: 0x1000000, data: pattern(16) }], notes: [pvhNote(0x1000000)] }).bytes;
  expectBootError(boot(arm, 'pvh'), FILE, 'is an ELF for AArch64 (machine 183); kvmdbg boots x86 kernels');
  // A note that claims more bytes than its segment holds.
  const b = pvhKernel(64);
  const bytes = b.bytes.slice();
  new DataView(bytes.buffer).setUint32(b.noteOffset + 4, 0x10000, true);
  expectBootError(boot(bytes), FILE, 'note segment (program header 2)', 'extends past the end of its');
});
