/**
 * The disk behind an ATA drive: a raw image (the same files virtio-blk
 * opens, vmm/virtio/blk.ts) seen as 512-byte sectors, and the geometry a
 * CHS-addressing guest uses. Reads past the image's last whole sector never
 * happen (the commands check first); an I/O error of the host is a thrown
 * Error the command turns into an uncorrectable-data status.
 */
import type { DiskFile } from '../virtio/blk';

export const ATA_SECTOR = 512;
/** The largest LBA28 sector count IDENTIFY reports (words 60-61); bigger disks are LBA48 only above it. */
export const LBA28_MAX_SECTORS = 0x0fff_ffff;
/** The usual BIOS translation: 16 heads, 63 sectors a track, at most 16383 cylinders. */
export const DEFAULT_HEADS = 16;
export const DEFAULT_SECTORS_PER_TRACK = 63;
export const MAX_CYLINDERS = 16383;

export interface Geometry { cylinders: number; heads: number; sectorsPerTrack: number }

export class AtaDisk {
  readonly sectors: number;
  readonly defaultGeometry: Geometry;

  constructor(readonly file: DiskFile) {
    this.sectors = Math.floor(file.bytes / ATA_SECTOR);
    this.defaultGeometry = {
      cylinders: Math.max(1, Math.min(MAX_CYLINDERS, Math.floor(this.sectors / (DEFAULT_HEADS * DEFAULT_SECTORS_PER_TRACK)))),
      heads: DEFAULT_HEADS,
      sectorsPerTrack: DEFAULT_SECTORS_PER_TRACK,
    };
  }

  get path(): string { return this.file.path; }
  get readOnly(): boolean { return this.file.readOnly; }

  /** True when sectors [lba, lba + count) are all on the disk. */
  holds(lba: number, count: number): boolean {
    return Number.isSafeInteger(lba) && lba >= 0 && count >= 0 && lba + count <= this.sectors;
  }

  read(lba: number, into: Uint8Array): void {
    this.file.read(into, lba * ATA_SECTOR);
  }

  write(lba: number, from: Uint8Array): void {
    this.file.write(from, lba * ATA_SECTOR);
  }

  flush(): void {
    if (!this.file.readOnly) this.file.flush();
  }

  close(): void {
    this.file.close();
  }
}

/** The LBA of a CHS address under `g`, or undefined when the address is not on a track of it. */
export function chsToLba(g: Geometry, cylinder: number, head: number, sector: number): number | undefined {
  if (sector < 1 || sector > g.sectorsPerTrack || head >= g.heads || cylinder >= g.cylinders) return undefined;
  return (cylinder * g.heads + head) * g.sectorsPerTrack + sector - 1;
}
