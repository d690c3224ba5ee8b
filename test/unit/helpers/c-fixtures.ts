// Hand-built C types, a sparse fake guest memory, a frame over both, and a
// DebugData made of plain objects: what the variables/ and expr/ tests
// evaluate against instead of real DWARF and a real vCPU.
import type {
  ArrayType, BaseType, CType, DebugData, EnumType, FrameContext, FunctionScope, FunctionType, Location, Member, PointerType,
  RecordType, TypedefType, UnitScope, VariableInfo, VariableKind,
} from '../../../debug-adapter/dwarf/model';

export const T = {
  char: base('char', 1, 'signed-char'),
  uchar: base('unsigned char', 1, 'unsigned-char'),
  short: base('short int', 2, 'signed'),
  int: base('int', 4, 'signed'),
  uint: base('unsigned int', 4, 'unsigned'),
  long: base('long int', 8, 'signed'),
  ulong: base('long unsigned int', 8, 'unsigned'),
  bool: base('_Bool', 1, 'bool'),
  float: base('float', 4, 'float'),
  double: base('double', 8, 'float'),
  void: { kind: 'void', name: 'void' } as CType,
};

export function base(name: string, size: number, encoding: BaseType['encoding']): BaseType {
  return { kind: 'base', name, size, encoding };
}
export function ptr(target: CType | (() => CType)): PointerType {
  return { kind: 'pointer', size: 8, target: typeof target === 'function' ? target : () => target };
}
export function konst(target: CType): CType {
  return { kind: 'qualified', qualifier: 'const', target: () => target };
}
export function typedef(name: string, target: CType): TypedefType {
  return { kind: 'typedef', name, target: () => target };
}
export function array(element: CType, ...counts: (number | undefined)[]): ArrayType {
  return { kind: 'array', element: () => element, counts };
}
export function fn(returns: CType, params: CType[], variadic = false): FunctionType {
  return { kind: 'function', returns: () => returns, params: () => params, variadic };
}
export function enumT(name: string | undefined, values: [string, number][], size = 4, signed = false): EnumType {
  return { kind: 'enum', name, size, signed, enumerators: values.map(([n, v]) => ({ name: n, value: BigInt(v) })) };
}
type MemberSpec = [name: string | undefined, type: CType | (() => CType), offset: number, bitSize?: number, bitOffset?: number];
/** A struct whose members may be given later (`members` a thunk), for self-referencing types. */
export function struct(name: string | undefined, size: number, members: MemberSpec[] | (() => MemberSpec[]), kind: 'struct' | 'union' = 'struct'): RecordType {
  let cache: Member[] | undefined;
  return {
    kind, name, size,
    members: () => (cache ??= (typeof members === 'function' ? members() : members).map(([n, t, offset, bitSize, bitOffset]) => {
      const m: Member = { name: n, type: typeof t === 'function' ? t : () => t, offset };
      if (bitSize !== undefined) { m.bitSize = bitSize; m.bitOffset = bitOffset ?? 0; }
      return m;
    })),
  };
}

// ---------------------------------------------------------------- memory

/** Sparse guest memory: mapped ranges only; reads touching anything unmapped fail, as a page walk would. */
export class FakeMemory {
  private readonly pages = new Map<bigint, Uint8Array>();
  writes = 0;

  map(address: bigint, size: number): this {
    for (let p = address >> 12n; p <= (address + BigInt(size) - 1n) >> 12n; p++) if (!this.pages.has(p)) this.pages.set(p, new Uint8Array(4096));
    return this;
  }

