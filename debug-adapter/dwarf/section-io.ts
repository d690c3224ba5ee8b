/**
 * Reading through the `Section` interface (model.ts): sections need not be in
 * memory, so every read asks for a window and a cursor runs over it. A
 * Section may throw anything when asked for bytes it does not have (sectionOf
 * throws a RangeError); here that always becomes a DwarfError, so callers
 * catch one kind of error. Also: strings of unknown length, and a small LRU.
 */
import { ByteReader, DwarfError } from '../symbols/dwarf-reader';
import type { Section } from './model';

/** `length` bytes at `offset` of `section`, or a DwarfError naming the section. */
export function sectionBytes(section: Section | undefined, offset: number, length: number, what: string): Uint8Array {
  if (!section) throw new DwarfError(`${what} is missing`);
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > section.size) {
    throw new DwarfError(`${what}: ${length} bytes at offset 0x${offset.toString(16)} are outside its 0x${section.size.toString(16)} bytes`);
  }
  try {
    return section.bytes(offset, length);
  } catch (e) {
    throw new DwarfError(`${what}: reading ${length} bytes at 0x${offset.toString(16)}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * A cursor over `section` from `offset` to the section's end, at most
 * `limit` bytes (one location or range list is small: hostile lengths never
 * make a read of megabytes). Positions are relative to `offset`.
 */
export function sectionReader(section: Section | undefined, offset: number, what: string, limit = 1 << 20): ByteReader {
  if (!section) throw new DwarfError(`${what} is missing`);
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > section.size) {
    throw new DwarfError(`${what}: offset 0x${offset.toString(16)} is outside its 0x${section.size.toString(16)} bytes`);
  }
  return new ByteReader(sectionBytes(section, offset, Math.min(limit, section.size - offset), what), 0, undefined, what);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The NUL-terminated string at `offset` of a string section, read in growing
 * windows (names are short; a missing NUL ends at 64 KiB, hostile input).
 */
export function sectionString(section: Section | undefined, offset: number): string | undefined {
  if (!section || !Number.isSafeInteger(offset) || offset < 0 || offset >= section.size) return undefined;
  for (let want = 128; ; want *= 4) {
    const length = Math.min(want, section.size - offset);
    let bytes: Uint8Array;
    try {
      bytes = section.bytes(offset, length);
    } catch {
      return undefined;
    }
    const nul = bytes.indexOf(0);
    if (nul >= 0) {
      const b = bytes.subarray(0, nul);
      try {
        return utf8.decode(b);
      } catch {
        return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
      }
    }
    if (length < want || want >= 1 << 16) return undefined;
  }
}

/** A least-recently-used cache bounded by total weight (parsed units weigh their DIE count). */
export class Lru<K, V> {
  private readonly map = new Map<K, { value: V; weight: number }>();
  private total = 0;

  constructor(private readonly budget: number) {}

  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  set(key: K, value: V, weight = 1): void {
    const old = this.map.get(key);
    if (old) { this.total -= old.weight; this.map.delete(key); }
    this.map.set(key, { value, weight });
    this.total += weight;
    // Always keep the newest entry, even when it alone is over budget.
    for (const [k, e] of this.map) {
      if (this.total <= this.budget || this.map.size <= 1) break;
      this.map.delete(k);
      this.total -= e.weight;
    }
  }

  get size(): number { return this.map.size; }
}
