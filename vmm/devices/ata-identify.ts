/**
 * The 512-byte IDENTIFY DEVICE block (ATA/ATAPI-7, table 16), as 256
 * little-endian words: a fixed, non-removable ATA disk with LBA28 and LBA48,
 * PIO only (no DMA is emulated), READ/WRITE MULTIPLE up to 16 sectors, FLUSH
 * CACHE, and the integrity word at 255 that Linux checks.
 */
import { ATA_SECTOR, LBA28_MAX_SECTORS, type Geometry } from './ata-disk';

export const MAX_MULTIPLE = 16;
export const ATA_MODEL = 'KVMDBG ATA DISK';
export const ATA_FIRMWARE = '1.0';

export interface IdentifyParams {
  sectors: number;
  serial: string;
  defaultGeometry: Geometry;
  currentGeometry: Geometry;
  /** READ/WRITE MULTIPLE sectors a block; 0 = not set. */
  multiple: number;
}

/** Puts an ATA string (two characters a word, the first in the high byte), space-padded to `words`. */
function ataString(b: Uint8Array, word: number, words: number, s: string): void {
  for (let i = 0; i < words * 2; i++) {
    const c = i < s.length ? s.charCodeAt(i) & 0x7f : 0x20;
    b[(word * 2) + (i ^ 1)] = c;
  }
}

export function buildIdentify(p: IdentifyParams): Uint8Array {
  const b = new Uint8Array(ATA_SECTOR);
  const v = new DataView(b.buffer);
  const w = (i: number, x: number) => v.setUint16(i * 2, x & 0xffff, true);
  const chsSectors = Math.min(p.sectors, p.currentGeometry.cylinders * p.currentGeometry.heads * p.currentGeometry.sectorsPerTrack);
  w(0, 0x0040);                            // fixed device, ATA
  w(1, p.defaultGeometry.cylinders);
  w(3, p.defaultGeometry.heads);
  w(6, p.defaultGeometry.sectorsPerTrack);
  ataString(b, 10, 10, p.serial);
  ataString(b, 23, 4, ATA_FIRMWARE);
  ataString(b, 27, 20, ATA_MODEL);
  w(47, 0x8000 | MAX_MULTIPLE);
  w(49, 0x0200);                           // LBA supported (no DMA)
  w(50, 0x4000);
  w(53, 0x0003);                           // words 54-58 and 64-70 valid
  w(54, p.currentGeometry.cylinders);
  w(55, p.currentGeometry.heads);
  w(56, p.currentGeometry.sectorsPerTrack);
  w(57, chsSectors);
  w(58, chsSectors >>> 16);
  w(59, p.multiple ? 0x0100 | p.multiple : 0);
  const lba28 = Math.min(p.sectors, LBA28_MAX_SECTORS);
  w(60, lba28);
  w(61, lba28 >>> 16);
  w(64, 0x0003);                           // PIO modes 3 and 4
  for (const i of [65, 66, 67, 68]) w(i, 120);
  w(80, 0x00f0);                           // ATA-4 to ATA/ATAPI-7
  const has48 = 1 << 10, flush = 1 << 12, flushExt = 1 << 13;
  w(82, 0x4000 | 1 << 5);                  // NOP command (bit 14), write cache (bit 5)
  w(83, 0x4000 | has48 | flush | flushExt);
  w(84, 0x4000);
  w(85, 0x4000 | 1 << 5);
  w(86, has48 | flush | flushExt);
  w(87, 0x4000);
  const s = BigInt(p.sectors);
  for (let i = 0; i < 4; i++) w(100 + i, Number((s >> BigInt(16 * i)) & 0xffffn));
  w(106, 0x4000);                          // one 512-byte logical sector a physical one
  b[510] = 0xa5;
  let sum = 0;
  for (let i = 0; i < 511; i++) sum += b[i];
  b[511] = (0x100 - (sum & 0xff)) & 0xff;
  return b;
}
