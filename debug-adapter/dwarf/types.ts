/**
 * DIEs to C types (model.ts CType), one CType object per DIE offset, parts
 * read only when their thunk is called (a kernel's types are a graph of
 * hundreds of thousands of DIEs; a stop looks at a few).
 *
 * Hostile DWARF makes cycles a consumer would loop on (a typedef of itself,
 * a pointer to itself): before a typedef, qualifier, pointer, array or
 * function type is built, its chain of such types is walked (bounded); a
 * cycle or a chain longer than any C declarator becomes CYCLE, a typedef
 * named "<cycle>" of void. Records and enums end chains, so real recursion
 * (a list node pointing at its own struct) is untouched.
 *
 * A struct/union/enum that is only declared in its unit is resolved by name
 * to a complete definition elsewhere (through the injected `resolve`), when
 * its size or members are first asked for.
 */
import { DW_AT, DW_ATE, DW_TAG } from './constants';
import type { Die } from './dies';
import { evaluate } from './expression';
import type { BaseEncoding, BaseType, CType, EnumType, FunctionType, Member, RecordType, TypedefType } from './model';
import type { DwarfReader } from './reader';
import { constantOf, dataFormSize, signedConstantOf } from './units';

export const VOID: CType = { kind: 'void', name: 'void' };
export const CYCLE: TypedefType = { kind: 'typedef', name: '<cycle>', target: () => VOID };

/** Longer chains of declarators than this are damage (`int *const *volatile[3]` is 4). */
const MAX_CHAIN = 48;
const MAX_MEMBERS = 65_536;
const CHAIN_TAGS = new Set<number>([
  DW_TAG.typedef, DW_TAG.const_type, DW_TAG.volatile_type, DW_TAG.restrict_type, DW_TAG.atomic_type,
  DW_TAG.pointer_type, DW_TAG.reference_type, DW_TAG.rvalue_reference_type, DW_TAG.ptr_to_member_type,
  DW_TAG.array_type, DW_TAG.subroutine_type,
]);

/** Finds a complete struct/union/enum definition by kind and name (the name index, or a scan). */
export type DefinitionLookup = (kind: 'struct' | 'union' | 'enum', name: string) => CType | undefined;

export class TypeReader {
  private readonly memo = new Map<number, CType>();

  constructor(private readonly reader: DwarfReader, private readonly resolve: DefinitionLookup) {}

  /** The type of the DIE at a .debug_info offset (void when there is no type DIE there). */
  typeAt(offset: number): CType {
    const hit = this.memo.get(offset);
    if (hit) return hit;
    const die = this.reader.die(offset);
    let t: CType;
    if (!die) t = VOID;
    else if (CHAIN_TAGS.has(die.tag) && !this.chainEnds(die)) t = CYCLE;
    else t = this.build(die);
    this.memo.set(offset, t);
    return t;
  }

  /** The type a DIE's DW_AT_type names (own or from its abstract origin), as a thunk; void when absent. */
  thunk(die: Die, inherited = false): () => CType {
    const found = inherited ? this.reader.inherited(die, DW_AT.type) : undefined;
    const from = found ? found.die : die;
    const a = found ? found.attr : this.reader.attr(die, DW_AT.type);
    const off = a && this.reader.unitOf(from).refOffset(a);
    if (off === undefined) return () => VOID;
    return () => this.typeAt(off);
  }

  /** Whether the chain of declarator types from `die` ends (at a record, base type, void...) without a cycle. */
  private chainEnds(die: Die): boolean {
    const seen = new Set<number>();
    let d: Die | undefined = die;
    for (let i = 0; d && i < MAX_CHAIN; i++) {
      if (!CHAIN_TAGS.has(d.tag)) return true;
      if (seen.has(d.offset)) return false;
      seen.add(d.offset);
      const a = this.reader.attr(d, DW_AT.type);
      const off = a && this.reader.unitOf(d).refOffset(a);
      if (off === undefined) return true;
      d = this.reader.die(off);
    }
    return !d;
  }

