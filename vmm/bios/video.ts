/**
 * INT 10h for the 80x25 colour text mode (mode 03h): teletype output with
 * CR, LF, backspace, bell and scrolling; cursor position and shape (kept in
 * the BDA, shown through the CRTC); scrolling windows; character writes;
 * pages 0-7 (0xB8000 + 4 KiB each, CRTC start address on a page change);
 * the mode query. The BDA is the state, as with a real BIOS, so a guest
 * that pokes it sees consistent answers.
 */
import { type BiosContext, canRead, linear } from './guest-access';
import {
  BDA_ADDR, BDA_CRTC_PORT, BDA_CURSOR_POS, BDA_CURSOR_SHAPE, BDA_VIDEO_COLUMNS, BDA_VIDEO_MODE, BDA_VIDEO_PAGE,
  BDA_VIDEO_PAGE_SIZE, BDA_VIDEO_PAGE_START, BDA_VIDEO_ROWS, TEXT_SCREEN_ADDR,
} from './layout';
import { VbeBios } from './vbe';
import { ah, al, type BiosRegs, hi8, lo16, lo8, setAh, setAl, setHi8, setLo16, setLo8 } from './regs';

export const COLUMNS = 80;
export const ROWS = 25;
const PAGE_BYTES = 0x1000;
const PAGES = 8;
const BLANK_ATTR = 0x07;
const CRTC_INDEX = 0x3d4;
const CRTC_DATA = 0x3d5;
const TEXT_MODE = 0x03;

export class VideoBios {
  private warnedMode = new Set<number>();

  private readonly vbe: VbeBios;

  constructor(private readonly ctx: BiosContext) {
    this.vbe = new VbeBios(ctx, () => this.modeSet(TEXT_MODE));
  }

  private get mem() { return this.ctx.memory; }

  /** Mode 03h as POST leaves it: a blank screen, the cursor home. */
  init(): void {
    this.setMode(TEXT_MODE, true);
  }

  call(r: BiosRegs): void {
    const page = hi8(r, 'ebx') & (PAGES - 1);
    switch (ah(r)) {
      case 0x00: this.modeSet(al(r)); return;
      case 0x01: this.setShape(hi8(r, 'ecx'), lo8(r, 'ecx')); return;
      case 0x02: this.setCursor(page, hi8(r, 'edx'), lo8(r, 'edx')); return;
      case 0x03: {
        const [row, col] = this.cursor(page);
        setHi8(r, 'edx', row); setLo8(r, 'edx', col);
        setLo16(r, 'ecx', this.mem.readU16(BDA_ADDR + BDA_CURSOR_SHAPE));
        setLo16(r, 'eax', 0);
        return;
      }
      case 0x05: this.selectPage(al(r) & (PAGES - 1)); return;
      case 0x06: case 0x07:
        this.scroll(ah(r) === 0x06 ? 'up' : 'down', al(r), hi8(r, 'ebx'), hi8(r, 'ecx'), lo8(r, 'ecx'), hi8(r, 'edx'), lo8(r, 'edx'), this.activePage());
        return;
      case 0x08: {
        const [row, col] = this.cursor(page);
        setLo16(r, 'eax', this.mem.readU16(this.cell(page, row, col)));
        return;
      }
      case 0x09: case 0x0a: this.writeRepeated(page, al(r), ah(r) === 0x09 ? lo8(r, 'ebx') : undefined, lo16(r, 'ecx')); return;
      case 0x0e: this.teletype(this.activePage(), al(r)); return;
      case 0x0f:
        setAl(r, this.mem.readU8(BDA_ADDR + BDA_VIDEO_MODE));
        setAh(r, COLUMNS);
        setHi8(r, 'ebx', this.activePage());
        return;
      case 0x12:
        // BL=10h, EGA information: colour, 256 KiB; what programs ask to find a VGA.
        if (lo8(r, 'ebx') === 0x10) { setLo16(r, 'ebx', 0x0003); setLo16(r, 'ecx', 0x0009); }
        return;
      case 0x13: this.writeString(r, page); return;
      case 0x4f: this.vbe.call(r); return;
      case 0x1a:
        if (al(r) === 0x00) { setAl(r, 0x1a); setLo16(r, 'ebx', 0x0008); }   // one VGA with a colour display
        return;
      default:
        return;   // as a BIOS does: an unknown video function changes nothing
    }
  }

