/**
 * GDB remote serial protocol framing (RSP): `$data#cs`, acks, escapes,
 * run-length encoding and the out-of-band interrupt byte.
 *
 * The decoder is a byte-at-a-time state machine that accepts chunks split
 * anywhere and never throws: garbage between packets is skipped, a bad
 * checksum or an overlong packet becomes an `error` event and the decoder
 * resynchronises on the next `$`.
 *
 * Decoded packets are RLE-expanded but NOT unescaped: as in gdbserver, the
 * `}` escape belongs to binary payloads only (X, qXfer replies), so the
 * packet handler unescapes the part that is binary (unescapeBinary).
 */

/**
 * Largest packet we accept and advertise as PacketSize. gdb sizes its m
 * reads by it (half of it, in hex): 256 KiB packets read 128 KiB per round
 * trip, where QEMU's 4 KiB packets read 2 KiB; the round trips, not the
 * bytes, are what a large `dump memory` or a memory view waits for.
 */
export const DEFAULT_MAX_PACKET = 0x40000;

export const INTERRUPT_BYTE = 0x03;
const DOLLAR = 0x24;
const HASH = 0x23;
const ESCAPE = 0x7d;
const STAR = 0x2a;
const PLUS = 0x2b;
const MINUS = 0x2d;

export type DecodedEvent =
  | { type: 'packet'; data: Uint8Array }
  | { type: 'ack' }
  | { type: 'nak' }
  | { type: 'interrupt' }
  /** A packet was dropped. `nak`: it was framed but its checksum was wrong (the sender should retransmit). */
  | { type: 'error'; reason: string; nak: boolean };

export function checksum(data: Uint8Array): number {
  // No mask per byte: 2^53 / 255 bytes before the sum could lose precision.
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i];
  return s & 0xff;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

const enum State { Idle, Data, Check1, Check2 }

/** Streaming RSP decoder. Feed it chunks; it returns the events they complete. */
export class PacketDecoder {
  private state = State.Idle;
  private raw: number[] = [];
  private overlong = false;
  private check1 = 0;

  constructor(readonly maxPacket = DEFAULT_MAX_PACKET) {}

  /** True while inside a packet (between `$` and its checksum). */
  get inPacket(): boolean { return this.state !== State.Idle; }

  push(chunk: Uint8Array): DecodedEvent[] {
    const out: DecodedEvent[] = [];
    for (let i = 0; i < chunk.length; i++) this.byte(chunk[i], out);
    return out;
  }

  private byte(c: number, out: DecodedEvent[]): void {
    switch (this.state) {
      case State.Idle:
        if (c === DOLLAR) this.start();
        else if (c === PLUS) out.push({ type: 'ack' });
        else if (c === MINUS) out.push({ type: 'nak' });
        else if (c === INTERRUPT_BYTE) out.push({ type: 'interrupt' });
        // Anything else between packets is line noise: skip it.
        return;
      case State.Data:
        if (c === HASH) { this.state = State.Check1; return; }
        if (c === DOLLAR) {
          // A raw `$` cannot be inside a packet (it is escaped in binary data): the
          // previous packet was cut short. Drop it and start over here.
          out.push({ type: 'error', reason: 'packet interrupted by a new "$" before its "#"', nak: false });
          this.start();
          return;
        }
        if (this.raw.length >= this.maxPacket) { this.overlong = true; return; }
        this.raw.push(c);
        return;
      case State.Check1:
        this.check1 = c;
        this.state = State.Check2;
        return;
      case State.Check2: {
        this.state = State.Idle;
        const hi = hexValue(this.check1);
        const lo = hexValue(c);
        if (this.overlong) {
          out.push({ type: 'error', reason: `packet longer than ${this.maxPacket} bytes dropped`, nak: false });
          this.raw = [];
          return;
        }
        const raw = Uint8Array.from(this.raw);
        this.raw = [];
        if (hi < 0 || lo < 0) {
          out.push({ type: 'error', reason: 'packet checksum is not two hex digits', nak: true });
          return;
        }
        const expected = checksum(raw);
        if (((hi << 4) | lo) !== expected) {
          out.push({ type: 'error', reason: `bad packet checksum ${String.fromCharCode(this.check1, c)} (expected ${expected.toString(16).padStart(2, '0')})`, nak: true });
          return;
        }
        const expanded = expandRunLength(raw, this.maxPacket);
        if (typeof expanded === 'string') out.push({ type: 'error', reason: expanded, nak: false });
        else out.push({ type: 'packet', data: expanded });
        return;
      }
    }
  }

  private start(): void {
    this.state = State.Data;
    this.raw = [];
    this.overlong = false;
  }
}

/**
 * Expand `X*n` runs (X repeated n-29 more times). Returns an error string for
 * a `*` with no character before it, a count out of range, or an expansion
 * beyond `max` bytes.
 */
