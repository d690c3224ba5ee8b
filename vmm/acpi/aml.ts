/**
 * Just enough AML (ACPI 6.5 chapter 20) to write a DSDT by hand: names,
 * packages, integers, strings, buffers, scopes and devices, and the
 * resource descriptors of a _CRS (6.4). Each function returns the bytes.
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
const STRING_PREFIX = 0x0d;
const SCOPE_OP = 0x10;
const BUFFER_OP = 0x11;
const EXT_OP_PREFIX = 0x5b;
const DEVICE_OP = 0x82;
const ROOT_CHAR = 0x5c;

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

/** A NUL-terminated ASCII string. */
export function string(s: string): Uint8Array {
  if (!/^[\x01-\x7f]*$/.test(s)) throw new RangeError(`AML strings are ASCII without NUL: '${s}'`);
  return concat([Uint8Array.of(STRING_PREFIX), Uint8Array.from(s, (c) => c.charCodeAt(0)), Uint8Array.of(0)]);
}

/** Buffer() { bytes } */
export function buffer(bytes: Uint8Array): Uint8Array {
  const body = concat([integer(bytes.length), bytes]);
  return concat([Uint8Array.of(BUFFER_OP), pkgLength(body.length), body]);
}

/** A NameString: '\\' + one segment for a root path ("\\_SB"), else one segment. */
function nameString(path: string): Uint8Array {
  return path.startsWith('\\') ? concat([Uint8Array.of(ROOT_CHAR), nameSeg(path.slice(1))]) : nameSeg(path);
}

/** Scope(path) { terms } */
export function scope(path: string, terms: readonly Uint8Array[]): Uint8Array {
  const body = concat([nameString(path), ...terms]);
  return concat([Uint8Array.of(SCOPE_OP), pkgLength(body.length), body]);
}

/** Device(NAME) { terms } */
export function device(n: string, terms: readonly Uint8Array[]): Uint8Array {
  const body = concat([nameSeg(n), ...terms]);
  return concat([Uint8Array.of(EXT_OP_PREFIX, DEVICE_OP), pkgLength(body.length), body]);
}

/** Memory32Fixed(ReadWrite|ReadOnly, base, length): large resource item 0x86 (6.4.3.4). */
export function memory32Fixed(base: number, length: number, writable = true): Uint8Array {
  const out = new Uint8Array(12);
  const v = new DataView(out.buffer);
  out[0] = 0x86;
  v.setUint16(1, 9, true);
  out[3] = writable ? 1 : 0;
  v.setUint32(4, base, true);
  v.setUint32(8, length, true);
  return out;
}

/** Interrupt(ResourceConsumer, Level|Edge, ActiveHigh|ActiveLow, Exclusive) { gsis }: extended interrupt descriptor 0x89 (6.4.3.6). */
export function extendedInterrupt(gsis: readonly number[], o: { level: boolean; activeHigh: boolean }): Uint8Array {
  if (gsis.length < 1 || gsis.length > 255) throw new RangeError('an Interrupt descriptor holds 1 to 255 interrupts');
  const out = new Uint8Array(5 + 4 * gsis.length);
  const v = new DataView(out.buffer);
  out[0] = 0x89;
  v.setUint16(1, 2 + 4 * gsis.length, true);
  // bit 0 consumer, bit 1 edge (0 = level), bit 2 active low, bit 3 shared
  out[3] = 1 | (o.level ? 0 : 2) | (o.activeHigh ? 0 : 4);
  out[4] = gsis.length;
  gsis.forEach((g, i) => v.setUint32(5 + 4 * i, g, true));
  return out;
}

/** ResourceTemplate() { descriptors }: a Buffer ending in an End Tag with checksum 0 ("none"). */
export function resourceTemplate(descriptors: readonly Uint8Array[]): Uint8Array {
  return buffer(concat([...descriptors, Uint8Array.of(0x79, 0x00)]));
}

export { concat as amlConcat };
