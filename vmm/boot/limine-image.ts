/**
 * Loads a Limine kernel's PT_LOAD segments the way the protocol asks: the
 * whole image (lowest to highest virtual address, 4 KiB pages) physically
 * contiguous with one uniform virtual-to-physical offset, p_paddr ignored
 * (Limine kernels are linked at 0xffffffff80000000 with p_paddr equal to
 * p_vaddr, which is no physical address at all). kvmdbg places it at the
 * first suitably aligned address from 1 MiB. A relocatable kernel (ELF DYN)
 * linked lower is slid up to 0xffffffff80000000 first (limine-reloc.ts
 * applies its relocations).
 */
import { BootError } from './boot-state';
import { ElfFile, PT_LOAD } from './elf';
import { hex, memoryOption, size } from './format';
import { KERNEL_MIN_VADDR } from './limine-ids';
import { GuestMemory, PAGE_SIZE } from '../memory/guest-memory';
import { HIGH_MEMORY_START, isUsableRam, MemoryMapEntry } from '../memory/memory-map';

export const PF_X = 1;
export const PF_W = 2;
const ET_EXEC = 2;
const ET_DYN = 3;
const LARGE_ALIGN = 0x20_0000;
const TOP = 1n << 64n;

export interface KernelSegment {
  index: number;
  vaddr: bigint;
  memsz: number;
  flags: number;
}

export interface LimineImage {
  /** Virtual address of the image's first byte (lowest segment, page aligned) and where it is physically. */
  virtualBase: bigint;
  physicalBase: number;
  size: number;
  segments: KernelSegment[];
  /** What was added to a relocatable kernel's link-time addresses (0 for a fixed one). */
  slide: bigint;
}

export function loadLimineImage(elf: ElfFile, memory: GuestMemory, map: readonly MemoryMapEntry[]): LimineImage {
  const file = elf.file;
  const relocatable = elf.header.type === ET_DYN;
  if (!relocatable && elf.header.type !== ET_EXEC) throw new BootError(file, `is not an executable ELF (type ${elf.header.type}), so it cannot be booted`);
  const loads = elf.programHeaders.filter((ph) => ph.type === PT_LOAD && ph.memsz > 0n);
  const lowest = loads.reduce((m, ph) => (ph.vaddr < m ? ph.vaddr : m), TOP);
  // A relocatable kernel below the top 2 GiB slides up just far enough, as Limine does (no randomisation here).
  const slide = relocatable && lowest < KERNEL_MIN_VADDR ? KERNEL_MIN_VADDR - (lowest & ~BigInt(PAGE_SIZE - 1)) : 0n;
  const segments: KernelSegment[] = [];
  let align = PAGE_SIZE;
  for (const raw of loads) {
    const ph = { ...raw, vaddr: raw.vaddr + slide };
    if (BigInt(ph.filesz) > ph.memsz) {
      throw new BootError(file, `program header ${ph.index} has a file size (${hex(ph.filesz)}) larger than its memory size (${hex(ph.memsz)})`);
    }
    if (ph.vaddr + ph.memsz > TOP) throw new BootError(file, `segment ${ph.index} at ${hex(ph.vaddr)} (${hex(ph.memsz)} bytes) runs past the end of the address space`);
    if (ph.vaddr < KERNEL_MIN_VADDR) {
      throw new BootError(file, `segment ${ph.index} is linked at ${hex(ph.vaddr)}, below ${hex(KERNEL_MIN_VADDR)}; the Limine protocol loads kernels in the top 2 GiB: link it at 0xffffffff80000000 or above`);
    }
    if (ph.memsz > BigInt(memory.ramBytes)) throw new BootError(file, `segment ${ph.index} is ${size(Number(ph.memsz))}, more than the guest's ${size(memory.ramBytes)} of RAM`);
    // The physical base keeps large-page alignment when segments ask for it; more than 2 MiB is pointless (and hostile values are huge).
    if (ph.align > BigInt(align) && (ph.align & (ph.align - 1n)) === 0n) align = Number(ph.align > BigInt(LARGE_ALIGN) ? BigInt(LARGE_ALIGN) : ph.align);
    segments.push({ index: ph.index, vaddr: ph.vaddr, memsz: Number(ph.memsz), flags: ph.flags });
  }
  if (segments.length === 0) throw new BootError(file, 'has no loadable segments (no PT_LOAD program header with a size)');
  const sorted = [...segments].sort((a, b) => (a.vaddr < b.vaddr ? -1 : 1));
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1];
    if (sorted[i].vaddr < a.vaddr + BigInt(a.memsz)) throw new BootError(file, `segments ${a.index} and ${sorted[i].index} overlap in virtual memory (at ${hex(sorted[i].vaddr)})`);
  }
  const page = BigInt(PAGE_SIZE);
  const virtualBase = sorted[0].vaddr & ~(page - 1n);
  const last = sorted[sorted.length - 1];
  const end = (last.vaddr + BigInt(last.memsz) + page - 1n) & ~(page - 1n);
  if (end - virtualBase > BigInt(memory.ramBytes)) {
    throw new BootError(file, `spans ${size(Number(end - virtualBase))} of virtual memory (${hex(virtualBase)} to ${hex(end)}), more than the guest's ${size(memory.ramBytes)} of RAM; Limine loads the whole span contiguously`);
  }
  const imageSize = Number(end - virtualBase);
  const physicalBase = Math.ceil(HIGH_MEMORY_START / align) * align;
  if (!isUsableRam(map, physicalBase, imageSize)) {
    throw new BootError(file, `the kernel image (${size(imageSize)}) does not fit in guest RAM from ${hex(physicalBase)}; use --memory ${memoryOption((physicalBase + imageSize) * 1.25)}`);
  }
  memory.fill(physicalBase, imageSize);
  for (const s of segments) {
    const ph = elf.programHeaders[s.index];
    memory.write(physicalBase + Number(s.vaddr - virtualBase), elf.segmentData(ph));
  }
  return { virtualBase, physicalBase, size: imageSize, segments, slide };
}

/** The physical address of a virtual address inside the image, or undefined outside it. */
export function imagePhysical(image: LimineImage, vaddr: bigint, length = 1): number | undefined {
  if (vaddr < image.virtualBase || vaddr - image.virtualBase + BigInt(length) > BigInt(image.size)) return undefined;
  return image.physicalBase + Number(vaddr - image.virtualBase);
}
