/**
 * The VGA's I/O ports, 0x3C0-0x3DF: enough of them for text-mode kernels.
 * The text itself is plain guest RAM at 0xB8000 (the guest writes it, the
 * renderer reads it; no exit per character). What lives here is what the
 * renderer cannot see in RAM: the CRTC (cursor shape and position, start
 * address), the attribute controller (palette, blink/bright), the DAC
 * colours, and the sequencer/graphics registers, kept in a VgaState the
 * main thread reads. Unknown indices read 0 and writes are ignored;
 * input status 1 (0x3DA) toggles retrace so kernels that wait for it go on.
 *
 * Wiring: pio.register(VGA_PORT_BASE, VGA_PORT_COUNT, new Vga(...)).
 */
import { AccessSize, Device } from '../bus/device';
import { ATTR_COUNT, CR11_PROTECT, CR_OVERFLOW, CR_VERT_RETRACE_END, CRTC_COUNT, GC_COUNT, SEQ_COUNT, VgaState } from './vga-state';

export const VGA_PORT_BASE = 0x3c0;
export const VGA_PORT_COUNT = 0x20;

// Port offsets from 0x3C0.
const ATTR_ADDR = 0x00;        // write: index / data (flip-flop); read: index
const ATTR_DATA_READ = 0x01;
const MISC_WRITE = 0x02;       // read: input status 0
const SEQ_INDEX = 0x04;
const SEQ_DATA = 0x05;
const DAC_MASK_PORT = 0x06;
const DAC_READ_INDEX = 0x07;   // read: DAC state
const DAC_WRITE_INDEX = 0x08;
const DAC_DATA = 0x09;
const FEATURE_READ = 0x0a;
const MISC_READ = 0x0c;
const GC_INDEX = 0x0e;
const GC_DATA = 0x0f;
const CRTC_INDEX = 0x14;       // 0x3D4
const CRTC_DATA = 0x15;        // 0x3D5
const INPUT_STATUS_1 = 0x1a;   // 0x3DA read; write: feature control

const ST1_DISPLAY_DISABLE = 0x01;
const ST1_VRETRACE = 0x08;
const ATTR_PAS = 0x20;          // palette address source (screen on) in the attribute index

export class Vga implements Device {
  readonly name: string;
  private crtcIndex = 0;
  private seqIndex = 0;
  private gcIndex = 0;
  private attrIndex = 0;
  /** The attribute port's flip-flop: false = next write is an index. */
  private attrData = false;
  private dacReadIndex = 0;
  private dacWriteIndex = 0;
  private dacComponent = 0;
  /** 0 after a write index was set, 3 after a read index (the DAC state register). */
  private dacState = 0;
  private retrace = 0;

  constructor(readonly state: VgaState = new VgaState(), name = 'vga') {
    this.name = name;
    state.reset();
  }

