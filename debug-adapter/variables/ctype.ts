/**
 * Questions about C types that every layer above dwarf/ asks: what a type is
 * once typedefs and qualifiers are looked through, how big it is, whether it
 * is signed, where a member is. Pure functions of CTypes; nothing here reads
 * guest memory.
 */
import type { ArrayType, BaseType, CType, EnumType, Member, PointerType, RecordType } from '../dwarf/model';

/** The type with typedefs and qualifiers looked through (`const u64` -> `unsigned long`'s base type). Bounded: a cyclic typedef chain from damaged DWARF ends as void. */
export function strip(type: CType): CType {
  let t = type;
  for (let i = 0; i < 64; i++) {
    if (t.kind !== 'typedef' && t.kind !== 'qualified') return t;
    t = t.target();
  }
  return VOID;
}

export const VOID: CType = { kind: 'void', name: 'void' };

/** sizeof(type) in bytes. void and functions are 1, as GNU C has it (so `void *` arithmetic steps by bytes). */
export function sizeOf(type: CType): number {
  const t = strip(type);
  switch (t.kind) {
    case 'void': case 'function': return 1;
    case 'base': case 'pointer': case 'enum': case 'struct': case 'union': return t.size;
    case 'array': {
      let n = sizeOf(t.element());
      for (const c of t.counts) n *= c ?? 0;
      return n;
    }
  }
  return 0;
}

export function isRecord(type: CType): type is RecordType {
  return type.kind === 'struct' || type.kind === 'union';
}

/** Integers in C's sense: base integers, chars, bools and enums. */
export function isIntegral(type: CType): boolean {
  const t = strip(type);
  return (t.kind === 'base' && t.encoding !== 'float' && t.encoding !== 'complex-float') || t.kind === 'enum';
}

export function isFloat(type: CType): boolean {
  const t = strip(type);
  return t.kind === 'base' && t.encoding === 'float';
}

export function isArithmetic(type: CType): boolean {
  return isIntegral(type) || isFloat(type);
}

/** Scalars in C's sense: what `!`, `&&` and conditions accept. */
export function isScalar(type: CType): boolean {
  return isArithmetic(type) || strip(type).kind === 'pointer';
}

export function isSigned(type: CType): boolean {
  const t = strip(type);
  if (t.kind === 'enum') return t.signed;
  return t.kind === 'base' && (t.encoding === 'signed' || t.encoding === 'signed-char' || t.encoding === 'float');
}

/** A one-byte character type (`char`, `signed char`, `unsigned char`): shown as `65 'A'`, pointed at as a string. */
export function isCharType(type: CType): boolean {
  const t = strip(type);
  return t.kind === 'base' && t.size === 1 && (t.encoding === 'signed-char' || t.encoding === 'unsigned-char');
}

export function pointerTarget(type: CType): CType | undefined {
  const t = strip(type);
  return t.kind === 'pointer' ? t.target() : undefined;
}

/** A pointer type to `target`, made up (for `&x`, casts, array decay). */
export function pointerTo(target: CType, size = 8): PointerType {
  return { kind: 'pointer', size, target: () => target };
}

/**
 * The element type of an array; for `int [3][4]` that is `int [4]` (made
 * up here: DWARF describes a multi-dimensional array as one DIE).
 */
export function arrayElement(array: ArrayType): CType {
  if (array.counts.length <= 1) return array.element();
  return { kind: 'array', element: array.element, counts: array.counts.slice(1) };
}

export function arrayCount(array: ArrayType): number | undefined {
  return array.counts[0];
}

/** A member found by name, with its offset from the start of the record that was searched (anonymous members looked into). */
export interface FoundMember { name: string; type: CType; offset: number; bitSize?: number; bitOffset?: number }

/**
 * The members as C code names them: an anonymous struct or union's members
 * appear in place (C11 lets `s.f` reach `f` inside `union { int f; }`), so
 * every flattened member is reachable by `parent.name`. Bounded against
 * cyclic DWARF.
 */
export function flatMembers(record: RecordType, depth = 0): FoundMember[] {
  const out: FoundMember[] = [];
  if (depth > 16) return out;
  for (const m of safeMembers(record)) {
    const mt = m.type();
    const st = strip(mt);
    if (m.name === undefined && isRecord(st)) {
      for (const inner of flatMembers(st, depth + 1)) out.push({ ...inner, offset: inner.offset + m.offset });
    } else if (m.name !== undefined) {
      // (An unnamed non-record member is bitfield padding, `int :3`: nothing to show.)
      out.push(found(m, mt));
    }
  }
  return out;
}

export function findMember(record: RecordType, name: string): FoundMember | undefined {
  return flatMembers(record).find((m) => m.name === name);
}

function found(m: Member, type: CType): FoundMember {
  const f: FoundMember = { name: m.name ?? '', type, offset: m.offset };
  if (m.bitSize !== undefined) {
    f.bitSize = m.bitSize;
    f.bitOffset = m.bitOffset ?? 0;
  }
  return f;
}

/** A record's members; a reader's exception (damaged DWARF) is no members rather than a failed stop. */
export function safeMembers(record: RecordType): readonly Member[] {
  try {
    return record.members();
  } catch {
    return [];
  }
}

export function enumeratorNamed(type: CType, name: string): bigint | undefined {
  const t = strip(type);
  return t.kind === 'enum' ? t.enumerators.find((e) => e.name === name)?.value : undefined;
}

export function isEnum(type: CType): type is EnumType {
  return strip(type).kind === 'enum';
}

/** Made-up base types for results of arithmetic, literals and registers, as x86-64 C has them. */
export const BASE = {
  bool: base('_Bool', 1, 'bool'),
  char: base('char', 1, 'signed-char'),
  signedChar: base('signed char', 1, 'signed-char'),
  unsignedChar: base('unsigned char', 1, 'unsigned-char'),
  short: base('short', 2, 'signed'),
  unsignedShort: base('unsigned short', 2, 'unsigned'),
  int: base('int', 4, 'signed'),
  unsignedInt: base('unsigned int', 4, 'unsigned'),
  long: base('long', 8, 'signed'),
  unsignedLong: base('unsigned long', 8, 'unsigned'),
  longLong: base('long long', 8, 'signed'),
  unsignedLongLong: base('unsigned long long', 8, 'unsigned'),
  float: base('float', 4, 'float'),
  double: base('double', 8, 'float'),
  longDouble: base('long double', 16, 'float'),
} as const;

function base(name: string, size: number, encoding: BaseType['encoding']): BaseType {
  return { kind: 'base', name, size, encoding };
}
