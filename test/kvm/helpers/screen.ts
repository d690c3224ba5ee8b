// What the screen64 test kernel (test/guests/kernel/screen.c) shows, drawn by
// our renderer from the buffer the kernel is known to write: the tests
// compare screenshots with it pixel for pixel (no OCR: same font, same palette).
import assert from 'node:assert/strict';
import { GuestMemory } from '../../../vmm/memory/guest-memory';
import { Vga } from '../../../vmm/devices/vga';
import { VgaState } from '../../../vmm/devices/vga-state';
import { renderText, textLines, textSnapshot } from '../../../vmm/screen/text-mode';
import type { RgbaImage } from '../../../vmm/screen/image';

/**
 * The text screen after `line` was typed at the prompt (the cursor after
 * it), or, with `done`, after Enter ("typed: LINE" below, the cursor under it).
 */
export function expectedScreen(set: 1 | 2, line = '', done = false): { image: RgbaImage; lines: string[] } {
  const memory = GuestMemory.allocate(2 * 1024 * 1024);
  const put = (r: number, c: number, s: string, attr: number) => {
    for (let i = 0; i < s.length && c + i < 80; i++) memory.writeU16(0xb8000 + ((r * 80 + c + i) * 2), s.charCodeAt(i) | (attr << 8));
  };
  for (let r = 0; r < 25; r++) put(r, 0, ' '.repeat(80), 0x07);
  put(0, 0, ' '.repeat(80), 0x1f);
  put(0, 2, 'kvmdbg screen64: VGA text mode', 0x1f);
  put(1, 0, 'colours:', 0x07);
  for (let i = 0; i < 16; i++) put(1, 9 + i, '#', i);
  put(2, 0, 'blink:', 0x07);
  put(2, 7, 'BLINK', 0x8e);
  put(3, 0, `scan code set ${set}`, 0x0a);
  put(5, 0, `> ${line}`, 0x07);
  const vga = new Vga(new VgaState());
  let cursor = 5 * 80 + 2 + line.length;
  if (done) {
    put(6, 0, `typed: ${line}`, 0x0f);
    cursor = 7 * 80;
  }
  vga.write(0x14, 2, 0x0e | ((cursor >> 8) << 8));
  vga.write(0x14, 2, 0x0f | ((cursor & 0xff) << 8));
  const t = textSnapshot(memory, vga.state);
  return { image: renderText(t), lines: textLines(t) };
}

/** Where two pictures differ first, or undefined when they are the same. */
export function firstDifference(actual: RgbaImage, expected: RgbaImage): string | undefined {
  if (actual.width !== expected.width || actual.height !== expected.height) return `size ${actual.width}x${actual.height}, expected ${expected.width}x${expected.height}`;
  for (let i = 0; i < expected.data.length; i += 4) {
    if (actual.data[i] !== expected.data[i] || actual.data[i + 1] !== expected.data[i + 1] || actual.data[i + 2] !== expected.data[i + 2]) {
      const p = i / 4;
      return `pixel (${p % expected.width}, ${Math.floor(p / expected.width)}) is ${[...actual.data.subarray(i, i + 3)]}, expected ${[...expected.data.subarray(i, i + 3)]}`;
    }
  }
  return undefined;
}

export function assertSameImage(actual: RgbaImage, expected: RgbaImage, what: string): void {
  const d = firstDifference(actual, expected);
  if (d) assert.fail(`${what}: ${d}`);
}
