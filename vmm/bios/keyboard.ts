/**
 * The keyboard as a BIOS gives it: INT 09h (IRQ1) takes each scan code
 * (set 1, the i8042 translating) from port 60h, follows Shift, Ctrl, Alt
 * and Caps Lock in the BDA flags, and queues (scan << 8) | ASCII in the
 * BDA's 16-word ring; INT 16h reads it (00h/10h wait, 01h/11h peek with ZF,
 * 02h/12h flags, 05h stores a key). A read finding the ring empty first drains what the
 * i8042 holds (a guest running with interrupts off still gets its keys),
 * then waits in the ROM (sti; hlt) for the next interrupt.
 */
import type { BiosContext } from './guest-access';
import { BDA_ADDR, BDA_KBD_BUFFER, BDA_KBD_BUFFER_END, BDA_KBD_FLAGS, BDA_KBD_HEAD, BDA_KBD_TAIL } from './layout';
import { ah, type BiosRegs, FLAG_ZF, lo16, setFlag, setLo16, setAl } from './regs';

const DATA_PORT = 0x60;
const STATUS_PORT = 0x64;
const STATUS_OBF = 0x01;
const STATUS_AUX = 0x20;

// BDA 0x417 bits.
const RIGHT_SHIFT = 0x01, LEFT_SHIFT = 0x02, CTRL = 0x04, ALT = 0x08, CAPS_LOCK = 0x40;

/** Set-1 make codes 00h-39h: [unshifted, shifted] ASCII, '' for none (US layout). */
const ASCII: readonly string[] = [
  '', '\x1b\x1b', '1!', '2@', '3#', '4$', '5%', '6^', '7&', '8*', '9(', '0)', '-_', '=+', '\b\b', '\t\t',
  'qQ', 'wW', 'eE', 'rR', 'tT', 'yY', 'uU', 'iI', 'oO', 'pP', '[{', ']}', '\r\r', '', 'aA', 'sS',
  'dD', 'fF', 'gG', 'hH', 'jJ', 'kK', 'lL', ';:', '\'"', '`~', '', '\\|', 'zZ', 'xX', 'cC', 'vV',
  'bB', 'nN', 'mM', ',<', '.>', '/?', '', '**', '', '  ',
];

/** A BIOS key code for a set-1 make code with the shift state `flags` (0: none, e.g. a lone modifier). */
export function biosKey(scan: number, flags: number, extended = false): number {
  if (extended) {
    if (scan === 0x1c) return 0xe00d;                 // keypad Enter
    if (scan === 0x35) return 0xe02f;                 // keypad /
    return scan >= 0x47 && scan <= 0x53 ? scan << 8 : 0;   // arrows, Home, End, PgUp, PgDn, Ins, Del: AL = 0
  }
  if (scan >= 0x3b && scan <= 0x44) return scan << 8; // F1-F10
  if (scan >= 0x47 && scan <= 0x53) return scan << 8; // keypad navigation (Num Lock off)
  const pair = ASCII[scan];
  if (!pair) return 0;
  const letter = pair[0] >= 'a' && pair[0] <= 'z';
  if (flags & CTRL) return letter ? (scan << 8) | (pair.charCodeAt(0) - 0x60) : 0;
  if (flags & ALT) return scan << 8;
  let shifted = (flags & (LEFT_SHIFT | RIGHT_SHIFT)) !== 0;
  if (letter && flags & CAPS_LOCK) shifted = !shifted;
  return (scan << 8) | pair.charCodeAt(shifted ? 1 : 0);
}

export class KeyboardBios {
  private extended = false;

  constructor(private readonly ctx: BiosContext) {}

  private get mem() { return this.ctx.memory; }

  init(): void {
    this.mem.writeU8(BDA_ADDR + BDA_KBD_FLAGS, 0);
    this.mem.writeU16(BDA_ADDR + BDA_KBD_HEAD, BDA_KBD_BUFFER);
    this.mem.writeU16(BDA_ADDR + BDA_KBD_TAIL, BDA_KBD_BUFFER);
    // The ring's bounds, where AT BIOSes keep them (0x480/0x482).
    this.mem.writeU16(BDA_ADDR + 0x80, BDA_KBD_BUFFER);
    this.mem.writeU16(BDA_ADDR + 0x82, BDA_KBD_BUFFER_END);
  }

