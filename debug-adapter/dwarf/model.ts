/**
 * The shapes the C-level debugger is built from, shared by the three layers
 * that grow around them (see ARCHITECTURE.md, "C-level debugging"):
 *
 *   dwarf/      reads DWARF into these: C types, variables in scope at a pc,
 *               their locations (the DWARF expression machine, location lists)
 *   variables/  reads and formats typed values from guest memory/registers,
 *               lazily expanded, with limits
 *   expr/       the C expression language over the same values
 *
 * Nothing here reads DWARF or guest memory; it only names what flows between
 * the layers, so each can be built and unit-tested on its own.
 *
 * Addresses: DWARF holds link-time addresses. A frame's `relocate` turns a
 * link-time address (DW_OP_addr, a static's location) into the run-time one
 * (KASLR); pcs handed to dwarf/ are link-time (the session converts with
 * Symbols.toLinked before asking).
 */

// ---------------------------------------------------------------- C types

export type BaseEncoding = 'signed' | 'unsigned' | 'signed-char' | 'unsigned-char' | 'bool' | 'float' | 'complex-float';

/**
 * A C type. Referenced types are thunks: C types are recursive (a list node
 * points at its own struct) and most are never looked at, so a type's parts
 * are read from DWARF only when asked for. A thunk may be called often; the
 * reader memoizes (one CType object per DIE).
 */
export type CType =
  | VoidType
  | BaseType
  | PointerType
  | QualifiedType
  | TypedefType
  | RecordType
  | EnumType
  | ArrayType
  | FunctionType;

export interface VoidType { kind: 'void'; name: 'void' }
export interface BaseType { kind: 'base'; name: string; size: number; encoding: BaseEncoding }
/** `size` is the pointer's own size (8 on x86-64, 4 in 32-bit code). */
export interface PointerType { kind: 'pointer'; size: number; target: () => CType }
export interface QualifiedType { kind: 'qualified'; qualifier: 'const' | 'volatile' | 'restrict' | 'atomic'; target: () => CType }
export interface TypedefType { kind: 'typedef'; name: string; target: () => CType }
/**
 * struct/union. `declaration` = only declared in this unit (size and members
 * unknown): the reader should resolve it to the full definition by name
 * through the name index where it can, and keep it as a declaration only
 * when no unit defines it.
 */
export interface RecordType {
  kind: 'struct' | 'union';
  name?: string;
  size: number;
  declaration?: boolean;
  members: () => readonly Member[];
}
/**
 * A member. `offset` in bytes from the record's start. A bitfield has
 * `bitSize` and `bitOffset`: the bit position of its least significant bit
 * counted from the start of the record's byte `offset` (little-endian,
 * DW_AT_data_bit_offset semantics; readers convert DWARF 2-3's
 * DW_AT_bit_offset). An anonymous struct/union member has no name.
 */
export interface Member { name?: string; type: () => CType; offset: number; bitSize?: number; bitOffset?: number }
export interface EnumType { kind: 'enum'; name?: string; size: number; signed: boolean; enumerators: readonly { name: string; value: bigint }[] }
/** `counts[i]` = elements of dimension i; undefined = flexible/unknown (`int a[]`). */
export interface ArrayType { kind: 'array'; element: () => CType; counts: readonly (number | undefined)[] }
export interface FunctionType { kind: 'function'; returns: () => CType; params: () => readonly CType[]; variadic: boolean }

// ---------------------------------------------------------------- locations

/** Where a value lives, the result of a DWARF location description in one frame. */
export type Location =
  | { kind: 'memory'; address: bigint }
  /** A DWARF register number (x86-64: 0 rax, 1 rdx, 2 rcx, 3 rbx, 4 rsi, 5 rdi, 6 rbp, 7 rsp, 8-15 r8-r15, 16 rip, 17-32 xmm0-15). */
  | { kind: 'register'; register: number }
  /** A computed value (DW_OP_stack_value, DW_OP_implicit_value): readable, not writable. Little-endian bytes. */
  | { kind: 'value'; bytes: Uint8Array }
  /** DW_OP_piece / DW_OP_bit_piece: the value is assembled from parts, in order, lowest bits first. */
  | { kind: 'pieces'; pieces: readonly Piece[] }
  /** Nothing recorded for this pc, or no location at all. `reason` is a sentence fragment for the user. */
  | { kind: 'unavailable'; reason: string };

export interface Piece { location: Location; bitSize: number; /** DW_OP_bit_piece's offset within the part's location. */ bitOffset?: number }

