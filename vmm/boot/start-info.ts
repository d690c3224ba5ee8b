/**
 * The Xen hvm_start_info block (version 1), with its module list and
 * memory map: what a PVH kernel gets in EBX, and what kvmdbg's direct
 * 64-bit entry passes in RDI. Layout per xen/include/public/arch-x86/hvm/start_info.h.
 */
import { BootError } from './boot-state';
import { BOOT_INFO_ADDR, BootStrings, MEMMAP_ADDR, MEMMAP_END, MODLIST_ADDR, MODLIST_END, PlacedModule } from './layout';
import { GuestMemory } from '../memory/guest-memory';
import { MemoryMapEntry } from '../memory/memory-map';

export const HVM_START_MAGIC = 0x336ec578;
export const HVM_START_VERSION = 1;
export const HVM_START_INFO_SIZE = 56;
export const HVM_MODLIST_ENTRY_SIZE = 32;
export const HVM_MEMMAP_ENTRY_SIZE = 24;

/** Field offsets of struct hvm_start_info. */
export const SI = {
  magic: 0, version: 4, flags: 8, nrModules: 12, modlistPaddr: 16, cmdlinePaddr: 24,
  rsdpPaddr: 32, memmapPaddr: 40, memmapEntries: 48, reserved: 52,
} as const;

export interface StartInfoInput {
  kernelPath: string;
  cmdlineAddr: number;
  modules: readonly PlacedModule[];
  map: readonly MemoryMapEntry[];
  strings: BootStrings;
  /** Where the ACPI RSDP is (0: none); Linux's PVH entry reads it from here. */
  rsdpAddr?: number;
}

/** Writes start_info at BOOT_INFO_ADDR and returns that address. */
export function writeStartInfo(memory: GuestMemory, input: StartInfoInput): number {
  const { modules, map } = input;
  if (MODLIST_ADDR + modules.length * HVM_MODLIST_ENTRY_SIZE > MODLIST_END) {
    throw new BootError(input.kernelPath, `${modules.length} modules do not fit in the PVH module list`);
  }
  if (MEMMAP_ADDR + map.length * HVM_MEMMAP_ENTRY_SIZE > MEMMAP_END) {
    throw new BootError(input.kernelPath, `the memory map (${map.length} entries) does not fit in the PVH memory map area`);
  }
  modules.forEach((m, i) => {
    const e = MODLIST_ADDR + i * HVM_MODLIST_ENTRY_SIZE;
    const cmdline = m.cmdline === undefined ? 0 : input.strings.put(m.cmdline, m.path, 'the module command line');
    memory.writeU64(e, m.addr);
    memory.writeU64(e + 8, m.size);
    memory.writeU64(e + 16, cmdline);
    memory.writeU64(e + 24, 0);
  });
  map.forEach((m, i) => {
    const e = MEMMAP_ADDR + i * HVM_MEMMAP_ENTRY_SIZE;
    memory.writeU64(e, m.addr);
    memory.writeU64(e + 8, m.size);
    memory.writeU32(e + 16, m.type);
    memory.writeU32(e + 20, 0);
  });
  const s = BOOT_INFO_ADDR;
  memory.fill(s, HVM_START_INFO_SIZE);
  memory.writeU32(s + SI.magic, HVM_START_MAGIC);
  memory.writeU32(s + SI.version, HVM_START_VERSION);
  memory.writeU32(s + SI.flags, 0);
  memory.writeU32(s + SI.nrModules, modules.length);
  memory.writeU64(s + SI.modlistPaddr, modules.length ? MODLIST_ADDR : 0);
  memory.writeU64(s + SI.cmdlinePaddr, input.cmdlineAddr);
  memory.writeU64(s + SI.rsdpPaddr, input.rsdpAddr ?? 0);
  memory.writeU64(s + SI.memmapPaddr, MEMMAP_ADDR);
  memory.writeU32(s + SI.memmapEntries, map.length);
  return s;
}
