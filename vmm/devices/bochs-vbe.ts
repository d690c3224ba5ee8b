/**
 * The Bochs/QEMU VBE "dispi" interface: a linear framebuffer mode set
 * through ports 0x1CE (index) and 0x1CF (data), as QEMU's std-vga and the
 * Bochs BIOS define it (vbe.h), plus the PCI function (1234:1111) whose
 * BAR 0 is the framebuffer, as QEMU's std-vga presents it. Guests find the
 * framebuffer either way: Linux's bochs driver and most hobby kernels scan
 * PCI for 1234:1111 and read BAR 0; older ones use the fixed address the
 * dispi reports (VBE_DISPI_LFB_PHYSICAL_ADDRESS is where our BAR starts).
 *
 * The framebuffer is guest memory (its own KVM slot over a SharedArrayBuffer
 * the main thread renders from): pixel writes cost no exit. The registers
 * live in a DispiState (shared bytes, as VgaState) for the same reason.
 * Every guest value is clamped on enable: a mode is valid or refused (a
 * guest error, the display stays off), never larger than the VRAM.
 */
import { AccessSize, Device, DeviceLog, nullLog } from '../bus/device';
import {
  PCI_CLASS_PROG, PCI_COMMAND, PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PCI_DEVICE_ID, PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_NORMAL, PCI_REVISION_ID, PCI_SUBSYSTEM_ID, PCI_SUBSYSTEM_VENDOR_ID, PCI_VENDOR_ID, PciConfigSpace,
  PciFunction, describePciConfig,
} from './pci';

export const VBE_DISPI_IOPORT_INDEX = 0x1ce;
/** 0x1CE index, 0x1CF data, 0x1D0 data again (Bochs), so 16-bit accesses at 0x1CF fit. */
export const VBE_DISPI_PORT_COUNT = 3;

export const VBE_DISPI_INDEX_ID = 0x0;
export const VBE_DISPI_INDEX_XRES = 0x1;
export const VBE_DISPI_INDEX_YRES = 0x2;
export const VBE_DISPI_INDEX_BPP = 0x3;
export const VBE_DISPI_INDEX_ENABLE = 0x4;
export const VBE_DISPI_INDEX_BANK = 0x5;
export const VBE_DISPI_INDEX_VIRT_WIDTH = 0x6;
export const VBE_DISPI_INDEX_VIRT_HEIGHT = 0x7;
export const VBE_DISPI_INDEX_X_OFFSET = 0x8;
export const VBE_DISPI_INDEX_Y_OFFSET = 0x9;
export const VBE_DISPI_INDEX_VIDEO_MEMORY_64K = 0xa;
const VBE_DISPI_INDEX_COUNT = 0xb;

export const VBE_DISPI_ID0 = 0xb0c0;
export const VBE_DISPI_ID5 = 0xb0c5;

export const VBE_DISPI_DISABLED = 0x00;
export const VBE_DISPI_ENABLED = 0x01;
export const VBE_DISPI_GETCAPS = 0x02;
export const VBE_DISPI_8BIT_DAC = 0x20;
export const VBE_DISPI_LFB_ENABLED = 0x40;
export const VBE_DISPI_NOCLEARMEM = 0x80;

export const VBE_DISPI_MAX_XRES = 2560;
export const VBE_DISPI_MAX_YRES = 1600;
export const VBE_DISPI_MAX_BPP = 32;
const VALID_BPP = [8, 15, 16, 24, 32];

/** The framebuffer: 16 MiB (2560x1600 at 32 bpp), at QEMU std-vga's usual BAR address. */
export const VRAM_BYTES = 16 * 1024 * 1024;
export const VBE_DISPI_LFB_PHYSICAL_ADDRESS = 0xfd00_0000;

export const PCI_VENDOR_ID_BOCHS = 0x1234;
export const PCI_DEVICE_ID_BOCHS_VGA = 0x1111;
export const PCI_CLASS_DISPLAY_VGA = 0x030000;
const PCI_BASE_ADDRESS_0 = 0x10;
const PCI_BAR_MEM_PREFETCH = 0x08;

const REGS = 0;          // Uint16 x 16
const VERSION = 32;      // Int32, bumped on every mode change
export const DISPI_STATE_BYTES = 64;

