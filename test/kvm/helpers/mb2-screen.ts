// What the multiboot2 test kernel (test/guests/kernel/mb2.c) draws into its
// 1024x768x32 framebuffer, drawn again here with the same glyphs
// (vmm/screen/font-8x16.ts, which test/guests/include/font8x16.h is made
// from) and the same colours: the tests compare screenshots with it pixel
// for pixel.
import { FONT_8X16 } from '../../../vmm/screen/font-8x16';
import { blankImage, type RgbaImage } from '../../../vmm/screen/image';

const BG = 0x102030, BAR = 0x2050a0, TEXT = 0xe0e0e0, PROMPT = 0xffff80, TYPED = 0x80ff80;
const SWATCHES = [0xff0000, 0x00ff00, 0x0000ff, 0xffff00, 0x00ffff, 0xff00ff, 0xffffff, 0x808080];

/** A canvas with the guest library's two primitives (test/guests/lib/fbdraw.c). */
export class Canvas {
  readonly image: RgbaImage;

  constructor(readonly width: number, readonly height: number) {
    this.image = blankImage(width, height);
  }

  fill(x: number, y: number, w: number, h: number, rgb: number): void {
    for (let r = y; r < Math.min(this.height, y + h); r++) {
      for (let c = x; c < Math.min(this.width, x + w); c++) {
        const i = (r * this.width + c) * 4;
        this.image.data[i] = rgb >>> 16; this.image.data[i + 1] = (rgb >>> 8) & 0xff; this.image.data[i + 2] = rgb & 0xff;
      }
    }
  }

  text(x: number, y: number, s: string, fg: number, bg: number, scale = 1): number {
    for (const ch of s) {
      let code = ch.charCodeAt(0);
      if (code < 0x20 || code > 0x7e) code = 0x3f;
      for (let r = 0; r < 16; r++) {
        for (let b = 0; b < 8; b++) {
          const on = (FONT_8X16[code * 16 + r] >> (7 - b)) & 1;
          this.fill(x + b * scale, y + r * scale, scale, scale, on ? fg : bg);
        }
      }
      x += 8 * scale;
    }
    return x;
  }
}

/** mb2.c's screen after `typed` was entered (Enter pressed: the "typed:" line below the prompt). */
export function expectedMb2Screen(cmdline: string, module0: string, typed: string): RgbaImage {
  const c = new Canvas(1024, 768);
  c.fill(0, 0, 1024, 768, BG);
  c.fill(0, 0, 1024, 40, BAR);
  c.text(16, 12, 'kvmdbg multiboot2 test kernel', 0xffffff, BAR);
  SWATCHES.forEach((rgb, i) => c.fill(16 + i * 72, 56, 64, 32, rgb));
  c.text(16, 104, `cmdline: ${cmdline}`, TEXT, BG);
  c.text(16, 124, `module: ${module0}`, TEXT, BG);
  c.text(16, 144, 'framebuffer: 1024x768x32', TEXT, BG);
  const x = c.text(16, 176, '> ', PROMPT, BG);
  c.text(x, 176, typed, PROMPT, BG);
  c.text(c.text(16, 196, 'typed: ', TYPED, BG), 196, typed, TYPED, BG);
  return c.image;
}
