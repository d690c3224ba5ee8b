// The VGA ports (text mode) and the Bochs dispi: registers as a text kernel
// and a framebuffer driver set them, the PCI BAR, and hostile values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../vmm/bus/bus';
import type { DeviceLog } from '../../vmm/bus/device';
import { Vga, VGA_PORT_BASE, VGA_PORT_COUNT } from '../../vmm/devices/vga';
import { VgaState } from '../../vmm/devices/vga-state';
import {
  BochsDisplayPci, BochsVbe, VBE_DISPI_IOPORT_INDEX, VBE_DISPI_LFB_PHYSICAL_ADDRESS, VBE_DISPI_PORT_COUNT, VRAM_BYTES,
} from '../../vmm/devices/bochs-vbe';
import { Display } from '../../vmm/devices/display';

function vgaBus() {
  const vga = new Vga(new VgaState());
  const bus = new Bus('pio');
  bus.register(VGA_PORT_BASE, VGA_PORT_COUNT, vga);
  return { vga, s: vga.state, bus, out: (p: number, v: number, size = 1) => bus.write(p, size, v), inb: (p: number) => bus.read(p, 1) };
}

test('mode 3 after reset: 80x25, 16 lines a character, cursor on lines 13-14, blink, text at 0xB8000', () => {
  const { s } = vgaBus();
  assert.deepEqual([s.textColumns, s.textRows, s.charHeight], [80, 25, 16]);
  assert.deepEqual(s.cursorShape, { start: 13, end: 14 });
  assert.equal(s.blinkEnabled, true);
  assert.deepEqual(s.textWindow, { base: 0xb8000, size: 0x8000 });
  // The BIOS palette: 1 = blue (0,0,0xAA), 6 = brown (0xAA,0x55,0), 15 = white.
  assert.equal(s.textColour(1).toString(16).padStart(8, '0'), '0000aaff');
  assert.equal(s.textColour(6).toString(16).padStart(8, '0'), 'aa5500ff');
  assert.equal(s.textColour(15).toString(16).padStart(8, '0'), 'ffffffff');
});

test('the CRTC through 0x3D4/0x3D5: cursor position and shape, start address; outw sets index and data at once', () => {
  const { s, out, inb } = vgaBus();
  out(0x3d4, 0x0e); out(0x3d5, 0x01);
  out(0x3d4, 0x0f); out(0x3d5, 0x90);
  assert.equal(s.cursorLocation, 0x190);
  out(0x3d4, 0x0a | (0x20 << 8), 2);
  assert.equal(s.cursorShape, undefined, 'bit 5 of CR0A hides the cursor');
  out(0x3d4, 0x0a | (0x00 << 8), 2);
  out(0x3d4, 0x0b | (0x0f << 8), 2);
  assert.deepEqual(s.cursorShape, { start: 0, end: 15 });
  out(0x3d4, 0x0c); out(0x3d5, 0x00); out(0x3d4, 0x0d); out(0x3d5, 80);
  assert.equal(s.startAddress, 80);
  out(0x3d4, 0x0f);
  assert.equal(inb(0x3d5), 0x90, 'the data port reads the register back');
  assert.equal(inb(0x3d4), 0x0f);
});

test('CR11 bit 7 protects CR00-CR07 (but not the cursor registers)', () => {
  const { s, out } = vgaBus();
  out(0x3d4, 0x11 | (0x8e << 8), 2);
  out(0x3d4, 0x01 | (0x27 << 8), 2);
  assert.equal(s.textColumns, 80);
  out(0x3d4, 0x0e | (0x02 << 8), 2);
  assert.equal(s.cursorLocation >> 8, 2);
});

