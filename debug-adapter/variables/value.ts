/**
 * A typed value of one frame (delve's proc.Variable without the loading):
 * a C type and where its bytes are. Nothing is read until asked, so a value
 * whose memory is unmapped or that is optimized out is still a value; the
 * reading says why it cannot be read, and its siblings are unaffected.
 *
 * An rvalue (a computed result) is a Value whose location is
 * `{ kind: 'value', bytes }`: one shape for everything the evaluator and the
 * formatter pass around.
 */
import type { CType, FrameContext, Location, Piece } from '../dwarf/model';
import { isFloat, isIntegral, isSigned, sizeOf, strip, type FoundMember } from './ctype';

export interface Value {
  readonly type: CType;
  readonly location: Location;
  readonly frame: FrameContext;
  /** A bitfield: its bits within `location`, which then holds the bytes that contain it. */
  readonly bits?: { readonly offset: number; readonly size: number };
}

/** Why a value cannot be read (or written). `unavailable`: no location at this pc (its reason, e.g. "optimized out"). */
export class ValueError extends Error {
  constructor(message: string, readonly unavailable = false) {
    super(message);
  }
}

export function hex(n: bigint): string {
  return (n < 0n ? '-0x' + (-n).toString(16) : '0x' + n.toString(16));
}

export function unreadable(address: bigint, size: number): ValueError {
  return new ValueError(`cannot read ${size} byte${size === 1 ? '' : 's'} at ${hex(address)} (not mapped)`);
}

export function rvalue(type: CType, bytes: Uint8Array, frame: FrameContext): Value {
  return { type, location: { kind: 'value', bytes }, frame };
}

/** An integer (or pointer, or enum) rvalue of `type`, truncated to its size. */
export function intRvalue(type: CType, value: bigint, frame: FrameContext): Value {
  return rvalue(type, bigintToBytes(value, sizeOf(type)), frame);
}

export function floatRvalue(type: CType, value: number, frame: FrameContext): Value {
  return rvalue(type, floatBytes(value, sizeOf(type)), frame);
}

/** A number as a C float of `size` bytes: IEEE single or double, or x87 extended (10 bytes, padded) for long double. */
export function floatBytes(value: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  if (size === 4) view.setFloat32(0, value, true);
  else if (size === 8) view.setFloat64(0, value, true);
  else if (size >= 10) {
    const [mantissa, signExp] = toX87(value);
    view.setBigUint64(0, mantissa, true);
    view.setUint16(8, signExp, true);
  }
  return bytes;
}

/** A double's exact x87 form: the explicit integer bit, the exponent rebased from 1023 to 16383. */
function toX87(x: number): [bigint, number] {
  const d = new DataView(new ArrayBuffer(8));
  d.setFloat64(0, x);
  const bits = d.getBigUint64(0);
  const sign = bits >> 63n ? 0x8000 : 0;
  const exp = Number((bits >> 52n) & 0x7ffn);
  let frac = bits & ((1n << 52n) - 1n);
  if (exp === 0x7ff) return [frac === 0n ? 1n << 63n : 3n << 62n, sign | 0x7fff];
  if (exp === 0 && frac === 0n) return [0n, sign];
  let e = exp - 1023;
  if (exp === 0) {
    // A subnormal double is a normal x87 number: shift its fraction up to the integer bit.
    e = -1022;
    while (!(frac & (1n << 52n))) { frac <<= 1n; e--; }
  } else {
    frac |= 1n << 52n;
  }
  return [frac << 11n, sign | (e + 16383)];
}

export function memoryValue(type: CType, address: bigint, frame: FrameContext): Value {
  return { type, location: { kind: 'memory', address }, frame };
}

/** The address a value lives at, for `&`, DAP memoryReference and data breakpoints; undefined when it has none (register, computed, bitfield). */
export function addressOf(v: Value): bigint | undefined {
  return v.location.kind === 'memory' && !v.bits ? v.location.address : undefined;
}

/** A (flattened) member of a record value: its bytes' location, and its bits for a bitfield. */
export function memberValue(v: Value, m: Pick<FoundMember, 'type' | 'offset' | 'bitSize' | 'bitOffset'>): Value {
  if (m.bitSize === undefined) return { type: m.type, location: subLocation(v.location, m.offset, sizeOf(m.type)), frame: v.frame };
  // Keep the bit offset below 8 so the bytes read are only those holding the field.
  const offset = m.offset + Math.floor((m.bitOffset ?? 0) / 8);
  const bitOffset = (m.bitOffset ?? 0) % 8;
  const span = Math.ceil((bitOffset + m.bitSize) / 8);
  return { type: m.type, location: subLocation(v.location, offset, span), frame: v.frame, bits: { offset: bitOffset, size: m.bitSize } };
}

