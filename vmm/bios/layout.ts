/**
 * Where kvmdbg's BIOS lives in guest memory and what it uses, in one place
 * (the BIOS boot path writes nothing else below 1 MiB):
 *
 *   0x00000-0x003ff  IVT: every vector points into the ROM below
 *   0x00400-0x004ff  BDA: only the fields the INT services keep (BDA_* below);
 *                    the rest (COM ports, EBDA segment) is the machine's (pc-legacy)
 *   0x07c00-0x07dff  the boot sector, loaded from the disk's first sector
 *   0xb8000-0xb8f9f  the 80x25 text screen INT 10h writes (plain guest RAM)
 *   0xfe000-0xfffff  the BIOS ROM (segment F000h, offsets E000h-FFFFh, where a PC's
 *                    BIOS code sits): POST, handler stubs (ROM_*), a diskette table
 *
 * The ROM's stubs reach the VMM with `out BIOS_PORT, al` (2 bytes, AL is
 * the guest's); the VMM tells the vector from where the stub sits, which is
 * the same whether the host reports RIP on the OUT (VMX, SVM) or past it
 * (PVM). Nothing else of 0xe0000-0xfffff is used: the ACPI tables
 * (from 0xf0000), the MP table and the RSDP go there.
 */

/** The port the ROM's stubs write to call the VMM (no PC device uses it). */
export const BIOS_PORT = 0x9a;

export const IVT_ADDR = 0;
export const IVT_VECTORS = 256;

export const BDA_ADDR = 0x400;
/** BDA fields the services own, as offsets from 0x400 (IBM PC technical reference names). */
export const BDA_EQUIPMENT = 0x10;        // word: INT 11h
export const BDA_MEMORY_KIB = 0x13;       // word: INT 12h
export const BDA_KBD_FLAGS = 0x17;        // byte: shift state (INT 16h AH=02h)
export const BDA_KBD_HEAD = 0x1a;         // word: offset from 0x400 of the next key
export const BDA_KBD_TAIL = 0x1c;         // word: offset from 0x400 of the next free slot
export const BDA_KBD_BUFFER = 0x1e;       // 16 words: (scan << 8) | ascii
export const BDA_KBD_BUFFER_END = 0x3e;
export const BDA_VIDEO_MODE = 0x49;       // byte
export const BDA_VIDEO_COLUMNS = 0x4a;    // word
export const BDA_VIDEO_PAGE_SIZE = 0x4c;  // word
export const BDA_VIDEO_PAGE_START = 0x4e; // word
export const BDA_CURSOR_POS = 0x50;       // 8 words: (row << 8) | column per page
export const BDA_CURSOR_SHAPE = 0x60;     // word: (start << 8) | end
export const BDA_VIDEO_PAGE = 0x62;       // byte
export const BDA_CRTC_PORT = 0x63;        // word: 0x3d4
export const BDA_TICKS = 0x6c;            // dword: IRQ0 ticks since midnight
export const BDA_MIDNIGHT = 0x70;         // byte: the tick count passed midnight
export const BDA_DISK_STATUS = 0x74;      // byte: last INT 13h status (hard disk)
export const BDA_HARD_DISKS = 0x75;       // byte
export const BDA_VIDEO_ROWS = 0x84;       // byte: rows - 1

export const BOOT_SECTOR_ADDR = 0x7c00;
export const SECTOR_BYTES = 512;
/** The boot stack a BIOS leaves: SS:SP = 0000:7C00, growing down below the boot sector. */
export const BOOT_STACK = 0x7c00;

export const TEXT_SCREEN_ADDR = 0xb8000;

export const ROM_SEGMENT = 0xf000;
/** The ROM's first byte: linear address and offset in ROM_SEGMENT. */
export const ROM_ADDR = 0xfe000;
export const ROM_OFFSET = ROM_ADDR - ROM_SEGMENT * 16;
export const ROM_BYTES = 0x2000;
/** Offsets in the ROM segment. */
export const ROM_POST = 0xe000;
/** INT 16h's wait for a key: sti; hlt; cli; back to the INT 16h stub. */
export const ROM_KEY_WAIT = 0xe100;
/** The default handler: sets CF in the caller's FLAGS, iret. */
export const ROM_DEFAULT = 0xe200;
export const ROM_IRET = 0xe210;
export const ROM_EOI_MASTER = 0xe220;
export const ROM_EOI_SLAVE = 0xe230;
export const ROM_IRQ0_TAIL = 0xe240;
export const ROM_DISKETTE_TABLE = 0xe280;
/** Where a CPU reset starts (FFFF:0000 = F000:FFF0). */
export const ROM_RESET_VECTOR = 0xfff0;
/** One 8-byte stub per vector from here: `out BIOS_PORT, al` then iret (or a jump to the IRQ tail). */
export const ROM_STUBS = 0xf000;
export const STUB_BYTES = 8;

export const stubOffset = (vector: number): number => ROM_STUBS + vector * STUB_BYTES;

/** The vector whose stub holds ROM offset `ip` (RIP on or just past its OUT), or undefined. */
export function stubVector(ip: number): number | undefined {
  if (ip < ROM_STUBS || ip >= ROM_STUBS + IVT_VECTORS * STUB_BYTES) return undefined;
  const within = (ip - ROM_STUBS) % STUB_BYTES;
  return within === 0 || within === 2 ? Math.floor((ip - ROM_STUBS) / STUB_BYTES) : undefined;
}

/** Where the stub goes on after the VMM served its OUT (the iret, or the jump to an IRQ tail). */
export const stubResume = (vector: number): number => stubOffset(vector) + 2;

/** Master PIC vectors 08h-0Fh, slave 70h-77h: as every PC BIOS programs them. */
export const PIC_MASTER_BASE = 0x08;
export const PIC_SLAVE_BASE = 0x70;

/** Conventional memory a boot sector may use: up to the EBDA (639 KiB). */
export const BASE_MEMORY_KIB = 639;
