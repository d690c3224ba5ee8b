/**
 * Bytes of a file without reading the whole file: the ELF reader and the
 * debugger's DWARF readers take a ByteSource, which is either bytes already
 * in memory (a boot loader's kernel, a test's Uint8Array) or an open file
 * read with pread on demand through a bounded cache of chunks. A distro
 * debug vmlinux is 600+ MB, of which a session reads a few MB.
 *
 * The shape is the same as dwarf/model.ts's `Section` (size + bytes), so a
 * window of a ByteSource is a Section.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export interface ByteSource {
  readonly size: number;
  /**
   * `length` bytes at `offset`: a view (memory, or inside one cached chunk)
   * or a fresh copy. Throws a RangeError outside [0, size). The bytes must
   * not be written to.
   */
  bytes(offset: number, length: number): Uint8Array;
}

/** What a file source has done, for tests and the benchmark (reads are preads). */
export interface ReadStats {
  reads: number;
  bytesRead: number;
  /** Bytes held in the chunk cache now. */
  cached: number;
}

export interface FileSource extends ByteSource {
  readonly path: string;
  readonly stats: ReadStats;
  close(): void;
}

export function isByteSource(x: Uint8Array | ByteSource): x is ByteSource {
  return !(x instanceof Uint8Array);
}

function check(offset: number, length: number, size: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new RangeError(`${length} bytes at offset ${offset} are outside ${size} bytes`);
  }
}

export function memorySource(data: Uint8Array): ByteSource {
  return {
    size: data.length,
    bytes(offset: number, length: number): Uint8Array {
      check(offset, length, data.length);
      return data.subarray(offset, offset + length);
    },
  };
}

/** A window [start, start+size) of another source, as its own source (an ELF section). */
export function windowOf(src: ByteSource, start: number, size: number): ByteSource {
  check(start, size, src.size);
  return {
    size,
    bytes(offset: number, length: number): Uint8Array {
      check(offset, length, size);
      return src.bytes(start + offset, length);
    },
  };
}

export interface FileSourceOptions {
  /** Bytes per cached chunk (default 16 KiB). */
  chunkSize?: number;
  /** Most bytes the chunk cache holds (default 16 MiB); least recently used chunks go first. */
  cacheBytes?: number;
}

/**
 * An open file read on demand. Reads inside one chunk are served from (and
 * fill) the chunk cache; larger reads go straight to the file into a buffer
 * of their own (the caller keeps what it needs, e.g. one DWARF unit).
 */
export function openFileSource(path: string, options: FileSourceOptions = {}): FileSource {
  const chunkSize = options.chunkSize ?? 16 * 1024;
  const cacheBytes = Math.max(chunkSize, options.cacheBytes ?? 16 * 1024 * 1024);
  let fd: number | undefined = openSync(path, 'r');
  const size = fstatSync(fd).size;
  const chunks = new Map<number, Uint8Array>();
  const stats: ReadStats = { reads: 0, bytesRead: 0, cached: 0 };
  const pread = (offset: number, length: number): Uint8Array => {
    if (fd === undefined) throw new Error(`${path} is closed`);
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, done, length - done, offset + done);
      if (n === 0) throw new RangeError(`${path} ended at ${offset + done} (it shrank while open?)`);
      done += n;
    }
    stats.reads++;
    stats.bytesRead += length;
    return buf;
  };
  const chunk = (index: number): Uint8Array => {
    const have = chunks.get(index);
    if (have) {
      // Most recently used last (Map keeps insertion order).
      chunks.delete(index);
      chunks.set(index, have);
      return have;
    }
    const start = index * chunkSize;
    const c = pread(start, Math.min(chunkSize, size - start));
    chunks.set(index, c);
    stats.cached += c.length;
    while (stats.cached > cacheBytes) {
      const [oldest, data] = chunks.entries().next().value as [number, Uint8Array];
      chunks.delete(oldest);
      stats.cached -= data.length;
    }
    return c;
  };
  return {
    path, size, stats,
    bytes(offset: number, length: number): Uint8Array {
      check(offset, length, size);
      if (length === 0) return new Uint8Array(0);
      const first = Math.floor(offset / chunkSize);
      const last = Math.floor((offset + length - 1) / chunkSize);
      if (first === last) {
        const at = offset - first * chunkSize;
        return chunk(first).subarray(at, at + length);
      }
      if (length <= chunkSize) {
        // Straddles two chunks: copy from both (small reads of headers and strings).
        const out = new Uint8Array(length);
        const a = chunk(first);
        const at = offset - first * chunkSize;
        out.set(a.subarray(at), 0);
        out.set(chunk(last).subarray(0, length - (a.length - at)), a.length - at);
        return out;
      }
      return pread(offset, length);
    },
    close(): void {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      chunks.clear();
      stats.cached = 0;
    },
  };
}
