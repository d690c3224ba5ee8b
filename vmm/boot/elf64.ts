/**
 * Direct 64-bit entry for an x86-64 ELF with no PVH note and no multiboot
 * header: kvmdbg loads the segments by p_paddr and starts the CPU already in
 * long mode, the way a boot loader would leave it.
 *
 * kvmdbg's convention for this entry (no standard covers it):
 * - paging on: the first max(4 GiB, all RAM) identity-mapped with 2 MiB
 *   pages, plus each segment linked elsewhere (p_vaddr != p_paddr, e.g. a
 *   kernel at 0xffffffff80000000 loaded at 1 MiB) mapped from its p_vaddr
 *   to its p_paddr; CR3 = the PML4 at PAGE_TABLES_ADDR.
 * - CS = 0x08 (64-bit), DS/ES/FS/GS/SS = 0x18, TR = 0x20, our GDT at 0x500;
 *   CR0 = PE|ET|NE|PG, CR4 = PAE|OSFXSR|OSXMMEXCPT (SSE works), EFER = LME|LMA.
 * - RIP = e_entry (virtual), RSP = BOOT_STACK_TOP (16-byte aligned, 20 KiB below it),
 *   RFLAGS = 0x2 (interrupts off).
 * - RDI = physical address of an hvm_start_info block, exactly as PVH
 *   builds it (command line, memory map, modules, the ACPI RSDP), RSI = 0.
 */
import { BootError, BootInfo } from './boot-state';
import { longModeState } from './cpu';
import { ELFCLASS64, EM_X86_64, ElfFile, machineName } from './elf';
import { hex, size } from './format';
import { placeModules, putCmdline } from './layout';
import { loadElfSegments, LoadedSegment, physicalEntry } from './load-elf';
import { LoadKernelOptions } from './options';
import { alignDown2M, alignUp2M, isCanonical, LARGE_PAGE, PageTables } from './page-tables';
import { prepareBoot } from './prepare';
import { writeStartInfo } from './start-info';
import { writeAcpiTables } from '../acpi/tables';
import { FOUR_GIB, GuestMemory } from '../memory/guest-memory';

const GIB = 2 ** 30;

export function loadElf64(opts: LoadKernelOptions, parsed?: ElfFile): BootInfo {
  const { kernelPath, memory } = opts;
  const elf = parsed ?? new ElfFile(kernelPath, opts.kernel);
  if (elf.data[4] !== ELFCLASS64 || elf.header.machine !== EM_X86_64) {
    throw new BootError(kernelPath, `is an ELF${elf.bits} for ${machineName(elf.header.machine)}, not an x86-64 ELF64, so it cannot be entered in long mode directly`);
  }
  const ctx = prepareBoot(kernelPath, memory);
  const image = loadElfSegments(elf, memory, ctx.map);
  const entry = elf.header.entry;
  const segment = image.segments.find((s) => entry >= s.vaddr && entry < s.vaddr + BigInt(s.memsz));
  if (!segment) throw new BootError(kernelPath, `entry point ${hex(entry)} is not inside any loaded segment`);
  const tables = buildPageTables(kernelPath, memory, image.segments);
  const modules = placeModules(memory, image.end, opts.modules);
  const cmdlineAddr = putCmdline(ctx.strings, kernelPath, opts.cmdline);
  const rsdpAddr = writeAcpiTables(memory, opts.cpus ?? 1, opts.virtio ?? []);
  const startInfo = writeStartInfo(memory, { kernelPath, cmdlineAddr, modules, map: ctx.map, strings: ctx.strings, rsdpAddr });
  const physEntry = physicalEntry(kernelPath, image, entry);
  return {
    protocol: 'elf64',
    cpu: longModeState(entry, tables.pml4, { rdi: BigInt(startInfo), rsi: 0n }),
    imageStart: image.start,
    imageEnd: image.end,
    entry: physEntry,
    description: `x86-64 ELF64 in long mode, entry ${hex(entry)}${BigInt(physEntry) === entry ? '' : ` (physical ${hex(physEntry)})`}`,
  };
}

function buildPageTables(file: string, memory: GuestMemory, segments: readonly LoadedSegment[]): PageTables {
  const tables = new PageTables(memory, file);
  const identityEnd = Math.ceil(Math.max(FOUR_GIB, memory.topOfRam) / GIB) * GIB;
  tables.mapRange(0n, 0, identityEnd, `the identity map of the first ${size(identityEnd)}`);
  for (const s of segments) {
    if (s.vaddr === BigInt(s.paddr)) continue;
    const what = `segment ${s.index} (virtual ${hex(s.vaddr)}, physical ${hex(s.paddr)})`;
    const vend = s.vaddr + BigInt(s.memsz);
    if (!isCanonical(s.vaddr) || !isCanonical(vend - 1n) || (s.vaddr >> 47n) !== ((vend - 1n) >> 47n)) {
      throw new BootError(file, `${what} is not at a canonical x86-64 address`);
    }
    if (s.vaddr < BigInt(identityEnd)) {
      throw new BootError(file, `${what} is linked inside the identity-mapped first ${size(identityEnd)} at a different physical address; link it at its physical address or in the upper half`);
    }
    if (BigInt.asUintN(64, s.vaddr - BigInt(s.paddr)) % BigInt(LARGE_PAGE) !== 0n) {
      throw new BootError(file, `${what}: virtual and physical addresses differ by an amount that is not a multiple of 2 MiB, which kvmdbg's 2 MiB-page mapping needs`);
    }
    const vstart = alignDown2M(s.vaddr);
    const pstart = s.paddr - Number(s.vaddr - vstart);
    tables.mapRange(vstart, pstart, Number(alignUp2M(vend) - vstart), what);
  }
  return tables;
}