test('the attribute controller: index/data flip-flop reset by reading 0x3DA; mode control bit 3 chooses blink or bright background', () => {
  const { s, out, inb } = vgaBus();
  inb(0x3da);
  out(0x3c0, 0x10 | 0x20); // index 0x10, palette address source on
  out(0x3c0, 0x04);        // blink off (bit 3 clear), text mode
  assert.equal(s.blinkEnabled, false);
  out(0x3c0, 0x01);        // an index again (the flip-flop flipped back)
  out(0x3c0, 0x3f);        // palette 1 -> DAC 0x3F (white)
  assert.equal(s.textColour(1).toString(16).padStart(8, '0'), 'ffffffff');
  inb(0x3da);
  out(0x3c0, 0x11);
  assert.equal(inb(0x3c1), 0x00, 'the overscan register reads back through 0x3C1');
});

test('the DAC: write index, R G B auto-increment, read back through 0x3C7/0x3C9', () => {
  const { s, out, inb } = vgaBus();
  out(0x3c8, 0x01);
  out(0x3c9, 0x3f); out(0x3c9, 0x00); out(0x3c9, 0x10);
  out(0x3c9, 0x01); // entry 2's red
  assert.equal(s.textColour(1).toString(16).padStart(8, '0'), 'ff0041ff');
  out(0x3c7, 0x01);
  assert.deepEqual([inb(0x3c9), inb(0x3c9), inb(0x3c9), inb(0x3c9)], [0x3f, 0x00, 0x10, 0x01]);
  assert.equal(inb(0x3c7), 3, 'the DAC state says "reading"');
});

test('0x3DA alternates retrace and display so both kinds of wait loop end', () => {
  const { inb } = vgaBus();
  const seen = new Set([inb(0x3da) & 8, inb(0x3da) & 8, inb(0x3da) & 8]);
  assert.deepEqual([...seen].sort(), [0, 8]);
});

test('hostile VGA port values: every port, size and value never throws; the renderer-facing values stay in range', () => {
  const { s, bus } = vgaBus();
  let seed = 1;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0);
  for (let i = 0; i < 50000; i++) {
    const port = VGA_PORT_BASE + (rnd() % VGA_PORT_COUNT);
    const size = ([1, 2, 4] as const)[rnd() % 3];
    if (rnd() & 1) bus.write(port, size, rnd()); else bus.read(port, size);
  }
  assert.ok(s.textColumns >= 1 && s.textColumns <= 132);
  assert.ok(s.textRows >= 1 && s.textRows <= 60);
  assert.ok(s.charHeight >= 1 && s.charHeight <= 32);
  for (let c = 0; c < 16; c++) assert.equal(s.textColour(c) & 0xff, 0xff);
});

function dispi(vramBytes = VRAM_BYTES) {
  const errors: string[] = [];
  const log: DeviceLog = { info() {}, guestError: (m) => errors.push(m) };
  const vram = new Uint8Array(vramBytes);
  const vbe = new BochsVbe({ vram, log });
  const bus = new Bus('pio');
  bus.register(VBE_DISPI_IOPORT_INDEX, VBE_DISPI_PORT_COUNT, vbe);
  const set = (i: number, v: number) => { bus.write(0x1ce, 2, i); bus.write(0x1cf, 2, v); };
  const get = (i: number) => { bus.write(0x1ce, 2, i); return bus.read(0x1cf, 2); };
  return { vbe, vram, errors, set, get };
}

test('dispi: ID, GETCAPS maxima, a 1024x768x32 mode with the LFB, VRAM cleared unless NOCLEARMEM', () => {
  const d = dispi();
  assert.equal(d.get(0), 0xb0c5);
  d.set(0, 0xb0c4);
  assert.equal(d.get(0), 0xb0c4);
  d.set(4, 0x02);
  assert.deepEqual([d.get(1), d.get(2), d.get(3)], [2560, 1600, 32]);
  assert.equal(d.get(0xa), VRAM_BYTES >> 16, 'video memory in 64 KiB units');
  d.set(4, 0);
  d.vram.fill(0x55, 0, 16);
  d.set(1, 1024); d.set(2, 768); d.set(3, 32); d.set(4, 0x41);
  assert.deepEqual(d.vbe.state.mode, { width: 1024, height: 768, bpp: 32, stride: 4096, offset: 0, dac8: false });
  assert.equal(d.vram[0], 0, 'cleared on enable');
  assert.equal(d.get(7), VRAM_BYTES / 4096, 'virtual height: what the VRAM holds');
  d.set(1, 800);
  assert.equal(d.vbe.state.mode!.width, 1024, 'geometry does not change while enabled');
  d.set(4, 0);
  d.vram.fill(0x55, 0, 16);
  d.set(4, 0x41 | 0x80);
  assert.equal(d.vram[0], 0x55, 'NOCLEARMEM keeps the pixels');
  d.set(9, 10);
  assert.equal(d.vbe.state.mode!.offset, 10 * 4096, 'the y offset pans the virtual screen');
  assert.deepEqual(d.errors, []);
});

