/**
 * The screen a multiboot2 kernel is handed, decided as GRUB on a BIOS PC
 * decides it: a framebuffer tag in the header gets a linear framebuffer
 * (the Bochs VBE one at PCI 1234:1111 BAR 0), in the size and depth the tag
 * asks for when the display can show it, else 1024x768x32; without one the
 * kernel stays in VGA text mode and is told so (framebuffer type 2, EGA
 * text at 0xB8000), unless its console flags refuse text mode.
 *
 * The mode is set before the first instruction runs, "as if firmware did
 * it": the loader only decides; the boot vCPU's thread programs the dispi
 * through its ports (setFirmwareMode) before it enters the kernel.
 */
import type { BootFramebuffer } from './boot-state';
import { BootError } from './boot-state';
import { MB2_CONSOLE_EGA_TEXT_SUPPORTED, MB2_CONSOLE_REQUIRED, Multiboot2Header } from './multiboot2-header';
import type { Mb2Framebuffer } from './multiboot2-info';
import type { Device } from '../bus/device';
import {
  VBE_DISPI_ENABLED, VBE_DISPI_INDEX_BPP, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_INDEX_XRES, VBE_DISPI_INDEX_YRES,
  VBE_DISPI_LFB_ENABLED, VBE_DISPI_LFB_PHYSICAL_ADDRESS, VBE_DISPI_MAX_XRES, VBE_DISPI_MAX_YRES, VRAM_BYTES,
} from '../devices/bochs-vbe';

export const DEFAULT_FB_WIDTH = 1024;
export const DEFAULT_FB_HEIGHT = 768;
export const DEFAULT_FB_BPP = 32;
const DEPTHS = [15, 16, 24, 32];
const VGA_TEXT_ADDR = 0xb8000;

/** Red, green, blue: [field position, mask size] for each direct-colour depth the dispi shows. */
const FIELDS: Record<number, [[number, number], [number, number], [number, number]]> = {
  32: [[16, 8], [8, 8], [0, 8]], 24: [[16, 8], [8, 8], [0, 8]], 16: [[11, 5], [5, 6], [0, 5]], 15: [[10, 5], [5, 5], [0, 5]],
};

export interface Mb2Screen {
  /** The mode to set before entry (undefined: VGA text stays). */
  mode?: BootFramebuffer;
  /** What the boot information says (undefined: no framebuffer tag). */
  info?: Mb2Framebuffer;
  /** For the boot description: "framebuffer 1024x768x32" or "VGA text". */
  summary: string;
}

export function chooseScreen(file: string, h: Multiboot2Header): Mb2Screen {
  const flags = h.consoleFlags ?? MB2_CONSOLE_EGA_TEXT_SUPPORTED;
  if (h.framebuffer) {
    const r = h.framebuffer;
    let width = r.width || DEFAULT_FB_WIDTH;
    let height = r.height || DEFAULT_FB_HEIGHT;
    const bpp = DEPTHS.includes(r.depth) ? r.depth : DEFAULT_FB_BPP;
    // A size the display cannot show gets the default, as GRUB falls back to a mode it has.
    if (width > VBE_DISPI_MAX_XRES || height > VBE_DISPI_MAX_YRES || width * height * ((bpp + 7) >> 3) > VRAM_BYTES) {
      width = DEFAULT_FB_WIDTH;
      height = DEFAULT_FB_HEIGHT;
    }
    const pitch = width * ((bpp + 7) >> 3);
    const [red, green, blue] = FIELDS[bpp];
    return {
      mode: { width, height, bpp },
      info: { kind: 'rgb', addr: VBE_DISPI_LFB_PHYSICAL_ADDRESS, pitch, width, height, bpp, red, green, blue },
      summary: `framebuffer ${width}x${height}x${bpp} at 0x${VBE_DISPI_LFB_PHYSICAL_ADDRESS.toString(16)}`,
    };
  }
  if (flags & MB2_CONSOLE_EGA_TEXT_SUPPORTED) {
    return { info: { kind: 'ega-text', addr: VGA_TEXT_ADDR, pitch: 160, width: 80, height: 25, bpp: 16 }, summary: 'VGA text' };
  }
  if (flags & MB2_CONSOLE_REQUIRED) {
    throw new BootError(file, 'multiboot2 header requires a console (console flags tag, bit 0) but accepts neither EGA text (bit 1) nor a framebuffer (no framebuffer tag), so there is no console kvmdbg could give it; add a framebuffer tag or set bit 1');
  }
  return { summary: 'no console' };
}

/** Sets the dispi to `mode` through its index/data ports, as a VBE BIOS would; the framebuffer is cleared. */
export function setFirmwareMode(vbe: Device, mode: BootFramebuffer): void {
  const set = (index: number, value: number): void => {
    vbe.write(0, 2, index);
    vbe.write(1, 2, value);
  };
  set(VBE_DISPI_INDEX_ENABLE, 0);
  set(VBE_DISPI_INDEX_XRES, mode.width);
  set(VBE_DISPI_INDEX_YRES, mode.height);
  set(VBE_DISPI_INDEX_BPP, mode.bpp);
  set(VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED);
}
