/**
 * The VGA's registers as plain bytes in a SharedArrayBuffer: the port device
 * (vga.ts) on vCPU 0's thread writes them, the screen renderer on the main
 * thread reads them while the guest runs (no command round trip, which a
 * running vCPU 0 could not answer). A torn read costs one odd frame, never
 * a bad access: every reader masks and clamps what it takes from here.
 * Register names and reset values follow the IBM VGA technical reference
 * (mode 3: 80x25 text, 16 colours, font 8x16, text at 0xB8000).
 */

// Byte offsets of each register file.
const CRTC = 0;        // CR00-CR18
const SEQ = 32;        // SR00-SR04
const GC = 40;         // GR00-GR08
const ATTR = 64;       // AR00-AR14
const MISC = 96;       // miscellaneous output
const DAC_MASK = 97;   // PEL mask
const VERSION = 100;   // Int32: bumped on every register write (change detection)
const DAC = 256;       // 256 x (R, G, B), 6 bits each
export const VGA_STATE_BYTES = DAC + 256 * 3;

export const CRTC_COUNT = 0x19;
export const SEQ_COUNT = 5;
export const GC_COUNT = 9;
export const ATTR_COUNT = 0x15;

// CRTC registers a text kernel touches.
export const CR_HORIZ_DISPLAY_END = 0x01;
export const CR_OVERFLOW = 0x07;
export const CR_MAX_SCAN_LINE = 0x09;
export const CR_CURSOR_START = 0x0a;
export const CR_CURSOR_END = 0x0b;
export const CR_START_ADDR_HI = 0x0c;
export const CR_START_ADDR_LO = 0x0d;
export const CR_CURSOR_LOC_HI = 0x0e;
export const CR_CURSOR_LOC_LO = 0x0f;
export const CR_VERT_RETRACE_END = 0x11;
export const CR_VERT_DISPLAY_END = 0x12;
export const CR_OFFSET = 0x13;
export const CR_CURSOR_DISABLE = 0x20;      // in CR0A
export const CR11_PROTECT = 0x80;           // CR00-CR07 read-only
export const GR_MISC = 0x06;
export const AR_MODE_CONTROL = 0x10;
export const AR_COLOR_SELECT = 0x14;
export const AR10_GRAPHICS = 0x01;
export const AR10_BLINK = 0x08;             // attribute bit 7: blink (1) or bright background (0)
export const AR10_P54S = 0x80;

// Mode 3 as the BIOS leaves it.
const CRTC_MODE3 = [0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00,
  0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff];
const SEQ_MODE3 = [0x03, 0x00, 0x03, 0x00, 0x02];
const GC_MODE3 = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff];
const ATTR_MODE3 = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
  0x0c, 0x00, 0x0f, 0x08, 0x00];

/** The EGA's 64 colours (rgbRGB bits), which the BIOS loads into DAC 0-63 for text modes. */
function egaColour(i: number): [number, number, number] {
  const c = (hi: number, lo: number) => ((i >> hi) & 1) * 42 + ((i >> lo) & 1) * 21;
  return [c(2, 5), c(1, 4), c(0, 3)];
}

