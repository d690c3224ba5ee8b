/**
 * Multiboot2 (GRUB 2's protocol, which QEMU's -kernel has never loaded): an
 * ELF kernel is loaded by its segments' physical addresses; with an address
 * tag the header says where the file goes (the a.out-kludge layout, which
 * also boots flat binaries), and an entry address tag overrides the ELF
 * entry. Entry as the spec says: 32-bit protected mode, flat segments,
 * paging off, IF clear, EAX = 0x36D76289, EBX = the boot information
 * (multiboot2-info.ts). A framebuffer tag gets the Bochs VBE framebuffer
 * in its mode before entry (multiboot2-framebuffer.ts); the ACPI RSDP
 * kvmdbg builds is copied into tags 14 and 15; a relocatable tag may move
 * the image (multiboot2-relocate.ts).
 */
import { BootError, BootInfo } from './boot-state';
import { protectedModeState } from './cpu';
import { EM_386, EM_X86_64, ElfFile, machineName, SHT_NOBITS } from './elf';
import { hex } from './format';
import { alignUp, checkImageRange, lowRamEnd, placeModules, PlacedModule } from './layout';
import { loadElfSegments, LoadedImage, physicalEntry } from './load-elf';
import { chooseScreen } from './multiboot2-framebuffer';
import { elfExtent, relocationDelta, shiftedElf } from './multiboot2-relocate';
import { findMultiboot2Header, MB2_INFO_NAMES, MB2I, Multiboot2Header } from './multiboot2-header';
import { Mb2ElfSections, MULTIBOOT2_BOOTLOADER_MAGIC, writeMultiboot2Info } from './multiboot2-info';
import { MULTIBOOT_LOADER_NAME } from './multiboot-info';
import { LoadKernelOptions } from './options';
import { BootContext, prepareBoot } from './prepare';
import { writeAcpiTables } from '../acpi/tables';
import { RSDP_SIZE } from '../acpi/rsdp';
import { FOUR_GIB, GuestMemory } from '../memory/guest-memory';

const SHF_ALLOC = 2n;
/** Section header table bytes the boot information carries at most (a third of its area). */
const MAX_SECTION_TABLE = 128 * 1024;
/** Information tags kvmdbg always writes (the framebuffer and ELF sections only when it has them). */
const ALWAYS = new Set<number>([MB2I.end, MB2I.cmdline, MB2I.bootLoaderName, MB2I.module, MB2I.basicMeminfo, MB2I.mmap,
  MB2I.acpiOld, MB2I.acpiNew, MB2I.loadBaseAddr]);

