/**
 * The dispi linear framebuffer as an RGBA image: 32 bpp is B, G, R, X in
 * memory (little-endian 0x00RRGGBB, as QEMU's std-vga and every bochs
 * driver write it), 24 bpp B, G, R, 16 bpp RGB565, 15 bpp RGB555, 8 bpp an
 * index into the VGA DAC. Lines that would run past the VRAM (a mode the
 * device accepted, then a racing register write) are drawn black.
 */
import type { FramebufferMode } from '../devices/bochs-vbe';
import type { VgaState } from '../devices/vga-state';
import { blankImage, type RgbaImage } from './image';

export function renderFramebuffer(vram: Uint8Array, mode: FramebufferMode, vga?: VgaState): RgbaImage {
  const { width, height, bpp, stride, offset } = mode;
  const img = blankImage(width, height);
  const out = img.data;
  const bytes = (bpp + 7) >> 3;
  const palette = bpp === 8 ? Array.from({ length: 256 }, (_, i) => vga?.dacRgba(i) ?? ((i * 0x01010100) | 0xff) >>> 0) : [];
  for (let y = 0; y < height; y++) {
    const line = offset + y * stride;
    if (line + width * bytes > vram.length) break;
    let o = y * width * 4;
    for (let x = 0, i = line; x < width; x++, i += bytes, o += 4) {
      let r: number, g: number, b: number;
      switch (bpp) {
        case 32: case 24: b = vram[i]; g = vram[i + 1]; r = vram[i + 2]; break;
        case 16: { const v = vram[i] | (vram[i + 1] << 8); r = ((v >> 11) & 0x1f) * 255 / 31; g = ((v >> 5) & 0x3f) * 255 / 63; b = (v & 0x1f) * 255 / 31; break; }
        case 15: { const v = vram[i] | (vram[i + 1] << 8); r = ((v >> 10) & 0x1f) * 255 / 31; g = ((v >> 5) & 0x1f) * 255 / 31; b = (v & 0x1f) * 255 / 31; break; }
        default: { const c = palette[vram[i]]; r = c >>> 24; g = (c >>> 16) & 0xff; b = (c >>> 8) & 0xff; }
      }
      out[o] = r; out[o + 1] = g; out[o + 2] = b;
    }
  }
  return img;
}
