/**
 * Multiboot v1 (the GRUB legacy protocol hobby kernels use): an ELF kernel
 * is loaded by its segments' physical addresses; with the a.out kludge
 * (header flag 16) the header's address fields say where the file goes,
 * which also boots flat binaries. Entry: EAX = 0x2BADB002, EBX = the info
 * block, 32-bit protected mode, flat segments, paging off, IF clear. The
 * spec lets the OS expect nothing of the GDT, but ours holds the segments
 * we load, so an early reload of a selector does not fault.
 */
import { BootError, BootInfo } from './boot-state';
import { protectedModeState } from './cpu';
import { EM_386, EM_X86_64, ElfFile, machineName } from './elf';
import { hex } from './format';
import { checkImageRange, placeModules, putCmdline } from './layout';
import { loadElfSegments, LoadedImage, physicalEntry } from './load-elf';
import { findMultibootHeader, MBH_VIDEO_MODE, MultibootHeader } from './multiboot-header';
import { MULTIBOOT_BOOTLOADER_MAGIC, writeMultibootInfo } from './multiboot-info';
import { LoadKernelOptions } from './options';
import { BootContext, prepareBoot } from './prepare';
import { FOUR_GIB, GuestMemory } from '../memory/guest-memory';
import { writeAcpiTables } from '../acpi/tables';

export function loadMultiboot(opts: LoadKernelOptions, header?: MultibootHeader, parsed?: ElfFile): BootInfo {
  const { kernelPath, kernel, memory } = opts;
  const h = header ?? findMultibootHeader(kernelPath, kernel);
  if (!h) throw new BootError(kernelPath, `has no multiboot header (magic 0x1BADB002 with a valid checksum) in its first 8 KiB`);
  const ctx = prepareBoot(kernelPath, memory);
  let image: LoadedImage;
  let entry: number;
  let kind: string;
  if (h.aout) {
    ({ image, entry } = loadAout(kernelPath, kernel, memory, ctx, h));
    kind = 'a.out kludge';
  } else {
    if (!ElfFile.isElf(kernel)) {
      throw new BootError(kernelPath, 'has a multiboot header without the a.out kludge (flag 16) but is not an ELF file, so kvmdbg cannot tell where to load it');
    }
    const elf = parsed ?? new ElfFile(kernelPath, kernel);
    if (elf.header.machine !== EM_386 && elf.header.machine !== EM_X86_64) {
      throw new BootError(kernelPath, `is an ELF for ${machineName(elf.header.machine)}; kvmdbg boots x86 kernels`);
    }
    image = loadElfSegments(elf, memory, ctx.map);
    entry = physicalEntry(kernelPath, image, elf.header.entry);
    if (entry >= FOUR_GIB) throw new BootError(kernelPath, `entry point ${hex(entry)} is above 4 GiB, out of reach of multiboot's 32-bit entry`);
    kind = `ELF${elf.bits}`;
  }
  const modules = placeModules(memory, image.end, opts.modules);
  const cmdlineAddr = putCmdline(ctx.strings, kernelPath, opts.cmdline);
  // Multiboot v1 passes no RSDP, but kernels find it by scanning the BIOS area.
  writeAcpiTables(memory, opts.cpus ?? 1, opts.virtio ?? []);
  const info = writeMultibootInfo(memory, { kernelPath, cmdlineAddr, modules, map: ctx.map, strings: ctx.strings });
  const video = h.flags & MBH_VIDEO_MODE ? ' (video mode request ignored: text console only)' : '';
  return {
    protocol: 'multiboot',
    cpu: protectedModeState(entry, { rax: BigInt(MULTIBOOT_BOOTLOADER_MAGIC), rbx: BigInt(info) }),
    imageStart: image.start,
    imageEnd: image.end,
    entry,
    description: `multiboot v1 ${kind}, entry ${hex(entry)}${video}`,
  };
}

/** The a.out kludge: file bytes from the header's position back to load_addr go to load_addr. */
function loadAout(file: string, kernel: Uint8Array, memory: GuestMemory, ctx: BootContext,
  h: MultibootHeader): { image: LoadedImage; entry: number } {
  const a = h.aout!;
  const fail = (problem: string): never => { throw new BootError(file, `multiboot a.out kludge: ${problem}`); };
  if (a.headerAddr < a.loadAddr) fail(`header_addr ${hex(a.headerAddr)} is below load_addr ${hex(a.loadAddr)}`);
  const loadOffset = h.offset - (a.headerAddr - a.loadAddr);
  if (loadOffset < 0) fail(`load_addr ${hex(a.loadAddr)} would start ${hex(-loadOffset)} bytes before the beginning of the file`);
  const loadEnd = a.loadEndAddr === 0 ? a.loadAddr + (kernel.length - loadOffset) : a.loadEndAddr;
  if (loadEnd < a.loadAddr) fail(`load_end_addr ${hex(loadEnd)} is below load_addr ${hex(a.loadAddr)}`);
  const loadSize = loadEnd - a.loadAddr;
  if (loadSize > kernel.length - loadOffset) {
    fail(`load_end_addr ${hex(loadEnd)} asks for ${hex(loadSize)} bytes from file offset ${hex(loadOffset)}, past the end of the file (size ${hex(kernel.length)})`);
  }
  const bssEnd = a.bssEndAddr === 0 ? loadEnd : a.bssEndAddr;
  if (bssEnd < loadEnd) fail(`bss_end_addr ${hex(bssEnd)} is below load_end_addr ${hex(loadEnd)}`);
  if (bssEnd === a.loadAddr) fail('the image is empty (load_addr equals the end of the image)');
  checkImageRange(file, memory, ctx.map, 'the a.out image', a.loadAddr, bssEnd - a.loadAddr);
  if (a.entryAddr < a.loadAddr || a.entryAddr >= bssEnd) {
    fail(`entry_addr ${hex(a.entryAddr)} is outside the loaded image [${hex(a.loadAddr)}, ${hex(bssEnd)})`);
  }
  memory.write(a.loadAddr, kernel.subarray(loadOffset, loadOffset + loadSize));
  memory.fill(loadEnd, bssEnd - loadEnd);
  return {
    image: { start: a.loadAddr, end: bssEnd, segments: [{ index: 0, paddr: a.loadAddr, vaddr: BigInt(a.loadAddr), memsz: bssEnd - a.loadAddr }] },
    entry: a.entryAddr,
  };
}
