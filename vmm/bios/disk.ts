/**
 * INT 13h on the boot disk image: reset and status, CHS read (02h) and
 * write (03h), parameters (08h), disk type (15h), the EDD extensions check
 * (41h), LBA extended read and write (42h, 43h), extended parameters
 * (48h). Every request is checked before any byte moves: a drive that is
 * not ours, a sector outside the disk, a buffer outside guest RAM (or over
 * the ROM) gets CF and a status in AH, and the BDA keeps the last status.
 */
import type { DiskFile } from '../virtio/blk';
import { type BiosContext, canRead, canWrite, linear } from './guest-access';
import { chsToLba, type DiskGeometry } from './geometry';
import { BDA_ADDR, BDA_DISK_STATUS, ROM_DISKETTE_TABLE, ROM_SEGMENT, SECTOR_BYTES } from './layout';
import { ah, al, type BiosRegs, fail, hi8, lo16, lo8, ok, setAl, setHi8, setLo16, setLo8 } from './regs';

/** INT 13h status codes (AH). */
export const DISK_OK = 0x00;
export const DISK_BAD_COMMAND = 0x01;
export const DISK_WRITE_PROTECTED = 0x03;
export const DISK_SECTOR_NOT_FOUND = 0x04;
export const DISK_BAD_BUFFER = 0x09;   // "DMA boundary": the buffer cannot take the data
export const DISK_NOT_READY = 0xaa;

/** EDD 3.0, with the fixed-disk subset (42h-44h, 47h, 48h). */
const EDD_VERSION = 0x30;
const EDD_FIXED_DISK_ACCESS = 0x0001;
const DAP_MIN = 0x10;

export class DiskBios {
  constructor(private readonly ctx: BiosContext, private readonly disk: DiskFile, readonly geometry: DiskGeometry) {}

  private get mem() { return this.ctx.memory; }

  call(r: BiosRegs): void {
    const fn = ah(r);
    // 08h and 15h answer for drives we lack too (DL = how many we have); the rest are for ours only.
    if (lo8(r, 'edx') !== this.geometry.drive && fn !== 0x08 && fn !== 0x15) return this.done(r, DISK_BAD_COMMAND);
    switch (fn) {
      case 0x00: return this.done(r, DISK_OK);
      case 0x01: {
        const last = this.mem.readU8(BDA_ADDR + BDA_DISK_STATUS);
        setAl(r, last);
        return last === DISK_OK ? ok(r) : fail(r, last);
      }
      case 0x02: case 0x03: return this.chs(r, fn === 0x03);
      case 0x08: return this.parameters(r);
      case 0x15: return this.diskType(r);
      case 0x41:
        if (lo16(r, 'ebx') !== 0x55aa) return this.done(r, DISK_BAD_COMMAND);
        setLo16(r, 'ebx', 0xaa55);
        setLo16(r, 'ecx', EDD_FIXED_DISK_ACCESS);
        ok(r);
        setHi8(r, 'eax', EDD_VERSION);
        return;
      case 0x42: case 0x43: return this.extended(r, fn === 0x43);
      case 0x48: return this.extendedParameters(r);
      default: return this.done(r, DISK_BAD_COMMAND);
    }
  }

  /** Ends a request: AH = status, CF when it is not 0, the BDA's last status. */
  private done(r: BiosRegs, status: number): void {
    this.mem.writeU8(BDA_ADDR + BDA_DISK_STATUS, status);
    if (status === DISK_OK) ok(r); else fail(r, status);
  }

  /**
   * Moves `count` sectors from `lba` to or from the guest at `address`.
   * Returns the status; nothing moves unless every sector and the whole buffer are valid.
   */
  transfer(lba: number, count: number, address: number, write: boolean): number {
    if (count === 0) return DISK_OK;
    if (lba + count > this.geometry.sectors) return DISK_SECTOR_NOT_FOUND;
    const bytes = count * SECTOR_BYTES;
    if (write) {
      if (this.disk.readOnly) return DISK_WRITE_PROTECTED;
      if (!canRead(this.mem, address, bytes)) return DISK_BAD_BUFFER;
      this.disk.write(this.mem.read(address, bytes), lba * SECTOR_BYTES);
      return DISK_OK;
    }
    if (!canWrite(this.mem, address, bytes)) return DISK_BAD_BUFFER;
    this.disk.read(this.mem.view8(address, bytes), lba * SECTOR_BYTES);
    return DISK_OK;
  }

  /** AH=02h/03h: AL sectors at CH (cylinder low), CL (sector, bits 6-7 cylinder high), DH (head), to or from ES:BX. */
  private chs(r: BiosRegs, write: boolean): void {
    const count = al(r);
    const cl = lo8(r, 'ecx');
    const cylinder = hi8(r, 'ecx') | ((cl & 0xc0) << 2);
    const lba = chsToLba(this.geometry, cylinder, hi8(r, 'edx'), cl & 0x3f);
    if (count === 0 || count > 128) { setAl(r, 0); return this.done(r, DISK_BAD_COMMAND); }
    if (lba === undefined) { setAl(r, 0); return this.done(r, DISK_SECTOR_NOT_FOUND); }
    const status = this.transfer(lba, count, linear(r.esBase, lo16(r, 'ebx')), write);
    setAl(r, status === DISK_OK ? count : 0);
    this.done(r, status);
  }

