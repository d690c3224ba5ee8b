import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadKernel, LoadKernelRequest } from '../../vmm/boot/detect';
import { HDR } from '../../vmm/boot/linux-header';
import { BP, E820_ENTRY_SIZE, ZERO_PAGE_ADDR } from '../../vmm/boot/zero-page';
import { GDT_ADDR } from '../../vmm/boot/layout';
import { pcMemoryMap } from '../../vmm/memory/memory-map';
import { ACPI_BASE } from '../../vmm/acpi/tables';
import { pattern } from './helpers/elf-builder';
import { assertDescriptorMatches, dirtyMemory, expectBootError } from './helpers/boot-check';
import { walk } from './helpers/page-walk';

const FILE = 'bzImage';
const MiB = 2 ** 20;

interface BzSpec {
  setupSects?: number; version?: number; loadflags?: number; xloadflags?: number; relocatable?: boolean;
  pref?: number; initSize?: number; initrdAddrMax?: number; cmdlineSize?: number; pmSize?: number; bootFlag?: number;
}

/** A synthesized bzImage: the setup header as Linux 6.1 writes it, then a patterned "protected-mode kernel". */
function bzImage(s: BzSpec = {}): Uint8Array {
  const sects = s.setupSects ?? 3;
  const setup = (sects + 1) * 512;
  const pm = s.pmSize ?? 0x3000;
  const img = new Uint8Array(setup + pm);
  const v = new DataView(img.buffer);
  img[HDR.setupSects] = sects;
  v.setUint32(HDR.syssize, pm / 16, true);
  v.setUint16(HDR.bootFlag, s.bootFlag ?? 0xaa55, true);
  img[HDR.jump] = 0xeb;
  img[HDR.jump + 1] = 0x6a; // header ends at 0x26c
  img.set(Buffer.from('HdrS'), HDR.magic);
  v.setUint16(HDR.version, s.version ?? 0x20f, true);
  img[HDR.loadflags] = s.loadflags ?? 0x01;
  v.setUint32(HDR.code32Start, 0x100000, true);
  v.setUint32(HDR.initrdAddrMax, s.initrdAddrMax ?? 0x7fffffff, true);
  v.setUint32(HDR.kernelAlignment, 0x200000, true);
  img[HDR.relocatableKernel] = s.relocatable === false ? 0 : 1;
  v.setUint16(HDR.xloadflags, s.xloadflags ?? 0x7f, true);
  v.setUint32(HDR.cmdlineSize, s.cmdlineSize ?? 2047, true);
  v.setBigUint64(HDR.prefAddress, BigInt(s.pref ?? 0x1000000), true);
  v.setUint32(HDR.initSize, s.initSize ?? 0x400000, true);
  img.set(pattern(pm, 7), setup);
  return img;
}

function boot(kernel: Uint8Array, extra: Partial<LoadKernelRequest> = {}, memory = dirtyMemory(64 * MiB)) {
  const info = loadKernel({ kernelPath: FILE, kernel, memory, cmdline: 'console=ttyS0', modules: [], ...extra });
  return { info, memory };
}

test('a bzImage boots at its 64-bit entry with the zero page in RSI', () => {
  const kernel = bzImage();
  const initrd = { path: 'initrd.cpio', data: pattern(10000, 3) };
  const { info, memory } = boot(kernel, { modules: [initrd] });
  assert.equal(info.protocol, 'linux');
  const load = 0x1000000; // pref_address: relocatable, aligned, fits
  assert.equal(info.entry, load + 0x200);
  assert.deepEqual(memory.read(load, 0x3000), kernel.subarray(4 * 512));
  const { regs, sregs } = info.cpu;
  assert.equal(regs.rip, BigInt(load + 0x200));
  assert.equal(regs.rsi, BigInt(ZERO_PAGE_ADDR));
  assert.equal(regs.rflags, 2n, 'interrupts off');
  assert.equal(sregs.cs.selector, 0x10, '__BOOT_CS');
  assert.ok(sregs.cs.l, '64-bit code');
  for (const s of [sregs.ds, sregs.es, sregs.ss]) assert.equal(s.selector, 0x18, '__BOOT_DS');
  for (const s of [sregs.cs, sregs.ds, sregs.ss, sregs.tr!]) assertDescriptorMatches(memory, BigInt(GDT_ADDR), s);
  for (const a of [0, load + 0x200, ZERO_PAGE_ADDR, 63 * MiB, 0xffff_f000]) assert.equal(walk(memory, sregs.cr3, BigInt(a)), a, `identity map at ${a}`);

  const zp = ZERO_PAGE_ADDR;
  assert.equal(memory.readU32(zp + HDR.magic), 0x53726448, 'setup header copied');
  assert.equal(memory.readU16(zp + HDR.version), 0x20f);
  assert.equal(memory.readU8(zp + HDR.typeOfLoader), 0xff);
  assert.equal(memory.readU8(zp + HDR.loadflags), 0x81, 'LOADED_HIGH | CAN_USE_HEAP');
  assert.equal(memory.readU16(zp + HDR.heapEndPtr), 0xde00);
  assert.equal(memory.readU32(zp + HDR.code32Start), load);
  assert.equal(memory.readCString(memory.readU32(zp + HDR.cmdLinePtr)), 'console=ttyS0');
  assert.equal(memory.readU64(zp + BP.acpiRsdpAddr), BigInt(ACPI_BASE));
  assert.equal(memory.read(zp + 0x26c, 0x290 - 0x26c).every((b) => b === 0), true, 'nothing past the header end copied');

  const rd = memory.readU32(zp + HDR.ramdiskImage);
  assert.equal(memory.readU32(zp + HDR.ramdiskSize), 10000);
  assert.equal(rd % 4096, 0, 'page-aligned');
  assert.equal(rd, 64 * MiB - 3 * 4096, 'as high as RAM allows');
  assert.deepEqual(memory.read(rd, 10000), initrd.data);
  assert.equal(memory.readU32(zp + BP.extRamdiskImage), 0);

  const map = pcMemoryMap(memory);
  assert.equal(memory.readU8(zp + BP.e820Entries), map.length);
  map.forEach((e, i) => {
    const o = zp + BP.e820Table + i * E820_ENTRY_SIZE;
    assert.deepEqual([memory.readU64(o), memory.readU64(o + 8), memory.readU32(o + 16)], [BigInt(e.addr), BigInt(e.size), e.type]);
  });
  assert.match(info.description, /^Linux bzImage, boot protocol 2\.15, 64-bit entry 0x1000200, initrd 9\.8 KiB at 0x3ffd000$/);
});

