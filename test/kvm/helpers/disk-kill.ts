// The disk image that the `SIGKILL during a disk write` tests (of the CLI and
// of the debug adapter) hand to vqhammer64 `diskwrite`: it writes sectors
// 0-15, flushes, says "flushed 16" and "writing", then rewrites sectors 16-31
// for ever. After a kill at any point the flushed sectors must be intact, the
// rest unchanged, the size the same, and nothing of ours beside the image.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GUEST_DIR, ROOT } from './guests';

export const VQHAMMER = join(GUEST_DIR, 'vqhammer64.elf');
/** What the guest prints once sectors 0-15 are flushed and the unflushed rewriting starts. */
export const DISKWRITE_READY = 'flushed 16\nwriting\n';
const SECTORS = 256;
const TAIL = 77;
const diskByte = (i: number) => (i * 13 + (i >> 9) * 5 + 9) & 0xff;
/** What diskwrite puts in sector s (test/guests/kernel/vqhammer.c). */
const flushedByte = (s: number, i: number) => (s * 7 + i * 13 + 1) & 0xff;

/** A fresh directory under test-output holding only disk.img (a known pattern, not a whole number of sectors). */
export function makeDiskImage(name: string): { dir: string; disk: string } {
  const dir = join(ROOT, 'test-output', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const disk = join(dir, 'disk.img');
  const img = Buffer.alloc(SECTORS * 512 + TAIL);
  for (let i = 0; i < img.length; i++) img[i] = diskByte(i);
  writeFileSync(disk, img);
  return { dir, disk };
}

/** Asserts nothing was lost; returns a line for the log (how much of the unflushed area was rewritten). */
export function checkDiskAfterKill(dir: string, disk: string): string {
  const after = readFileSync(disk);
  assert.equal(after.length, SECTORS * 512 + TAIL, 'the image kept its size');
  for (let s = 0; s < 16; s++) {
    for (let i = 0; i < 512; i++) assert.equal(after[s * 512 + i], flushedByte(s, i), `flushed sector ${s}, byte ${i}`);
  }
  // Sectors 16-31 are being rewritten (any mix of old and new is fine); the rest is untouched.
  let rewritten = 0;
  for (let s = 16; s < 32; s++) if (after.subarray(s * 512, s * 512 + 512).some((b, i) => b !== diskByte(s * 512 + i))) rewritten++;
  for (let i = 32 * 512; i < after.length; i++) assert.equal(after[i], diskByte(i), `byte ${i} (sector ${i >> 9}) changed`);
  assert.deepEqual(readdirSync(dir), ['disk.img'], 'no partial or temp file next to the image');
  return `16 flushed sectors intact, ${rewritten}/16 sectors of the unflushed area rewritten, size ${statSync(disk).size}`;
}
