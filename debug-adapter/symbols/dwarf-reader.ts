/**
 * A bounds-checked little-endian byte cursor for DWARF sections. Every read
 * checks the cursor's end first and throws DwarfError (never a RangeError
 * from a DataView, never a read past the window); nothing is ever allocated
 * from a length field: `sub()` and `bytes()` return views after checking the
 * length against the bytes that really remain.
 */

/** A malformed or truncated debug section; the message says where. */
export class DwarfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DwarfError';
  }
}

/** A 32-bit or 64-bit DWARF initial length: the unit's length and its offset size. */
export interface InitialLength {
  length: number;
  offsetSize: 4 | 8;
}

export class ByteReader {
  /** Current absolute offset into `data`. */
  pos: number;
  /** Absolute end (exclusive) of this reader's window. */
  readonly end: number;
  private readonly view: DataView;

  constructor(readonly data: Uint8Array, start = 0, end = data.length, readonly what = 'section') {
    if (start < 0 || end > data.length || start > end) {
      throw new DwarfError(`${what}: window [${start}, ${end}) is outside its ${data.length} bytes`);
    }
    this.pos = start;
    this.end = end;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  get remaining(): number { return this.end - this.pos; }
  get atEnd(): boolean { return this.pos >= this.end; }

  private need(n: number, what: string): number {
    if (n < 0 || n > this.end - this.pos) {
      throw new DwarfError(`${this.what}: ${what} at offset 0x${this.pos.toString(16)} runs past the end (0x${this.end.toString(16)})`);
    }
    const p = this.pos;
    this.pos += n;
    return p;
  }

  u8(): number { return this.data[this.need(1, 'byte')]; }
  i8(): number { return this.view.getInt8(this.need(1, 'byte')); }
  u16(): number { return this.view.getUint16(this.need(2, '2-byte value'), true); }
  i16(): number { return this.view.getInt16(this.need(2, '2-byte value'), true); }
  u24(): number { const p = this.need(3, '3-byte value'); return this.data[p] | (this.data[p + 1] << 8) | (this.data[p + 2] << 16); }
  u32(): number { return this.view.getUint32(this.need(4, '4-byte value'), true); }
  i32(): number { return this.view.getInt32(this.need(4, '4-byte value'), true); }
  u64(): bigint { return this.view.getBigUint64(this.need(8, '8-byte value'), true); }
  i64(): bigint { return this.view.getBigInt64(this.need(8, '8-byte value'), true); }

  /** An unsigned value of 1, 2, 4 or 8 bytes (addresses, DW_FORM_addr). */
  unsigned(size: number): bigint {
    switch (size) {
      case 1: return BigInt(this.u8());
      case 2: return BigInt(this.u16());
      case 4: return BigInt(this.u32());
      case 8: return this.u64();
      default: throw new DwarfError(`${this.what}: unsupported value size ${size} at offset 0x${this.pos.toString(16)}`);
    }
  }

  /** A 4- or 8-byte section offset, as a safe JS number. */
  offset(size: 4 | 8): number {
    return size === 4 ? this.u32() : this.safe(this.u64(), 'offset');
  }

  /** ULEB128 as a bigint (any length; bits past 64 are dropped). */
  ulebBig(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.u8();
      if (shift < 64n) result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) return BigInt.asUintN(64, result);
    }
  }

  /** SLEB128 as a bigint (sign-extended, truncated to 64 bits). */
  slebBig(): bigint {
    let result = 0n;
    let shift = 0n;
    let b: number;
    do {
      b = this.u8();
      if (shift < 64n) result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
    } while (b & 0x80);
    if (shift < 64n && (b & 0x40)) result -= 1n << shift;
    return BigInt.asIntN(64, result);
  }

  /** ULEB128 that must fit a safe JS number (counts, indices, lengths). */
  uleb(): number {
    const start = this.pos;
    let result = 0;
    let mul = 1;
    for (;;) {
      const b = this.u8();
      result += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) break;
      if (mul > 2 ** 56) {
        // Too long for a number: finish skipping, then fail if it really is big.
        this.pos = start;
        return this.safe(this.ulebBig(), 'ULEB128');
      }
    }
    if (!Number.isSafeInteger(result)) throw new DwarfError(`${this.what}: ULEB128 at offset 0x${start.toString(16)} is too large`);
    return result;
  }

  /** SLEB128 that must fit a safe JS number. */
  sleb(): number {
    // Number math for the common short values (line advances: millions in a kernel); bigints past 6 bytes.
    const start = this.pos;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 6; i++) {
      const b = this.u8();
      result += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return b & 0x40 ? result - mul : result;
    }
    this.pos = start;
    const v = this.slebBig();
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new DwarfError(`${this.what}: SLEB128 before offset 0x${this.pos.toString(16)} is too large`);
    }
    return Number(v);
  }

  /** A NUL-terminated string (bytes as latin1, then decoded as UTF-8 when valid). */
  cstr(): string {
    const start = this.pos;
    let p = start;
    while (p < this.end && this.data[p] !== 0) p++;
    if (p >= this.end) throw new DwarfError(`${this.what}: string at offset 0x${start.toString(16)} has no terminating NUL`);
    this.pos = p + 1;
    return decodeString(this.data.subarray(start, p));
  }

  /** The DWARF initial length (0xffffffff escape = 64-bit DWARF). */
  initialLength(): InitialLength {
    const v = this.u32();
    if (v === 0xffffffff) return { length: this.safe(this.u64(), 'unit length'), offsetSize: 8 };
    if (v >= 0xfffffff0) throw new DwarfError(`${this.what}: reserved initial length 0x${v.toString(16)} at offset 0x${(this.pos - 4).toString(16)}`);
    return { length: v, offsetSize: 4 };
  }

  /** A view of the next `n` bytes (checked), advancing past them. */
  bytes(n: number): Uint8Array {
    const p = this.need(n, `${n}-byte block`);
    return this.data.subarray(p, p + n);
  }

  skip(n: number): void {
    // The sentence only when it fails: walks skip millions of values.
    if (n >= 0 && n <= this.end - this.pos) this.pos += n;
    else this.need(n, `${n}-byte skip`);
  }

  /** A reader over the next `n` bytes (checked), advancing this one past them. */
  sub(n: number, what = this.what): ByteReader {
    const p = this.need(n, `${n}-byte unit`);
    return new ByteReader(this.data, p, p + n, what);
  }

  /** Moves to an absolute offset inside the window. */
  seek(offset: number): void {
    if (offset < 0 || offset > this.end || !Number.isInteger(offset)) {
      throw new DwarfError(`${this.what}: offset 0x${offset.toString(16)} is outside the section (0x${this.end.toString(16)} bytes)`);
    }
    this.pos = offset;
  }

  private safe(v: bigint, what: string): number {
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DwarfError(`${this.what}: ${what} 0x${v.toString(16)} is too large`);
    return Number(v);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeString(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
}

/** The NUL-terminated string at `offset` of a string section (.debug_str, .debug_line_str), or undefined. */
export function stringAt(section: Uint8Array | undefined, offset: number): string | undefined {
  if (!section || offset < 0 || offset >= section.length) return undefined;
  try {
    const r = new ByteReader(section, offset, section.length, 'string section');
    return r.cstr();
  } catch {
    return undefined;
  }
}

/** A one-line description of any thrown value, for problem lists. */
export function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
