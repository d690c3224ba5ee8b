/**
 * Copies an ELF's PT_LOAD segments into guest memory at their physical
 * addresses (p_paddr) and zeroes their bss: the part multiboot, PVH and the
 * direct 64-bit entry share. Every segment is checked to be RAM, clear of
 * the boot structures and of the other segments before anything is written.
 */
import { BootError } from './boot-state';
import { ElfFile, PT_LOAD } from './elf';
import { hex } from './format';
import { checkImageRange, notInRam } from './layout';
import { GuestMemory } from '../memory/guest-memory';
import { MemoryMapEntry } from '../memory/memory-map';

export interface LoadedSegment {
  index: number;
  paddr: number;
  vaddr: bigint;
  memsz: number;
}

export interface LoadedImage {
  start: number;
  end: number;
  segments: LoadedSegment[];
}

const MAX_ADDR = BigInt(Number.MAX_SAFE_INTEGER);

export function loadElfSegments(elf: ElfFile, memory: GuestMemory, map: readonly MemoryMapEntry[]): LoadedImage {
  const file = elf.file;
  const segments: LoadedSegment[] = [];
  for (const ph of elf.programHeaders) {
    if (ph.type !== PT_LOAD || ph.memsz === 0n) continue;
    if (BigInt(ph.filesz) > ph.memsz) {
      throw new BootError(file, `program header ${ph.index} has a file size (${hex(ph.filesz)}) larger than its memory size (${hex(ph.memsz)})`);
    }
    if (ph.paddr > MAX_ADDR || ph.memsz > MAX_ADDR || ph.paddr + ph.memsz > BigInt(memory.topOfRam)) {
      throw notInRam(file, memory, `segment ${ph.index}`, ph.paddr, ph.paddr + ph.memsz);
    }
    const paddr = Number(ph.paddr);
    const memsz = Number(ph.memsz);
    checkImageRange(file, memory, map, `segment ${ph.index}`, paddr, memsz);
    segments.push({ index: ph.index, paddr, vaddr: ph.vaddr, memsz });
  }
  if (segments.length === 0) throw new BootError(file, 'has no loadable segments (no PT_LOAD program header with a size)');
  const sorted = [...segments].sort((a, b) => a.paddr - b.paddr);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1];
    const b = sorted[i];
    if (b.paddr < a.paddr + a.memsz) {
      throw new BootError(file, `segments ${a.index} and ${b.index} overlap in physical memory (at ${hex(b.paddr)})`);
    }
  }
  for (const s of segments) {
    const ph = elf.programHeaders[s.index];
    memory.write(s.paddr, elf.segmentData(ph));
    memory.fill(s.paddr + ph.filesz, s.memsz - ph.filesz);
  }
  const last = sorted[sorted.length - 1];
  return { start: sorted[0].paddr, end: last.paddr + last.memsz, segments };
}

/**
 * The physical address of a (virtual or physical) entry point: inside a
 * segment's virtual range it is translated to the segment's physical
 * address, as GRUB does; else it must already be inside a physical range.
 */
export function physicalEntry(file: string, image: LoadedImage, entry: bigint, what = 'entry point'): number {
  for (const s of image.segments) {
    if (entry >= s.vaddr && entry < s.vaddr + BigInt(s.memsz)) return s.paddr + Number(entry - s.vaddr);
  }
  for (const s of image.segments) {
    if (entry >= BigInt(s.paddr) && entry < BigInt(s.paddr + s.memsz)) return Number(entry);
  }
  throw new BootError(file, `${what} ${hex(entry)} is not inside any loaded segment`);
}
