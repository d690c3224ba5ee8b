/**
 * INT 10h AH=4Fh, VESA BIOS Extensions 3.0 over the Bochs dispi
 * (vmm/devices/bochs-vbe.ts): what GRUB's vbe driver and tutorial second
 * stages call to get a linear framebuffer for a kernel. 4F00h controller
 * information (the mode list in the block's reserved area, as VBE 2.0+
 * allows), 4F01h mode information, 4F02h set mode (linear framebuffer
 * only; mode 03h goes back to text), 4F03h current mode, 4F06h scan line
 * length (get), 4F07h display start. Every other function, and a buffer
 * outside guest RAM or over the ROM, is AX = 014Fh (failed), as the
 * specification's status word says; nothing is written then.
 */
import { type BiosContext, canWrite, linear } from './guest-access';
import { type BiosRegs, lo16, lo8, setLo16 } from './regs';
import {
  VBE_DISPI_ENABLED, VBE_DISPI_INDEX_BANK, VBE_DISPI_INDEX_BPP, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_INDEX_VIRT_WIDTH,
  VBE_DISPI_INDEX_X_OFFSET, VBE_DISPI_INDEX_XRES, VBE_DISPI_INDEX_Y_OFFSET, VBE_DISPI_INDEX_YRES, VBE_DISPI_IOPORT_INDEX,
  VBE_DISPI_LFB_ENABLED, VBE_DISPI_LFB_PHYSICAL_ADDRESS, VBE_DISPI_NOCLEARMEM, VRAM_BYTES,
} from '../devices/bochs-vbe';

export const VBE_OK = 0x004f;
export const VBE_FAILED = 0x014f;
const VBE_VERSION = 0x0300;
const LFB_BIT = 0x4000;
const NO_CLEAR_BIT = 0x8000;
const TEXT_MODE = 0x03;

/** Mode numbers as Bochs and QEMU's VGA BIOS give them (the VESA 1.2 numbers where there is one). */
export const VBE_MODES: readonly { mode: number; width: number; height: number; bpp: number }[] = [
  { mode: 0x101, width: 640, height: 480, bpp: 8 },
  { mode: 0x111, width: 640, height: 480, bpp: 16 },
  { mode: 0x112, width: 640, height: 480, bpp: 32 },
  { mode: 0x114, width: 800, height: 600, bpp: 16 },
  { mode: 0x115, width: 800, height: 600, bpp: 32 },
  { mode: 0x117, width: 1024, height: 768, bpp: 16 },
  { mode: 0x118, width: 1024, height: 768, bpp: 32 },
  { mode: 0x11a, width: 1280, height: 1024, bpp: 16 },
  { mode: 0x11b, width: 1280, height: 1024, bpp: 32 },
];

const OEM = 'kvmdbg VBE';
/** Where 4F00h puts the mode list and the OEM string inside the caller's block (its reserved area, 0x22-0xFF). */
const MODE_LIST_OFFSET = 0x22;
const OEM_OFFSET = 0xe0;

// Mode attributes: supported, extra information, colour, graphics, no banked window, linear framebuffer.
const MODE_ATTRIBUTES = 0x01 | 0x02 | 0x08 | 0x10 | 0x40 | 0x80;
const MEMORY_MODEL_PACKED = 4;
const MEMORY_MODEL_DIRECT = 6;

const PCI_ADDRESS = 0xcf8;
const PCI_DATA = 0xcfc;
/** The dispi's PCI function (00:02.0, pci.ts) and its BAR 0. */
const VGA_BAR0 = 0x8000_0000 | (2 << 11) | 0x10;

export class VbeBios {
  private current = TEXT_MODE;

  constructor(private readonly ctx: BiosContext, private readonly textMode: () => void) {}

  call(r: BiosRegs): void {
    const status = this.dispatch(r);
    setLo16(r, 'eax', status);
  }

