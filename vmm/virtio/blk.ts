/**
 * virtio-blk (virtio 1.x, 5.2) backed by a raw disk image file: IN, OUT,
 * FLUSH and GET_ID on one request queue; capacity in 512-byte sectors
 * (a tail shorter than a sector is not visible to the guest). With `ro`
 * the device offers VIRTIO_BLK_F_RO and answers writes with IOERR.
 * FLUSH is fsync, so what the guest wrote and flushed is on the host file.
 *
 * The file I/O is synchronous (fs.readSync/writeSync) on the vCPU thread:
 * the vCPU waits for the disk, as it would for an emulated PIO disk. That is
 * fine for test images and small disks; an I/O thread with completion
 * interrupts is the way to overlap them later.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import type { DeviceLog } from '../bus/device';
import type { GuestMemory } from '../memory/guest-memory';
import { feature, VIRTIO_F_INDIRECT_DESC, type VirtioBackend } from './mmio-transport';
import { ChainReader, splitWritable, type Chain, type Virtqueue } from './virtqueue';

export const VIRTIO_ID_BLOCK = 2;
export const SECTOR = 512;

export const VIRTIO_BLK_F_SEG_MAX = 2n;
export const VIRTIO_BLK_F_RO = 5n;
export const VIRTIO_BLK_F_BLK_SIZE = 6n;
export const VIRTIO_BLK_F_FLUSH = 9n;

export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;

export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

export const BLK_QUEUE_SIZE = 256;
/** Segments per request we advertise (seg_max): the queue less the header and status. */
export const BLK_SEG_MAX = BLK_QUEUE_SIZE - 2;
/** The most data one request may move (Linux asks for far less). */
export const BLK_MAX_REQUEST = 64 * 1024 * 1024;
export const BLK_ID_BYTES = 20;
const HEADER = 16;

/** A raw disk image: the part of the file backend both tests and the board use. */
export interface DiskFile {
  readonly path: string;
  readonly readOnly: boolean;
  readonly bytes: number;
  read(into: Uint8Array, position: number): void;
  write(from: Uint8Array, position: number): void;
  flush(): void;
  close(): void;
}

/** Opens `path` for the guest (read-only with `readOnly`). Throws with one sentence when it cannot. */
export function openDiskFile(path: string, readOnly: boolean): DiskFile {
  let fd: number;
  try {
    fd = openSync(path, readOnly ? 'r' : 'r+');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' || code === 'EPERM'
      ? `cannot be opened for ${readOnly ? 'reading' : 'reading and writing'} (permission denied${readOnly ? '' : '; add ,ro for a read-only disk'})`
      : code === 'EISDIR' ? 'is a directory, not a disk image' : `cannot be opened (${(e as Error).message})`;
    throw new Error(`disk image ${path}: the file ${why}`);
  }
  const st = fstatSync(fd);
  if (!st.isFile() && !st.isBlockDevice()) {
    closeSync(fd);
    throw new Error(`disk image ${path}: not a regular file`);
  }
  const bytes = st.size;
  return {
    path, readOnly, bytes,
    read(into, position) {
      let done = 0;
      while (done < into.length) {
        const n = readSync(fd, into, done, into.length - done, position + done);
        if (n <= 0) { into.fill(0, done); return; }
        done += n;
      }
    },
    write(from, position) {
      let done = 0;
      while (done < from.length) done += writeSync(fd, from, done, from.length - done, position + done);
    },
    flush() { fsyncSync(fd); },
    close() { closeSync(fd); },
  };
}

export class VirtioBlk implements VirtioBackend {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly features: bigint;
  readonly queueMaxSizes = [BLK_QUEUE_SIZE];
  readonly config: Uint8Array;
  readonly sectors: number;
  /** Counters for views and tests. */
  readonly stats = { reads: 0, writes: 0, flushes: 0, errors: 0 };

  constructor(private readonly disk: DiskFile, private readonly memory: GuestMemory, private readonly id = 'kvmdbg') {
    this.sectors = Math.floor(disk.bytes / SECTOR);
    this.features = feature(VIRTIO_BLK_F_SEG_MAX) | feature(VIRTIO_BLK_F_BLK_SIZE) | feature(VIRTIO_BLK_F_FLUSH)
      | feature(VIRTIO_F_INDIRECT_DESC) | (disk.readOnly ? feature(VIRTIO_BLK_F_RO) : 0n);
    // struct virtio_blk_config: capacity (u64) @0, size_max @8, seg_max @12, geometry @16, blk_size @20.
    this.config = new Uint8Array(60);
    const v = new DataView(this.config.buffer);
    v.setBigUint64(0, BigInt(this.sectors), true);
    v.setUint32(12, BLK_SEG_MAX, true);
    v.setUint32(20, SECTOR, true);
  }