  private activePage(): number { return this.mem.readU8(BDA_ADDR + BDA_VIDEO_PAGE) & (PAGES - 1); }

  private cell(page: number, row: number, col: number): number {
    return TEXT_SCREEN_ADDR + page * PAGE_BYTES + (row * COLUMNS + col) * 2;
  }

  cursor(page: number): [row: number, col: number] {
    const v = this.mem.readU16(BDA_ADDR + BDA_CURSOR_POS + page * 2);
    return [Math.min(v >>> 8, ROWS - 1), Math.min(v & 0xff, COLUMNS - 1)];
  }

  private modeSet(value: number): void {
    const mode = value & 0x7f;
    if (mode !== 0x02 && mode !== 0x03 && mode !== 0x07 && !this.warnedMode.has(mode)) {
      this.warnedMode.add(mode);
      this.ctx.log.guestError(`INT 10h AH=00h: video mode ${mode.toString(16).padStart(2, '0')}h is not one kvmdbg's BIOS has (80x25 text, mode 03h, only); the screen stays in text mode`);
    }
    this.setMode(TEXT_MODE, (value & 0x80) === 0);
  }

  private setMode(mode: number, clear: boolean): void {
    const bda = BDA_ADDR;
    this.mem.writeU8(bda + BDA_VIDEO_MODE, mode);
    this.mem.writeU16(bda + BDA_VIDEO_COLUMNS, COLUMNS);
    this.mem.writeU16(bda + BDA_VIDEO_PAGE_SIZE, PAGE_BYTES);
    this.mem.writeU16(bda + BDA_VIDEO_PAGE_START, 0);
    this.mem.writeU8(bda + BDA_VIDEO_ROWS, ROWS - 1);
    this.mem.writeU16(bda + BDA_CRTC_PORT, CRTC_INDEX);
    this.mem.writeU8(bda + BDA_VIDEO_PAGE, 0);
    this.mem.fill(bda + BDA_CURSOR_POS, PAGES * 2);
    if (clear) {
      for (let p = 0; p < PAGES; p++) this.fillCells(p, 0, 0, ROWS - 1, COLUMNS - 1, BLANK_ATTR);
    }
    this.setShape(0x06, 0x07);
    this.crtc(0x0c, 0); this.crtc(0x0d, 0);
    this.setCursor(0, 0, 0);
  }

  /**
   * The BDA keeps the shape as given; the CRTC gets it scaled to the 16-line
   * font when it is a CGA-style 8-line shape (VGA BIOS cursor emulation:
   * 0607h, the default, is lines 13-14). Bit 5 of the start hides it.
   */
  private setShape(start: number, end: number): void {
    this.mem.writeU16(BDA_ADDR + BDA_CURSOR_SHAPE, ((start & 0xff) << 8) | (end & 0xff));
    let s = start & 0x1f, e = end & 0x1f;
    if (s < 8 && e < 8) { s = s * 2 + 1; e = e * 2; }
    this.crtc(0x0a, (start & 0x20) | Math.min(s, 0x1f));
    this.crtc(0x0b, Math.min(e, 0x1f));
  }

  private setCursor(page: number, row: number, col: number): void {
    // A row or column off the screen hides the cursor on a real VGA; kept in range here so writes stay on the page.
    const r = Math.min(row, ROWS - 1), c = Math.min(col, COLUMNS - 1);
    this.mem.writeU16(BDA_ADDR + BDA_CURSOR_POS + page * 2, (r << 8) | c);
    if (page === this.activePage()) {
      const pos = page * (PAGE_BYTES / 2) + r * COLUMNS + c;
      this.crtc(0x0e, (pos >>> 8) & 0xff);
      this.crtc(0x0f, pos & 0xff);
    }
  }