test('dispi hostile modes: too large, 0, odd depths, offsets past the VRAM: refused or reset with a guest error, never larger than the VRAM', () => {
  const d = dispi(1 << 20);
  for (const [w, h, bpp] of [[0, 768, 32], [4096, 768, 32], [1024, 768, 7], [1024, 768, 32], [65535, 65535, 32]]) {
    d.set(4, 0);
    d.set(1, w); d.set(2, h); d.set(3, bpp);
    d.set(4, 0x41);
    assert.equal(d.vbe.state.mode, undefined, `${w}x${h}x${bpp} in 1 MiB`);
  }
  assert.equal(d.errors.length, 5);
  d.set(1, 320); d.set(2, 200); d.set(3, 8); d.set(4, 0x41);
  assert.ok(d.vbe.state.mode);
  d.set(9, 60000);
  assert.equal(d.vbe.state.mode!.offset, 0, 'a y offset past the VRAM is reset');
  d.set(6, 65535);
  const m = d.vbe.state.mode!;
  assert.ok(m.offset + m.height * m.stride <= (1 << 20));
  let seed = 3;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 8;
  for (let i = 0; i < 20000; i++) d.set(rnd() % 16, rnd() & 0xffff);
  const last = d.vbe.state.mode;
  if (last) assert.ok(last.offset + last.height * last.stride <= (1 << 20) + last.stride, 'what the renderer scans stays inside VRAM');
});

test('PCI 1234:1111: class VGA, BAR 0 prefetchable at the dispi LFB address, sized by all-ones, moved and refused', () => {
  const moves: (number | undefined)[] = [];
  let accept = true;
  const errors: string[] = [];
  const f = new BochsDisplayPci((gpa) => { moves.push(gpa); return accept; }, { info() {}, guestError: (m) => errors.push(m) });
  assert.equal(f.readConfig(0, 4), 0x11111234);
  assert.equal(f.readConfig(0x08, 4) >>> 8, 0x030000);
  assert.equal(f.readConfig(0x10, 4), (VBE_DISPI_LFB_PHYSICAL_ADDRESS | 0x08) >>> 0);
  f.writeConfig(0x10, 4, 0xffffffff);
  assert.equal(f.readConfig(0x10, 4), ((~(VRAM_BYTES - 1)) | 0x08) >>> 0, 'sizing: 16 MiB');
  assert.deepEqual(moves, [undefined], 'while sized, nothing is mapped');
  f.writeConfig(0x10, 4, 0xe0000000);
  assert.deepEqual(moves, [undefined, 0xe0000000]);
  assert.equal(f.framebufferAddress, 0xe0000000);
  f.writeConfig(0x04, 2, 0);
  assert.deepEqual(moves.at(-1), undefined, 'memory decoding off unmaps it');
  accept = false;
  f.writeConfig(0x04, 2, 2);
  assert.equal(errors.length, 1);
  assert.match(errors[0], /overlaps guest RAM/);
});

test('Display: VGA and dispi registers share one buffer, the generation moves on any write', () => {
  const d = new Display();
  const vga = new Vga(d.vga);
  const g0 = d.generation;
  vga.write(0x14, 2, 0x0e | (1 << 8));
  assert.notEqual(d.generation, g0);
  const g1 = d.generation;
  new BochsVbe({ state: d.dispi, vram: d.vram }).write(1, 2, 5);
  assert.notEqual(d.generation, g1);
  assert.equal(d.vram.length, VRAM_BYTES);
});
