/**
 * multiboot2 headers for the boot tests (tags as u16 type, u16 flags, u32
 * size, 8-byte aligned, an end tag added), and a reader of the boot
 * information kvmdbg writes, tag by tag, checking the layout on the way.
 */
import assert from 'node:assert/strict';
import type { GuestMemory } from '../../../vmm/memory/guest-memory';

export interface Mb2TagSpec {
  type: number;
  flags?: number;
  /** The tag's body after its 8-byte header: u32 words. */
  words?: number[];
  /** Overrides the size field (for malformed headers). */
  size?: number;
}

export interface Mb2HeaderOptions {
  arch?: number;
  /** Added to header_length (the checksum follows it unless badChecksum). */
  lengthDelta?: number;
  badChecksum?: boolean;
  /** Leave the end tag out. */
  noEnd?: boolean;
}

export function mb2Header(tags: Mb2TagSpec[], o: Mb2HeaderOptions = {}): Uint8Array {
  const parts: Buffer[] = [];
  for (const t of [...tags, ...(o.noEnd ? [] : [{ type: 0 }])]) {
    const words = t.words ?? [];
    const b = Buffer.alloc(Math.ceil((8 + words.length * 4) / 8) * 8);
    b.writeUInt16LE(t.type, 0);
    b.writeUInt16LE(t.flags ?? 0, 2);
    b.writeUInt32LE(t.size ?? 8 + words.length * 4, 4);
    words.forEach((w, i) => b.writeUInt32LE(w >>> 0, 8 + i * 4));
    parts.push(b);
  }
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(16);
  const arch = o.arch ?? 0;
  const length = 16 + body.length + (o.lengthDelta ?? 0);
  head.writeUInt32LE(0xe85250d6, 0);
  head.writeUInt32LE(arch, 4);
  head.writeUInt32LE(length >>> 0, 8);
  head.writeUInt32LE((-(0xe85250d6 + arch + length) + (o.badChecksum ? 1 : 0)) >>> 0, 12);
  return new Uint8Array(Buffer.concat([head, body]));
}

export interface Mb2InfoTag { type: number; addr: number; size: number }

/** The tags of the information at `addr`, checked: 8-byte aligned, inside total_size, an end tag last. */
export function readMb2Info(memory: GuestMemory, addr: number): { total: number; tags: Mb2InfoTag[] } {
  assert.equal(addr % 8, 0, 'the information is 8-byte aligned');
  const total = memory.readU32(addr);
  assert.equal(memory.readU32(addr + 4), 0, 'reserved word');
  const tags: Mb2InfoTag[] = [];
  let at = addr + 8;
  for (;;) {
    assert.ok(at + 8 <= addr + total, `tag at 0x${at.toString(16)} inside total_size ${total}`);
    const t = { type: memory.readU32(at), addr: at, size: memory.readU32(at + 4) };
    tags.push(t);
    if (t.type === 0) { assert.equal(t.size, 8); assert.equal(at + 8, addr + total, 'the end tag ends the information'); break; }
    at += Math.ceil(t.size / 8) * 8;
  }
  return { total, tags };
}

export function tagOf(info: { tags: Mb2InfoTag[] }, type: number): Mb2InfoTag {
  const t = info.tags.find((x) => x.type === type);
  assert.ok(t, `information tag ${type} is present`);
  return t;
}
