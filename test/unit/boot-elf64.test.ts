import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadKernel } from '../../vmm/boot/detect';
import { SI } from '../../vmm/boot/start-info';
import { PAGE_TABLES_ADDR } from '../../vmm/boot/layout';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { buildElf, pattern } from './helpers/elf-builder';
import { walk } from './helpers/page-walk';
import { assertDescriptorMatches, dirtyMemory, expectBootError } from './helpers/boot-check';

const FILE = 'kernel64.elf';
const MiB = 2 ** 20;
const GiB = 2 ** 30;

function highHalfKernel() {
  return buildElf({
    bits: 64,
    entry: 0xffffffff80100020n,
    segments: [
      { paddr: 0x100000, vaddr: 0xffffffff80100000n, data: pattern(4096), memsz: 0x3000 },
      { paddr: 0x400000, vaddr: 0xffffffff80400000n, data: pattern(64, 2), memsz: 0x300000 },
    ],
  });
}

test('ELF64 in long mode: registers, control registers, segments', () => {
  const memory = dirtyMemory();
  const info = loadKernel({ kernelPath: FILE, kernel: highHalfKernel().bytes, memory, cmdline: 'hello', modules: [{ path: 'initrd', data: pattern(100) }] });
  assert.equal(info.protocol, 'elf64');
  assert.equal(info.entry, 0x100020, 'BootInfo.entry is the physical entry');
  assert.match(info.description, /entry 0xffffffff80100020 \(physical 0x100020\)/);
  const { regs, sregs } = info.cpu;
  assert.equal(regs.rip, 0xffffffff80100020n);
  assert.equal(regs.rsi, 0n);
  assert.equal(regs.rflags, 0x2n);
  assert.equal(Number(regs.rsp) % 16, 0);
  assert.ok(regs.rsp! > 0x1000n && regs.rsp! <= 0x6000n);
  assert.equal(sregs.cr0 & 0x80000001n, 0x80000001n, 'PE and PG');
  assert.equal(sregs.cr0 & 0x30n, 0x30n, 'ET and NE');
  assert.equal(sregs.cr4 & 0x20n, 0x20n, 'PAE');
  assert.equal(sregs.cr4 & 0x600n, 0x600n, 'OSFXSR and OSXMMEXCPT');
  assert.equal(sregs.efer & 0x500n, 0x500n, 'LME and LMA');
  assert.equal(sregs.cr3, BigInt(PAGE_TABLES_ADDR));
  assert.equal(sregs.cs.l, true);
  assert.equal(sregs.cs.db, false);
  for (const s of [sregs.cs, sregs.ds, sregs.es, sregs.ss, sregs.tr!]) assertDescriptorMatches(memory, sregs.gdt!.base, s);

  // RDI: an hvm_start_info block exactly as PVH builds it.
  const si = Number(regs.rdi);
  assert.equal(memory.readU32(si + SI.magic), 0x336ec578);
  assert.equal(memory.readCString(Number(memory.readU64(si + SI.cmdlinePaddr))), 'hello');
  assert.equal(memory.readU32(si + SI.nrModules), 1);
  assert.equal(memory.readU32(si + SI.memmapEntries), 4);
  const mod = Number(memory.readU64(Number(memory.readU64(si + SI.modlistPaddr))));
  assert.ok(mod >= 0x700000, 'module after the end of the kernel image');
});

test('ELF64 page tables: identity map of 4 GiB and the high-half kernel, walked from CR3', () => {
  const memory = dirtyMemory(64 * MiB);
  const info = loadKernel({ kernelPath: FILE, kernel: highHalfKernel().bytes, memory, cmdline: '', modules: [] });
  const cr3 = info.cpu.sregs.cr3;
  for (const a of [0, 0x1234, 0x6000, 0x100000, 64 * MiB - 1, GiB + 5, 3 * GiB, 0xfee00000, 4 * GiB - 1]) {
    assert.equal(walk(memory, cr3, BigInt(a)), a, `identity ${a.toString(16)}`);
  }
  assert.equal(walk(memory, cr3, BigInt(4 * GiB)), undefined, 'nothing above 4 GiB when RAM ends below it');
  assert.equal(walk(memory, cr3, 0xffffffff80100020n), 0x100020);
  assert.equal(walk(memory, cr3, 0xffffffff80102fffn), 0x102fff);
  assert.equal(walk(memory, cr3, 0xffffffff80400000n + 0x2fffffn), 0x6fffff);
  assert.equal(walk(memory, cr3, 0xffffffff7fe00000n), undefined);
  assert.equal(walk(memory, cr3, 0xffff800000000000n), undefined);
  assert.deepEqual(memory.read(walk(memory, cr3, 0xffffffff80100000n)!, 4096), pattern(4096), 'the kernel bytes are where its virtual address points');
});

