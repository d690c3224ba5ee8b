/**
 * VGA text mode as the monitor shows it. textSnapshot() reads the cells (a
 * byte of CP437 and a byte of attribute each, from guest RAM at the text
 * window) and the cursor from the VGA registers; renderText() draws them
 * with the 8x16 font: foreground colour in the low nibble of the attribute,
 * background in the high one, whose bit 7 blinks the character when the
 * attribute controller says so (else it is a bright background). The
 * cursor is drawn on the scan lines the CRTC gives. Everything the guest
 * controls is masked or clamped: any register values give some picture.
 */
import { cp437Char } from './cp437';
import { FONT_8X16, GLYPH_HEIGHT, GLYPH_WIDTH } from './font-8x16';
import type { RgbaImage } from './image';
import type { VgaState } from '../devices/vga-state';

/** What reads guest RAM: GuestMemory does (bounds-checked; throws outside RAM). */
export interface PhysicalReader {
  read(gpa: number, length: number): Uint8Array;
}

export interface TextSnapshot {
  columns: number;
  rows: number;
  /** columns x rows cells, row-major: character | attribute << 8. */
  cells: Uint16Array;
  /** The cursor's cell and scan lines (0-15), or undefined when off or outside the screen. */
  cursor?: { row: number; column: number; start: number; end: number };
  /** Attribute bit 7 blinks (true) or brightens the background. */
  blink: boolean;
  /** RGBA (0xRRGGBBAA) of the 16 text colours. */
  palette: number[];
}

export function textSnapshot(memory: PhysicalReader, vga: VgaState): TextSnapshot {
  const columns = vga.textColumns, rows = vga.textRows;
  const { base, size } = vga.textWindow;
  let window: Uint8Array;
  try {
    window = memory.read(base, size);
  } catch {
    window = new Uint8Array(size); // the guest has less RAM than the text window: a blank screen
  }
  const words = size / 2;
  const start = vga.startAddress, pitch = vga.rowPitch || columns;
  const cells = new Uint16Array(columns * rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      // The CRTC's address counter wraps within the window.
      const w = (start + r * pitch + c) % words;
      cells[r * columns + c] = window[w * 2] | (window[w * 2 + 1] << 8);
    }
  }
  let cursor: TextSnapshot['cursor'];
  const shape = vga.cursorShape;
  const at = vga.cursorLocation - start;
  if (shape && at >= 0 && pitch > 0) {
    const row = Math.floor(at / pitch), column = at % pitch;
    // Scan lines are in units of the character height the CRTC sets; the font is always 16 lines high.
    const scale = (line: number) => Math.min(GLYPH_HEIGHT - 1, Math.floor((line * GLYPH_HEIGHT) / vga.charHeight));
    if (row < rows && column < columns && shape.start < vga.charHeight) cursor = { row, column, start: scale(shape.start), end: scale(Math.min(shape.end, vga.charHeight - 1)) };
  }
  const palette = Array.from({ length: 16 }, (_, i) => vga.textColour(i));
  return { columns, rows, cells, cursor, blink: vga.blinkEnabled, palette };
}

export interface TextRenderOptions {
  /** Blink phase: false hides blinking characters (default true: shown, as in a screenshot). */
  blinkOn?: boolean;
  /** Draw the cursor (default true). */
  cursor?: boolean;
}

export function renderText(t: TextSnapshot, o: TextRenderOptions = {}): RgbaImage {
  const width = t.columns * GLYPH_WIDTH, height = t.rows * GLYPH_HEIGHT;
  const data = new Uint8Array(width * height * 4);
  const px = new DataView(data.buffer);
  const blinkOn = o.blinkOn ?? true;
  for (let r = 0; r < t.rows; r++) {
    for (let c = 0; c < t.columns; c++) {
      const cell = t.cells[r * t.columns + c];
      const ch = cell & 0xff, attr = cell >> 8;
      const fg = t.palette[attr & 0x0f];
      const bg = t.palette[t.blink ? (attr >> 4) & 0x07 : attr >> 4];
      const hidden = t.blink && attr & 0x80 && !blinkOn;
      const cursorHere = o.cursor !== false && t.cursor && t.cursor.row === r && t.cursor.column === c;
      for (let y = 0; y < GLYPH_HEIGHT; y++) {
        let bits = hidden ? 0 : FONT_8X16[ch * GLYPH_HEIGHT + y];
        // The cursor is drawn in the cell's foreground colour over its scan lines.
        if (cursorHere && y >= t.cursor!.start && y <= t.cursor!.end) bits = 0xff;
        let at = ((r * GLYPH_HEIGHT + y) * width + c * GLYPH_WIDTH) * 4;
        for (let x = 0; x < GLYPH_WIDTH; x++, at += 4) px.setUint32(at, bits & (0x80 >> x) ? fg : bg);
      }
    }
  }
  return { width, height, data };
}

/** The screen's text, one string a row, trailing spaces removed (CP437 shown as Unicode). */
export function textLines(t: TextSnapshot): string[] {
  const lines: string[] = [];
  for (let r = 0; r < t.rows; r++) {
    let s = '';
    for (let c = 0; c < t.columns; c++) s += cp437Char(t.cells[r * t.columns + c] & 0xff);
    lines.push(s.replace(/\s+$/, ''));
  }
  return lines;
}