  private selectPage(page: number): void {
    this.mem.writeU8(BDA_ADDR + BDA_VIDEO_PAGE, page);
    this.mem.writeU16(BDA_ADDR + BDA_VIDEO_PAGE_START, page * PAGE_BYTES);
    const start = page * (PAGE_BYTES / 2);
    this.crtc(0x0c, (start >>> 8) & 0xff);
    this.crtc(0x0d, start & 0xff);
    const [row, col] = this.cursor(page);
    this.setCursor(page, row, col);
  }

  private crtc(index: number, value: number): void {
    this.ctx.ports.write(CRTC_INDEX, 1, index);
    this.ctx.ports.write(CRTC_DATA, 1, value);
  }

  private fillCells(page: number, top: number, left: number, bottom: number, right: number, attr: number): void {
    for (let row = top; row <= bottom; row++) {
      for (let col = left; col <= right; col++) this.mem.writeU16(this.cell(page, row, col), (attr << 8) | 0x20);
    }
  }

  private scroll(dir: 'up' | 'down', lines: number, attr: number, top: number, left: number, bottom: number, right: number, page: number): void {
    bottom = Math.min(bottom, ROWS - 1);
    right = Math.min(right, COLUMNS - 1);
    if (top > bottom || left > right) return;
    const height = bottom - top + 1;
    if (lines === 0 || lines >= height) { this.fillCells(page, top, left, bottom, right, attr); return; }
    const width = (right - left + 1) * 2;
    if (dir === 'up') {
      for (let row = top; row + lines <= bottom; row++) this.mem.write(this.cell(page, row, left), this.mem.read(this.cell(page, row + lines, left), width));
      this.fillCells(page, bottom - lines + 1, left, bottom, right, attr);
    } else {
      for (let row = bottom; row - lines >= top; row--) this.mem.write(this.cell(page, row, left), this.mem.read(this.cell(page, row - lines, left), width));
      this.fillCells(page, top, left, top + lines - 1, right, attr);
    }
  }

  private writeRepeated(page: number, ch: number, attr: number | undefined, count: number): void {
    const [row, col] = this.cursor(page);
    // From the cursor on, no further than the end of the page.
    const first = row * COLUMNS + col;
    const n = Math.min(count, ROWS * COLUMNS - first);
    for (let i = 0; i < n; i++) {
      const at = TEXT_SCREEN_ADDR + page * PAGE_BYTES + (first + i) * 2;
      if (attr === undefined) this.mem.writeU8(at, ch);
      else this.mem.writeU16(at, (attr << 8) | ch);
    }
  }

  /** AH=0Eh: one character as a terminal prints it (the cell keeps its attribute unless `attr` is given). */
  teletype(page: number, ch: number, attr?: number): void {
    let [row, col] = this.cursor(page);
    switch (ch) {
      case 0x07: return;
      case 0x08: if (col > 0) col--; break;
      case 0x0a: row++; break;
      case 0x0d: col = 0; break;
      default: {
        const at = this.cell(page, row, col);
        if (attr === undefined) this.mem.writeU8(at, ch);
        else this.mem.writeU16(at, (attr << 8) | ch);
        if (++col === COLUMNS) { col = 0; row++; }
      }
    }
    if (row === ROWS) {
      this.scroll('up', 1, BLANK_ATTR, 0, 0, ROWS - 1, COLUMNS - 1, page);
      row = ROWS - 1;
    }
    this.setCursor(page, row, col);
  }

  /** AH=13h: ES:BP, CX characters (AL bit 1: character/attribute pairs), at DH:DL; AL bit 0 moves the cursor. */
  private writeString(r: BiosRegs, page: number): void {
    const mode = al(r);
    const pairs = (mode & 2) !== 0;
    const count = lo16(r, 'ecx');
    const start = linear(r.esBase, lo16(r, 'ebp'));
    const bytes = count * (pairs ? 2 : 1);
    if (!canRead(this.mem, start, bytes)) return;
    const text = this.mem.read(start, bytes);
    const saved = this.cursor(page);
    this.setCursor(page, hi8(r, 'edx'), lo8(r, 'edx'));
    for (let i = 0; i < count; i++) {
      this.teletype(page, pairs ? text[i * 2] : text[i], pairs ? text[i * 2 + 1] : lo8(r, 'ebx'));
    }
    if ((mode & 1) === 0) this.setCursor(page, saved[0], saved[1]);
  }
}
