/**
 * Xen PVH direct boot: the ELF says where its 32-bit entry is in a "Xen"
 * note (XEN_ELFNOTE_PHYS32_ENTRY); we load its segments by physical
 * address and enter there in 32-bit protected mode, paging off, with EBX
 * pointing at hvm_start_info (docs/misc/pvh.pandoc in Xen). CS is 0x10 and
 * the data segments 0x18, TR a 32-bit busy TSS, all backed by our GDT.
 *
 * Linux's vmlinux is such an ELF (CONFIG_PVH): its PT_LOADs are linked at
 * 0xffffffff81000000... (p_vaddr) but say where they belong physically
 * (p_paddr, 0x1000000...), and its per-CPU segment has p_vaddr 0: only the
 * physical addresses mean anything before the kernel's own paging, so
 * that is where we put them. Linux takes the initrd from module 0, the e820
 * map from the memory map, the command line, and the ACPI tables (the MADT
 * for its CPUs, the DSDT for the virtio devices, the FADT for power-off)
 * from rsdp_paddr.
 */
import { BootError, BootInfo } from './boot-state';
import { protectedModeState } from './cpu';
import { EM_386, EM_X86_64, ElfFile, machineName } from './elf';
import { hex } from './format';
import { placeModules, putCmdline } from './layout';
import { loadElfSegments, physicalEntry } from './load-elf';
import { LoadKernelOptions } from './options';
import { prepareBoot } from './prepare';
import { writeStartInfo } from './start-info';
import { writeAcpiTables } from '../acpi/tables';

export const XEN_ELFNOTE_PHYS32_ENTRY = 18;

/** The PVH entry address from the Xen note, or undefined when there is no such note. */
export function pvhEntry(elf: ElfFile): number | undefined {
  const note = elf.findNote('Xen', XEN_ELFNOTE_PHYS32_ENTRY);
  if (!note) return undefined;
  const d = note.desc;
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  if (d.length === 4) return v.getUint32(0, true);
  if (d.length === 8) {
    const e = v.getBigUint64(0, true);
    if (e >= 1n << 32n) throw new BootError(elf.file, `PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) gives ${hex(e)}, which is not a 32-bit physical address`);
    return Number(e);
  }
  throw new BootError(elf.file, `PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) has a ${d.length}-byte value; expected 4 or 8 bytes`);
}

export function loadPvh(opts: LoadKernelOptions, parsed?: ElfFile): BootInfo {
  const { kernelPath, memory } = opts;
  const elf = parsed ?? new ElfFile(kernelPath, opts.kernel);
  if (elf.header.machine !== EM_386 && elf.header.machine !== EM_X86_64) {
    throw new BootError(kernelPath, `is an ELF for ${machineName(elf.header.machine)}; kvmdbg boots x86 kernels`);
  }
  const entry = pvhEntry(elf);
  if (entry === undefined) throw new BootError(kernelPath, 'has no Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY), so it cannot be booted with PVH');
  const ctx = prepareBoot(kernelPath, memory);
  const image = loadElfSegments(elf, memory, ctx.map);
  physicalEntry(kernelPath, { ...image, segments: image.segments.map((s) => ({ ...s, vaddr: BigInt(s.paddr) })) },
    BigInt(entry), 'PVH entry point');
  const modules = placeModules(memory, image.end, opts.modules);
  const cmdlineAddr = putCmdline(ctx.strings, kernelPath, opts.cmdline);
  const rsdpAddr = writeAcpiTables(memory, opts.cpus ?? 1, opts.virtio ?? []);
  const startInfo = writeStartInfo(memory, { kernelPath, cmdlineAddr, modules, map: ctx.map, strings: ctx.strings, rsdpAddr });
  return {
    protocol: 'pvh',
    cpu: protectedModeState(entry, { rbx: BigInt(startInfo) }),
    imageStart: image.start,
    imageEnd: image.end,
    entry,
    description: `PVH ELF${elf.bits}, entry ${hex(entry)}`,
  };
}
