/**
 * Who uses the first MiB of guest memory, in one place (layout.ts has the
 * boot loaders' own structures in [0, 0x90000)). What firmware would leave
 * there is split between two owners: the BIOS of boot sectors (its ROM and
 * the IVT) and the PC tables every boot gets (bda.ts, mptable.ts):
 *
 *   0x00000-0x003FF  IVT (BIOS boot); the PVH/multiboot TSS sits at 0 instead
 *   0x00400-0x004FF  BIOS data area (bda.ts: the fields listed below; the
 *                    BIOS may fill more of it, keyboard buffer, ticks, ...)
 *   0x9FC00-0x9FFFF  EBDA, 1 KiB, reserved in the e820 map (memory-map.ts):
 *                    its size in KiB at offset 0, the MP floating pointer at
 *                    EBDA_MP_OFFSET, the MP configuration table after it
 *   0xF0000-0xFFFFF  BIOS area, reserved: the ACPI tables (vmm/acpi/tables.ts),
 *                    the RSDP first, where kernels scan 0xE0000-0xFFFFF for it
 */
import { EBDA_END, EBDA_START } from '../memory/memory-map';

export { EBDA_END, EBDA_START };

export const BDA_ADDR = 0x400;
/** BDA fields (offsets from 0x400 in the comments), as IBM's BIOS defined them. */
export const BDA_COM_PORTS = 0x400;      // +0x00: 4 words, COM1-4 I/O bases
export const BDA_LPT_PORTS = 0x408;      // +0x08: 3 words, LPT1-3
export const BDA_EBDA_SEGMENT = 0x40e;   // +0x0E: word, EBDA >> 4
export const BDA_EQUIPMENT = 0x410;      // +0x10: word, equipment list
export const BDA_BASE_MEMORY_KB = 0x413; // +0x13: word, conventional memory below the EBDA in KiB
export const BDA_VIDEO_MODE = 0x449;     // +0x49: byte, current video mode
export const BDA_VIDEO_COLUMNS = 0x44a;  // +0x4A: word, text columns
export const BDA_CRTC_BASE = 0x463;      // +0x63: word, CRTC index port (0x3D4 colour)
export const BDA_VIDEO_ROWS = 0x484;     // +0x84: byte, text rows - 1

/** The MP floating pointer and, after it, the MP configuration table (16-byte aligned, in the EBDA's first KiB). */
export const EBDA_MP_OFFSET = 0x10;
export const MP_FLOATING_ADDR = EBDA_START + EBDA_MP_OFFSET;
export const MP_CONFIG_ADDR = MP_FLOATING_ADDR + 16;
export const MP_CONFIG_END = EBDA_END;