export function expandRunLength(raw: Uint8Array, max = Number.MAX_SAFE_INTEGER): Uint8Array | string {
  if (raw.indexOf(STAR) < 0) return raw;
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== STAR) { out.push(c); continue; }
    if (out.length === 0) return 'run-length "*" with no character before it';
    if (i + 1 >= raw.length) return 'run-length "*" without a count';
    const n = raw[++i] - 29;
    if (n < 3 || n > 97) return `run-length count ${raw[i]} out of range`;
    const prev = out[out.length - 1];
    if (out.length + n > max) return `packet longer than ${max} bytes after run-length expansion`;
    for (let k = 0; k < n; k++) out.push(prev);
  }
  return Uint8Array.from(out);
}

/**
 * Run-length encode (gdb decodes this on every packet). Runs are encoded as
 * `X*n` with n-29 repeats, skipping the counts that would produce `#` or `$`.
 */
export function compressRunLength(data: Uint8Array): Uint8Array {
  // Never longer than the input: a run is replaced only when that saves bytes.
  const out = new Uint8Array(data.length);
  let j = 0;
  let i = 0;
  while (i < data.length) {
    const c = data[i];
    let run = 1;
    while (i + run < data.length && data[i + run] === c && run < 98) run++;
    let repeats = run - 1;
    // Counts 6 and 7 would be '#' and '$'; emit fewer repeats instead.
    if (repeats === 6 || repeats === 7) repeats = 5;
    if (repeats >= 3 && c !== STAR && c !== HASH && c !== DOLLAR) {
      out[j++] = c;
      out[j++] = STAR;
      out[j++] = repeats + 29;
      i += repeats + 1;
    } else {
      out[j++] = c;
      i += 1;
    }
  }
  return out.subarray(0, j);
}

/**
 * compressRunLength for a latin1 string, by a regular expression (compiled
 * to native code) instead of a loop over bytes: memory replies are up to
 * 256 KiB of hex. Same encoding: runs of 4..98, counts 6 and 7 shortened to 5.
 */
export function compressRunLengthText(text: string): string {
  return text.replace(/([^*#$])\1{3,97}/gs, (run: string, c: string) => {
    const repeats = run.length - 1;
    if (repeats === 6 || repeats === 7) return c + '*' + String.fromCharCode(5 + 29) + c.repeat(repeats - 5);
    return c + '*' + String.fromCharCode(repeats + 29);
  });
}

/** Frame a payload (already escaped if binary) as `$payload#cs`. */
export function encodePacket(payload: Uint8Array | string, options: { compress?: boolean } = {}): Uint8Array {
  let body: Uint8Array;
  if (typeof payload === 'string') body = Buffer.from(options.compress ? compressRunLengthText(payload) : payload, 'latin1');
  else body = options.compress ? compressRunLength(payload) : payload;
  const out = new Uint8Array(body.length + 4);
  out[0] = DOLLAR;
  out.set(body, 1);
  out[body.length + 1] = HASH;
  const cs = checksum(body).toString(16).padStart(2, '0');
  out[body.length + 2] = cs.charCodeAt(0);
  out[body.length + 3] = cs.charCodeAt(1);
  return out;
}

function needsEscape(c: number): boolean {
  return c === HASH || c === DOLLAR || c === ESCAPE || c === STAR;
}

/** Escape binary data: `#$}*` become `}` + (byte ^ 0x20). */
export function escapeBinary(data: Uint8Array): Uint8Array {
  let extra = 0;
  for (let i = 0; i < data.length; i++) if (needsEscape(data[i])) extra++;
  if (extra === 0) return data;
  const out = new Uint8Array(data.length + extra);
  let j = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (needsEscape(c)) { out[j++] = ESCAPE; out[j++] = c ^ 0x20; } else out[j++] = c;
  }
  return out;
}

/** Undo escapeBinary. Returns undefined when the data ends in a lone `}`. */
export function unescapeBinary(data: Uint8Array): Uint8Array | undefined {
  if (data.indexOf(ESCAPE) < 0) return data;
  const out: number[] = [];
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (c === ESCAPE) {
      if (i + 1 >= data.length) return undefined;
      out.push(data[++i] ^ 0x20);
    } else out.push(c);
  }
  return Uint8Array.from(out);
}

export function toHex(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
}

/** Parse an even-length hex string; undefined if it is not one. */
export function fromHex(s: string): Uint8Array | undefined {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return undefined;
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** Parse an unsigned hex number of at most 16 digits (64 bits); undefined if malformed. */
export function parseHex64(s: string): bigint | undefined {
  if (s.length === 0 || s.length > 16 || !/^[0-9a-fA-F]+$/.test(s)) return undefined;
  return BigInt('0x' + s);
}

/** Parse an unsigned hex number that fits in a safe JS integer (up to 2^48); undefined if malformed. */
export function parseHexInt(s: string): number | undefined {
  if (s.length === 0 || s.length > 12 || !/^[0-9a-fA-F]+$/.test(s)) return undefined;
  return parseInt(s, 16);
}