/** Element `index` of an array value whose elements are `element` (C does not check bounds; neither does this). */
export function elementValue(v: Value, element: CType, index: number): Value {
  const size = sizeOf(element);
  return { type: element, location: subLocation(v.location, index * size, size), frame: v.frame };
}

/** The bytes a value occupies in memory (DAP dataBreakpointInfo: a watchpoint's address and size); undefined when it is not in memory whole. */
export function memoryRange(v: Value): { address: bigint; size: number } | undefined {
  const address = addressOf(v);
  if (address !== undefined) return { address, size: sizeOf(v.type) };
  // A bitfield is watched through the bytes that hold it.
  if (v.bits && v.location.kind === 'memory') return { address: v.location.address, size: Math.ceil((v.bits.offset + v.bits.size) / 8) };
  return undefined;
}

// ---------------------------------------------------------------- bytes <-> integers

export function bytesToBigint(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

/** The low `size` bytes of `value` (two's complement), little-endian. */
export function bigintToBytes(value: bigint, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let v = BigInt.asUintN(size * 8, value);
  for (let i = 0; i < size; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export function signExtend(value: bigint, bits: number): bigint {
  return bits > 0 ? BigInt.asIntN(bits, value) : 0n;
}

// ---------------------------------------------------------------- reading

/** The value's bytes (sizeof its type); throws ValueError saying why they cannot be read. Not for bitfields: see `intValue`. */
export function readBytes(v: Value, size = sizeOf(v.type)): Uint8Array {
  return locationBytes(v.location, v.frame, size);
}

/** `size` bytes from the start of `loc`. */
export function locationBytes(loc: Location, frame: FrameContext, size: number): Uint8Array {
  switch (loc.kind) {
    case 'memory': {
      if (size === 0) return new Uint8Array(0);
      const b = frame.readMemory(loc.address, size);
      if (!b || b.length < size) throw unreadable(loc.address, size);
      return b;
    }
    case 'value': {
      // DW_OP_stack_value pushes an address-sized value whatever the variable's size: take what the type needs, zero-extended.
      if (loc.bytes.length >= size) return loc.bytes.subarray(0, size);
      const out = new Uint8Array(size);
      out.set(loc.bytes);
      return out;
    }
    default:
      return bigintToBytes(locationBits(loc, frame, 0, size * 8), size);
  }
}

/**
 * `bitSize` bits of `loc` starting `bitOffset` bits from its least
 * significant bit: bitfields, DW_OP_bit_piece and values split across
 * registers all come down to this.
 */
export function locationBits(loc: Location, frame: FrameContext, bitOffset: number, bitSize: number): bigint {
  const mask = (1n << BigInt(bitSize)) - 1n;
  switch (loc.kind) {
    case 'unavailable':
      throw new ValueError(loc.reason, true);
    case 'register': {
      const r = frame.register(loc.register);
      if (r === undefined) throw new ValueError(`not saved in this frame (${registerName(loc.register, frame.addressSize)})`, true);
      return (BigInt.asUintN(512, r) >> BigInt(bitOffset)) & mask;
    }
    case 'memory': case 'value': {
      const first = Math.floor(bitOffset / 8);
      const span = Math.ceil((bitOffset + bitSize) / 8) - first;
      const bytes = loc.kind === 'memory'
        ? locationBytes({ kind: 'memory', address: loc.address + BigInt(first) }, frame, span)
        : locationBytes(loc, frame, first + span).subarray(first);
      return (bytesToBigint(bytes) >> BigInt(bitOffset - first * 8)) & mask;
    }
    case 'pieces': {
      let result = 0n;
      let at = 0;
      const end = bitOffset + bitSize;
      for (const p of loc.pieces) {
        const lo = Math.max(at, bitOffset);
        const hi = Math.min(at + p.bitSize, end);
        if (lo < hi) {
          const part = locationBits(p.location, frame, (p.bitOffset ?? 0) + (lo - at), hi - lo);
          result |= part << BigInt(lo - bitOffset);
        }
        at += p.bitSize;
        if (at >= end) break;
      }
      if (at < end) throw new ValueError('optimized out', true);
      return result;
    }
  }
}

const DWARF_X86_64 = ['rax', 'rdx', 'rcx', 'rbx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip'];
const DWARF_I386 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip'];

/** A DWARF register number as the user knows it (x86-64, or i386 in 32-bit code): `rbx`, `xmm3`. */
export function registerName(n: number, addressSize: number): string {
  if (addressSize === 4) return DWARF_I386[n] ?? (n >= 21 && n <= 28 ? `xmm${n - 21}` : `register ${n}`);
  return DWARF_X86_64[n] ?? (n >= 17 && n <= 32 ? `xmm${n - 17}` : `register ${n}`);
}

/**
 * The part of `loc` from `byteOffset` for `byteSize` bytes: a member or an
 * element. Pieces are sliced, so one member of a struct split across
 * registers can be read (or be optimized out) on its own; a slice that is
 * one whole memory piece is a memory location again (it has an address).
 */
export function subLocation(loc: Location, byteOffset: number, byteSize: number): Location {
  switch (loc.kind) {
    case 'memory': return { kind: 'memory', address: loc.address + BigInt(byteOffset) };
    case 'unavailable': return loc;
    case 'value': {
      const out = new Uint8Array(byteSize);
      out.set(loc.bytes.subarray(byteOffset, byteOffset + byteSize));
      return { kind: 'value', bytes: out };
    }
    case 'register':
      if (byteOffset === 0) return loc;
      return { kind: 'pieces', pieces: [{ location: loc, bitOffset: byteOffset * 8, bitSize: byteSize * 8 }] };
    case 'pieces':
      return slicePieces(loc.pieces, byteOffset * 8, byteSize * 8);
  }
}

function slicePieces(pieces: readonly Piece[], start: number, size: number): Location {
  const out: Piece[] = [];
  let at = 0;
  for (const p of pieces) {
    const lo = Math.max(at, start);
    const hi = Math.min(at + p.bitSize, start + size);
    if (lo < hi) out.push({ location: p.location, bitOffset: (p.bitOffset ?? 0) + (lo - at), bitSize: hi - lo });
    at += p.bitSize;
  }
  if (at < start + size) out.push({ location: { kind: 'unavailable', reason: 'optimized out' }, bitSize: start + size - Math.max(at, start) });
  if (out.length === 1) {
    const only = out[0];
    const off = only.bitOffset ?? 0;
    if (only.location.kind === 'unavailable') return only.location;
    if (only.location.kind === 'memory' && off % 8 === 0) return { kind: 'memory', address: only.location.address + BigInt(off / 8) };
    if (only.location.kind === 'register' && off === 0) return only.location;
  }
  return { kind: 'pieces', pieces: out };
}

// ---------------------------------------------------------------- decoding

/**
 * An integer, char, bool, enum or pointer as a bigint (sign-extended for
 * signed types, bitfields included: a signed `int x:3` holding 0b111 is -1).
 */
export function intValue(v: Value): bigint {
  const t = strip(v.type);
  if (!(isIntegral(t) || t.kind === 'pointer')) throw new ValueError(`a ${t.kind} is not an integer`);
  const signed = isSigned(t);
  if (v.bits) {
    const raw = locationBits(v.location, v.frame, v.bits.offset, v.bits.size);
    return signed ? signExtend(raw, v.bits.size) : raw;
  }
  const size = sizeOf(t);
  const raw = bytesToBigint(readBytes(v, size));
  return signed ? signExtend(raw, size * 8) : raw;
}

/** An IEEE float (4 or 8 bytes) or x87 extended (10, in 12 or 16) as a number; integers convert. */
export function floatValue(v: Value): number {
  if (!isFloat(v.type)) return Number(intValue(v));
  const size = sizeOf(v.type);
  const bytes = readBytes(v, size);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (size === 4) return view.getFloat32(0, true);
  if (size === 8) return view.getFloat64(0, true);
  if (size >= 10) return x87(view);
  throw new ValueError(`a ${size}-byte float cannot be decoded`);
}

/** The 80-bit x87 format: 64-bit mantissa with an explicit integer bit, 15-bit exponent, sign. */
function x87(view: DataView): number {
  const mantissa = view.getBigUint64(0, true);
  const se = view.getUint16(8, true);
  const sign = se & 0x8000 ? -1 : 1;
  const exp = se & 0x7fff;
  if (exp === 0x7fff) return (mantissa << 1n) === 0n ? sign * Infinity : NaN;
  if (exp === 0 && mantissa === 0n) return sign * 0;
  return sign * Number(mantissa) * 2 ** (Math.max(exp, 1) - 16383 - 63);
}
