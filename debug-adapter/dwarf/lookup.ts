/**
 * Globals and types by name. A kernel has thousands of units: finding a name
 * by walking them all is seconds, so a name index can be injected
 * (`NameLookup`, built elsewhere from .debug_names or a worker's scan); with
 * none, the first query walks every unit's top-level DIEs once and keeps a
 * name -> DIE offsets map (fine for test kernels and small programs).
 *
 * Types: "struct x" / "union x" / "enum x" name tags; other names are
 * typedefs or base types (C spellings are mapped to the compilers': "long"
 * is gcc's "long int", "unsigned" is "unsigned int"). A complete definition
 * wins over a declaration. A C base type no unit defines is made up with the
 * unit's data model (LP64 or ILP32), so expressions can cast to it.
 */
import { DW_AT, DW_TAG } from './constants';
import type { Die } from './dies';
import type { BaseEncoding, CType, UnitScope, VariableInfo } from './model';
import type { DwarfReader } from './reader';
import type { TypeReader } from './types';
import type { VariableFactory } from './variable-info';

/**
 * A name index over top-level DIEs. Offsets are .debug_info section offsets.
 * `variables`: DW_TAG_variable DIEs that are children of a unit root, by
 * their name (a definition named only through DW_AT_specification is listed
 * under its declaration's name). `types`: struct/class/union/enum tags,
 * typedefs and base types, by DW_AT_name (no "struct " prefix).
 */
export interface NameLookup {
  variables(name: string): readonly number[];
  types(name: string): readonly number[];
  /** For completion: names starting with `prefix`, globals first, at most `limit`. */
  namesStartingWith?(prefix: string, limit: number): readonly string[];
}

const TYPE_TAGS = new Set<number>([
  DW_TAG.structure_type, DW_TAG.class_type, DW_TAG.union_type, DW_TAG.enumeration_type, DW_TAG.typedef, DW_TAG.base_type,
]);

/** The fallback index: one walk of every unit's top-level DIEs. */
export function scanNames(reader: DwarfReader): NameLookup {
  const vars = new Map<string, number[]>();
  const types = new Map<string, number[]>();
  const add = (m: Map<string, number[]>, name: string, off: number): void => {
    const l = m.get(name);
    if (l) l.push(off); else m.set(name, [off]);
  };
  const walk = (parent: Die, depth: number): void => {
    for (const d of parent.children) {
      if (d.tag === DW_TAG.variable) {
        const name = reader.nameOf(d);
        if (name !== undefined) add(vars, name, d.offset);
      } else if (TYPE_TAGS.has(d.tag)) {
        const name = reader.string(d, DW_AT.name);
        if (name !== undefined) add(types, name, d.offset);
      } else if (d.tag === DW_TAG.namespace && depth < 8) walk(d, depth + 1);
    }
  };
  for (let i = 0; i < reader.unitCount; i++) {
    const root = reader.tree(i)?.root;
    if (root) walk(root, 0);
  }
  let sorted: { vars: string[]; types: string[] } | undefined;
  return {
    variables: (name) => vars.get(name) ?? [],
    types: (name) => types.get(name) ?? [],
    namesStartingWith(prefix, limit) {
      sorted ??= { vars: [...vars.keys()].sort(), types: [...types.keys()].sort() };
      const out: string[] = [];
      for (const list of [sorted.vars, sorted.types]) {
        for (let i = lowerBound(list, prefix); i < list.length && out.length < limit && list[i].startsWith(prefix); i++) {
          if (!out.includes(list[i])) out.push(list[i]);
        }
      }
      return out;
    },
  };
}

function lowerBound(list: readonly string[], key: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid] < key) lo = mid + 1; else hi = mid;
  }
  return lo;
}

const TAGS = {
  struct: [DW_TAG.structure_type, DW_TAG.class_type], union: [DW_TAG.union_type], enum: [DW_TAG.enumeration_type],
} as const;

const C_BASE: Record<string, { names: string[]; size: 1 | 2 | 4 | 8 | 'long'; encoding: BaseEncoding }> = {
  'char': { names: ['char'], size: 1, encoding: 'signed-char' },
  'signed char': { names: ['signed char'], size: 1, encoding: 'signed-char' },
  'unsigned char': { names: ['unsigned char'], size: 1, encoding: 'unsigned-char' },
  'short': { names: ['short int', 'short'], size: 2, encoding: 'signed' },
  'unsigned short': { names: ['short unsigned int', 'unsigned short'], size: 2, encoding: 'unsigned' },
  'int': { names: ['int'], size: 4, encoding: 'signed' },
  'unsigned int': { names: ['unsigned int'], size: 4, encoding: 'unsigned' },
  'long': { names: ['long int', 'long'], size: 'long', encoding: 'signed' },
  'unsigned long': { names: ['long unsigned int', 'unsigned long'], size: 'long', encoding: 'unsigned' },
  'long long': { names: ['long long int', 'long long'], size: 8, encoding: 'signed' },
  'unsigned long long': { names: ['long long unsigned int', 'unsigned long long'], size: 8, encoding: 'unsigned' },
  '_Bool': { names: ['_Bool'], size: 1, encoding: 'bool' },
  'float': { names: ['float'], size: 4, encoding: 'float' },
  'double': { names: ['double'], size: 8, encoding: 'float' },
};

