/**
 * Booting a disk image the way a PC BIOS does: its first sector, which
 * ends in the 55h AAh signature, goes to 0000:7C00; the CPU starts in
 * real mode in kvmdbg's BIOS ROM (vmm/bios), whose POST jumps there with
 * DL = the boot drive (00h for a floppy-sized image, 80h otherwise). The
 * IVT, the ROM and the BDA fields the services read are written here (the
 * machine's own low-memory tables may be there already); the services'
 * own state (screen, keyboard ring, ticks) when the vCPU thread starts.
 */
import { BootError, type BootCpuState, type BootInfo, type Segment } from './boot-state';
import { hex, size } from './format';
import type { LoadKernelOptions } from './options';
import { buildRom } from '../bios/rom';
import { describeDisk, diskGeometry } from '../bios/geometry';
import {
  BASE_MEMORY_KIB, BDA_ADDR, BDA_EQUIPMENT, BDA_HARD_DISKS, BDA_MEMORY_KIB, BOOT_SECTOR_ADDR, IVT_ADDR,
  ROM_ADDR, ROM_POST, ROM_SEGMENT, SECTOR_BYTES,
} from '../bios/layout';

const MIB = 1024 * 1024;

/** True when the image's first sector ends in the boot signature 55h AAh. */
export function hasBootSignature(data: Uint8Array): boolean {
  return data.length >= SECTOR_BYTES && data[510] === 0x55 && data[511] === 0xaa;
}

function realSegment(selector: number, code: boolean): Segment {
  return {
    base: BigInt(selector * 16), limit: 0xffff, selector, type: code ? 0xb : 0x3, present: true, dpl: 0,
    db: false, s: true, l: false, g: false, avl: false, unusable: false,
  };
}

/** Real mode at F000:POST, interrupts off, caches on (CR0.ET only). */
export function realModeState(): BootCpuState {
  const data = realSegment(0, false);
  return {
    regs: { rip: BigInt(ROM_POST), rflags: 0x2n, rsp: 0n },
    sregs: {
      cs: realSegment(ROM_SEGMENT, true), ds: data, es: data, fs: data, gs: data, ss: data,
      gdt: { base: 0n, limit: 0xffff }, idt: { base: 0n, limit: 0x3ff },
      cr0: 0x10n, cr3: 0n, cr4: 0n, efer: 0n,
    },
  };
}

export function loadBootSector(req: LoadKernelOptions): BootInfo {
  const { kernelPath: file, kernel, memory } = req;
  if (!hasBootSignature(kernel)) {
    throw new BootError(file, `is not a BIOS boot disk: its first sector does not end in the boot signature 55h AAh${kernel.length < SECTOR_BYTES ? ` (the file is only ${kernel.length} bytes)` : ''}`);
  }
  if (!memory.contains(0, MIB)) throw new BootError(file, `cannot boot from a BIOS in ${size(memory.ramBytes)} of guest RAM: the first MiB must be RAM; use --memory 64M or more`);
  if (req.modules.length > 0) throw new BootError(req.modules[0].path, 'is a boot module, but a BIOS boot sector takes none (it reads its disk through INT 13h)');
  const geometry = diskGeometry(kernel.length);
  const { rom, ivt } = buildRom({ drive: geometry.drive, sectorsPerTrack: geometry.sectorsPerTrack });
  memory.write(IVT_ADDR, ivt);
  memory.write(ROM_ADDR, rom);
  // The BDA fields the services read; the machine's tables (COM ports, EBDA, video) may already be there: added to, not replaced.
  const equipment = memory.readU16(BDA_ADDR + BDA_EQUIPMENT);
  memory.writeU16(BDA_ADDR + BDA_EQUIPMENT, equipment | (geometry.floppy ? 0x0001 : 0) | (equipment & 0x0030 ? 0 : 0x0020));
  if (memory.readU16(BDA_ADDR + BDA_MEMORY_KIB) === 0) memory.writeU16(BDA_ADDR + BDA_MEMORY_KIB, BASE_MEMORY_KIB);
  memory.writeU8(BDA_ADDR + BDA_HARD_DISKS, geometry.floppy ? 0 : 1);
  memory.write(BOOT_SECTOR_ADDR, kernel.subarray(0, SECTOR_BYTES));
  return {
    protocol: 'bios',
    cpu: realModeState(),
    imageStart: BOOT_SECTOR_ADDR,
    imageEnd: BOOT_SECTOR_ADDR + SECTOR_BYTES,
    entry: BOOT_SECTOR_ADDR,
    description: `BIOS boot sector at ${hex(BOOT_SECTOR_ADDR)} from ${describeDisk(geometry, kernel.length)}`,
    bios: { disk: file, drive: geometry.drive },
  };
}
