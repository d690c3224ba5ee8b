/**
 * struct boot_params, "the zero page" (arch/x86/include/uapi/asm/bootparam.h):
 * what a Linux kernel entered at its 64-bit entry finds in RSI. It starts
 * as zeros plus the kernel's own setup header, then the loader fills in
 * what it decided: where the command line and initrd are, the e820 map,
 * the RSDP.
 */
import { BootError } from './boot-state';
import { CAN_USE_HEAP, HDR, LinuxHeader, SETUP_HEADER_START } from './linux-header';
import { GuestMemory, PAGE_SIZE } from '../memory/guest-memory';
import { MemoryMapEntry } from '../memory/memory-map';

/** A page layout.ts leaves free, between the memory map area (0x7000) and the strings (0x20000). */
export const ZERO_PAGE_ADDR = 0x8000;

/** Offsets in struct boot_params. */
export const BP = {
  acpiRsdpAddr: 0x070, extRamdiskImage: 0x0c0, extRamdiskSize: 0x0c4, extCmdLinePtr: 0x0c8,
  e820Entries: 0x1e8, e820Table: 0x2d0,
} as const;
export const E820_ENTRY_SIZE = 20;
/** E820_MAX_ENTRIES_ZEROPAGE */
export const E820_MAX = 128;

/** The loader's type for "undefined/other", as kvmtool and Firecracker report themselves. */
export const LOADER_TYPE_UNDEFINED = 0xff;
/** heap_end_ptr for a modern bzImage per boot.rst (heap end 0xe000, minus 0x200); only the unused 16-bit setup code reads it. */
export const HEAP_END_PTR = 0xe000 - 0x200;

export interface ZeroPageInput {
  kernelPath: string;
  /** The bzImage: its setup header is copied in verbatim first. */
  kernel: Uint8Array;
  header: LinuxHeader;
  loadAddr: number;
  cmdlineAddr: number;
  initrd?: { addr: number; size: number };
  map: readonly MemoryMapEntry[];
  rsdpAddr: number;
}

export function writeZeroPage(memory: GuestMemory, z: ZeroPageInput): number {
  const at = ZERO_PAGE_ADDR;
  if (z.map.length > E820_MAX) throw new BootError(z.kernelPath, `the memory map has ${z.map.length} entries; the zero page holds ${E820_MAX}`);
  memory.fill(at, PAGE_SIZE);
  memory.write(at + SETUP_HEADER_START, z.kernel.subarray(SETUP_HEADER_START, z.header.headerEnd));
  const u32 = (off: number, v: number) => memory.writeU32(at + off, v);
  memory.writeU8(at + HDR.typeOfLoader, LOADER_TYPE_UNDEFINED);
  memory.writeU8(at + HDR.loadflags, z.header.loadflags | CAN_USE_HEAP);
  memory.writeU16(at + HDR.heapEndPtr, HEAP_END_PTR);
  u32(HDR.code32Start, z.loadAddr);
  u32(HDR.cmdLinePtr, z.cmdlineAddr);
  const image = z.initrd?.addr ?? 0;
  const length = z.initrd?.size ?? 0;
  u32(HDR.ramdiskImage, image % 2 ** 32);
  u32(HDR.ramdiskSize, length % 2 ** 32);
  u32(BP.extRamdiskImage, Math.floor(image / 2 ** 32));
  u32(BP.extRamdiskSize, Math.floor(length / 2 ** 32));
  memory.writeU64(at + BP.acpiRsdpAddr, z.rsdpAddr);
  memory.writeU8(at + BP.e820Entries, z.map.length);
  z.map.forEach((e, i) => {
    const o = at + BP.e820Table + i * E820_ENTRY_SIZE;
    memory.writeU64(o, e.addr);
    memory.writeU64(o + 8, e.size);
    memory.writeU32(o + 16, e.type);
  });
  return at;
}
