/**
 * The PC physical memory map as e820-style entries, the one source every
 * boot protocol reports to the guest (multiboot mmap, PVH memmap, Linux
 * e820). The legacy holes are reported even though our RAM slot covers
 * them, because kernels expect the EBDA and BIOS area to be off limits.
 */
import { FOUR_GIB, GuestMemory } from './guest-memory';

/** e820 types, which PVH's hvm_memmap_table_entry and multiboot share. */
export const E820_RAM = 1;
export const E820_RESERVED = 2;
export const E820_ACPI = 3;
export const E820_NVS = 4;
export const E820_UNUSABLE = 5;

export interface MemoryMapEntry {
  addr: number;
  size: number;
  type: number;
}

/** Extended BIOS data area: the last KiB below 640 KiB. */
export const EBDA_START = 0x9fc00;
export const EBDA_END = 0xa0000;
/** System BIOS ROM area. */
export const BIOS_START = 0xf0000;
export const BIOS_END = 0x100000;
/** First byte of "upper" memory (multiboot's mem_upper counts from here). */
export const HIGH_MEMORY_START = 0x100000;

/** The e820 map for `memory`, sorted by address, no overlaps. */
export function pcMemoryMap(memory: GuestMemory): MemoryMapEntry[] {
  const map: MemoryMapEntry[] = [];
  const ram = (start: number, end: number): void => {
    if (end > start) map.push({ addr: start, size: end - start, type: E820_RAM });
  };
  for (const r of memory.regions) {
    const end = r.guestPhys + r.size;
    if (r.guestPhys < FOUR_GIB) {
      ram(r.guestPhys, Math.min(end, EBDA_START));
      if (r.guestPhys <= EBDA_START) {
        map.push({ addr: EBDA_START, size: EBDA_END - EBDA_START, type: E820_RESERVED });
        map.push({ addr: BIOS_START, size: BIOS_END - BIOS_START, type: E820_RESERVED });
      }
      ram(Math.max(r.guestPhys, HIGH_MEMORY_START), end);
    } else {
      ram(r.guestPhys, end);
    }
  }
  return map.sort((a, b) => a.addr - b.addr);
}

/** True when [addr, addr+size) lies inside one RAM entry of `map`. */
export function isUsableRam(map: readonly MemoryMapEntry[], addr: number, size: number): boolean {
  if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(size) || addr < 0 || size < 0) return false;
  return map.some((e) => e.type === E820_RAM && addr >= e.addr && addr + size <= e.addr + e.size);
}

/** The RAM entry that starts at 1 MiB (the kernel's home), if any. */
export function highMemoryEntry(map: readonly MemoryMapEntry[]): MemoryMapEntry | undefined {
  return map.find((e) => e.type === E820_RAM && e.addr === HIGH_MEMORY_START);
}