  process(queue: Virtqueue, ctx: { log: DeviceLog }): boolean {
    let used = false;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      queue.push(chain.head, this.request(chain, ctx.log));
      used = true;
    }
    return used;
  }

  /** Performs one request; returns the bytes written into the chain's writable buffers. */
  private request(chain: Chain, log: DeviceLog): number {
    // The last writable byte is the status; a request without one cannot be answered.
    const last = chain.writable[chain.writable.length - 1];
    if (!last || chain.readableBytes < HEADER) {
      this.stats.errors++;
      log.guestError(`virtio-blk (${this.disk.path}): request without a ${HEADER}-byte header or a status byte; dropped`);
      return 0;
    }
    const statusAddr = last.addr + last.len - 1;
    const reader = new ChainReader(this.memory, chain.readable);
    const h = new DataView(reader.read(HEADER).slice().buffer);
    const type = h.getUint32(0, true);
    const sector = Number(h.getBigUint64(8, true));
    const inBytes = chain.writableBytes - 1;
    const finish = (status: number, written: number) => {
      if (status !== VIRTIO_BLK_S_OK) this.stats.errors++;
      this.memory.writeU8(statusAddr, status);
      return written + 1;
    };
    switch (type) {
      case VIRTIO_BLK_T_IN: {
        if (!this.inRange(sector, inBytes, log, 'read')) return finish(VIRTIO_BLK_S_IOERR, 0);
        const { data } = splitWritable(this.memory, chain.writable, inBytes);
        let pos = sector * SECTOR;
        for (const view of data) { this.disk.read(view, pos); pos += view.length; }
        this.stats.reads++;
        return finish(VIRTIO_BLK_S_OK, inBytes);
      }
      case VIRTIO_BLK_T_OUT: {
        const outBytes = chain.readableBytes - HEADER;
        if (this.disk.readOnly) {
          log.info(`virtio-blk (${this.disk.path}): the guest wrote to a read-only disk; answered IOERR`);
          return finish(VIRTIO_BLK_S_IOERR, 0);
        }
        if (!this.inRange(sector, outBytes, log, 'write')) return finish(VIRTIO_BLK_S_IOERR, 0);
        let pos = sector * SECTOR;
        for (const view of reader.rest()) { this.disk.write(view, pos); pos += view.length; }
        this.stats.writes++;
        return finish(VIRTIO_BLK_S_OK, 0);
      }
      case VIRTIO_BLK_T_FLUSH:
        if (!this.disk.readOnly) this.disk.flush();
        this.stats.flushes++;
        return finish(VIRTIO_BLK_S_OK, 0);
      case VIRTIO_BLK_T_GET_ID: {
        const id = new Uint8Array(BLK_ID_BYTES);
        id.set(new TextEncoder().encode(this.id).subarray(0, BLK_ID_BYTES));
        const n = Math.min(inBytes, BLK_ID_BYTES);
        const { data } = splitWritable(this.memory, chain.writable, n);
        let at = 0;
        for (const view of data) { view.set(id.subarray(at, at + view.length)); at += view.length; }
        return finish(VIRTIO_BLK_S_OK, n);
      }
      default:
        return finish(VIRTIO_BLK_S_UNSUPP, 0);
    }
  }

  /** A data transfer must be whole sectors, at most BLK_MAX_REQUEST, and inside the disk. */
  private inRange(sector: number, bytes: number, log: DeviceLog, what: string): boolean {
    let why: string | undefined;
    if (bytes % SECTOR !== 0) why = `${bytes} bytes is not a whole number of sectors`;
    else if (bytes > BLK_MAX_REQUEST) why = `${bytes} bytes is more than the ${BLK_MAX_REQUEST} one request may move`;
    else if (!Number.isSafeInteger(sector) || sector + bytes / SECTOR > this.sectors) why = `sectors ${sector}+${bytes / SECTOR} are past the disk's ${this.sectors}`;
    if (why) log.guestError(`virtio-blk (${this.disk.path}): ${what} refused with IOERR: ${why}`);
    return why === undefined;
  }

  close(): void {
    this.disk.close();
  }
}