/** The dispi registers as shared bytes, and the mode they describe. */
export class DispiState {
  readonly regs: Uint16Array;
  private readonly version: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer | ArrayBuffer = new SharedArrayBuffer(DISPI_STATE_BYTES), offset = 0) {
    this.regs = new Uint16Array(buffer, offset + REGS, 16);
    this.version = new Int32Array(buffer, offset + VERSION, 1);
  }

  get generation(): number { return Atomics.load(this.version, 0); }
  changed(): void { Atomics.add(this.version, 0, 1); }

  /** The mode being scanned out, or undefined while the dispi is off. Clamped again here: the reader is another thread. */
  get mode(): FramebufferMode | undefined {
    const r = this.regs;
    if (!(r[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_ENABLED)) return undefined;
    const bpp = r[VBE_DISPI_INDEX_BPP];
    const width = r[VBE_DISPI_INDEX_XRES], height = r[VBE_DISPI_INDEX_YRES];
    if (!VALID_BPP.includes(bpp) || width === 0 || height === 0 || width > VBE_DISPI_MAX_XRES || height > VBE_DISPI_MAX_YRES) return undefined;
    const bytesPerPixel = (bpp + 7) >> 3;
    const stride = Math.max(width, r[VBE_DISPI_INDEX_VIRT_WIDTH]) * bytesPerPixel;
    const offset = r[VBE_DISPI_INDEX_Y_OFFSET] * stride + r[VBE_DISPI_INDEX_X_OFFSET] * bytesPerPixel;
    return { width, height, bpp, stride, offset, dac8: (r[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_8BIT_DAC) !== 0 };
  }
}

export interface FramebufferMode {
  width: number;
  height: number;
  bpp: number;
  /** Bytes from one line to the next. */
  stride: number;
  /** Byte offset in VRAM of the first pixel shown (the virtual screen's x/y offset). */
  offset: number;
  /** 8-bpp modes: the DAC holds 8-bit (true) or 6-bit components. */
  dac8: boolean;
}

export interface BochsVbeOptions {
  state?: DispiState;
  /** The framebuffer memory (cleared on a mode set without NOCLEARMEM). */
  vram?: Uint8Array;
  log?: DeviceLog;
}

/** Ports 0x1CE/0x1CF. */
export class BochsVbe implements Device {
  readonly name = 'bochs-vbe@0x1ce';
  readonly state: DispiState;
  private readonly vram: Uint8Array;
  private readonly log: DeviceLog;
  private index = 0;

  constructor(o: BochsVbeOptions = {}) {
    this.state = o.state ?? new DispiState();
    this.vram = o.vram ?? new Uint8Array(VRAM_BYTES);
    this.log = o.log ?? nullLog;
    this.state.regs.fill(0);
    this.state.regs[VBE_DISPI_INDEX_ID] = VBE_DISPI_ID5;
    this.state.changed();
  }

  read(offset: number, _size: AccessSize): number {
    if (offset === 0) return this.index;
    const r = this.state.regs;
    switch (this.index) {
      case VBE_DISPI_INDEX_VIDEO_MEMORY_64K: return this.vram.length >> 16;
      case VBE_DISPI_INDEX_XRES: return this.caps ? VBE_DISPI_MAX_XRES : r[this.index];
      case VBE_DISPI_INDEX_YRES: return this.caps ? VBE_DISPI_MAX_YRES : r[this.index];
      case VBE_DISPI_INDEX_BPP: return this.caps ? VBE_DISPI_MAX_BPP : r[this.index];
      default: return this.index < VBE_DISPI_INDEX_COUNT ? r[this.index] : 0;
    }
  }

  /** GETCAPS: while set, XRES/YRES/BPP read as the maxima (how drivers learn them). */
  private get caps(): boolean {
    return (this.state.regs[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_GETCAPS) !== 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (offset === 0) {
      // A byte write to 0x1CF lands on offset 1; anything wider than 2 bytes to 0x1CE is two ports at once.
      if (size === 4) { this.index = value & 0xffff; this.write(1, 2, value >>> 16); return; }
      this.index = value & 0xffff;
      return;
    }
    this.writeData(value & 0xffff);
  }

  private writeData(v: number): void {
    const r = this.state.regs;
    const on = (r[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_ENABLED) !== 0;
    switch (this.index) {
      case VBE_DISPI_INDEX_ID:
        if (v >= VBE_DISPI_ID0 && v <= VBE_DISPI_ID5) r[0] = v;
        break;
      case VBE_DISPI_INDEX_XRES: case VBE_DISPI_INDEX_YRES: case VBE_DISPI_INDEX_BPP:
        // As QEMU: the geometry changes only while the display is off.
        if (!on) r[this.index] = v;
        break;
      case VBE_DISPI_INDEX_BANK:
        r[this.index] = v & 0xff; // banked access (window at 0xA0000) is not emulated; the LFB covers it all
        break;
      case VBE_DISPI_INDEX_ENABLE:
        this.enable(v);
        break;
      case VBE_DISPI_INDEX_VIRT_WIDTH:
      case VBE_DISPI_INDEX_X_OFFSET:
      case VBE_DISPI_INDEX_Y_OFFSET:
        r[this.index] = v;
        if (!this.fits()) {
          this.log.guestError(`${this.name}: virtual screen ${r[6]} wide at offset ${r[8]},${r[9]} runs past the ${this.vram.length >> 20} MiB framebuffer; offset reset to 0,0`);
          r[VBE_DISPI_INDEX_X_OFFSET] = r[VBE_DISPI_INDEX_Y_OFFSET] = 0;
          if (!this.fits()) r[VBE_DISPI_INDEX_VIRT_WIDTH] = r[VBE_DISPI_INDEX_XRES];
        }
        break;
      default:
        break; // VIRT_HEIGHT and VIDEO_MEMORY_64K are computed; unknown indices ignored
    }
    this.state.changed();
  }

  private enable(v: number): void {
    const r = this.state.regs;
    if (!(v & VBE_DISPI_ENABLED)) { r[VBE_DISPI_INDEX_ENABLE] = v & (VBE_DISPI_GETCAPS | VBE_DISPI_8BIT_DAC); return; }
    let w = r[VBE_DISPI_INDEX_XRES], h = r[VBE_DISPI_INDEX_YRES], bpp = r[VBE_DISPI_INDEX_BPP];
    if (bpp === 0) bpp = r[VBE_DISPI_INDEX_BPP] = 8;
    if (bpp === 4) bpp = 8; // planar 4 bpp is not emulated: shown as 8
    if (!VALID_BPP.includes(bpp) || w === 0 || h === 0 || w > VBE_DISPI_MAX_XRES || h > VBE_DISPI_MAX_YRES ||
      w * h * ((bpp + 7) >> 3) > this.vram.length) {
      this.log.guestError(`${this.name}: mode ${w}x${h}x${bpp} refused (up to ${VBE_DISPI_MAX_XRES}x${VBE_DISPI_MAX_YRES}, ${VALID_BPP.join('/')} bpp, ${this.vram.length >> 20} MiB); the display stays off`);
      r[VBE_DISPI_INDEX_ENABLE] = 0;
      return;
    }
    w = r[VBE_DISPI_INDEX_XRES];
    h = r[VBE_DISPI_INDEX_YRES];
    r[VBE_DISPI_INDEX_VIRT_WIDTH] = w;
    r[VBE_DISPI_INDEX_VIRT_HEIGHT] = Math.min(0xffff, Math.floor(this.vram.length / (w * ((bpp + 7) >> 3))));
    r[VBE_DISPI_INDEX_X_OFFSET] = r[VBE_DISPI_INDEX_Y_OFFSET] = 0;
    r[VBE_DISPI_INDEX_BANK] = 0;
    r[VBE_DISPI_INDEX_ENABLE] = v & (VBE_DISPI_ENABLED | VBE_DISPI_GETCAPS | VBE_DISPI_8BIT_DAC | VBE_DISPI_LFB_ENABLED | VBE_DISPI_NOCLEARMEM);
    if (!(v & VBE_DISPI_NOCLEARMEM)) this.vram.fill(0, 0, Math.min(this.vram.length, w * h * ((bpp + 7) >> 3)));
  }

  /** Whether the visible screen at the current offset stays inside the VRAM. */
  private fits(): boolean {
    const r = this.state.regs;
    const bpp = (Math.max(8, r[VBE_DISPI_INDEX_BPP]) + 7) >> 3;
    const stride = Math.max(r[VBE_DISPI_INDEX_XRES], r[VBE_DISPI_INDEX_VIRT_WIDTH]) * bpp;
    const last = (r[VBE_DISPI_INDEX_Y_OFFSET] + r[VBE_DISPI_INDEX_YRES]) * stride + r[VBE_DISPI_INDEX_X_OFFSET] * bpp;
    return last <= this.vram.length;
  }

  describe(): [string, string][] {
    const m = this.state.mode;
    return [['mode', m ? `${m.width}x${m.height}x${m.bpp}, ${m.stride} bytes a line` : 'off (VGA text)']];
  }
}

/**
 * The display's PCI function: 1234:1111, class VGA, BAR 0 the framebuffer
 * (prefetchable memory). The guest may move the BAR (writing it after
 * sizing it with all-ones); `moveFramebuffer` moves the memory slot and
 * says whether that worked (an address over RAM or other devices does not).
 */
export class BochsDisplayPci implements PciFunction {
  readonly name = 'bochs-display';
  readonly config = new PciConfigSpace();
  private mapped: number;

  constructor(private readonly moveFramebuffer: (gpa: number | undefined) => boolean, private readonly log: DeviceLog = nullLog,
    base = VBE_DISPI_LFB_PHYSICAL_ADDRESS, private readonly size = VRAM_BYTES) {
    const c = this.config;
    c.set(PCI_VENDOR_ID, 2, PCI_VENDOR_ID_BOCHS);
    c.set(PCI_DEVICE_ID, 2, PCI_DEVICE_ID_BOCHS_VGA);
    c.set(PCI_REVISION_ID, 1, 2);
    c.set(PCI_CLASS_PROG, 3, PCI_CLASS_DISPLAY_VGA);
    c.set(PCI_HEADER_TYPE, 1, PCI_HEADER_TYPE_NORMAL);
    c.set(PCI_SUBSYSTEM_VENDOR_ID, 2, 0x1af4);
    c.set(PCI_SUBSYSTEM_ID, 2, 0x1100);
    // Firmware would have assigned the BAR and enabled decoding; we boot kernels directly.
    c.set(PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    c.allowWrite(PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    c.set(PCI_BASE_ADDRESS_0, 4, base | PCI_BAR_MEM_PREFETCH);
    c.allowWrite(PCI_BASE_ADDRESS_0, 4, ~(size - 1) >>> 0);
    this.mapped = base;
  }

  /** Where the framebuffer is now (guest physical), or undefined while memory decoding is off. */
  get framebufferAddress(): number | undefined {
    return this.config.read(PCI_COMMAND, 2) & PCI_COMMAND_MEMORY ? this.barAddress : undefined;
  }

  private get barAddress(): number {
    return (this.config.read(PCI_BASE_ADDRESS_0, 4) & ~(this.size - 1)) >>> 0;
  }

  readConfig(offset: number, size: AccessSize): number {
    return this.config.read(offset, size);
  }

  writeConfig(offset: number, size: AccessSize, value: number): void {
    this.config.write(offset, size, value);
    const touches = (at: number, n: number) => offset < at + n && offset + size > at;
    if (!touches(PCI_COMMAND, 2) && !touches(PCI_BASE_ADDRESS_0, 4)) return;
    const want = this.framebufferAddress;
    // Sizing writes all-ones: the BAR reads back the size mask, which is not a place to map anything.
    const sizing = this.barAddress === ((~(this.size - 1)) >>> 0);
    const target = want === undefined || sizing || want === 0 ? undefined : want;
    if (target === this.mapped) return;
    if (this.moveFramebuffer(target)) { this.mapped = target ?? -1; return; }
    this.log.guestError(`${this.name}: BAR 0 at 0x${(target ?? 0).toString(16)} overlaps guest RAM or a device; the framebuffer is unmapped until it moves`);
    this.moveFramebuffer(undefined);
    this.mapped = -1;
  }

  describe(): [string, string][] {
    const at = this.framebufferAddress;
    return [...describePciConfig(this), ['BAR 0 (framebuffer)', at === undefined ? 'off' : `0x${at.toString(16)}, ${this.size >> 20} MiB`]];
  }
}