/** A C base type name in canonical order ("long unsigned int" -> "unsigned long"), or undefined. */
export function canonicalBaseName(name: string): string | undefined {
  const words = name.trim().split(/\s+/);
  let longs = 0; let short = false; let unsigned = false; let signed = false; let char = false;
  for (const w of words) {
    if (w === 'long') longs++;
    else if (w === 'short') short = true;
    else if (w === 'unsigned') unsigned = true;
    else if (w === 'signed') signed = true;
    else if (w === 'char') char = true;
    else if (w !== 'int') return C_BASE[name.trim()] ? name.trim() : undefined;
  }
  if (char) return longs || short || words.includes('int') ? undefined : unsigned ? 'unsigned char' : signed ? 'signed char' : 'char';
  const core = short ? 'short' : longs === 1 ? 'long' : longs === 2 ? 'long long' : longs === 0 ? 'int' : undefined;
  if (!core || (short && longs) || (unsigned && signed)) return undefined;
  return unsigned ? `unsigned ${core}` : core;
}

export class NameResolver {
  private readonly typeCache = new Map<string, CType | null>();
  private index?: NameLookup;

  constructor(
    private readonly reader: DwarfReader, private readonly types: TypeReader,
    private readonly vars: VariableFactory, private readonly injected?: NameLookup,
  ) {}

  private names(): NameLookup {
    return (this.index ??= this.injected ?? scanNames(this.reader));
  }

  findVariable(name: string, near?: UnitScope): VariableInfo | undefined {
    if (near) {
      const own = near.statics().find((v) => v.name === name);
      if (own) return own;
    }
    let fallback: VariableInfo | undefined;
    for (const off of this.names().variables(name).slice(0, 256)) {
      const d = this.reader.die(off);
      if (!d || d.tag !== DW_TAG.variable || d.parent?.parent) continue;
      if (!this.reader.attr(d, DW_AT.location) && !this.reader.attr(d, DW_AT.const_value)) continue;
      const external = this.vars.isExternal(d);
      const v = this.vars.make(d, external ? 'global' : 'static');
      if (v && external) return v;
      fallback ??= v;
    }
    return fallback;
  }

  findType(name: string): CType | undefined {
    const key = name.trim().replace(/\s+/g, ' ');
    const hit = this.typeCache.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const t = this.lookupType(key);
    this.typeCache.set(key, t ?? null);
    return t;
  }

  /** A complete struct/union/enum by tag name (what a declaration resolves to), or undefined. */
  definition(kind: 'struct' | 'union' | 'enum', name: string): CType | undefined {
    return this.pick(name, TAGS[kind], true);
  }

  private lookupType(key: string): CType | undefined {
    const m = /^(struct|union|enum)\s+(.+)$/.exec(key);
    if (m) {
      return this.pick(m[2], TAGS[m[1] as keyof typeof TAGS]);
    }
    const base = canonicalBaseName(key);
    if (base) {
      for (const n of C_BASE[base].names) {
        const t = this.pick(n, [DW_TAG.base_type]);
        if (t) return t;
      }
    }
    const named = this.pick(key, [DW_TAG.typedef, DW_TAG.base_type]);
    if (named) return named;
    if (base) return this.madeUp(base);
    return this.pick(key, [DW_TAG.structure_type, DW_TAG.class_type, DW_TAG.union_type, DW_TAG.enumeration_type]);
  }

  /** The first complete definition among the named DIEs of these tags, else (unless `complete`) the first declaration. */
  private pick(name: string, tags: readonly number[], complete = false): CType | undefined {
    let declaration: number | undefined;
    for (const off of this.names().types(name).slice(0, 1024)) {
      const d = this.reader.die(off);
      if (!d || !tags.includes(d.tag)) continue;
      if (this.reader.flag(d, DW_AT.declaration)) { declaration ??= off; continue; }
      return this.types.typeAt(off);
    }
    return declaration === undefined || complete ? undefined : this.types.typeAt(declaration);
  }

  private madeUp(base: string): CType {
    const b = C_BASE[base];
    const long = (this.reader.headers[0]?.addressSize ?? 8) === 8 ? 8 : 4;
    return { kind: 'base', name: b.names[0], size: b.size === 'long' ? long : b.size, encoding: b.encoding };
  }

  namesStartingWith(prefix: string, limit: number): readonly string[] {
    const n = this.names();
    if (n.namesStartingWith) return n.namesStartingWith(prefix, limit);
    return [];
  }
}
