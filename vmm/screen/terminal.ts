/**
 * VGA text mode drawn into a terminal (kvmdbg run --screen): each cell as
 * its character in 24-bit colour (the palette the VGA registers give), the
 * cursor as an inverted cell (the terminal's own cursor stays with the
 * serial console). The text occupies the top rows; the rows
 * below stay a scrolling region for the serial console, so both show.
 */
import { cp437Char } from './cp437';
import type { TextSnapshot } from './text-mode';

const ESC = '\x1b[';

const rgb = (c: number) => `${c >>> 24};${(c >>> 16) & 0xff};${(c >>> 8) & 0xff}`;

/**
 * Escape sequences that paint `t` at the top-left of the terminal and put
 * the terminal's cursor back where it was (in the console's region).
 */
export function paintText(t: TextSnapshot): string {
  let out = '\x1b7' + ESC + '?25l';
  for (let r = 0; r < t.rows; r++) {
    out += `${ESC}${r + 1};1H`;
    let last = -1;
    for (let c = 0; c < t.columns; c++) {
      const cell = t.cells[r * t.columns + c];
      const attr = cell >> 8;
      const bgIndex = t.blink ? (attr >> 4) & 7 : attr >> 4;
      const cursor = t.cursor?.row === r && t.cursor.column === c;
      const key = (attr & 0x0f) | (bgIndex << 4) | (t.blink && attr & 0x80 ? 0x100 : 0) | (cursor ? 0x200 : 0);
      if (key !== last) {
        out += `${ESC}0;38;2;${rgb(t.palette[attr & 0x0f])};48;2;${rgb(t.palette[bgIndex])}${key & 0x100 ? ';5' : ''}${cursor ? ';7' : ''}m`;
        last = key;
      }
      const ch = cp437Char(cell & 0xff);
      out += ch === '\u00a0' ? ' ' : ch;
    }
  }
  return out + ESC + '0m' + ESC + '?25h\x1b8';
}

/** Sets the console's scrolling region below a text screen of `rows` rows (and a separator line). */
export function reserveRows(rows: number, terminalRows: number): string {
  return `${ESC}2J${ESC}${rows + 2};${terminalRows}r${ESC}${rows + 2};1H`;
}

/** Undoes reserveRows: the whole terminal scrolls again. */
export function releaseRows(terminalRows: number): string {
  return `${ESC}r${ESC}${terminalRows};1H\n`;
}