test('load address: pref_address when it fits, else 1 MiB; initrd under initrd_addr_max', () => {
  assert.equal(boot(bzImage({ initSize: 60 * MiB })).info.entry, 0x100200, 'pref_address + init_size beyond RAM');
  assert.equal(boot(bzImage({ relocatable: false })).info.entry, 0x100200, 'not relocatable');
  assert.equal(boot(bzImage({ pref: 0x1100000 })).info.entry, 0x100200, 'pref_address not aligned to kernel_alignment');
  const { memory } = boot(bzImage({ initrdAddrMax: 0x2ffffff }), { modules: [{ path: 'i', data: pattern(5000) }] });
  assert.equal(memory.readU32(ZERO_PAGE_ADDR + HDR.ramdiskImage), 0x3000000 - 0x2000);
  // A kernel at 1 MiB gets its protected-mode bytes there, not the setup code.
  const k = bzImage({ relocatable: false });
  const m = boot(k).memory;
  assert.deepEqual(m.read(0x100000, 16), k.subarray(4 * 512, 4 * 512 + 16));
});

test('bad bzImages: one sentence each', () => {
  const noMagic = bzImage();
  noMagic.set(Buffer.from('XXXX'), HDR.magic);
  expectBootError(() => boot(noMagic, { protocol: 'linux' }), FILE, /^bzImage: is not a Linux bzImage \(no "HdrS" at 0x202\)/);
  expectBootError(() => boot(bzImage({ version: 0x209 })), FILE, /^bzImage: uses Linux boot protocol 2\.09; kvmdbg needs 2\.10 or newer/);
  expectBootError(() => boot(bzImage().slice(0, 0x240)), FILE, 'is truncated: 576 bytes, too short for the setup header');
  expectBootError(() => boot(bzImage().slice(0, 0x2000)), FILE, /is truncated: 8 KiB, but its header says the kernel after the 2048-byte setup code is 12 KiB/);
  expectBootError(() => boot(bzImage().slice(0, 4 * 512)), FILE, 'is truncated');
  expectBootError(() => boot(bzImage({ xloadflags: 0 })), FILE, 'has no 64-bit entry point (XLF_KERNEL_64 clear');
  expectBootError(() => boot(bzImage({ loadflags: 0 })), FILE, 'is a zImage loaded low (LOADED_HIGH clear)');
  expectBootError(() => boot(bzImage({ bootFlag: 0x1234 })), FILE, 'has no boot flag 0xaa55 at 0x1fe (found 0x1234)');
  expectBootError(() => boot(bzImage({ relocatable: false, initSize: 100 * MiB })), FILE,
    /^bzImage: needs 100 MiB of RAM from 0x100000 to decompress and boot \(init_size\), more than the 64 MiB of guest RAM allow; use --memory 256M$/);
  expectBootError(() => boot(bzImage({ cmdlineSize: 8 })), FILE, 'command line is 13 bytes; this kernel accepts at most 8 (cmdline_size)');
  expectBootError(() => boot(bzImage(), { modules: [{ path: 'big.cpio', data: new Uint8Array(50 * MiB) }] }), 'big.cpio',
    /^big\.cpio: the initrd \(50 MiB\) does not fit in 64 MiB of guest RAM above the kernel, which needs up to 0x1400000; use --memory 128M$/);
  expectBootError(() => boot(bzImage({ initrdAddrMax: 0x14fffff }), { modules: [{ path: 'i', data: new Uint8Array(2 * MiB) }] }), 'i',
    "does not fit below the kernel's initrd_addr_max (0x14fffff)");
  expectBootError(() => boot(bzImage(), { modules: [{ path: 'empty', data: new Uint8Array() }] }), 'empty', 'is empty');
  expectBootError(() => boot(bzImage(), { modules: [{ path: 'a', data: new Uint8Array(1) }, { path: 'b', data: new Uint8Array(1) }] }), 'b',
    'a Linux kernel takes one initrd');
});

test('every truncation of a bzImage is a BootError, never a crash', () => {
  const k = bzImage();
  for (let n = 1; n < k.length; n += 97) {
    assert.throws(() => boot(k.slice(0, n), { protocol: 'linux' }), (e: Error) => e.name === 'BootError' && !e.message.includes('internal error'), `length ${n}`);
  }
});
