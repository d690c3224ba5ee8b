/**
 * The BIOS ROM's code (16-bit, hand-encoded: it is a few dozen
 * instructions) and the IVT pointing into it. POST programs the PICs
 * (vectors 08h and 70h) and the PIT (IRQ0 at 18.2 Hz), sets the registers
 * a BIOS leaves (DL = boot drive, SS:SP = 0000:7C00, IF set) and jumps to
 * 0000:7C00. Each serviced vector's stub is `out BIOS_PORT, al; iret`: the
 * VMM does the work on the OUT (bios-calls.ts). Layout: layout.ts.
 */
import {
  BIOS_PORT, BOOT_SECTOR_ADDR, BOOT_STACK, IVT_VECTORS, PIC_MASTER_BASE, PIC_SLAVE_BASE, ROM_BYTES, ROM_DEFAULT,
  ROM_DISKETTE_TABLE, ROM_EOI_MASTER, ROM_EOI_SLAVE, ROM_IRET, ROM_IRQ0_TAIL, ROM_KEY_WAIT, ROM_OFFSET, ROM_POST, ROM_RESET_VECTOR, ROM_SEGMENT,
  stubOffset, stubResume,
} from './layout';

/** Vectors the VMM serves (INT 09h and 08h are IRQ1 and IRQ0; 00h and 06h are the CPU's #DE and #UD, reported). */
export const SERVICED_VECTORS = [0x00, 0x06, 0x08, 0x09, 0x10, 0x11, 0x12, 0x13, 0x15, 0x16, 0x19, 0x1a] as const;

const IRQ0_VECTOR = PIC_MASTER_BASE;
const IRQ1_VECTOR = PIC_MASTER_BASE + 1;
const USER_TIMER_VECTOR = 0x1c;
const DISKETTE_TABLE_VECTOR = 0x1e;

const outPic = (port: number, value: number) => [0xb0, value, 0xe6, port];   // mov al, value; out port, al
const le16 = (v: number) => [v & 0xff, (v >>> 8) & 0xff];
/** jmp near from `at` (the jump's own offset) to `to`. */
const jmpNear = (at: number, to: number) => [0xe9, ...le16(to - (at + 3))];

function post(drive: number): number[] {
  return [
    0xfa,                                                                      // cli
    ...outPic(0x20, 0x11), ...outPic(0x21, PIC_MASTER_BASE), ...outPic(0x21, 0x04), ...outPic(0x21, 0x01),
    ...outPic(0xa0, 0x11), ...outPic(0xa1, PIC_SLAVE_BASE), ...outPic(0xa1, 0x02), ...outPic(0xa1, 0x01),
    ...outPic(0x21, 0xf8),                                                     // IRQ0, IRQ1 and the cascade unmasked
    ...outPic(0xa1, 0xff),
    ...outPic(0x43, 0x36), 0x30, 0xc0, 0xe6, 0x40, 0xe6, 0x40,                 // PIT 0: mode 3, divisor 65536 (18.2 Hz)
    0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0,                            // xor ax,ax; ds = es = ss = 0
    0xbc, ...le16(BOOT_STACK),                                                 // mov sp, 7C00h
    0xba, ...le16(drive & 0xff),                                               // mov dx, drive
    0x31, 0xdb, 0x31, 0xc9, 0x31, 0xf6, 0x31, 0xff, 0x31, 0xed,                // bx = cx = si = di = bp = 0
    0xfb,                                                                      // sti
    0xea, ...le16(BOOT_SECTOR_ADDR), 0x00, 0x00,                               // jmp 0000:7C00
  ];
}

/** The diskette parameter table INT 1Eh points at (IBM's 1.44 MB values, `sectorsPerTrack` patched in). */
function disketteTable(sectorsPerTrack: number): number[] {
  return [0xdf, 0x02, 0x25, 0x02, sectorsPerTrack & 0xff, 0x1b, 0xff, 0x6c, 0xf6, 0x0f, 0x08];
}

export interface RomImage {
  /** ROM_BYTES of code at ROM_ADDR. */
  rom: Uint8Array;
  /** The 1 KiB IVT at 0. */
  ivt: Uint8Array;
}

export function buildRom(o: { drive: number; sectorsPerTrack: number }): RomImage {
  const rom = new Uint8Array(ROM_BYTES);
  const put = (at: number, bytes: number[]) => rom.set(bytes, at - ROM_OFFSET);
  put(ROM_POST, post(o.drive));
  const keyStub = stubOffset(0x16);
  put(ROM_KEY_WAIT, [0xfb, 0xf4, 0xfa, ...jmpNear(ROM_KEY_WAIT + 3, keyStub)]);  // sti; hlt; cli; jmp the INT 16h stub
  put(ROM_DEFAULT, [0x55, 0x89, 0xe5, 0x83, 0x4e, 0x06, 0x01, 0x5d, 0xcf]);     // push bp; mov bp,sp; or word [bp+6],1 (CF); pop bp; iret
  put(ROM_IRET, [0xcf]);
  put(ROM_EOI_MASTER, [0x50, ...outPic(0x20, 0x20), 0x58, 0xcf]);              // push ax; EOI to the master; pop ax; iret
  put(ROM_EOI_SLAVE, [0x50, ...outPic(0xa0, 0x20), 0xe6, 0x20, 0x58, 0xcf]);   // EOI to both
  put(ROM_IRQ0_TAIL, [0xcd, USER_TIMER_VECTOR, ...jmpNear(ROM_IRQ0_TAIL + 2, ROM_EOI_MASTER)]);
  put(ROM_DISKETTE_TABLE, disketteTable(o.sectorsPerTrack));
  for (const v of SERVICED_VECTORS) {
    const at = stubOffset(v);
    put(at, [0xe6, BIOS_PORT]);
    const resume = stubResume(v);
    if (v === IRQ0_VECTOR) put(resume, jmpNear(resume, ROM_IRQ0_TAIL));
    else if (v === IRQ1_VECTOR) put(resume, jmpNear(resume, ROM_EOI_MASTER));
    else put(resume, [0xcf]);
  }
  // The reset vector: a CPU reset (or `jmp FFFF:0000`) boots again through INT 19h's stub; then the BIOS date and the AT model byte.
  put(ROM_RESET_VECTOR, [0xea, ...le16(stubOffset(0x19)), ...le16(ROM_SEGMENT)]);
  put(ROM_RESET_VECTOR + 5, [...Buffer.from('12/02/26', 'latin1'), 0x00, 0xfc]);
  const ivt = new Uint8Array(IVT_VECTORS * 4);
  const view = new DataView(ivt.buffer);
  for (let v = 0; v < IVT_VECTORS; v++) {
    view.setUint16(v * 4, vectorTarget(v), true);
    view.setUint16(v * 4 + 2, ROM_SEGMENT, true);
  }
  return { rom, ivt };
}

/** Where vector `v` points in the ROM segment. */
export function vectorTarget(v: number): number {
  if ((SERVICED_VECTORS as readonly number[]).includes(v)) return stubOffset(v);
  if (v >= PIC_MASTER_BASE && v < PIC_MASTER_BASE + 8) return ROM_EOI_MASTER;
  if (v >= PIC_SLAVE_BASE && v < PIC_SLAVE_BASE + 8) return ROM_EOI_SLAVE;
  if (v === USER_TIMER_VECTOR || v === 0x4a) return ROM_IRET;
  if (v === DISKETTE_TABLE_VECTOR) return ROM_DISKETTE_TABLE;
  return ROM_DEFAULT;
}

export { IRQ0_VECTOR, IRQ1_VECTOR };