export class VgaState {
  readonly bytes: Uint8Array;
  private readonly version: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer | ArrayBuffer = new SharedArrayBuffer(VGA_STATE_BYTES), offset = 0) {
    this.bytes = new Uint8Array(buffer, offset, VGA_STATE_BYTES);
    this.version = new Int32Array(buffer, offset + VERSION, 1);
  }

  /** Mode 3 with the BIOS palette. */
  reset(): void {
    this.bytes.fill(0);
    this.bytes.set(CRTC_MODE3, CRTC);
    this.bytes.set(SEQ_MODE3, SEQ);
    this.bytes.set(GC_MODE3, GC);
    this.bytes.set(ATTR_MODE3, ATTR);
    this.bytes[MISC] = 0x67;
    this.bytes[DAC_MASK] = 0xff;
    for (let i = 0; i < 64; i++) this.bytes.set(egaColour(i), DAC + i * 3);
    this.changed();
  }

  crtc(i: number): number { return this.bytes[CRTC + (i % CRTC_COUNT)]; }
  seq(i: number): number { return this.bytes[SEQ + (i % SEQ_COUNT)]; }
  gc(i: number): number { return this.bytes[GC + (i % GC_COUNT)]; }
  attr(i: number): number { return this.bytes[ATTR + (i % ATTR_COUNT)]; }
  get misc(): number { return this.bytes[MISC]; }
  get dacMask(): number { return this.bytes[DAC_MASK]; }

  setCrtc(i: number, v: number): void { this.set(CRTC + (i % CRTC_COUNT), v); }
  setSeq(i: number, v: number): void { this.set(SEQ + (i % SEQ_COUNT), v); }
  setGc(i: number, v: number): void { this.set(GC + (i % GC_COUNT), v); }
  setAttr(i: number, v: number): void { this.set(ATTR + (i % ATTR_COUNT), v); }
  set misc(v: number) { this.set(MISC, v); }
  set dacMask(v: number) { this.set(DAC_MASK, v); }

  /** DAC entry `index`, component 0-2 (6 bits). */
  dac(index: number, component: number): number { return this.bytes[DAC + (index & 0xff) * 3 + (component % 3)]; }
  setDac(index: number, component: number, v: number): void { this.set(DAC + (index & 0xff) * 3 + (component % 3), v & 0x3f); }

  /** Bumped by every write: a renderer compares it to know registers changed. */
  get generation(): number { return Atomics.load(this.version, 0); }

  private set(at: number, v: number): void {
    this.bytes[at] = v & 0xff;
    this.changed();
  }

  private changed(): void { Atomics.add(this.version, 0, 1); }

  // ---- what the renderer needs, decoded and clamped ----

  /** Text geometry: columns from CR01, rows from the vertical display end over the character height. */
  get textColumns(): number { return Math.min(132, this.crtc(CR_HORIZ_DISPLAY_END) + 1); }
  get charHeight(): number { return (this.crtc(CR_MAX_SCAN_LINE) & 0x1f) + 1; }
  get textRows(): number {
    const ov = this.crtc(CR_OVERFLOW);
    const vde = this.crtc(CR_VERT_DISPLAY_END) | ((ov & 0x02) << 7) | ((ov & 0x40) << 3);
    return Math.max(1, Math.min(60, Math.floor((vde + 1) / this.charHeight)));
  }
  /** Words from the text window's start to the first cell shown (hardware scrolling). */
  get startAddress(): number { return (this.crtc(CR_START_ADDR_HI) << 8) | this.crtc(CR_START_ADDR_LO); }
  /** Words from one row to the next (CR13 counts pairs of words). */
  get rowPitch(): number { return this.crtc(CR_OFFSET) * 2; }
  get cursorLocation(): number { return (this.crtc(CR_CURSOR_LOC_HI) << 8) | this.crtc(CR_CURSOR_LOC_LO); }
  /** The cursor's scan lines within a cell, or undefined when it is off. */
  get cursorShape(): { start: number; end: number } | undefined {
    const start = this.crtc(CR_CURSOR_START);
    if (start & CR_CURSOR_DISABLE) return undefined;
    const s = start & 0x1f, e = this.crtc(CR_CURSOR_END) & 0x1f;
    // A start after the end shows no cursor on a VGA.
    return s > e ? undefined : { start: s, end: e };
  }
  get blinkEnabled(): boolean { return (this.attr(AR_MODE_CONTROL) & AR10_BLINK) !== 0; }
  get graphicsMode(): boolean { return (this.attr(AR_MODE_CONTROL) & AR10_GRAPHICS) !== 0; }
  /** Guest physical address of the text window (GR06 memory map: B0000 or B8000; A0000 maps read as B8000 here). */
  get textWindow(): { base: number; size: number } {
    return ((this.gc(GR_MISC) >> 2) & 3) === 2 ? { base: 0xb0000, size: 0x8000 } : { base: 0xb8000, size: 0x8000 };
  }

  /** RGBA (alpha 255) of text colour 0-15: attribute palette -> DAC -> 8 bits a component. */
  textColour(colour: number): number {
    const ar10 = this.attr(AR_MODE_CONTROL), sel = this.attr(AR_COLOR_SELECT);
    const p = this.attr(colour & 0x0f) & 0x3f;
    const index = ar10 & AR10_P54S ? ((sel & 0x0c) << 4) | ((sel & 0x03) << 4) | (p & 0x0f) : ((sel & 0x0c) << 4) | p;
    return this.dacRgba(index & this.dacMask);
  }

  /** A DAC entry as 0xRRGGBBAA with 6-bit components widened to 8 bits. */
  dacRgba(index: number): number {
    const w = (c: number) => { const v = this.dac(index, c); return (v << 2) | (v >> 4); };
    return ((w(0) << 24) | (w(1) << 16) | (w(2) << 8) | 0xff) >>> 0;
  }
}
