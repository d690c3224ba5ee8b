/**
 * What a BIOS service may touch on the guest's behalf. Buffers the guest
 * names (ES:BX, DS:SI, ES:DI) are checked here: a service writes only
 * into guest RAM outside the BIOS ROM, and reads only RAM; anything else is
 * the caller's error status, never an exception out of the VMM.
 */
import type { GuestMemory } from '../memory/guest-memory';
import { ROM_SEGMENT } from './layout';

/** The 64 KiB a PC keeps for its system BIOS (E820 reserved: the ROM and the ACPI tables). */
const BIOS_AREA = ROM_SEGMENT * 16;
const BIOS_AREA_END = BIOS_AREA + 0x10000;

export interface BiosLog { guestError(message: string): void }

/** Ports the services drive (the VGA CRTC, the i8042), on the board's bus. */
export interface BiosPorts {
  read(port: number, size: number): number;
  write(port: number, size: number, value: number): void;
}

export interface BiosContext {
  memory: GuestMemory;
  ports: BiosPorts;
  log: BiosLog;
}

/** Real-mode linear address of seg:off given the segment's base. */
export const linear = (base: number, offset: number): number => base + (offset & 0xffff);

export function canRead(memory: GuestMemory, address: number, length: number): boolean {
  return memory.contains(address, length);
}

export function canWrite(memory: GuestMemory, address: number, length: number): boolean {
  return memory.contains(address, length) && (address + length <= BIOS_AREA || address >= BIOS_AREA_END);
}
