/**
 * C type names as C writes them (and gdb prints them): the declarator wraps
 * around an empty name from the inside out, so `int (*)(int, char *)` and
 * `char * const *` come out right. GCC's base type names ("long unsigned
 * int") are shown the way people write them ("unsigned long").
 */
import type { CType } from '../dwarf/model';

/** GCC's DW_AT_name spellings -> the usual ones. */
const BASE_NAMES: Record<string, string> = {
  'long int': 'long',
  'long unsigned int': 'unsigned long',
  'long long int': 'long long',
  'long long unsigned int': 'unsigned long long',
  'short int': 'short',
  'short unsigned int': 'unsigned short',
  'unsigned int': 'unsigned int',
  'signed char': 'signed char',
  'unsigned char': 'unsigned char',
  'char': 'char',
};

export function baseTypeName(name: string): string {
  return BASE_NAMES[name] ?? name;
}

/** `typeName(t)`, or with a bitfield width: `unsigned int:3`. */
export function typeName(type: CType, bitSize?: number): string {
  const s = declare(type, '', 0);
  return bitSize === undefined ? s : `${s}:${bitSize}`;
}

/** The type with `inner` (the declarator built so far) placed where C puts the name. */
function declare(type: CType, inner: string, depth: number): string {
  if (depth > 32) return `?${inner ? ' ' + inner : ''}`;
  const withName = (spec: string): string => (inner ? `${spec} ${inner}` : spec);
  switch (type.kind) {
    case 'void': return withName('void');
    case 'base': return withName(baseTypeName(type.name));
    case 'typedef': return withName(type.name);
    case 'struct': case 'union': return withName(`${type.kind} ${type.name ?? '{...}'}`);
    case 'enum': return withName(`enum ${type.name ?? '{...}'}`);
    case 'pointer': {
      // `*` binds to what follows it: `*[3]` is an array of pointers, `* const` a const pointer.
      return declare(type.target(), inner ? (/^[[(*]/.test(inner) ? `*${inner}` : `* ${inner}`) : '*', depth + 1);
    }
    case 'qualified': {
      const target = type.target();
      if (target.kind === 'pointer') return declare(target, inner ? `${type.qualifier} ${inner}` : type.qualifier, depth + 1);
      if (target.kind === 'array' || target.kind === 'function') return declare(target, inner, depth + 1);
      // `const char`: the qualifier leads the specifier.
      return `${type.qualifier} ${declare(target, inner, depth + 1)}`;
    }
    case 'array': {
      const dims = type.counts.map((c) => `[${c ?? ''}]`).join('');
      return declare(type.element(), `${parenthesized(inner)}${dims}`, depth + 1);
    }
    case 'function': {
      let params: string;
      try {
        const ps = type.params().map((p) => typeName(p));
        if (type.variadic) ps.push('...');
        params = ps.length === 0 ? 'void' : ps.join(', ');
      } catch {
        params = '...';
      }
      return declare(type.returns(), `${parenthesized(inner)}(${params})`, depth + 1);
    }
  }
}

/** A pointer declarator inside an array or function declarator needs parentheses: `(*)[3]`, `(*)(int)`. */
function parenthesized(inner: string): string {
  return inner.startsWith('*') ? `(${inner})` : inner;
}
