/**
 * The multiboot2 relocatable tag, as GRUB honours it: the kernel says it
 * runs anywhere from min_addr to max_addr (where its image must end, as
 * GRUB reads it) at the given alignment, with a
 * preference for low or high addresses. kvmdbg loads it where it is linked
 * when that place is allowed (the load base tag says where it went either
 * way); otherwise the whole image moves by one offset, to the lowest (or,
 * preferring high, the highest) allowed place in RAM clear of the boot area.
 * An ELF moves by shifting its segments' physical addresses (a copy of its
 * program headers, the file itself untouched); its entry moves with them.
 */
import { BootError } from './boot-state';
import { ElfFile, PT_LOAD } from './elf';
import { hex, size as sizeText } from './format';
import { alignUp, BOOT_AREA_END } from './layout';
import type { Mb2Relocatable } from './multiboot2-header';
import { E820_RAM, isUsableRam, MemoryMapEntry } from '../memory/memory-map';
import { FOUR_GIB } from '../memory/guest-memory';

export const MB2_PREFER_HIGH = 2;

/** How far the image [start, end) must move (0: it stays where it is linked). */
export function relocationDelta(file: string, r: Mb2Relocatable | undefined, start: number, end: number,
  map: readonly MemoryMapEntry[]): number {
  if (!r) return 0;
  const size = end - start;
  const align = Math.max(1, r.align);
  const allowed = (base: number): boolean => base >= r.minAddr && base + size <= r.maxAddr && base % align === 0
    && base >= BOOT_AREA_END && base + size <= FOUR_GIB && isUsableRam(map, base, size);
  if (allowed(start)) return 0;
  const ram = map.filter((e) => e.type === E820_RAM);
  if (r.preference === MB2_PREFER_HIGH) ram.reverse();
  for (const e of ram) {
    const lo = alignUp(Math.max(e.addr, r.minAddr, BOOT_AREA_END), align);
    const hi = Math.floor((Math.min(e.addr + e.size, r.maxAddr, FOUR_GIB) - size) / align) * align;
    if (lo > hi) continue;
    return (r.preference === MB2_PREFER_HIGH ? hi : lo) - start;
  }
  throw new BootError(file, `multiboot2 relocatable tag allows [${hex(r.minAddr)}, ${hex(r.maxAddr)}] aligned to ${hex(align)}, but no RAM there above kvmdbg's boot area holds the ${sizeText(size)} image; widen the range or use a larger --memory`);
}

/** The physical extent of an ELF's loadable segments, as loadElfSegments will place them. */
export function elfExtent(elf: ElfFile): { start: number; end: number } | undefined {
  const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD && p.memsz > 0n);
  if (loads.length === 0) return undefined;
  const start = loads.reduce((m, p) => (p.paddr < m ? p.paddr : m), loads[0].paddr);
  const end = loads.reduce((m, p) => (p.paddr + p.memsz > m ? p.paddr + p.memsz : m), 0n);
  if (end > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return { start: Number(start), end: Number(end) };
}

/** The same ELF with every PT_LOAD's p_paddr moved by `delta` (a copy; undefined for 0). */
export function shiftedElf(elf: ElfFile, kernel: Uint8Array, delta: number): ElfFile | undefined {
  if (delta === 0) return undefined;
  const bytes = kernel.slice();
  const view = new DataView(bytes.buffer);
  const { phoff, phentsize } = elf.header;
  for (const p of elf.programHeaders) {
    if (p.type !== PT_LOAD) continue;
    const at = phoff + p.index * phentsize + (elf.bits === 64 ? 24 : 12);
    if (elf.bits === 64) view.setBigUint64(at, BigInt.asUintN(64, p.paddr + BigInt(delta)), true);
    else view.setUint32(at, Number(BigInt.asUintN(32, p.paddr + BigInt(delta))), true);
  }
  return new ElfFile(elf.file, bytes);
}
