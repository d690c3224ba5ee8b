// The renderers: VGA text cells to exact pixels (font, colours, blink,
// bright background, cursor, hardware scrolling), the framebuffer's pixel
// formats, the text lines, PNG round trips, and hostile register values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { Display } from '../../vmm/devices/display';
import { Vga } from '../../vmm/devices/vga';
import { BochsVbe } from '../../vmm/devices/bochs-vbe';
import { FONT_8X16 } from '../../vmm/screen/font-8x16';
import { CP437, cp437Byte } from '../../vmm/screen/cp437';
import { renderText, textLines, textSnapshot } from '../../vmm/screen/text-mode';
import { captureScreen, imageHash } from '../../vmm/screen/screen';
import { decodePng, encodePng } from '../../vmm/screen/png';
import { paintText } from '../../vmm/screen/terminal';
import type { RgbaImage } from '../../vmm/screen/image';

function machine() {
  const memory = GuestMemory.allocate(2 * 1024 * 1024);
  const display = new Display();
  const vga = new Vga(display.vga);
  const cell = (r: number, c: number, ch: string | number, attr: number) =>
    memory.writeU16(0xb8000 + (r * 80 + c) * 2, (typeof ch === 'number' ? ch : ch.charCodeAt(0)) | (attr << 8));
  const crtc = (i: number, v: number) => vga.write(0x14, 2, i | (v << 8));
  return { memory, display, vga, cell, crtc };
}

const rgb = (img: RgbaImage, x: number, y: number) => {
  const i = (y * img.width + x) * 4;
  return [img.data[i], img.data[i + 1], img.data[i + 2], img.data[i + 3]];
};

test('CP437: 256 characters, pictures for the controls, box drawing where the PC has it', () => {
  assert.equal(CP437.length, 256);
  assert.equal(CP437[0x01], '☺');
  assert.equal(CP437[0xc4], '─');
  assert.equal(CP437[0xdb], '█');
  assert.equal(cp437Byte('A'), 0x41);
  assert.equal(cp437Byte('€'), undefined);
  assert.equal(FONT_8X16.length, 4096);
  for (let r = 0; r < 16; r++) assert.equal(FONT_8X16[0xdb * 16 + r], 0xff, 'the full block is all on');
  assert.ok(FONT_8X16.subarray(0x20 * 16, 0x21 * 16).every((b) => b === 0), 'space is all off');
});

test('a cell is its glyph: foreground where the font has bits, background elsewhere, exactly', () => {
  const m = machine();
  m.cell(0, 0, 'A', 0x1e); // yellow on blue
  m.crtc(0x0a, 0x20);      // no cursor
  const img = renderText(textSnapshot(m.memory, m.display.vga));
  assert.deepEqual([img.width, img.height], [640, 400]);
  for (let y = 0; y < 16; y++) {
    for (let x = 0; x < 8; x++) {
      const on = (FONT_8X16[0x41 * 16 + y] & (0x80 >> x)) !== 0;
      assert.deepEqual(rgb(img, x, y), on ? [0xff, 0xff, 0x55, 0xff] : [0x00, 0x00, 0xaa, 0xff], `pixel ${x},${y}`);
    }
  }
  assert.deepEqual(rgb(img, 8, 0), [0, 0, 0, 0xff], 'a zeroed cell is black');
});

test('attribute bit 7: blink (hidden in the off phase, dark background) or, with AR10 bit 3 clear, a bright background', () => {
  const m = machine();
  m.cell(0, 0, 0xdb, 0xc1); // full block, blue on (blinking) red
  m.crtc(0x0a, 0x20);
  const on = renderText(textSnapshot(m.memory, m.display.vga));
  const off = renderText(textSnapshot(m.memory, m.display.vga), { blinkOn: false });
  assert.deepEqual(rgb(on, 0, 0), [0, 0, 0xaa, 0xff], 'blink on: the character shows');
  assert.deepEqual(rgb(off, 0, 0), [0xaa, 0, 0, 0xff], 'blink off: only the (non-bright) background');
  m.vga.read(0x1a, 1);
  m.vga.write(0x00, 1, 0x30);
  m.vga.write(0x00, 1, 0x04); // AR10: blink off
  m.cell(0, 1, ' ', 0xc1);
  const bright = renderText(textSnapshot(m.memory, m.display.vga), { blinkOn: false });
  assert.deepEqual(rgb(bright, 8, 0), [0xff, 0x55, 0x55, 0xff], 'bright red background');
});

test('the cursor: its scan lines in the cell\'s foreground colour, at the CRTC position; off when CR0A bit 5 is set', () => {
  const m = machine();
  m.cell(3, 10, ' ', 0x0f);
  m.crtc(0x0e, 0); m.crtc(0x0f, 3 * 80 + 10);
  const img = renderText(textSnapshot(m.memory, m.display.vga));
  const x = 10 * 8, y = 3 * 16;
  assert.deepEqual(rgb(img, x, y + 12), [0, 0, 0, 0xff], 'line 12 is above the cursor');
  assert.deepEqual(rgb(img, x, y + 13), [0xff, 0xff, 0xff, 0xff]);
  assert.deepEqual(rgb(img, x + 7, y + 14), [0xff, 0xff, 0xff, 0xff]);
  assert.deepEqual(rgb(img, x, y + 15), [0, 0, 0, 0xff]);
  m.crtc(0x0a, 0x2d);
  assert.equal(textSnapshot(m.memory, m.display.vga).cursor, undefined);
  m.crtc(0x0a, 0x00); m.crtc(0x0f, 0xff); m.crtc(0x0e, 0xff);
  assert.equal(textSnapshot(m.memory, m.display.vga).cursor, undefined, 'a position past the screen shows none');
});