/** What evaluating a location needs from one stack frame of one vCPU. */
export interface FrameContext {
  /** This frame's pc, link-time. For a caller frame, the return address (readers look up pc - 1 for ranges and location lists). */
  pc: bigint;
  /** Whether this is the innermost frame (callers' pc is a return address). */
  innermost: boolean;
  addressSize: 4 | 8;
  /** A register's value in this frame by DWARF number; undefined = not recoverable here (a caller's clobbered register). */
  register(dwarfRegister: number): bigint | undefined;
  /** The canonical frame address from CFI, for DW_OP_call_frame_cfa. */
  cfa(): bigint | undefined;
  /** Guest virtual memory; undefined = not mapped / unreadable. */
  readMemory(address: bigint, size: number): Uint8Array | undefined;
  /** A link-time address (DW_OP_addr, DW_OP_addrx) at run time (KASLR). */
  relocate(linkAddress: bigint): bigint;
  /** DW_OP_entry_value: a register's value on entry to this frame's function, when it can be recovered (else undefined). */
  entryRegister?(dwarfRegister: number): bigint | undefined;
  /** DW_OP_form_tls_address / GNU_push_tls_address: the thread-local (Linux: per-cpu) base for this vCPU. */
  tlsBase?(): bigint | undefined;
  /** Writes guest virtual memory (setVariable, setExpression); false = not mapped / not writable. Absent: values cannot be set. */
  writeMemory?(address: bigint, bytes: Uint8Array): boolean;
  /** Sets a register by DWARF number (the whole register); only the innermost frame's registers are the vCPU's. */
  writeRegister?(dwarfRegister: number, value: bigint): boolean;
}

// ---------------------------------------------------------------- variables in scope

export type VariableKind = 'local' | 'parameter' | 'static' | 'global';

/** One C variable the debugger can show: a name, a type, and how to find it in a frame. */
export interface VariableInfo {
  name: string;
  kind: VariableKind;
  type: () => CType;
  /** Evaluates the variable's location (expression or location list) in `frame`. Never throws: a problem is an 'unavailable' location. */
  location(frame: FrameContext): Location;
  declFile?: string;
  declLine?: number;
  /** For `static` locals and globals: a stable key (the DIE's section offset). */
  id: number;
}

/** A lexical block (or the function body) with its locals; innermost blocks come first in `FunctionScope.blocks`. */
export interface BlockScope { lowPc: bigint; highPc: bigint; locals: readonly VariableInfo[] }

/**
 * What is in scope at a pc inside one function (or one inlined instance of
 * one): its parameters, its locals by lexical block (innermost first, only
 * the blocks containing the pc), and its compilation unit's statics and
 * the globals it can see.
 */
export interface FunctionScope {
  name: string;
  lowPc: bigint;
  highPc: bigint;
  parameters: readonly VariableInfo[];
  blocks: readonly BlockScope[];
  /** For an inlined instance: where it was inlined (the caller's source line). */
  inlinedAt?: { file?: string; line?: number; column?: number };
  unit: UnitScope;
}

export interface UnitScope {
  /** The compilation unit's name (a source path) and compile directory. */
  name?: string;
  compDir?: string;
  /** File-scope `static` variables of this unit, then its globals, lazily. */
  statics(): readonly VariableInfo[];
  /** Names of the globals this unit declares `extern` and uses (defined in other units), lazily. */
  externs?(): readonly string[];
}

/**
 * Everything the C layers ask of DWARF. One implementation reads real
 * DWARF (dwarf/); tests can hand-build one.
 */
export interface DebugData {
  /**
   * The functions containing `pc`, innermost first: inlined instances, then
   * the concrete function. Empty when no DWARF describes `pc`.
   */
  scopesAt(pc: bigint): readonly FunctionScope[];
  /** A global (or file static, when `unitOf` is given and has one by that name) variable by name. */
  findVariable(name: string, near?: UnitScope): VariableInfo | undefined;
  /**
   * A type by its C name: "int", "unsigned long", "struct task_struct",
   * "union foo", "enum bar", a typedef name ("u64", "pid_t"). A complete
   * definition wins over a declaration.
   */
  findType(name: string): CType | undefined;
  /** Names starting with `prefix`, for completion: globals, then types' names (no "struct "). At most `limit`. */
  namesStartingWith(prefix: string, limit: number): readonly string[];
  /** Problems met (damaged units), one sentence each, for a log. */
  readonly problems: readonly string[];
}

// ---------------------------------------------------------------- section access

/**
 * A DWARF section's bytes, possibly not all in memory: a distro vmlinux's
 * .debug_info is hundreds of MB, of which a stop reads a few units. A plain
 * Uint8Array adapts with `sectionOf(bytes)`.
 */
export interface Section {
  readonly size: number;
  /** `length` bytes at `offset` (a view or a copy); throws a DwarfError when out of range. */
  bytes(offset: number, length: number): Uint8Array;
}

export function sectionOf(data: Uint8Array): Section {
  return {
    size: data.length,
    bytes(offset: number, length: number): Uint8Array {
      if (offset < 0 || length < 0 || offset + length > data.length) {
        throw new RangeError(`${length} bytes at offset ${offset} are outside a section of ${data.length} bytes`);
      }
      return data.subarray(offset, offset + length);
    },
  };
}

/** The DWARF sections the readers use; missing ones are undefined. */
export interface DwarfSections {
  debugInfo?: Section;
  debugAbbrev?: Section;
  debugStr?: Section;
  debugLineStr?: Section;
  debugStrOffsets?: Section;
  debugAddr?: Section;
  debugLoc?: Section;
  debugLoclists?: Section;
  debugRanges?: Section;
  debugRnglists?: Section;
  debugAranges?: Section;
  debugNames?: Section;
  addressSize: 4 | 8;
}
