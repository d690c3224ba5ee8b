/**
 * The types of expressions: type names as written resolved through DWARF
 * (`struct task_struct`, `u64`) or C's own base types, literals typed as C
 * types them, and C's integer promotions and usual arithmetic conversions.
 * x86-64's model: int 32 bits, long and pointers 64.
 */
import type { CType, DebugData } from '../dwarf/model';
import { BASE, isFloat, isSigned, pointerTo, sizeOf, strip, VOID } from '../variables/ctype';
import type { TypeSyntax } from './ast';
import { ExprError } from './errors';

/**
 * Names the old register language took (`*(u32*)0x1000`) and the kernel's
 * usual typedefs: used when DWARF has no type by that name (no DWARF, or
 * a kernel whose units never mention `u8`).
 */
const FALLBACK: Record<string, CType> = {
  u8: BASE.unsignedChar, u16: BASE.unsignedShort, u32: BASE.unsignedInt, u64: BASE.unsignedLongLong,
  s8: BASE.signedChar, s16: BASE.short, s32: BASE.int, s64: BASE.longLong,
  uint8_t: BASE.unsignedChar, uint16_t: BASE.unsignedShort, uint32_t: BASE.unsignedInt, uint64_t: BASE.unsignedLong,
  int8_t: BASE.signedChar, int16_t: BASE.short, int32_t: BASE.int, int64_t: BASE.long,
  size_t: BASE.unsignedLong, ssize_t: BASE.long, uintptr_t: BASE.unsignedLong, intptr_t: BASE.long,
  byte: BASE.unsignedChar, word: BASE.unsignedShort, dword: BASE.unsignedInt, qword: BASE.unsignedLong, bool: BASE.bool,
};

export function isFallbackTypeName(name: string): boolean {
  return Object.hasOwn(FALLBACK, name);
}

export function resolveType(t: TypeSyntax, debug: DebugData | undefined, addressSize: number): CType {
  switch (t.k) {
    case 'named': return namedType(t.words, debug);
    case 'pointer': return pointerTo(resolveType(t.to, debug, addressSize), addressSize);
    case 'qualified': {
      const target = resolveType(t.of, debug, addressSize);
      return { kind: 'qualified', qualifier: t.qualifier, target: () => target };
    }
    case 'array': {
      const element = resolveType(t.of, debug, addressSize);
      return { kind: 'array', element: () => element, counts: [t.count] };
    }
    case 'function': {
      const returns = resolveType(t.returns, debug, addressSize);
      const params = t.params.map((p) => resolveType(p, debug, addressSize));
      return { kind: 'function', returns: () => returns, params: () => params, variadic: t.variadic };
    }
  }
}

function namedType(words: readonly string[], debug: DebugData | undefined): CType {
  const name = words.join(' ');
  if (words[0] === 'struct' || words[0] === 'union' || words[0] === 'enum') {
    const found = debug?.findType(name);
    if (!found) throw new ExprError(`no type named '${name}'`);
    return found;
  }
  if (words.length === 1 && !SPECIFIER_WORDS.has(words[0])) {
    const found = debug?.findType(name) ?? FALLBACK[name];
    if (!found) throw new ExprError(`no type named '${name}'`);
    return found;
  }
  return baseFromSpecifiers(words);
}

const SPECIFIER_WORDS = new Set(['unsigned', 'signed', 'int', 'char', 'short', 'long', 'float', 'double', 'void', '_Bool']);

/** `unsigned long int`, `long unsigned`, `signed char`...: C's base types, in any order C allows. */
function baseFromSpecifiers(words: readonly string[]): CType {
  const count = (w: string): number => words.filter((x) => x === w).length;
  const longs = count('long');
  const unsigned = count('unsigned') > 0;
  const signed = count('signed') > 0;
  const bad = (): never => { throw new ExprError(`'${words.join(' ')}' is not a C type`); };
  if (unsigned && signed) bad();
  if (words.includes('void')) return words.length === 1 ? VOID : bad();
  if (words.includes('_Bool')) return words.length === 1 ? BASE.bool : bad();
  if (words.includes('float')) return words.length === 1 ? BASE.float : bad();
  if (words.includes('double')) return words.length === 1 ? BASE.double : longs === 1 && words.length === 2 ? BASE.longDouble : bad();
  if (words.includes('char')) {
    if (words.length > 2 || longs || count('short') || count('int')) bad();
    return unsigned ? BASE.unsignedChar : signed ? BASE.signedChar : BASE.char;
  }
  if (count('short')) {
    if (longs || count('short') > 1) bad();
    return unsigned ? BASE.unsignedShort : BASE.short;
  }
  if (longs > 2 || count('int') > 1) bad();
  if (longs === 2) return unsigned ? BASE.unsignedLongLong : BASE.longLong;
  if (longs === 1) return unsigned ? BASE.unsignedLong : BASE.long;
  return unsigned ? BASE.unsignedInt : BASE.int;
}

/** C's type for an integer literal: the first of int, (unsigned int), long, unsigned long that holds it (unsigned ones only for hex/octal or a `u`). */
export function literalType(value: bigint, unsigned: boolean, long: boolean, decimal: boolean): CType {
  const fits = (t: CType): boolean => {
    const bits = sizeOf(t) * 8;
    return isSigned(t) ? value < 1n << BigInt(bits - 1) : value < 1n << BigInt(bits);
  };
  const order: CType[] = [];
  if (!long) order.push(...(unsigned ? [BASE.unsignedInt] : decimal ? [BASE.int] : [BASE.int, BASE.unsignedInt]));
  order.push(...(unsigned ? [BASE.unsignedLong] : decimal ? [BASE.long] : [BASE.long, BASE.unsignedLong]));
  for (const t of order) if (fits(t)) return t;
  if (value < 1n << 64n) return BASE.unsignedLong;
  throw new ExprError(`the number ${value} does not fit in 64 bits`);
}

/** Integer promotion: everything narrower than int (and bool, char, enums that fit) becomes int. */
export function promote(type: CType): CType {
  const t = strip(type);
  if (isFloat(t)) return t;
  const size = sizeOf(t);
  const signed = isSigned(t);
  if (size < 4) return BASE.int;
  if (size === 4) return signed ? BASE.int : BASE.unsignedInt;
  return signed ? BASE.long : BASE.unsignedLong;
}

/** The usual arithmetic conversions: the common type of a binary operator's operands. */
export function usualConversion(a: CType, b: CType): CType {
  if (isFloat(a) || isFloat(b)) {
    const fa = isFloat(a) ? sizeOf(a) : 0;
    const fb = isFloat(b) ? sizeOf(b) : 0;
    const size = Math.max(fa, fb);
    return size > 8 ? BASE.longDouble : size === 8 ? BASE.double : BASE.float;
  }
  const pa = promote(a);
  const pb = promote(b);
  const sa = sizeOf(pa);
  const sb = sizeOf(pb);
  const ua = !isSigned(pa);
  const ub = !isSigned(pb);
  if (ua === ub) return sa >= sb ? pa : pb;
  const [u, s] = ua ? [pa, pb] : [pb, pa];
  if (sizeOf(u) >= sizeOf(s)) return u;
  return s;
}