  read(offset: number, size: AccessSize): number {
    if (size === 2) return this.read(offset, 1) | (this.read(offset + 1, 1) << 8);
    if (size === 4) return (this.read(offset, 2) | (this.read(offset + 2, 2) << 16)) >>> 0;
    const s = this.state;
    switch (offset) {
      case ATTR_ADDR: return this.attrIndex;
      case ATTR_DATA_READ: return this.attrIndex % 0x20 < ATTR_COUNT ? s.attr(this.attrIndex % 0x20) : 0;
      case MISC_WRITE: return 0; // input status 0: no switch sense, no interrupt
      case SEQ_INDEX: return this.seqIndex;
      case SEQ_DATA: return this.seqIndex < SEQ_COUNT ? s.seq(this.seqIndex) : 0;
      case DAC_MASK_PORT: return s.dacMask;
      case DAC_READ_INDEX: return this.dacState;
      case DAC_WRITE_INDEX: return this.dacWriteIndex;
      case DAC_DATA: {
        const v = s.dac(this.dacReadIndex, this.dacComponent);
        this.nextComponent('read');
        return v;
      }
      case FEATURE_READ: return 0;
      case MISC_READ: return s.misc;
      case GC_INDEX: return this.gcIndex;
      case GC_DATA: return this.gcIndex < GC_COUNT ? s.gc(this.gcIndex) : 0;
      case CRTC_INDEX: return this.crtcIndex;
      case CRTC_DATA: return this.crtcIndex < CRTC_COUNT ? s.crtc(this.crtcIndex) : 0;
      case INPUT_STATUS_1:
        this.attrData = false;
        // Alternate between "in retrace" and "displaying" so both kinds of wait loop end.
        this.retrace ^= 1;
        return this.retrace ? ST1_VRETRACE | ST1_DISPLAY_DISABLE : 0;
      default: return 0xff;
    }
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (size !== 1) {
      // outw(0x3D4, index | data << 8): index and data ports in one access, as the VGA decodes it.
      for (let i = 0; i < size; i++) this.write(offset + i, 1, (value >>> (8 * i)) & 0xff);
      return;
    }
    const v = value & 0xff;
    const s = this.state;
    switch (offset) {
      case ATTR_ADDR:
        if (!this.attrData) this.attrIndex = v & (0x1f | ATTR_PAS);
        else if ((this.attrIndex & 0x1f) < ATTR_COUNT) s.setAttr(this.attrIndex & 0x1f, v);
        this.attrData = !this.attrData;
        return;
      case MISC_WRITE: s.misc = v; return;
      case SEQ_INDEX: this.seqIndex = v & 0x07; return;
      case SEQ_DATA: if (this.seqIndex < SEQ_COUNT) s.setSeq(this.seqIndex, v); return;
      case DAC_MASK_PORT: s.dacMask = v; return;
      case DAC_READ_INDEX: this.dacReadIndex = v; this.dacComponent = 0; this.dacState = 3; return;
      case DAC_WRITE_INDEX: this.dacWriteIndex = v; this.dacComponent = 0; this.dacState = 0; return;
      case DAC_DATA:
        s.setDac(this.dacWriteIndex, this.dacComponent, v);
        this.nextComponent('write');
        return;
      case GC_INDEX: this.gcIndex = v & 0x0f; return;
      case GC_DATA: if (this.gcIndex < GC_COUNT) s.setGc(this.gcIndex, v); return;
      case CRTC_INDEX: this.crtcIndex = v & 0x3f; return;
      case CRTC_DATA: this.writeCrtc(this.crtcIndex, v); return;
      default: return; // feature control and the rest: accepted, no effect
    }
  }

  private writeCrtc(i: number, v: number): void {
    if (i >= CRTC_COUNT) return;
    const s = this.state;
    // CR11 bit 7 write-protects CR00-CR07, except the line compare bit of CR07.
    if (i < 8 && s.crtc(CR_VERT_RETRACE_END) & CR11_PROTECT) {
      if (i === CR_OVERFLOW) s.setCrtc(i, (s.crtc(i) & ~0x10) | (v & 0x10));
      return;
    }
    s.setCrtc(i, v);
  }

  /** R, G, B, then the next entry: the DAC's auto-increment. */
  private nextComponent(which: 'read' | 'write'): void {
    if (++this.dacComponent < 3) return;
    this.dacComponent = 0;
    if (which === 'read') this.dacReadIndex = (this.dacReadIndex + 1) & 0xff;
    else this.dacWriteIndex = (this.dacWriteIndex + 1) & 0xff;
  }

  describe(): [string, string][] {
    const s = this.state;
    const cursor = s.cursorShape;
    return [
      ['mode', s.graphicsMode ? 'graphics (not rendered)' : `text ${s.textColumns}x${s.textRows}`],
      ['text at', `0x${(s.textWindow.base + s.startAddress * 2).toString(16)}`],
      ['cursor', cursor ? `cell ${s.cursorLocation}, scan lines ${cursor.start}-${cursor.end}` : 'off'],
      ['attribute bit 7', s.blinkEnabled ? 'blink' : 'bright background'],
    ];
  }
}
