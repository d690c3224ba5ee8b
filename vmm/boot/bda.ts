/**
 * What a PC BIOS leaves in low memory for every kernel, whichever way it
 * boots: the BIOS data area fields kernels read (the EBDA's segment, the
 * base memory size, the COM ports, the equipment word, the text screen's
 * mode and CRTC port), the EBDA, and the MP table in it (low-memory.ts
 * says where). Only these fields are written: a loader that runs after
 * (the BIOS of boot sectors) may fill in more of the BDA.
 */
import type { GuestMemory } from '../memory/guest-memory';
import { COM1_BASE } from '../devices/serial';
import {
  BDA_BASE_MEMORY_KB, BDA_COM_PORTS, BDA_CRTC_BASE, BDA_EBDA_SEGMENT, BDA_EQUIPMENT, BDA_VIDEO_COLUMNS, BDA_VIDEO_MODE,
  BDA_VIDEO_ROWS, EBDA_END, EBDA_START, MP_CONFIG_ADDR, MP_CONFIG_END, MP_FLOATING_ADDR,
} from './low-memory';
import { buildMpConfig, buildMpFloating, mpConfigSize } from './mptable';

/** Equipment word: an x87 (bit 1), an 80x25 colour screen (bits 5-4 = 10), one serial port (bits 11-9). */
export const EQUIPMENT_WORD = (1 << 1) | (2 << 4) | (1 << 9);
const TEXT_MODE_80X25_COLOUR = 3;

/** The most vCPUs whose MP configuration table fits in the EBDA; with more there is no MP table (the MADT still lists them). */
export const MP_TABLE_MAX_CPUS = Math.floor((MP_CONFIG_END - MP_CONFIG_ADDR - mpConfigSize(0)) / 20);

export interface LowMemoryTables {
  /** Where the MP floating pointer is; undefined when the table was left out (too many vCPUs, or no RAM there). */
  mpFloating?: number;
}

/** Writes the BDA fields, the EBDA and the MP table for `cpus` vCPUs; nothing where low RAM does not reach. */
export function writeLowMemoryTables(memory: GuestMemory, cpus: number): LowMemoryTables {
  if (!memory.contains(0, EBDA_END)) return {};
  memory.writeU16(BDA_COM_PORTS, COM1_BASE);
  for (let i = 1; i < 4; i++) memory.writeU16(BDA_COM_PORTS + 2 * i, 0);
  memory.writeU16(BDA_EBDA_SEGMENT, EBDA_START >> 4);
  memory.writeU16(BDA_EQUIPMENT, EQUIPMENT_WORD);
  memory.writeU16(BDA_BASE_MEMORY_KB, EBDA_START / 1024);
  memory.writeU8(BDA_VIDEO_MODE, TEXT_MODE_80X25_COLOUR);
  memory.writeU16(BDA_VIDEO_COLUMNS, 80);
  memory.writeU16(BDA_CRTC_BASE, 0x3d4);
  memory.writeU8(BDA_VIDEO_ROWS, 24);
  memory.fill(EBDA_START, EBDA_END - EBDA_START);
  memory.writeU8(EBDA_START, (EBDA_END - EBDA_START) / 1024);
  if (cpus > MP_TABLE_MAX_CPUS) return {};
  memory.write(MP_CONFIG_ADDR, buildMpConfig(cpus));
  memory.write(MP_FLOATING_ADDR, buildMpFloating(MP_CONFIG_ADDR));
  return { mpFloating: MP_FLOATING_ADDR };
}
