/**
 * Where kvmdbg puts its boot structures in guest physical memory, in one
 * place. Everything lives below BOOT_AREA_END in conventional memory, so a
 * kernel linked at or above 1 MiB never collides with it; modules (the
 * initrd first) go page-aligned after the kernel image.
 *
 *   0x00000  TSS (104 bytes, zeroed: the PVH ABI wants TR's base at 0; no BIOS, so no IVT there)
 *   0x00500  GDT (6 slots)
 *   0x01000  boot stack (grows down from 0x6000)
 *   0x06000  boot info: multiboot info or hvm_start_info
 *   0x06100  module list            0x07000  memory map
 *   0x20000  strings: kernel command line, module command lines, loader name
 *   0x30000  page tables (long mode), up to 0x90000
 */
import { BootError } from './boot-state';
import { hex, memoryOption, size } from './format';
import { GuestMemory, MMIO_HOLE_START, PAGE_SIZE } from '../memory/guest-memory';
import { isUsableRam, MemoryMapEntry } from '../memory/memory-map';

export const GDT_ADDR = 0x500;
export const TSS_ADDR = 0;
export const TSS_LIMIT = 0x67;
export const BOOT_STACK_BOTTOM = 0x1000;
export const BOOT_STACK_TOP = 0x6000;
export const BOOT_INFO_ADDR = 0x6000;
export const BOOT_INFO_MAX = 0x100;
export const MODLIST_ADDR = 0x6100;
export const MODLIST_END = 0x7000;
export const MEMMAP_ADDR = 0x7000;
export const MEMMAP_END = 0x8000;
export const STRINGS_ADDR = 0x20000;
export const STRINGS_END = 0x30000;
/** The kernel command line, NUL included, may not exceed this. */
export const CMDLINE_MAX = 4096;
export const PAGE_TABLES_ADDR = 0x30000;
export const PAGE_TABLES_END = 0x90000;
/** Everything kvmdbg writes for booting lies in [0, BOOT_AREA_END). */
export const BOOT_AREA_END = 0x90000;
/** Module count the module list area holds (32-byte PVH entries). */
export const MAX_MODULES = (MODLIST_END - MODLIST_ADDR) / 32;

export interface BootModule {
  path: string;
  data: Uint8Array;
  cmdline?: string;
}

/** A module after placement: where its bytes now are in guest memory. */
export interface PlacedModule {
  path: string;
  addr: number;
  size: number;
  cmdline?: string;
}

export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** Fails unless the boot area is guest RAM (a guest smaller than ~600 KiB cannot boot). */
export function checkBootArea(kernelPath: string, memory: GuestMemory): void {
  if (!memory.contains(0, BOOT_AREA_END)) {
    throw new BootError(kernelPath, `cannot boot in ${size(memory.ramBytes)} of guest RAM: kvmdbg needs the first ${size(BOOT_AREA_END)} for boot structures and the kernel above 1 MiB; use --memory 64M or more`);
  }
}

/**
 * Fails unless [addr, addr+length) is RAM in the map and clear of the boot
 * area; `what` names the piece ("segment 1", "the a.out image").
 */
export function checkImageRange(kernelPath: string, memory: GuestMemory, map: readonly MemoryMapEntry[],
  what: string, addr: number, length: number): void {
  if (addr < BOOT_AREA_END) {
    throw new BootError(kernelPath, `${what} at [${hex(addr)}, ${hex(addr + length)}) overlaps kvmdbg's boot structures at [0x0, ${hex(BOOT_AREA_END)}); link the kernel at or above 1 MiB`);
  }
  if (!isUsableRam(map, addr, length)) throw notInRam(kernelPath, memory, what, BigInt(addr), BigInt(addr) + BigInt(length));
}

/** "segment 0 at [a, b) is not in guest RAM (...)": one wording for every out-of-RAM image piece. */
export function notInRam(kernelPath: string, memory: GuestMemory, what: string, start: bigint, end: bigint): BootError {
  const above = memory.regions.length > 1 ? ' and above 4 GiB' : '';
  return new BootError(kernelPath, `${what} at [${hex(start)}, ${hex(end)}) is not in guest RAM (${size(memory.ramBytes)}, usable from 0x100000 to ${hex(lowRamEnd(memory))}${above}); load it inside RAM (check the linker script's AT() physical addresses) or use a larger --memory`);
}

export function lowRamEnd(memory: GuestMemory): number {
  const r = memory.regions[0];
  return r.guestPhys + r.size;
}

/**
 * Copies the modules into guest memory page-aligned after `imageEnd`, in low
 * RAM (every protocol here passes 32-bit module addresses).
 */
export function placeModules(memory: GuestMemory, imageEnd: number, modules: readonly BootModule[]): PlacedModule[] {
  if (modules.length > MAX_MODULES) {
    throw new BootError(modules[MAX_MODULES].path, `is module ${MAX_MODULES + 1}; kvmdbg passes at most ${MAX_MODULES} modules`);
  }
  const end = lowRamEnd(memory);
  let next = alignUp(Math.max(imageEnd, BOOT_AREA_END), PAGE_SIZE);
  const placed: PlacedModule[] = [];
  for (const m of modules) {
    const addr = next;
    if (addr + m.data.length > end) {
      const needed = modules.reduce((n, x) => alignUp(n, PAGE_SIZE) + x.data.length, alignUp(imageEnd, PAGE_SIZE));
      const where = end >= MMIO_HOLE_START
        ? `below the 3 GiB PCI hole after the kernel (modules need 32-bit addresses)`
        : `in ${size(memory.ramBytes)} of guest RAM after the kernel; use --memory ${memoryOption(needed * 1.25)}`;
      throw new BootError(m.path, `the module (${size(m.data.length)}) does not fit ${where}`);
    }
    memory.write(addr, m.data);
    placed.push({ path: m.path, addr, size: m.data.length, cmdline: m.cmdline });
    next = alignUp(addr + m.data.length, PAGE_SIZE);
  }
  return placed;
}

/** Bump allocator for NUL-terminated strings in [STRINGS_ADDR, STRINGS_END). */
export class BootStrings {
  private next = STRINGS_ADDR;

  constructor(private readonly memory: GuestMemory) {}

  /** Writes s (UTF-8) with its NUL; returns its guest address. */
  put(s: string, file: string, what: string): number {
    const bytes = Buffer.byteLength(s, 'utf8') + 1;
    if (this.next + bytes > STRINGS_END) {
      throw new BootError(file, `${what} (${size(bytes)}) does not fit in the ${size(STRINGS_END - STRINGS_ADDR)} kvmdbg reserves for boot strings`);
    }
    const addr = this.next;
    this.memory.writeCString(addr, s);
    this.next += bytes;
    return addr;
  }
}

/** Writes the kernel command line first in the string area (after checking CMDLINE_MAX). */
export function putCmdline(strings: BootStrings, kernelPath: string, cmdline: string): number {
  const bytes = Buffer.byteLength(cmdline, 'utf8') + 1;
  if (bytes > CMDLINE_MAX) {
    throw new BootError(kernelPath, `command line is ${bytes - 1} bytes; kvmdbg passes at most ${CMDLINE_MAX - 1}`);
  }
  if (cmdline.includes('\0')) throw new BootError(kernelPath, 'command line contains a NUL character');
  return strings.put(cmdline, kernelPath, 'the command line');
}
