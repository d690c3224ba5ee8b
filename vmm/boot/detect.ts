/**
 * loadKernel: looks at a kernel file, picks the way into it and loads it.
 * Order: a bzImage's "HdrS", then a raw disk image whose first sector
 * ends in 55h AAh (booted through kvmdbg's BIOS); for an ELF a PVH note
 * wins (it is the kernel's own statement of a 32-bit entry), then a
 * multiboot2 header in the first 32 KiB (richer than v1: a kernel carrying
 * both gets the framebuffer and ACPI it can ask for there), then a
 * multiboot header in the first 8 KiB, then a plain x86-64 ELF entered in
 * long mode. Whatever the file holds, the only exception
 * that leaves here is a BootError with one sentence for the user.
 */
import { BootError, BootInfo, BootProtocol } from './boot-state';
import { ELFCLASS64, EM_386, EM_X86_64, ElfFile, machineName, PT_NOTE } from './elf';
import { loadElf64 } from './elf64';
import { firstBytes } from './format';
import { findMultibootHeader, MultibootHeader } from './multiboot-header';
import { loadMultiboot } from './multiboot';
import { findMultiboot2Header, Multiboot2Header } from './multiboot2-header';
import { loadMultiboot2 } from './multiboot2';
import { LoadKernelOptions } from './options';
import { loadLinux } from './linux';
import { loadPvh, pvhEntry } from './pvh';
import { hasBootSignature, loadBootSector } from './bios-boot';
import { writeLowMemoryTables } from './bda';

export interface LoadKernelRequest extends LoadKernelOptions {
  /** Force a protocol instead of detecting one ('auto' or absent: detect). */
  protocol?: BootProtocol | 'auto';
}

const LINUX_HDRS_OFFSET = 0x202;

/** True when the file carries the Linux boot protocol's "HdrS" magic at 0x202. */
export function isBzImage(data: Uint8Array): boolean {
  const o = LINUX_HDRS_OFFSET;
  return data.length >= o + 4 && data[o] === 0x48 && data[o + 1] === 0x64 && data[o + 2] === 0x72 && data[o + 3] === 0x53;
}

export function loadKernel(req: LoadKernelRequest): BootInfo {
  try {
    // What firmware leaves in low memory, for every protocol; a loader may add to it (the BDA) after.
    writeLowMemoryTables(req.memory, req.cpus ?? 1);
    return pickAndLoad(req);
  } catch (e) {
    if (e instanceof BootError) throw e;
    // A loader bug must still reach the user as a sentence, not a stack trace.
    const msg = e instanceof Error ? e.message : String(e);
    throw new BootError(req.kernelPath, `could not be loaded because of an internal error in kvmdbg's boot loader (${msg}); please report it`);
  }
}

function pickAndLoad(req: LoadKernelRequest): BootInfo {
  const { kernelPath: file, kernel } = req;
  if (kernel.length === 0) throw new BootError(file, 'is empty');
  const protocol = req.protocol ?? 'auto';
  // A bzImage is not an ELF, so "HdrS" at 0x202 decides; loadLinux explains a missing one.
  if (protocol === 'linux' || (protocol === 'auto' && isBzImage(kernel) && !ElfFile.isElf(kernel))) return loadLinux(req);
  // A raw disk image (not an ELF, not a bzImage, which carries the signature too) boots through the BIOS.
  if (protocol === 'bios' || (protocol === 'auto' && hasBootSignature(kernel) && !ElfFile.isElf(kernel))) return loadBootSector(req);
  let elf: ElfFile | undefined;
  let elfError: BootError | undefined;
  if (ElfFile.isElf(kernel)) {
    try {
      elf = new ElfFile(file, kernel);
    } catch (e) {
      if (!(e instanceof BootError)) throw e;
      elfError = e;
    }
  }
  const multiboot = (): MultibootHeader | undefined => findMultibootHeader(file, kernel);
  const multiboot2 = (): Multiboot2Header | undefined => findMultiboot2Header(file, kernel);
  switch (protocol) {
    case 'pvh':
      if (elfError) throw elfError;
      if (!elf) throw new BootError(file, `is not an ELF file, so it has no PVH note (first bytes: ${firstBytes(kernel)})`);
      return loadPvh(req, elf);
    case 'multiboot': {
      const h = multiboot();
      if (!h) throw new BootError(file, 'has no multiboot header (magic 0x1BADB002 with a valid checksum) in its first 8 KiB');
      if (!h.aout && elfError) throw elfError;
      return loadMultiboot(req, h, elf);
    }
    case 'multiboot2': {
      const h = multiboot2();
      if (!h) throw new BootError(file, 'has no multiboot2 header (magic 0xE85250D6 with a valid checksum, 8-byte aligned) in its first 32 KiB');
      if (!h.address && elfError) throw elfError;
      return loadMultiboot2(req, h, elf);
    }
    case 'elf64':
      if (elfError) throw elfError;
      if (!elf) throw new BootError(file, `is not an ELF file (first bytes: ${firstBytes(kernel)})`);
      return loadElf64(req, elf);
    default:
      break;
  }
  if (elf && isX86(elf) && hasPvhNote(elf)) return loadPvh(req, elf);
  const h2 = multiboot2();
  // The address tag needs no ELF structure either.
  if (h2 && (h2.address || !elfError)) return loadMultiboot2(req, h2, elf);
  const h = multiboot();
  // The a.out kludge needs no ELF structure, so a damaged ELF can still boot through it.
  if (h && (h.aout || !elfError)) return loadMultiboot(req, h, elf);
  if (elfError) throw elfError;
  if (elf) {
    if (!isX86(elf)) throw new BootError(file, `is an ELF for ${machineName(elf.header.machine)}; kvmdbg boots x86 kernels`);
    if (kernel[4] === ELFCLASS64 && elf.header.machine === EM_X86_64) return loadElf64(req, elf);
    throw new BootError(file, `is a 32-bit ELF with neither a multiboot header nor a PVH note, so kvmdbg cannot tell how to enter it; add a multiboot header or a Xen PVH entry note`);
  }
  throw new BootError(file, `is not a kernel kvmdbg can boot: no PVH note, no multiboot header, not an x86-64 ELF (first bytes: ${firstBytes(kernel)})`);
}

/**
 * Whether to boot by PVH. Without a PT_NOTE segment the notes come from the
 * section table, which booting otherwise never needs: a damaged one there
 * means "no PVH note", not "cannot boot" (a damaged PT_NOTE still fails).
 */
function hasPvhNote(elf: ElfFile): boolean {
  try {
    return pvhEntry(elf) !== undefined;
  } catch (e) {
    if (e instanceof BootError && !elf.programHeaders.some((p) => p.type === PT_NOTE)) return false;
    throw e;
  }
}

function isX86(elf: ElfFile): boolean {
  return elf.header.machine === EM_386 || elf.header.machine === EM_X86_64;
}

