/**
 * Storing into a value (DAP setVariable / setExpression): the source is
 * converted as C assignment converts it, then written where the target
 * lives: memory, a register of the innermost frame, the pieces of both, or
 * a bitfield's bits (read-modify-write, the neighbouring fields kept).
 *
 * Everything is checked before anything is written: a value split across a
 * register and memory is written whole or not at all.
 */
import type { FrameContext, Location } from '../dwarf/model';
import { isArithmetic, isCharType, isFloat, isIntegral, isRecord, sizeOf, strip, arrayElement } from './ctype';
import { typeName } from './type-name';
import { bigintToBytes, bytesToBigint, floatBytes, floatValue, hex, intValue, locationBytes, readBytes, ValueError, type Value } from './value';

/** `target = source`; `name` is the target's expression, for the message when it cannot be set. Throws ValueError. */
export function assign(target: Value, source: Value, name = 'the value'): void {
  const bits = target.bits ?? { offset: 0, size: sizeOf(target.type) * 8 };
  checkWritable(target.location, target.frame, bits.offset, bits.size, name);
  const value = converted(target, source, name);
  writeBits(target.location, target.frame, bits.offset, bits.size, value);
}

/** The source as the target's bits, by C's conversion rules for assignment. */
function converted(target: Value, source: Value, name: string): bigint {
  const t = strip(target.type);
  const s = strip(source.type);
  const size = sizeOf(t);
  if (isIntegral(t) || t.kind === 'pointer') {
    if (isFloat(s)) {
      const f = floatValue(source);
      if (!Number.isFinite(f)) throw new ValueError(`${f} does not fit in ${typeName(target.type)}`);
      return BigInt(Math.trunc(f));
    }
    if (s.kind === 'base' && s.encoding === 'bool') return intValue(source) !== 0n ? 1n : 0n;
    if (isIntegral(s) || s.kind === 'pointer') {
      const v = intValue(source);
      return t.kind === 'base' && t.encoding === 'bool' ? (v !== 0n ? 1n : 0n) : v;
    }
    if (s.kind === 'array' && t.kind === 'pointer' && source.location.kind === 'memory') return source.location.address;
  } else if (isFloat(t) && isArithmetic(s)) {
    return bytesToBigint(floatBytes(floatValue(source), size));
  } else if (isRecord(t) && isRecord(s) && t.kind === s.kind && t.name === s.name && sizeOf(s) === size) {
    return bytesToBigint(readBytes(source, size));
  } else if (t.kind === 'array' && s.kind === 'array' && isCharType(arrayElement(t)) && isCharType(arrayElement(s))) {
    // `buf = "text"`: the string and its NUL, when they fit.
    const n = sizeOf(s);
    if (n > size) throw new ValueError(`a string of ${n} bytes does not fit in ${name} (${size} bytes)`);
    const old = locationBytes(target.location, target.frame, size).slice();
    old.set(readBytes(source, n));
    return bytesToBigint(old);
  }
  throw new ValueError(`cannot assign ${typeName(source.type)} to ${name} (${typeName(target.type)})`);
}

/** Refuses, in one sentence, a target that cannot take these bits; writes nothing. */
function checkWritable(loc: Location, frame: FrameContext, bitOffset: number, bitSize: number, name: string): void {
  switch (loc.kind) {
    case 'value': throw new ValueError(`${name} is not an lvalue`);
    case 'unavailable': throw new ValueError(`${name} is ${loc.reason} here and cannot be set`);
    case 'memory':
      if (!frame.writeMemory) throw new ValueError('memory cannot be written in this session');
      return;
    case 'register':
      if (!frame.innermost) throw new ValueError(`${name} is in a register of a caller's frame, which only the innermost frame can set`);
      if (!frame.writeRegister) throw new ValueError('registers cannot be written in this session');
      return;
    case 'pieces': {
      let at = 0;
      for (const p of loc.pieces) {
        const lo = Math.max(at, bitOffset);
        const hi = Math.min(at + p.bitSize, bitOffset + bitSize);
        if (lo < hi) checkWritable(p.location, frame, (p.bitOffset ?? 0) + lo - at, hi - lo, name);
        at += p.bitSize;
      }
      if (at < bitOffset + bitSize) throw new ValueError(`${name} is partly optimized out here and cannot be set`);
    }
  }
}

/** Writes `bitSize` bits of `value` at `bitOffset` in `loc` (checked writable). */
function writeBits(loc: Location, frame: FrameContext, bitOffset: number, bitSize: number, value: bigint): void {
  const v = BigInt.asUintN(bitSize, value);
  switch (loc.kind) {
    case 'memory': {
      const first = Math.floor(bitOffset / 8);
      const span = Math.ceil((bitOffset + bitSize) / 8) - first;
      const address = loc.address + BigInt(first);
      const shift = BigInt(bitOffset - first * 8);
      let bytes: Uint8Array;
      if (shift === 0n && bitSize % 8 === 0) {
        bytes = bigintToBytes(v, span);
      } else {
        // A bitfield: keep the bits around it.
        const old = bytesToBigint(locationBytes({ kind: 'memory', address }, frame, span));
        const mask = ((1n << BigInt(bitSize)) - 1n) << shift;
        bytes = bigintToBytes((old & ~mask) | (v << shift), span);
      }
      if (!frame.writeMemory!(address, bytes)) throw new ValueError(`cannot write ${span} byte${span === 1 ? '' : 's'} at ${hex(address)}`);
      return;
    }
    case 'register': {
      const old = frame.register(loc.register) ?? 0n;
      const mask = ((1n << BigInt(bitSize)) - 1n) << BigInt(bitOffset);
      const next = (old & ~mask) | (v << BigInt(bitOffset));
      if (!frame.writeRegister!(loc.register, next)) throw new ValueError(`register ${loc.register} cannot be set`);
      return;
    }
    case 'pieces': {
      let at = 0;
      for (const p of loc.pieces) {
        const lo = Math.max(at, bitOffset);
        const hi = Math.min(at + p.bitSize, bitOffset + bitSize);
        if (lo < hi) writeBits(p.location, frame, (p.bitOffset ?? 0) + lo - at, hi - lo, v >> BigInt(lo - bitOffset));
        at += p.bitSize;
      }
      return;
    }
    default:
      throw new ValueError('the value cannot be set');
  }
}