  /** INT 09h: the byte the i8042 holds, if it holds a keyboard byte. */
  irq(): void {
    const status = this.ctx.ports.read(STATUS_PORT, 1);
    if ((status & STATUS_OBF) === 0 || status & STATUS_AUX) return;
    this.scanCode(this.ctx.ports.read(DATA_PORT, 1));
  }

  /** One set-1 byte: a prefix, a modifier, a release, or a key to queue. */
  scanCode(byte: number): void {
    if (byte === 0xe0) { this.extended = true; return; }
    const extended = this.extended;
    this.extended = false;
    const release = (byte & 0x80) !== 0;
    const scan = byte & 0x7f;
    const flagsAt = BDA_ADDR + BDA_KBD_FLAGS;
    let flags = this.mem.readU8(flagsAt);
    const modifier = scan === 0x2a ? LEFT_SHIFT : scan === 0x36 && !extended ? RIGHT_SHIFT : scan === 0x1d ? CTRL : scan === 0x38 ? ALT : 0;
    if (modifier) {
      flags = release ? flags & ~modifier : flags | modifier;
      this.mem.writeU8(flagsAt, flags);
      return;
    }
    if (release) return;
    if (scan === 0x3a) { this.mem.writeU8(flagsAt, flags ^ CAPS_LOCK); return; }
    const key = biosKey(scan, flags, extended);
    if (key !== 0) void this.push(key);
  }

  /** Queues a key; false when the ring is full (a real BIOS beeps: the key is lost). */
  private push(key: number): boolean {
    const head = this.mem.readU16(BDA_ADDR + BDA_KBD_HEAD);
    const tail = this.mem.readU16(BDA_ADDR + BDA_KBD_TAIL);
    const next = this.advance(tail);
    if (next === head || !this.inRing(tail)) return false;
    this.mem.writeU16(BDA_ADDR + tail, key);
    this.mem.writeU16(BDA_ADDR + BDA_KBD_TAIL, next);
    return true;
  }

  private inRing(offset: number): boolean {
    return offset >= BDA_KBD_BUFFER && offset < BDA_KBD_BUFFER_END && (offset & 1) === 0;
  }

  private advance(offset: number): number {
    return offset + 2 >= BDA_KBD_BUFFER_END ? BDA_KBD_BUFFER : offset + 2;
  }

  /** The next key, removed (`take`) or not; undefined when the ring is empty (or its pointers are the guest's nonsense). */
  private peek(take: boolean): number | undefined {
    const head = this.mem.readU16(BDA_ADDR + BDA_KBD_HEAD);
    const tail = this.mem.readU16(BDA_ADDR + BDA_KBD_TAIL);
    if (!this.inRing(head) || !this.inRing(tail)) { this.init(); return undefined; }
    if (head === tail) return undefined;
    const key = this.mem.readU16(BDA_ADDR + head);
    if (take) this.mem.writeU16(BDA_ADDR + BDA_KBD_HEAD, this.advance(head));
    return key;
  }

  /** INT 16h; 'wait' when a read must wait for a key (the ROM halts, then calls again). */
  call(r: BiosRegs): 'wait' | undefined {
    const fn = ah(r) & ~0x10;   // 10h-12h: the enhanced keyboard's same functions
    if (fn === 0x00 || fn === 0x01) {
      if (this.peek(false) === undefined) this.drainController();
      const key = this.peek(fn === 0x00);
      if (fn === 0x00) {
        if (key === undefined) return 'wait';
        setLo16(r, 'eax', key);
        return undefined;
      }
      setFlag(r, FLAG_ZF, key === undefined);
      if (key !== undefined) setLo16(r, 'eax', key);
      return undefined;
    }
    if (fn === 0x02) setAl(r, this.mem.readU8(BDA_ADDR + BDA_KBD_FLAGS));
    if (fn === 0x05) setAl(r, this.push(lo16(r, 'ecx')) ? 0 : 1);   // store CX as a key: AL = 1 when the ring is full
    return undefined;
  }

  /** Reads whatever keyboard bytes the i8042 holds (bounded: a controller that never empties cannot hold us). */
  private drainController(): void {
    for (let i = 0; i < 64; i++) {
      const status = this.ctx.ports.read(STATUS_PORT, 1);
      if ((status & STATUS_OBF) === 0 || status & STATUS_AUX) return;
      this.scanCode(this.ctx.ports.read(DATA_PORT, 1));
    }
  }
}