export function loadMultiboot2(opts: LoadKernelOptions, header?: Multiboot2Header, parsed?: ElfFile): BootInfo {
  const { kernelPath, kernel, memory } = opts;
  const h = header ?? findMultiboot2Header(kernelPath, kernel);
  if (!h) throw new BootError(kernelPath, 'has no multiboot2 header (magic 0xE85250D6 with a valid checksum, 8-byte aligned) in its first 32 KiB');
  const screen = chooseScreen(kernelPath, h);
  const ctx = prepareBoot(kernelPath, memory);
  let image: LoadedImage;
  let entry: number;
  let kind: string;
  let elf: ElfFile | undefined;
  let delta = 0;
  if (h.address) {
    if (h.entry === undefined) throw new BootError(kernelPath, 'multiboot2 header has an address tag but no entry address tag, so kvmdbg cannot tell where to enter it');
    const plan = addressTagLayout(kernelPath, kernel, h);
    delta = relocationDelta(kernelPath, h.relocatable, plan.loadAddr, plan.bssEnd, ctx.map);
    image = loadByAddressTag(kernelPath, kernel, memory, ctx, plan, delta);
    entry = h.entry + delta;
    kind = 'address tag';
  } else {
    if (!ElfFile.isElf(kernel)) {
      throw new BootError(kernelPath, 'has a multiboot2 header without an address tag but is not an ELF file, so kvmdbg cannot tell where to load it');
    }
    elf = parsed ?? new ElfFile(kernelPath, kernel);
    if (elf.header.machine !== EM_386 && elf.header.machine !== EM_X86_64) {
      throw new BootError(kernelPath, `is an ELF for ${machineName(elf.header.machine)}; kvmdbg boots x86 kernels`);
    }
    const extent = elfExtent(elf);
    delta = extent ? relocationDelta(kernelPath, h.relocatable, extent.start, extent.end, ctx.map) : 0;
    image = loadElfSegments(shiftedElf(elf, kernel, delta) ?? elf, memory, ctx.map);
    entry = h.entry !== undefined ? h.entry + delta : physicalEntry(kernelPath, image, elf.header.entry);
    kind = `ELF${elf.bits}`;
  }
  if (entry >= FOUR_GIB) throw new BootError(kernelPath, `entry point ${hex(entry)} is above 4 GiB, out of reach of multiboot2's 32-bit entry`);
  if (!image.segments.some((s) => entry >= s.paddr && entry < s.paddr + s.memsz)) {
    throw new BootError(kernelPath, `multiboot2 entry address ${hex(entry)} is outside the loaded image [${hex(image.start)}, ${hex(image.end)})`);
  }
  const modules = placeModules(memory, image.end, opts.modules);
  const elfSections = elf ? loadElfSections(elf, kernel, memory, endOf(image, modules)) : undefined;
  checkRequests(kernelPath, h, { framebuffer: screen.info !== undefined, elfSections: elfSections !== undefined });
  const rsdp = memory.read(writeAcpiTables(memory, opts.cpus ?? 1, opts.virtio ?? []), RSDP_SIZE);
  const info = writeMultiboot2Info(memory, {
    kernelPath, cmdline: opts.cmdline, loaderName: MULTIBOOT_LOADER_NAME, modules, map: ctx.map,
    framebuffer: screen.info, elfSections, rsdp, loadBase: image.start,
  });
  const ignored = h.ignored.length ? `; ignored the optional ${h.ignored.join(', ')}` : '';
  const moved = delta ? `, relocated to ${hex(image.start)}` : '';
  return {
    protocol: 'multiboot2',
    cpu: protectedModeState(entry, { rax: BigInt(MULTIBOOT2_BOOTLOADER_MAGIC), rbx: BigInt(info.addr) }),
    imageStart: image.start,
    imageEnd: image.end,
    entry,
    description: `multiboot2 ${kind}${moved}, entry ${hex(entry)}, ${screen.summary}${ignored}`,
    framebuffer: screen.mode,
  };
}

/** A non-optional information request kvmdbg cannot answer is refused, naming it. */
function checkRequests(file: string, h: Multiboot2Header, have: { framebuffer: boolean; elfSections: boolean }): void {
  for (const t of h.requiredInfo) {
    if (ALWAYS.has(t) || (t === MB2I.framebuffer && have.framebuffer) || (t === MB2I.elfSections && have.elfSections)) continue;
    const name = MB2_INFO_NAMES[t];
    const what = name ? `${name} (information tag ${t}), which kvmdbg does not provide` : `information tag ${t}, which kvmdbg does not know`;
    const why = t === MB2I.framebuffer ? ' because its console flags refuse VGA text and it asks for no framebuffer'
      : t === MB2I.elfSections ? ' for a kernel loaded by its address tag' : '';
    throw new BootError(file, `multiboot2 header requires ${what}${why}; mark the information request optional (flags = 1) to boot without it`);
  }
}

interface AddressTagLayout { loadAddr: number; loadOffset: number; loadSize: number; loadEnd: number; bssEnd: number }

