/**
 * A PS/2 keyboard, as plugged into the i8042's first port: the commands a
 * guest sends it (reset, identify, scan code set, LEDs, typematic, scanning
 * on/off) and the bytes it sends back, key presses among them. The
 * controller (i8042.ts) moves one byte at a time from here to its output
 * buffer and raises IRQ1. Scan codes are set 2 by default; with the
 * controller translating (its configuration bit 6, on after firmware) the
 * guest reads set 1, as on every PC. Bytes the guest sends are all taken:
 * an unknown command is answered with Resend (0xFE), as keyboards do.
 */
import { makeCodes } from './scancodes';

export const KBD_CMD_SET_LEDS = 0xed;
export const KBD_CMD_ECHO = 0xee;
export const KBD_CMD_SCANCODE = 0xf0;
export const KBD_CMD_GET_ID = 0xf2;
export const KBD_CMD_SET_RATE = 0xf3;
export const KBD_CMD_ENABLE = 0xf4;
export const KBD_CMD_RESET_DISABLE = 0xf5;
export const KBD_CMD_RESET_ENABLE = 0xf6;
export const KBD_CMD_RESEND = 0xfe;
export const KBD_CMD_RESET = 0xff;

export const KBD_REPLY_ACK = 0xfa;
export const KBD_REPLY_POR = 0xaa;       // power-on reset passed
export const KBD_REPLY_RESEND = 0xfe;
export const KBD_REPLY_ID = 0xab;
export const KBD_ID_RAW = 0x83;          // second ID byte; 0x41 through translation
export const KBD_ID_TRANSLATED = 0x41;

/** Bytes a keyboard buffers before it drops keys (real ones hold 16; typed strings need more). */
const QUEUE_LIMIT = 1 << 15;

export class Ps2Keyboard {
  private readonly queue: number[] = [];
  private head = 0;
  /** Scan code set the guest chose (3 is sent as 2: set 3 keyboards are rare and so are guests that need one). */
  private set: 1 | 2 | 3 = 2;
  private scanning = true;
  /** A command waiting for its argument byte, or 0. */
  private awaiting = 0;
  private lastSent = KBD_REPLY_ACK;
  leds = 0;
  dropped = 0;

  constructor(
    /** Whether the controller translates (set 1 seen by the guest): asked per byte, the guest may change it any time. */
    private readonly translating: () => boolean,
  ) {}

  get hasData(): boolean { return this.head < this.queue.length; }

  /** The next byte for the controller's output buffer. */
  next(): number | undefined {
    if (this.head >= this.queue.length) return undefined;
    const b = this.queue[this.head++];
    if (this.head === this.queue.length) { this.queue.length = 0; this.head = 0; }
    this.lastSent = b;
    return b;
  }

  /** A key event from the host; dropped while the guest has scanning off. */
  key(index: number, down: boolean): void {
    if (!this.scanning) return;
    // Through translation the guest reads set 1 whatever set 2 code the keyboard sent; set 1 chosen without translation is set 1 too.
    const set = this.translating() || this.set === 1 ? 1 : 2;
    this.push(...makeCodes(index, set, down));
  }

  /** A byte from the guest (port 0x60 with no controller command pending). */
  receive(v: number): void {
    const cmd = this.awaiting;
    if (cmd) {
      this.awaiting = 0;
      // A command byte in place of the argument is a new command (keyboards accept that).
      if (v < KBD_CMD_SET_LEDS || cmd === KBD_CMD_SET_RATE) { this.argument(cmd, v); return; }
    }
    // A keyboard empties its output buffer when a command arrives.
    this.clear();
    switch (v) {
      case KBD_CMD_SET_LEDS: case KBD_CMD_SET_RATE: case KBD_CMD_SCANCODE:
        this.awaiting = v;
        this.push(KBD_REPLY_ACK);
        return;
      case KBD_CMD_ECHO: this.push(KBD_CMD_ECHO); return;
      case KBD_CMD_GET_ID: this.push(KBD_REPLY_ACK, KBD_REPLY_ID, this.translating() ? KBD_ID_TRANSLATED : KBD_ID_RAW); return;
      case KBD_CMD_ENABLE: this.scanning = true; this.push(KBD_REPLY_ACK); return;
      case KBD_CMD_RESET_DISABLE: this.defaults(); this.scanning = false; this.push(KBD_REPLY_ACK); return;
      case KBD_CMD_RESET_ENABLE: this.defaults(); this.push(KBD_REPLY_ACK); return;
      case KBD_CMD_RESEND: this.push(this.lastSent); return;
      case KBD_CMD_RESET: this.defaults(); this.push(KBD_REPLY_ACK, KBD_REPLY_POR); return;
      default:
        // 0xF7-0xFD are set-3 key type commands: acknowledged, no effect.
        this.push(v >= 0xf7 && v <= 0xfd ? KBD_REPLY_ACK : KBD_REPLY_RESEND);
    }
  }

  private argument(cmd: number, v: number): void {
    switch (cmd) {
      case KBD_CMD_SET_LEDS: this.leds = v & 0x07; this.push(KBD_REPLY_ACK); return;
      case KBD_CMD_SET_RATE: this.push(KBD_REPLY_ACK); return;
      case KBD_CMD_SCANCODE:
        if (v === 0) {
          // Through translation the set number itself is translated (set 1/2/3 read as 0x43/0x41/0x3F).
          this.push(KBD_REPLY_ACK, this.translating() ? [0x43, 0x41, 0x3f][this.set - 1] : this.set);
        } else if (v >= 1 && v <= 3) {
          this.set = v as 1 | 2 | 3;
          this.push(KBD_REPLY_ACK);
        } else {
          this.push(KBD_REPLY_RESEND);
        }
        return;
    }
  }

  /** Scan code set in use, for views and tests. */
  get scanCodeSet(): number { return this.set; }
  get scanningEnabled(): boolean { return this.scanning; }

  private defaults(): void {
    this.set = 2;
    this.scanning = true;
    this.leds = 0;
    this.awaiting = 0;
  }

  private clear(): void {
    this.queue.length = 0;
    this.head = 0;
  }

  private push(...bytes: number[]): void {
    if (this.queue.length - this.head + bytes.length > QUEUE_LIMIT) { this.dropped += bytes.length; return; }
    for (const b of bytes) this.queue.push(b & 0xff);
  }
}