test('text lines: CP437 as Unicode, trailing blanks cut; hardware scrolling through the start address', () => {
  const m = machine();
  'Hello'.split('').forEach((ch, i) => m.cell(0, i, ch, 0x07));
  m.cell(1, 0, 0xc9, 0x07); m.cell(1, 1, 0xcd, 0x07); m.cell(1, 2, 0x01, 0x07);
  const t = textSnapshot(m.memory, m.display.vga);
  assert.deepEqual(textLines(t).slice(0, 3), ['Hello', '╔═☺', '']);
  m.crtc(0x0c, 0); m.crtc(0x0d, 80);
  assert.equal(textLines(textSnapshot(m.memory, m.display.vga))[0], '╔═☺', 'start address 80: the screen begins at row 1');
});

test('hostile CRTC values: any geometry, start address and cursor give a picture, never a read outside the text window', () => {
  const m = machine();
  let seed = 5;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 8;
  for (let i = 0; i < 300; i++) {
    m.crtc(rnd() % 0x19, rnd() & 0xff);
    if (i % 3 === 0) m.vga.write(0x0e, 2, 0x06 | ((rnd() & 0xff) << 8));
    const t = textSnapshot(m.memory, m.display.vga);
    assert.equal(t.cells.length, t.columns * t.rows);
    const img = renderText(t);
    assert.equal(img.data.length, t.columns * 8 * t.rows * 16 * 4);
  }
  const tiny = { read: () => { throw new RangeError('not RAM'); } };
  assert.ok(textSnapshot(tiny, m.display.vga).cells.every((c) => c === 0), 'no RAM at 0xB8000: blank');
});

test('the framebuffer: 32, 24, 16, 15 and 8 bpp to RGBA; captureScreen picks it once the dispi is on', () => {
  const m = machine();
  const vbe = new BochsVbe({ state: m.display.dispi, vram: m.display.vram });
  const mode = (w: number, h: number, bpp: number) => {
    for (const [i, v] of [[4, 0], [1, w], [2, h], [3, bpp], [4, 0xc1]]) { vbe.write(0, 2, i); vbe.write(1, 2, v); }
  };
  const v = m.display.vram;
  mode(2, 1, 32);
  v.set([0x11, 0x22, 0x33, 0x00, 0xff, 0xfe, 0xfd, 0x00]);
  let c = captureScreen(m.memory, m.display);
  assert.equal(c.mode, 'framebuffer');
  assert.equal(c.description, '2x1x32');
  assert.deepEqual([...c.image.data], [0x33, 0x22, 0x11, 0xff, 0xfd, 0xfe, 0xff, 0xff]);
  mode(1, 1, 24);
  v.set([0x01, 0x02, 0x03]);
  assert.deepEqual([...captureScreen(m.memory, m.display).image.data], [3, 2, 1, 0xff]);
  mode(1, 1, 16);
  v.set([0x00, 0xf8]); // RGB565 pure red
  assert.deepEqual([...captureScreen(m.memory, m.display).image.data], [0xff, 0, 0, 0xff]);
  mode(1, 1, 15);
  v.set([0xe0, 0x03]); // RGB555 pure green
  assert.deepEqual([...captureScreen(m.memory, m.display).image.data], [0, 0xff, 0, 0xff]);
  mode(1, 1, 8);
  v.set([0x04]); // DAC 4: red (0xAA, 0, 0)
  assert.deepEqual([...captureScreen(m.memory, m.display).image.data], [0xaa, 0, 0, 0xff]);
  vbe.write(0, 2, 4); vbe.write(1, 2, 0);
  assert.equal(captureScreen(m.memory, m.display).mode, 'text', 'dispi off: VGA text again');
});

test('PNG round trip through pngjs, and the frame hash changes with a pixel', () => {
  const m = machine();
  m.cell(0, 0, 'K', 0x0a);
  const a = captureScreen(m.memory, m.display);
  const back = decodePng(encodePng(a.image));
  assert.deepEqual([back.width, back.height], [640, 400]);
  assert.deepEqual(Buffer.from(back.data), Buffer.from(a.image.data));
  const h = imageHash(a.image);
  assert.equal(imageHash(captureScreen(m.memory, m.display).image), h);
  m.cell(24, 79, '.', 0x07);
  assert.notEqual(imageHash(captureScreen(m.memory, m.display).image), h);
});

test('the terminal painter: 24-bit colours, the cursor cell inverted, the terminal\'s cursor restored', () => {
  const m = machine();
  m.cell(0, 0, 'X', 0x1f);
  const s = paintText(textSnapshot(m.memory, m.display.vga));
  assert.ok(s.startsWith('\x1b7'));
  assert.ok(s.endsWith('\x1b8'));
  assert.match(s, /\x1b\[1;1H\x1b\[0;38;2;255;255;255;48;2;0;0;170;7mX/, 'white on blue, inverted: the cursor is at 0,0');
});