/** The address tag: file bytes from (header offset - (header_addr - load_addr)) go to load_addr; load_addr -1 loads from the file's start. */
function addressTagLayout(file: string, kernel: Uint8Array, h: Multiboot2Header): AddressTagLayout {
  const a = h.address!;
  const fail = (problem: string): never => { throw new BootError(file, `multiboot2 address tag: ${problem}`); };
  const fromStart = a.loadAddr === 0xffffffff;
  const loadAddr = fromStart ? a.headerAddr - h.offset : a.loadAddr;
  if (loadAddr < 0) fail(`header_addr ${hex(a.headerAddr)} is below the header's file offset ${hex(h.offset)}, so the file's start would be below address 0`);
  if (a.headerAddr < loadAddr) fail(`header_addr ${hex(a.headerAddr)} is below load_addr ${hex(loadAddr)}`);
  const loadOffset = h.offset - (a.headerAddr - loadAddr);
  if (loadOffset < 0) fail(`load_addr ${hex(loadAddr)} would start ${hex(-loadOffset)} bytes before the beginning of the file`);
  const loadEnd = a.loadEndAddr === 0 ? loadAddr + (kernel.length - loadOffset) : a.loadEndAddr;
  if (loadEnd < loadAddr) fail(`load_end_addr ${hex(loadEnd)} is below load_addr ${hex(loadAddr)}`);
  const loadSize = loadEnd - loadAddr;
  if (loadSize > kernel.length - loadOffset) {
    fail(`load_end_addr ${hex(loadEnd)} asks for ${hex(loadSize)} bytes from file offset ${hex(loadOffset)}, past the end of the file (size ${hex(kernel.length)})`);
  }
  const bssEnd = a.bssEndAddr === 0 ? loadEnd : a.bssEndAddr;
  if (bssEnd < loadEnd) fail(`bss_end_addr ${hex(bssEnd)} is below load_end_addr ${hex(loadEnd)}`);
  if (bssEnd === loadAddr) fail('the image is empty (load_addr equals the end of the image)');
  return { loadAddr, loadOffset, loadSize, loadEnd, bssEnd };
}

/** Copies the address-tag image, moved by `delta` (a relocation), and zeroes its bss. */
function loadByAddressTag(file: string, kernel: Uint8Array, memory: GuestMemory, ctx: BootContext, p: AddressTagLayout, delta: number): LoadedImage {
  const start = p.loadAddr + delta, end = p.bssEnd + delta;
  checkImageRange(file, memory, ctx.map, 'the multiboot2 image', start, end - start);
  memory.write(start, kernel.subarray(p.loadOffset, p.loadOffset + p.loadSize));
  memory.fill(p.loadEnd + delta, p.bssEnd - p.loadEnd);
  return { start, end, segments: [{ index: 0, paddr: start, vaddr: BigInt(start), memsz: end - start }] };
}

function endOf(image: LoadedImage, modules: readonly PlacedModule[]): number {
  return modules.reduce((end, m) => Math.max(end, m.addr + m.size), image.end);
}

/**
 * Tag 9 as GRUB fills it: the section header table, with the sections no
 * segment loads (symbol and string tables, debug info) copied into RAM after
 * the modules and their sh_addr set, so a kernel can read its own symbols.
 * A damaged section table only costs the tag; sections that do not fit in
 * low RAM keep sh_addr 0.
 */
function loadElfSections(elf: ElfFile, kernel: Uint8Array, memory: GuestMemory, after: number): Mb2ElfSections | undefined {
  const hd = elf.header;
  let sections;
  try {
    sections = elf.sections();
  } catch (e) {
    if (e instanceof BootError) return undefined;
    throw e;
  }
  if (sections.length === 0 || hd.shoff <= 0 || hd.shentsize === 0) return undefined;
  const tableBytes = sections.length * hd.shentsize;
  // The table travels inside the boot information: a huge one costs the tag, not the boot.
  if (hd.shoff + tableBytes > kernel.length || tableBytes > MAX_SECTION_TABLE) return undefined;
  const headers = kernel.slice(hd.shoff, hd.shoff + tableBytes);
  const view = new DataView(headers.buffer);
  const b64 = elf.bits === 64;
  const limit = lowRamEnd(memory);
  let next = alignUp(after, 4096);
  for (const s of sections) {
    if ((s.flags & SHF_ALLOC) !== 0n || s.type === SHT_NOBITS || s.size === 0 || s.addr !== 0n || s.type === 0) continue;
    const align = Math.min(4096, Math.max(8, Number(s.addralign > 4096n ? 4096n : s.addralign)));
    const at = alignUp(next, align);
    if (at + s.size > limit || at + s.size > FOUR_GIB) break;
    memory.write(at, elf.sectionData(s));
    const field = s.index * hd.shentsize + (b64 ? 16 : 12);
    if (b64) view.setBigUint64(field, BigInt(at), true);
    else view.setUint32(field, at, true);
    next = at + s.size;
  }
  return { num: sections.length, entsize: hd.shentsize, shndx: hd.shstrndx, headers };
}