  read(address: bigint, size: number): Uint8Array | undefined {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      const a = address + BigInt(i);
      const page = this.pages.get(a >> 12n);
      if (!page) return undefined;
      out[i] = page[Number(a & 0xfffn)];
    }
    return out;
  }

  write(address: bigint, bytes: Uint8Array | number[]): boolean {
    const b = Uint8Array.from(bytes);
    if (!this.read(address, b.length)) return false;
    for (let i = 0; i < b.length; i++) {
      const a = address + BigInt(i);
      this.pages.get(a >> 12n)![Number(a & 0xfffn)] = b[i];
    }
    this.writes++;
    return true;
  }

  /** Maps and writes a little-endian integer of `size` bytes. */
  int(address: bigint, size: number, value: bigint | number): this {
    let v = BigInt.asUintN(size * 8, BigInt(value));
    const bytes: number[] = [];
    for (let i = 0; i < size; i++) { bytes.push(Number(v & 0xffn)); v >>= 8n; }
    this.map(address, size).write(address, bytes);
    return this;
  }

  u64(address: bigint, value: bigint | number): this { return this.int(address, 8, value); }
  u32(address: bigint, value: bigint | number): this { return this.int(address, 4, value); }

  str(address: bigint, s: string, nul = true): this {
    const bytes = [...Buffer.from(s, 'latin1'), ...(nul ? [0] : [])];
    this.map(address, bytes.length).write(address, bytes);
    return this;
  }

  f64(address: bigint, x: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x, true);
    this.map(address, 8).write(address, b);
    return this;
  }

  u64At(address: bigint): bigint {
    const b = this.read(address, 8)!;
    return new DataView(b.buffer).getBigUint64(0, true);
  }
}

export interface FakeFrameOptions {
  registers?: Record<number, bigint>;
  innermost?: boolean;
  tlsBase?: bigint;
  pc?: bigint;
}

export function fakeFrame(mem: FakeMemory, o: FakeFrameOptions = {}): FrameContext & { registers: Record<number, bigint> } {
  const registers = { ...(o.registers ?? {}) };
  return {
    registers,
    pc: o.pc ?? 0xffffffff81000010n,
    innermost: o.innermost ?? true,
    addressSize: 8,
    register: (n) => registers[n],
    cfa: () => undefined,
    readMemory: (a, size) => mem.read(a, size),
    relocate: (a) => a,
    tlsBase: () => o.tlsBase,
    writeMemory: (a, bytes) => mem.write(a, bytes),
    writeRegister: (n, v) => { registers[n] = BigInt.asUintN(64, v); return true; },
  };
}

// ---------------------------------------------------------------- DWARF stand-ins

let ids = 1;
export function variable(name: string, type: CType, location: Location | ((f: FrameContext) => Location), kind: VariableKind = 'global'): VariableInfo {
  return { name, kind, type: () => type, location: typeof location === 'function' ? location : () => location, id: ids++ };
}
export function at(address: bigint): Location {
  return { kind: 'memory', address };
}

export interface FakeDebugSpec {
  globals?: VariableInfo[];
  types?: Record<string, CType>;
  scopes?: FunctionScope[];
}

export function fakeDebug(spec: FakeDebugSpec): DebugData {
  const globals = spec.globals ?? [];
  const types = spec.types ?? {};
  return {
    scopesAt: () => spec.scopes ?? [],
    findVariable: (name) => globals.find((g) => g.name === name),
    findType: (name) => types[name],
    namesStartingWith: (prefix, limit) => [...globals.map((g) => g.name), ...Object.keys(types).map((t) => t.replace(/^(struct|union|enum) /, ''))]
      .filter((n) => n.startsWith(prefix)).slice(0, limit),
    problems: [],
  };
}

export function scope(name: string, o: { parameters?: VariableInfo[]; blocks?: VariableInfo[][]; statics?: VariableInfo[] } = {}): FunctionScope {
  const unit: UnitScope = { name: 'kernel/exit.c', statics: () => o.statics ?? [] };
  return {
    name, lowPc: 0xffffffff81000000n, highPc: 0xffffffff81001000n,
    parameters: o.parameters ?? [],
    blocks: (o.blocks ?? []).map((locals) => ({ lowPc: 0xffffffff81000000n, highPc: 0xffffffff81001000n, locals })),
    unit,
  };
}
