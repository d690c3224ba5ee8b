/**
 * What the guest's monitor shows right now, whatever mode it is in: the
 * dispi framebuffer when the guest enabled it, else VGA text. The one entry
 * point for the CLI's --screenshot and --screen and the debug adapter's
 * Guest Screen; it only reads shared memory, so it works while the guest
 * runs and while it is stopped.
 */
import type { Display } from '../devices/display';
import { renderFramebuffer } from './framebuffer';
import { blankImage, type RgbaImage } from './image';
import { renderText, textSnapshot, type PhysicalReader, type TextRenderOptions, type TextSnapshot } from './text-mode';

export interface ScreenCapture {
  mode: 'text' | 'framebuffer' | 'vga-graphics';
  image: RgbaImage;
  /** Text mode only: the cells, for text output and tests. */
  text?: TextSnapshot;
  /** One line for a status bar: "80x25 text", "1024x768x32". */
  description: string;
}

export function captureScreen(memory: PhysicalReader, display: Display, o: TextRenderOptions = {}): ScreenCapture {
  const fb = display.dispi.mode;
  if (fb) return { mode: 'framebuffer', image: renderFramebuffer(display.vram, fb, display.vga), description: `${fb.width}x${fb.height}x${fb.bpp}` };
  if (display.vga.graphicsMode) {
    // Planar and mode 13h graphics are not emulated: say so with a black 640x480 picture.
    return { mode: 'vga-graphics', image: blankImage(640, 480), description: 'VGA graphics mode (not shown: only text mode and the linear framebuffer are)' };
  }
  const text = textSnapshot(memory, display.vga);
  return { mode: 'text', image: renderText(text, o), text, description: `${text.columns}x${text.rows} text` };
}

/**
 * What decides the picture, hashed without drawing it: the registers'
 * generation and the memory shown (the text window, or the framebuffer
 * lines in view). Equal fingerprints, equal pictures; a live view draws
 * and encodes a frame only when the fingerprint moved.
 */
export function screenFingerprint(memory: PhysicalReader, display: Display): number {
  let h = Math.imul(0x811c9dc5 ^ display.generation, 0x01000193);
  const mix = (bytes: Uint8Array) => {
    const whole = bytes.byteLength >> 2;
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, whole);
    for (let i = 0; i < whole; i++) h = Math.imul(h ^ words[i], 0x01000193);
  };
  const fb = display.dispi.mode;
  if (fb) {
    const end = Math.min(display.vram.length, fb.offset + fb.height * fb.stride);
    if (end > fb.offset) mix(display.vram.subarray(fb.offset & ~3, end & ~3));
  } else {
    const { base, size } = display.vga.textWindow;
    try { mix(memory.read(base, size)); } catch { /* no RAM there: the generation alone */ }
  }
  return h >>> 0;
}

/**
 * A cheap fingerprint of what the screen shows (FNV-1a over the image), so
 * live views send a frame only when it changed.
 */
export function imageHash(img: RgbaImage): number {
  let h = 0x811c9dc5;
  const words = new Uint32Array(img.data.buffer, img.data.byteOffset, img.data.byteLength >> 2);
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193);
  return (h ^ img.width ^ (img.height << 16)) >>> 0;
}