  private dispatch(r: BiosRegs): number {
    const at = linear(r.esBase, lo16(r, 'edi'));
    switch (lo8(r, 'eax')) {
      case 0x00: return this.controllerInfo(at);
      case 0x01: return this.modeInfo(lo16(r, 'ecx') & 0x1ff, at);
      case 0x02: return this.setMode(lo16(r, 'ebx'));
      case 0x03: setLo16(r, 'ebx', this.current === TEXT_MODE ? TEXT_MODE : this.current | LFB_BIT); return VBE_OK;
      case 0x06: {
        const m = this.mode(this.current);
        if (!m || lo8(r, 'ebx') !== 0x01) return VBE_FAILED;
        setLo16(r, 'ebx', pitch(m)); setLo16(r, 'ecx', m.width); setLo16(r, 'edx', Math.floor(VRAM_BYTES / pitch(m)));
        return VBE_OK;
      }
      case 0x07: {
        if (!this.mode(this.current)) return VBE_FAILED;
        const sub = lo8(r, 'ebx');
        if (sub === 0x00 || sub === 0x80) { this.dispi(VBE_DISPI_INDEX_X_OFFSET, lo16(r, 'ecx')); this.dispi(VBE_DISPI_INDEX_Y_OFFSET, lo16(r, 'edx')); return VBE_OK; }
        if (sub === 0x01) { setLo16(r, 'ecx', this.dispiRead(VBE_DISPI_INDEX_X_OFFSET)); setLo16(r, 'edx', this.dispiRead(VBE_DISPI_INDEX_Y_OFFSET)); setLo16(r, 'ebx', 0); return VBE_OK; }
        return VBE_FAILED;
      }
      default: return VBE_FAILED;
    }
  }

  private mode(n: number) { return VBE_MODES.find((m) => m.mode === n); }

  private controllerInfo(at: number): number {
    const mem = this.ctx.memory;
    // A caller asking for VBE 2.0+ fields says so with "VBE2" and gets 512 bytes; otherwise 256.
    const size = canWrite(mem, at, 4) && mem.readU32(at) === 0x32454256 ? 512 : 256;
    if (!canWrite(mem, at, size)) return VBE_FAILED;
    mem.fill(at, size);
    // Normalized seg:off far pointers into the block (offset 0-15), valid wherever ES:DI was.
    const far = (offset: number) => ((((at + offset) >>> 4) << 16) | ((at + offset) & 0xf)) >>> 0;
    writeAscii(mem, at, 'VESA');
    mem.writeU16(at + 0x04, VBE_VERSION);
    mem.writeU32(at + 0x06, far(OEM_OFFSET));
    mem.writeU32(at + 0x0e, far(MODE_LIST_OFFSET));
    mem.writeU16(at + 0x12, VRAM_BYTES >>> 16);
    VBE_MODES.forEach((m, i) => mem.writeU16(at + MODE_LIST_OFFSET + i * 2, m.mode));
    mem.writeU16(at + MODE_LIST_OFFSET + VBE_MODES.length * 2, 0xffff);
    writeAscii(mem, at + OEM_OFFSET, OEM + '\0');
    if (size === 512) {
      for (const o of [0x16, 0x1a, 0x1e]) mem.writeU32(at + o, far(OEM_OFFSET));
    }
    return VBE_OK;
  }

