/**
 * Just enough AML (ACPI 6.5 chapter 20) to write a DSDT by hand: names,
 * packages and integers. Each function returns the encoded bytes.
 */

const ZERO_OP = 0x00;
const ONE_OP = 0x01;
const NAME_OP = 0x08;
const BYTE_PREFIX = 0x0a;
const WORD_PREFIX = 0x0b;
const DWORD_PREFIX = 0x0c;
const QWORD_PREFIX = 0x0e;
const PACKAGE_OP = 0x12;
const ONES_OP = 0xff;

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** An integer with the shortest encoding. */
export function integer(v: number | bigint): Uint8Array {
  const n = BigInt(v);
  if (n < 0n || n >= 1n << 64n) throw new RangeError(`AML integer out of range: ${n}`);
  if (n === 0n) return Uint8Array.of(ZERO_OP);
  if (n === 1n) return Uint8Array.of(ONE_OP);
  if (n === (1n << 64n) - 1n) return Uint8Array.of(ONES_OP);
  const le = (bytes: number, prefix: number) => {
    const out = new Uint8Array(bytes + 1);
    out[0] = prefix;
    for (let i = 0; i < bytes; i++) out[i + 1] = Number((n >> BigInt(8 * i)) & 0xffn);
    return out;
  };
  if (n <= 0xffn) return le(1, BYTE_PREFIX);
  if (n <= 0xffffn) return le(2, WORD_PREFIX);
  if (n <= 0xffffffffn) return le(4, DWORD_PREFIX);
  return le(8, QWORD_PREFIX);
}

/** A 4-character NameSeg (A-Z, 0-9, _; the first not a digit), padded with '_'. */
export function nameSeg(name: string): Uint8Array {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(name)) throw new RangeError(`invalid AML name segment '${name}'`);
  return Uint8Array.from(name.padEnd(4, '_'), (c) => c.charCodeAt(0));
}

/**
 * PkgLength: the length of what follows the opcode, counting the PkgLength
 * bytes themselves; one byte up to 63, else 2-4 bytes with the byte count
 * in bits 7-6 of the first.
 */
export function pkgLength(contentLength: number): Uint8Array {
  for (let n = 1; n <= 4; n++) {
    const total = contentLength + n;
    if (n === 1 && total <= 0x3f) return Uint8Array.of(total);
    if (n > 1 && total < 1 << (4 + 8 * (n - 1))) {
      const out = new Uint8Array(n);
      out[0] = ((n - 1) << 6) | (total & 0xf);
      for (let i = 1; i < n; i++) out[i] = (total >> (4 + 8 * (i - 1))) & 0xff;
      return out;
    }
  }
  throw new RangeError(`AML package too long: ${contentLength} bytes`);
}

/** Package(n) { elements } */
export function pkg(elements: readonly Uint8Array[]): Uint8Array {
  if (elements.length > 255) throw new RangeError('AML Package holds at most 255 elements');
  const body = concat([Uint8Array.of(elements.length), ...elements]);
  return concat([Uint8Array.of(PACKAGE_OP), pkgLength(body.length), body]);
}

/** Name(NAME, object) */
export function name(n: string, object: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(NAME_OP), nameSeg(n), object]);
}

export { concat as amlConcat };
