/**
 * Which register layout a `kvmdbg run --gdb` session serves: i386 for an
 * ELF32 kernel (gdb loads such a file as i386 and rejects an x86-64 target
 * description), x86-64 for everything else. Chosen once, before the guest
 * runs; --gdb-arch overrides it (a 32-bit loader that enters long mode wants
 * x86-64).
 */
import { readFileSync } from 'node:fs';
import { ElfFile } from '../boot/elf';
import type { BootProtocol } from '../boot/boot-state';
import type { GdbArch } from './registers';

/** The layout for a kernel image's bytes; `hint` decides when they are not a readable ELF. */
export function gdbArchForImage(file: string, data: Uint8Array, hint?: BootProtocol): GdbArch {
  if (ElfFile.isElf(data)) {
    try {
      return new ElfFile(file, data).bits === 32 ? 'i386' : 'x86-64';
    } catch {
      // A header we cannot read (the loader accepted it some other way): fall back to the boot protocol.
    }
  }
  return hint === 'multiboot' || hint === 'multiboot2' || hint === 'bios' ? 'i386' : 'x86-64';
}

/** The layout for the kernel file at `path`. */
export function gdbArchForKernel(path: string, hint?: BootProtocol): GdbArch {
  let data: Uint8Array;
  try { data = readFileSync(path); } catch { return hint === 'multiboot' || hint === 'multiboot2' || hint === 'bios' ? 'i386' : 'x86-64'; }
  return gdbArchForImage(path, data, hint);
}