  private build(die: Die): CType {
    const r = this.reader;
    const name = r.string(die, DW_AT.name);
    const size = (): number => {
      const v = constantOf(r.attr(die, DW_AT.byte_size));
      return v !== undefined && v >= 0n && v <= 0xffff_ffffn ? Number(v) : 0;
    };
    switch (die.tag) {
      case DW_TAG.base_type: {
        const enc = Number(constantOf(r.attr(die, DW_AT.encoding)) ?? 0n);
        const t: BaseType = { kind: 'base', name: name ?? '<unnamed>', size: size(), encoding: encodingOf(enc, size()) };
        return t;
      }
      case DW_TAG.unspecified_type: return VOID;
      case DW_TAG.pointer_type: case DW_TAG.reference_type: case DW_TAG.rvalue_reference_type: case DW_TAG.ptr_to_member_type:
        return { kind: 'pointer', size: size() || r.unitOf(die).addressSize, target: this.thunk(die) };
      case DW_TAG.const_type: return { kind: 'qualified', qualifier: 'const', target: this.thunk(die) };
      case DW_TAG.volatile_type: return { kind: 'qualified', qualifier: 'volatile', target: this.thunk(die) };
      case DW_TAG.restrict_type: return { kind: 'qualified', qualifier: 'restrict', target: this.thunk(die) };
      case DW_TAG.atomic_type: return { kind: 'qualified', qualifier: 'atomic', target: this.thunk(die) };
      case DW_TAG.typedef: return { kind: 'typedef', name: name ?? '<unnamed>', target: this.thunk(die) };
      case DW_TAG.structure_type: case DW_TAG.class_type: case DW_TAG.union_type: {
        const kind = die.tag === DW_TAG.union_type ? 'union' : 'struct';
        if (r.flag(die, DW_AT.declaration) && name !== undefined) return this.declaredRecord(kind, name);
        // Thunks keep the DIE's offset, not the DIE: a DIE holds its whole unit's tree, which the LRU must be free to drop.
        const at = die.offset;
        let members: Member[] | undefined;
        const rec: RecordType = { kind, size: size(), members: () => (members ??= this.members(this.reader.die(at))) };
        if (name !== undefined) rec.name = name;
        if (r.flag(die, DW_AT.declaration)) rec.declaration = true;
        return rec;
      }
      case DW_TAG.enumeration_type: {
        if (r.flag(die, DW_AT.declaration) && name !== undefined) return this.declaredEnum(name);
        return this.enumType(die, name, size());
      }
      case DW_TAG.array_type: return { kind: 'array', element: this.thunk(die), counts: this.counts(die) };
      case DW_TAG.subroutine_type: case DW_TAG.subprogram: return this.functionType(die);
      default: return VOID;
    }
  }

  /** A struct/union declared here; size and members come from the definition, found on first use. */
  private declaredRecord(kind: 'struct' | 'union', name: string): RecordType {
    let found: RecordType | null | undefined;
    const def = (): RecordType | null => {
      if (found === undefined) {
        found = null; // re-entry (a resolver asking this very type) sees "not found"
        const t = this.resolve(kind, name);
        found = t && t.kind === kind && !t.declaration ? t : null;
      }
      return found;
    };
    return {
      kind, name,
      get size(): number { return def()?.size ?? 0; },
      get declaration(): boolean | undefined { return def() ? undefined : true; },
      members: () => def()?.members() ?? [],
    };
  }

  private declaredEnum(name: string): EnumType {
    let found: EnumType | null | undefined;
    const def = (): EnumType | null => {
      if (found === undefined) {
        found = null;
        const t = this.resolve('enum', name);
        found = t && t.kind === 'enum' && t.enumerators.length > 0 ? t : null;
      }
      return found;
    };
    return {
      kind: 'enum', name,
      get size(): number { return def()?.size ?? 4; },
      get signed(): boolean { return def()?.signed ?? false; },
      get enumerators(): EnumType['enumerators'] { return def()?.enumerators ?? []; },
    };
  }

  private members(die: Die | undefined): Member[] {
    const r = this.reader;
    const out: Member[] = [];
    if (!die) return out;
    for (const m of die.children) {
      if (m.tag !== DW_TAG.member || out.length >= MAX_MEMBERS) continue;
      // C++ static members are declarations without a place in the object.
      if (r.flag(m, DW_AT.declaration)) continue;
      const member: Member = { type: this.thunk(m), offset: 0 };
      const name = r.string(m, DW_AT.name);
      if (name !== undefined) member.name = name;
      const byteOffset = this.memberOffset(m);
      const bitSize = constantOf(r.attr(m, DW_AT.bit_size));
      if (bitSize !== undefined && bitSize > 0n && bitSize <= 0xffffn) {
        let total = byteOffset * 8;
        const dbo = constantOf(r.attr(m, DW_AT.data_bit_offset));
        const bo = signedConstantOf(r.attr(m, DW_AT.bit_offset));
        if (dbo !== undefined) total += Number(BigInt.asUintN(32, dbo));
        else if (bo !== undefined) {
          // DWARF 2-3: bit_offset counts from the most significant bit of a storage unit of byte_size bytes.
          const storage = Number(constantOf(r.attr(m, DW_AT.byte_size)) ?? BigInt(storageSize(member.type())));
          total += storage * 8 - Number(BigInt.asIntN(32, bo)) - Number(bitSize);
        }
        if (total < 0) total = 0;
        member.offset = Math.floor(total / 8);
        member.bitOffset = total % 8;
        member.bitSize = Number(bitSize);
      } else member.offset = byteOffset;
      out.push(member);
    }
    return out;
  }