test('ELF64 page tables cover RAM above 4 GiB', () => {
  const buffer = new SharedArrayBuffer(24 * MiB);
  const memory = new GuestMemory(buffer, [{ guestPhys: 0, size: 16 * MiB, offset: 0 }, { guestPhys: 4 * GiB, size: 8 * MiB, offset: 16 * MiB }]);
  const elf = buildElf({ bits: 64, entry: 0x100000, segments: [{ paddr: 0x100000, data: pattern(32) }] });
  const info = loadKernel({ kernelPath: FILE, kernel: elf.bytes, memory, cmdline: '', modules: [] });
  const cr3 = info.cpu.sregs.cr3;
  assert.equal(walk(memory, cr3, 0x100000n), 0x100000);
  assert.equal(walk(memory, cr3, BigInt(4 * GiB + 5 * MiB)), 4 * GiB + 5 * MiB);
  assert.equal(walk(memory, cr3, BigInt(5 * GiB - 1)), 5 * GiB - 1, 'mapped up to the next GiB');
  assert.equal(walk(memory, cr3, BigInt(5 * GiB)), undefined);
  assert.equal(info.description, 'x86-64 ELF64 in long mode, entry 0x100000');
});

test('ELF64 problems: one sentence each', () => {
  const memory = (): GuestMemory => GuestMemory.allocate(32 * MiB);
  const boot = (spec: Parameters<typeof buildElf>[0], protocol?: 'elf64') => () =>
    loadKernel({ kernelPath: FILE, kernel: buildElf(spec).bytes, memory: memory(), cmdline: '', modules: [], protocol });
  expectBootError(boot({ bits: 64, entry: 0xffffffff80101000n, segments: [{ paddr: 0x100000, vaddr: 0xffffffff80101000n, data: pattern(16) }] }),
    FILE, 'not a multiple of 2 MiB');
  expectBootError(boot({ bits: 64, entry: 0x200000, segments: [{ paddr: 0x100000, vaddr: 0x200000, data: pattern(16) }] }),
    FILE, 'is linked inside the identity-mapped first 4 GiB at a different physical address');
  expectBootError(boot({ bits: 64, entry: 0x800000000000n, segments: [{ paddr: 0x200000, vaddr: 0x800000000000n, data: pattern(16) }] }),
    FILE, 'is not at a canonical x86-64 address');
  expectBootError(boot({ bits: 64, entry: 0xffffffff90000000n, segments: [{ paddr: 0x100000, vaddr: 0xffffffff80100000n, data: pattern(16) }] }),
    FILE, 'entry point 0xffffffff90000000 is not inside any loaded segment');
  expectBootError(boot({ bits: 64, entry: 0xffffffff80100000n, segments: [{ paddr: 0xffffffff80100000n, data: pattern(16) }] }),
    FILE, 'segment 0 at [0xffffffff80100000, 0xffffffff80100010) is not in guest RAM', 'AT()');
  expectBootError(boot({ bits: 64, entry: 0xffffffff80000000n, segments: [
    { paddr: 0x200000, vaddr: 0xffffffff80000000n, data: pattern(16) },
    { paddr: 0x500000, vaddr: 0xffffffff80000000n + 0x100000n, data: pattern(16) },
  ] }), FILE, 'is already mapped to physical 0x200000, not 0x400000');
  expectBootError(boot({ bits: 32, entry: 0x100000, segments: [{ paddr: 0x100000, data: pattern(16) }] }, 'elf64'),
    FILE, 'is an ELF32 for i386 (machine 3), not an x86-64 ELF64');
});