  /** AH=08h: the geometry's maxima (CH, CL, DH) and DL = drives of the asked kind; for a floppy, BL = its type and ES:DI its parameter table. */
  private parameters(r: BiosRegs): void {
    const g = this.geometry;
    const asked = lo8(r, 'edx');
    if (asked !== g.drive) {
      // No such drive; DL still counts the drives of that kind (hard disks from 80h, floppies below).
      setLo8(r, 'edx', (asked & 0x80) === (g.drive & 0x80) ? 1 : 0);
      return this.done(r, DISK_BAD_COMMAND);
    }
    const maxCyl = g.cylinders - 1;
    setHi8(r, 'ecx', maxCyl & 0xff);
    setLo8(r, 'ecx', (g.sectorsPerTrack & 0x3f) | ((maxCyl >> 2) & 0xc0));
    setHi8(r, 'edx', g.heads - 1);
    setLo8(r, 'edx', 1);
    if (g.floppy) {
      setLo8(r, 'ebx', g.floppyType ?? 4);
      r.es = ROM_SEGMENT; r.esBase = ROM_SEGMENT * 16;
      setLo16(r, 'edi', ROM_DISKETTE_TABLE);
    }
    setAl(r, 0);
    this.done(r, DISK_OK);
  }

  /** AH=15h: AH = 03h (hard disk, CX:DX sectors) or 01h (floppy without change line); 00h: no such drive. */
  private diskType(r: BiosRegs): void {
    const g = this.geometry;
    if (lo8(r, 'edx') !== g.drive) { ok(r); return; }
    ok(r);
    if (g.floppy) { setHi8(r, 'eax', 0x01); return; }
    setHi8(r, 'eax', 0x03);
    setLo16(r, 'ecx', (g.sectors >>> 16) & 0xffff);
    setLo16(r, 'edx', g.sectors & 0xffff);
  }

  /** AH=42h/43h: the disk address packet at DS:SI (size, count, buffer seg:off or a 64-bit address, LBA). */
  private extended(r: BiosRegs, write: boolean): void {
    const dap = linear(r.dsBase, lo16(r, 'esi'));
    if (!canRead(this.mem, dap, DAP_MIN)) return this.done(r, DISK_BAD_COMMAND);
    const size = this.mem.readU8(dap);
    const count = this.mem.readU16(dap + 2);
    const offset = this.mem.readU16(dap + 4), segment = this.mem.readU16(dap + 6);
    const lba = this.mem.readU64(dap + 8);
    let address = segment * 16 + offset;
    if (size < DAP_MIN || count > 127) return this.fail42(r, dap, DISK_BAD_COMMAND);
    if (offset === 0xffff && segment === 0xffff) {
      // EDD 3.0: a flat 64-bit buffer address follows the packet.
      if (size < 0x18 || !canRead(this.mem, dap, 0x18)) return this.fail42(r, dap, DISK_BAD_COMMAND);
      const flat = this.mem.readU64(dap + 0x10);
      if (flat > BigInt(Number.MAX_SAFE_INTEGER)) return this.fail42(r, dap, DISK_BAD_BUFFER);
      address = Number(flat);
    }
    if (lba > BigInt(this.geometry.sectors)) return this.fail42(r, dap, DISK_SECTOR_NOT_FOUND);
    const status = this.transfer(Number(lba), count, address, write);
    if (status !== DISK_OK) return this.fail42(r, dap, status);
    this.done(r, DISK_OK);
  }

  /** A failed 42h/43h: the packet's count says none moved (when the packet is writable). */
  private fail42(r: BiosRegs, dap: number, status: number): void {
    if (canWrite(this.mem, dap + 2, 2)) this.mem.writeU16(dap + 2, 0);
    this.done(r, status);
  }

  /** AH=48h: the result buffer at DS:SI (its size word first), filled to 1Ah bytes. */
  private extendedParameters(r: BiosRegs): void {
    const at = linear(r.dsBase, lo16(r, 'esi'));
    if (!canRead(this.mem, at, 2)) return this.done(r, DISK_BAD_COMMAND);
    const size = this.mem.readU16(at);
    if (size < 0x1a || !canWrite(this.mem, at, 0x1a)) return this.done(r, DISK_BAD_COMMAND);
    const g = this.geometry;
    this.mem.writeU16(at, 0x1a);
    this.mem.writeU16(at + 2, 0x0002);                      // the CHS information is valid
    this.mem.writeU32(at + 4, g.cylinders);
    this.mem.writeU32(at + 8, g.heads);
    this.mem.writeU32(at + 12, g.sectorsPerTrack);
    this.mem.writeU64(at + 16, BigInt(g.sectors));
    this.mem.writeU16(at + 24, SECTOR_BYTES);
    this.done(r, DISK_OK);
  }
}