  private modeInfo(n: number, at: number): number {
    const m = this.mode(n);
    const mem = this.ctx.memory;
    if (!m || !canWrite(mem, at, 256)) return VBE_FAILED;
    mem.fill(at, 256);
    const [r, g, b, x] = channels(m.bpp);
    const pages = Math.min(255, Math.floor(VRAM_BYTES / (pitch(m) * m.height)) - 1);
    mem.writeU16(at + 0x00, MODE_ATTRIBUTES);
    mem.writeU16(at + 0x10, pitch(m));
    mem.writeU16(at + 0x12, m.width);
    mem.writeU16(at + 0x14, m.height);
    mem.writeU8(at + 0x16, 8);
    mem.writeU8(at + 0x17, 16);
    mem.writeU8(at + 0x18, 1);
    mem.writeU8(at + 0x19, m.bpp);
    mem.writeU8(at + 0x1a, 1);
    mem.writeU8(at + 0x1b, m.bpp === 8 ? MEMORY_MODEL_PACKED : MEMORY_MODEL_DIRECT);
    mem.writeU8(at + 0x1d, pages);
    mem.writeU8(at + 0x1e, 1);
    const masks = [r[0], r[1], g[0], g[1], b[0], b[1], x[0], x[1]];
    masks.forEach((v, i) => { mem.writeU8(at + 0x1f + i, v); mem.writeU8(at + 0x36 + i, v); });
    mem.writeU32(at + 0x28, this.framebufferAddress());
    mem.writeU16(at + 0x32, pitch(m));
    mem.writeU8(at + 0x34, pages);
    mem.writeU8(at + 0x35, pages);
    return VBE_OK;
  }

  private setMode(bx: number): number {
    const n = bx & 0x1ff;
    if (n === TEXT_MODE) {
      this.dispi(VBE_DISPI_INDEX_ENABLE, 0);
      this.current = TEXT_MODE;
      this.textMode();
      return VBE_OK;
    }
    const m = this.mode(n);
    // Banked windows are not offered (mode attribute bit 6): only a linear framebuffer.
    if (!m || !(bx & LFB_BIT)) return VBE_FAILED;
    this.dispi(VBE_DISPI_INDEX_ENABLE, 0);
    this.dispi(VBE_DISPI_INDEX_BPP, m.bpp);
    this.dispi(VBE_DISPI_INDEX_XRES, m.width);
    this.dispi(VBE_DISPI_INDEX_YRES, m.height);
    this.dispi(VBE_DISPI_INDEX_BANK, 0);
    this.dispi(VBE_DISPI_INDEX_VIRT_WIDTH, m.width);
    this.dispi(VBE_DISPI_INDEX_X_OFFSET, 0);
    this.dispi(VBE_DISPI_INDEX_Y_OFFSET, 0);
    this.dispi(VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED | (bx & NO_CLEAR_BIT ? VBE_DISPI_NOCLEARMEM : 0));
    this.current = n;
    return VBE_OK;
  }

  /** BAR 0 of the VGA function as the guest left it (it may have moved it), else where our BAR starts. */
  private framebufferAddress(): number {
    const p = this.ctx.ports;
    p.write(PCI_ADDRESS, 4, VGA_BAR0);
    const bar = (p.read(PCI_DATA, 4) & ~0xf) >>> 0;
    return bar && bar !== 0xfffffff0 ? bar : VBE_DISPI_LFB_PHYSICAL_ADDRESS;
  }

  private dispi(index: number, value: number): void {
    this.ctx.ports.write(VBE_DISPI_IOPORT_INDEX, 2, index);
    this.ctx.ports.write(VBE_DISPI_IOPORT_INDEX + 1, 2, value);
  }

  private dispiRead(index: number): number {
    this.ctx.ports.write(VBE_DISPI_IOPORT_INDEX, 2, index);
    return this.ctx.ports.read(VBE_DISPI_IOPORT_INDEX + 1, 2) & 0xffff;
  }
}

const pitch = (m: { width: number; bpp: number }): number => m.width * (m.bpp / 8);

/** [size, position] of red, green, blue and reserved (8 bpp: palette, no channels). */
function channels(bpp: number): [number, number][] {
  if (bpp === 32) return [[8, 16], [8, 8], [8, 0], [8, 24]];
  if (bpp === 16) return [[5, 11], [6, 5], [5, 0], [0, 0]];
  return [[0, 0], [0, 0], [0, 0], [0, 0]];
}

function writeAscii(mem: BiosContext['memory'], at: number, text: string): void {
  for (let i = 0; i < text.length; i++) mem.writeU8(at + i, text.charCodeAt(i));
}
