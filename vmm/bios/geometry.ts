/**
 * The disk a BIOS boots from, as INT 13h describes it: a floppy when the
 * image has a standard diskette size (drive 00h, its real geometry),
 * otherwise a hard disk (drive 80h) with the geometry BIOSes give a disk
 * they know only by its size: 16 heads and 63 sectors a track up to
 * 504 MiB, 255 heads beyond, at most 1024 cylinders (CHS reaches no
 * further; LBA reads reach the whole image). The disk is at least its
 * whole cylinders: what lies after the image's end reads as zeros, because
 * tutorial boot sectors read more sectors than their unpadded image holds
 * (QEMU's -fda lets them); a read past the last cylinder is an error.
 */
import { SECTOR_BYTES } from './layout';

export interface DiskGeometry {
  /** 0x00 (floppy) or 0x80 (hard disk). */
  drive: number;
  floppy: boolean;
  cylinders: number;
  heads: number;
  sectorsPerTrack: number;
  /** 512-byte sectors the disk has: the image's (a short tail is a sector), at least its whole cylinders; zeros after the image. */
  sectors: number;
  /** INT 13h AH=08h's BL for a floppy: 1 = 360K, 2 = 1.2M, 3 = 720K, 4 = 1.44M, 6 = 2.88M. */
  floppyType?: number;
}

const FLOPPIES: readonly [bytes: number, cylinders: number, heads: number, spt: number, type: number][] = [
  [368_640, 40, 2, 9, 1],
  [737_280, 80, 2, 9, 3],
  [1_228_800, 80, 2, 15, 2],
  [1_474_560, 80, 2, 18, 4],
  [2_949_120, 80, 2, 36, 6],
];

export function diskGeometry(bytes: number): DiskGeometry {
  const imageSectors = Math.ceil(bytes / SECTOR_BYTES);
  const floppy = FLOPPIES.find(([b]) => b === bytes);
  if (floppy) {
    const [, cylinders, heads, sectorsPerTrack, floppyType] = floppy;
    return { drive: 0x00, floppy: true, cylinders, heads, sectorsPerTrack, sectors: imageSectors, floppyType };
  }
  const sectorsPerTrack = 63;
  const heads = imageSectors <= 1024 * 16 * 63 ? 16 : 255;
  const cylinders = Math.max(1, Math.min(1024, Math.ceil(imageSectors / (heads * sectorsPerTrack))));
  return { drive: 0x80, floppy: false, cylinders, heads, sectorsPerTrack, sectors: Math.max(imageSectors, cylinders * heads * sectorsPerTrack) };
}

/** The LBA of a CHS address (sector counts from 1), or undefined when it lies outside the geometry. */
export function chsToLba(g: DiskGeometry, cylinder: number, head: number, sector: number): number | undefined {
  if (sector < 1 || sector > g.sectorsPerTrack || head >= g.heads || cylinder >= g.cylinders) return undefined;
  return (cylinder * g.heads + head) * g.sectorsPerTrack + sector - 1;
}

/** "hard disk 80h, CHS 1/16/63, image 64 KiB" for messages. */
export function describeDisk(g: DiskGeometry, imageBytes: number): string {
  const kib = imageBytes / 1024;
  const size = kib >= 1024 ? `${+(kib / 1024).toFixed(2)} MiB` : `${+kib.toFixed(2)} KiB`;
  return `${g.floppy ? 'floppy' : 'hard disk'} ${g.drive.toString(16).padStart(2, '0')}h, CHS ${g.cylinders}/${g.heads}/${g.sectorsPerTrack}, image ${size}`;
}