  /** DW_AT_data_member_location: a constant, or (DWARF 2) an expression run on the record's address 0. */
  private memberOffset(m: Die): number {
    const a = this.reader.attr(m, DW_AT.data_member_location);
    if (!a) return 0;
    let v: bigint | undefined;
    if (a.value.kind === 'number') v = a.value.value;
    else if (a.value.kind === 'block') {
      const loc = evaluate(a.value.bytes, undefined, { addressSize: this.reader.unitOf(m).addressSize, initialStack: [0n] });
      if (loc.kind === 'memory') v = loc.address;
    }
    return v !== undefined && v >= 0n && v <= 0xffff_ffffn ? Number(v) : 0;
  }

  private enumType(die: Die, name: string | undefined, byteSize: number): EnumType {
    const r = this.reader;
    let signed: boolean | undefined;
    const under = r.attr(die, DW_AT.type);
    const off = under && r.unitOf(die).refOffset(under);
    if (off !== undefined) {
      const t = strip(this.typeAt(off));
      if (t.kind === 'base') signed = t.encoding === 'signed' || t.encoding === 'signed-char';
    }
    const values: { name: string; value: bigint; form: number; raw: bigint }[] = [];
    for (const e of die.children) {
      if (e.tag !== DW_TAG.enumerator || values.length >= MAX_MEMBERS) continue;
      const a = r.attr(e, DW_AT.const_value);
      const raw = constantOf(a);
      if (!a || raw === undefined) continue;
      values.push({ name: r.string(e, DW_AT.name) ?? '<unnamed>', value: raw, form: a.form, raw });
    }
    // Without an underlying type (DWARF 2, strict DWARF), negative sdata values say signed.
    if (signed === undefined) signed = values.some((v) => v.raw < 0n);
    const size = byteSize || 4;
    const enumerators = values.map((v) => {
      let value = v.raw;
      // dataN forms are read unsigned; a full-width one in a signed enum is its two's complement.
      if (signed && dataFormSize(v.form) === size) value = BigInt.asIntN(size * 8, value);
      if (!signed) value = BigInt.asUintN(size * 8, value);
      return { name: v.name, value };
    });
    const t: EnumType = { kind: 'enum', size, signed, enumerators };
    if (name !== undefined) t.name = name;
    return t;
  }

  /** Element counts per dimension: DW_AT_count, or upper - lower + 1; undefined = flexible or dynamic. */
  private counts(die: Die): (number | undefined)[] {
    const r = this.reader;
    const counts: (number | undefined)[] = [];
    for (const s of die.children) {
      if (s.tag !== DW_TAG.subrange_type && s.tag !== DW_TAG.enumeration_type) continue;
      if (counts.length >= 64) break;
      const c = r.attr(s, DW_AT.count);
      const ub = r.attr(s, DW_AT.upper_bound);
      let n: bigint | undefined;
      if (c?.value.kind === 'number') n = c.value.value;
      else if (ub?.value.kind === 'number') {
        const lower = signedConstantOf(r.attr(s, DW_AT.lower_bound)) ?? 0n;
        // An upper bound of -1 (all ones) is a zero-length array.
        n = signedConstantOf(ub)! - lower + 1n;
      }
      counts.push(n !== undefined && n >= 0n && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : undefined);
    }
    return counts.length ? counts : [undefined];
  }

  private functionType(die: Die): FunctionType {
    let params: CType[] | undefined;
    const at = die.offset;
    return {
      kind: 'function',
      returns: this.thunk(die),
      params: () => (params ??= (this.reader.die(at)?.children ?? [])
        .filter((c) => c.tag === DW_TAG.formal_parameter).slice(0, 1024).map((c) => this.thunk(c, true)())),
      variadic: die.children.some((c) => c.tag === DW_TAG.unspecified_parameters),
    };
  }
}

function encodingOf(enc: number, size: number): BaseEncoding {
  switch (enc) {
    case DW_ATE.boolean: return 'bool';
    case DW_ATE.float: case DW_ATE.imaginary_float: case DW_ATE.decimal_float: return 'float';
    case DW_ATE.complex_float: return 'complex-float';
    case DW_ATE.signed: case DW_ATE.signed_fixed: return 'signed';
    case DW_ATE.signed_char: return 'signed-char';
    case DW_ATE.unsigned_char: return 'unsigned-char';
    case DW_ATE.UTF: case DW_ATE.ASCII: case DW_ATE.UCS: return size === 1 ? 'unsigned-char' : 'unsigned';
    default: return 'unsigned';
  }
}

/** The type under typedefs and qualifiers (bounded: CYCLE ends at void). */
export function strip(t: CType): CType {
  for (let i = 0; i < MAX_CHAIN && (t.kind === 'typedef' || t.kind === 'qualified'); i++) t = t.target();
  return t;
}

/** The bytes a type occupies (arrays: element size times counts; unknown = 0). */
export function storageSize(t: CType, depth = 0): number {
  const s = strip(t);
  switch (s.kind) {
    case 'base': case 'pointer': case 'struct': case 'union': case 'enum': return s.size;
    case 'array': {
      if (depth > 16) return 0;
      let n = storageSize(s.element(), depth + 1);
      for (const c of s.counts) n *= c ?? 0;
      return n;
    }
    default: return 0;
  }
}
