/**
 * The multiboot v1 information structure kvmdbg hands over in EBX: memory
 * sizes, command line, modules, the e820 memory map and the loader name.
 */
import { BOOT_INFO_ADDR, BOOT_INFO_MAX, BootStrings, MEMMAP_ADDR, MEMMAP_END, MODLIST_ADDR, MODLIST_END, PlacedModule } from './layout';
import { BootError } from './boot-state';
import { GuestMemory } from '../memory/guest-memory';
import { EBDA_START, highMemoryEntry, MemoryMapEntry } from '../memory/memory-map';

export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
export const MULTIBOOT_LOADER_NAME = 'kvmdbg';

/** multiboot_info.flags bits. */
export const MBI_MEMORY = 1 << 0;
export const MBI_CMDLINE = 1 << 2;
export const MBI_MODS = 1 << 3;
export const MBI_MMAP = 1 << 6;
export const MBI_LOADER_NAME = 1 << 9;

/** Field offsets of struct multiboot_info. */
export const MBI = {
  flags: 0, memLower: 4, memUpper: 8, bootDevice: 12, cmdline: 16, modsCount: 20, modsAddr: 24,
  mmapLength: 44, mmapAddr: 48, bootLoaderName: 64,
} as const;
export const MBI_SIZE = 116;
export const MB_MODULE_SIZE = 16;
/** An mmap entry: a 4-byte size (of the rest, 20) then base, length, type. */
export const MB_MMAP_ENTRY_SIZE = 24;

export interface MultibootInfoInput {
  kernelPath: string;
  cmdlineAddr: number;
  modules: readonly PlacedModule[];
  map: readonly MemoryMapEntry[];
  strings: BootStrings;
}

export function writeMultibootInfo(memory: GuestMemory, input: MultibootInfoInput): number {
  const { modules, map } = input;
  if (MODLIST_ADDR + modules.length * MB_MODULE_SIZE > MODLIST_END
    || MEMMAP_ADDR + map.length * MB_MMAP_ENTRY_SIZE > MEMMAP_END) {
    throw new BootError(input.kernelPath, 'too many modules or memory map entries for the multiboot information area');
  }
  modules.forEach((m, i) => {
    const e = MODLIST_ADDR + i * MB_MODULE_SIZE;
    memory.writeU32(e, m.addr);
    memory.writeU32(e + 4, m.addr + m.size);
    memory.writeU32(e + 8, input.strings.put(m.cmdline ?? m.path, m.path, 'the module command line'));
    memory.writeU32(e + 12, 0);
  });
  map.forEach((m, i) => {
    const e = MEMMAP_ADDR + i * MB_MMAP_ENTRY_SIZE;
    memory.writeU32(e, MB_MMAP_ENTRY_SIZE - 4);
    memory.writeU64(e + 4, m.addr);
    memory.writeU64(e + 12, m.size);
    memory.writeU32(e + 20, m.type);
  });
  const high = highMemoryEntry(map);
  const b = BOOT_INFO_ADDR;
  memory.fill(b, BOOT_INFO_MAX);
  memory.writeU32(b + MBI.flags, MBI_MEMORY | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME);
  memory.writeU32(b + MBI.memLower, EBDA_START / 1024);
  memory.writeU32(b + MBI.memUpper, high ? Math.floor(high.size / 1024) : 0);
  memory.writeU32(b + MBI.cmdline, input.cmdlineAddr);
  memory.writeU32(b + MBI.modsCount, modules.length);
  memory.writeU32(b + MBI.modsAddr, modules.length ? MODLIST_ADDR : 0);
  memory.writeU32(b + MBI.mmapLength, map.length * MB_MMAP_ENTRY_SIZE);
  memory.writeU32(b + MBI.mmapAddr, MEMMAP_ADDR);
  memory.writeU32(b + MBI.bootLoaderName, input.strings.put(MULTIBOOT_LOADER_NAME, input.kernelPath, 'the boot loader name'));
  return b;
}
