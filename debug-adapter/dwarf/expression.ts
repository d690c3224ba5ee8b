/**
 * The DWARF expression machine (DWARF 5 section 2.5-2.6, with the GNU
 * extensions gcc emits): evaluates a location description in one frame and
 * says where the value is, as a `Location`. It knows nothing of variables
 * (delve's pkg/dwarf/op split): the frame base, .debug_addr and base types
 * come in through `ExpressionContext`.
 *
 * Hostile input is ordinary: every read is bounds-checked, branches are
 * checked against the expression, a step limit ends loops, the stack depth
 * is bounded, and every problem (an unreadable register or memory, an
 * unsupported op, damage) becomes `{ kind: 'unavailable', reason }`. Nothing
 * throws out of `evaluate`.
 */
import { ByteReader, DwarfError } from '../symbols/dwarf-reader';
import { abiFor, registerName } from '../symbols/dwarf-registers';
import { DW_OP } from './constants';
import type { FrameContext, Location, Piece } from './model';

export interface BaseTypeInfo { size: number; signed: boolean; float: boolean }

export interface ExpressionContext {
  addressSize: 4 | 8;
  /** The unit's offset size (DW_OP_call_ref, DW_OP_implicit_pointer operands). Default 4. */
  offsetSize?: 4 | 8;
  /** DW_OP_addrx / DW_OP_constx: entry `index` of the unit's .debug_addr table (link-time). */
  addressAt?(index: number): bigint | undefined;
  /** DW_OP_fbreg: the enclosing function's frame base in this frame, or why it is unknown. */
  frameBase?(): bigint | string;
  /** Typed-stack ops (DW_OP_convert, regval_type...): the base type DIE at a unit-relative offset. */
  baseType?(unitOffset: number): BaseTypeInfo | undefined;
  /** Values pushed before the expression runs (DW_AT_data_member_location gets the record's address). */
  initialStack?: readonly bigint[];
}

/** Hostile expressions loop with DW_OP_bra/skip; real ones run a few dozen ops. */
export const MAX_STEPS = 10_000;
export const MAX_STACK = 1_000;

/** Why a location is unavailable; thrown inside the machine only. */
class Unavailable extends Error {}

type Simple =
  | { kind: 'register'; register: number }
  | { kind: 'value'; bytes: Uint8Array }
  | { kind: 'stack-value' }
  | { kind: 'unavailable'; reason: string };

/** Evaluates `expr` in `frame` (undefined: no frame, as for a member offset). Never throws. */
export function evaluate(expr: Uint8Array, frame: FrameContext | undefined, ctx: ExpressionContext): Location {
  try {
    return run(expr, frame, ctx);
  } catch (e) {
    if (e instanceof Unavailable) return { kind: 'unavailable', reason: e.message };
    if (e instanceof DwarfError) return { kind: 'unavailable', reason: `the location expression is damaged (${e.message})` };
    return { kind: 'unavailable', reason: `the location expression could not be evaluated (${e instanceof Error ? e.message : String(e)})` };
  }
}

function run(expr: Uint8Array, frame: FrameContext | undefined, ctx: ExpressionContext): Location {
  if (expr.length === 0) return { kind: 'unavailable', reason: 'optimized out' };
  const size = ctx.addressSize;
  const bits = size * 8;
  const u = (v: bigint): bigint => BigInt.asUintN(bits, v);
  const s = (v: bigint): bigint => BigInt.asIntN(bits, v);
  const r = new ByteReader(expr, 0, expr.length, 'DWARF expression');
  const stack: bigint[] = (ctx.initialStack ?? []).map(u);
  const pieces: Piece[] = [];
  let simple: Simple | undefined;

  const push = (v: bigint): void => {
    if (stack.length >= MAX_STACK) throw new Unavailable(`the location expression's stack grows past ${MAX_STACK} entries`);
    stack.push(u(v));
  };
  const pop = (): bigint => {
    const v = stack.pop();
    if (v === undefined) throw new DwarfError('an operation pops an empty stack');
    return v;
  };
  const fr = (): FrameContext => {
    if (!frame) throw new Unavailable('the location depends on a stack frame');
    return frame;
  };
  const reg = (n: number): bigint => {
    const v = fr().register(n);
    if (v === undefined) throw new Unavailable(`register ${registerName(abiFor(size === 8 ? 64 : 32), n)} is not recoverable in this frame`);
    return v;
  };
  const read = (address: bigint, n: number): bigint => {
    if (n < 1 || n > 8) throw new Unavailable(`a ${n}-byte dereference is not supported`);
    const b = fr().readMemory(address, n);
    if (!b || b.length < n) throw new Unavailable(`memory at 0x${address.toString(16)} is not readable`);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    return v;
  };
  /** Truncates/extends a value to a base type (DW_OP_convert and friends); offset 0 is the generic type. */
  const typed = (v: bigint, typeOffset: number, converting: boolean): bigint => {
    if (typeOffset === 0) return u(v);
    const t = ctx.baseType?.(typeOffset);
    if (!t || t.size < 1 || t.size > 8) throw new Unavailable('a typed DWARF stack value of an unknown or wide type is not supported');
    if (t.float && converting) throw new Unavailable('a floating-point DWARF stack conversion is not supported');
    return t.signed ? BigInt.asIntN(t.size * 8, v) : BigInt.asUintN(t.size * 8, v);
  };
  const address = (index: number, relocate: boolean): bigint => {
    const a = ctx.addressAt?.(index);
    if (a === undefined) throw new DwarfError(`.debug_addr entry ${index} is missing`);
    return relocate && frame ? frame.relocate(a) : a;
  };
  /** The simple location just finished (before a piece, or at the end). */
  const finish = (): Location => {
    const done = simple;
    simple = undefined;
    if (done?.kind === 'stack-value') return { kind: 'value', bytes: leBytes(pop(), size) };
    if (done) return done;
    if (stack.length > 0) return { kind: 'memory', address: pop() };
    return { kind: 'unavailable', reason: 'optimized out' };
  };

  for (let steps = 0; r.remaining > 0; steps++) {
    if (steps >= MAX_STEPS) throw new Unavailable(`the location expression runs past ${MAX_STEPS} steps`);
    const op = r.u8();
    // After a register or implicit location only a piece (or the end) may follow; gcc also writes
    // DW_OP_GNU_uninit there (the value is not initialized yet: still its location).
    if (simple && op !== DW_OP.piece && op !== DW_OP.bit_piece && op !== DW_OP.nop && op !== DW_OP.GNU_uninit) {
      throw new DwarfError(`op 0x${op.toString(16)} follows a complete location`);
    }
    if (op >= DW_OP.lit0 && op <= DW_OP.lit31) { push(BigInt(op - DW_OP.lit0)); continue; }
    if (op >= DW_OP.reg0 && op <= DW_OP.reg31) { simple = { kind: 'register', register: op - DW_OP.reg0 }; continue; }
    if (op >= DW_OP.breg0 && op <= DW_OP.breg31) { push(reg(op - DW_OP.breg0) + r.slebBig()); continue; }
    switch (op) {
      case DW_OP.addr: { const a = r.unsigned(size); push(frame ? frame.relocate(a) : a); break; }
      case DW_OP.const1u: push(BigInt(r.u8())); break;
      case DW_OP.const1s: push(BigInt(r.i8())); break;
      case DW_OP.const2u: push(BigInt(r.u16())); break;
      case DW_OP.const2s: push(BigInt(r.i16())); break;
      case DW_OP.const4u: push(BigInt(r.u32())); break;
      case DW_OP.const4s: push(BigInt(r.i32())); break;
      case DW_OP.const8u: push(r.u64()); break;
      case DW_OP.const8s: push(r.i64()); break;
      case DW_OP.constu: push(r.ulebBig()); break;
      case DW_OP.consts: push(r.slebBig()); break;
      case DW_OP.addrx: case DW_OP.GNU_addr_index: push(address(r.uleb(), true)); break;
      // Not relocated: constx holds TLS offsets and other link-time constants that are not addresses.
      case DW_OP.constx: case DW_OP.GNU_const_index: push(address(r.uleb(), false)); break;
      case DW_OP.dup: { const v = pop(); push(v); push(v); break; }
      case DW_OP.drop: pop(); break;
      case DW_OP.over: { if (stack.length < 2) throw new DwarfError('DW_OP_over needs two entries'); push(stack[stack.length - 2]); break; }
      case DW_OP.pick: {
        const i = r.u8();
        if (i >= stack.length) throw new DwarfError(`DW_OP_pick ${i} is past the stack's ${stack.length} entries`);
        push(stack[stack.length - 1 - i]);
        break;
      }
      case DW_OP.swap: { const a = pop(); const b = pop(); push(a); push(b); break; }
      case DW_OP.rot: { const a = pop(); const b = pop(); const c = pop(); push(a); push(c); push(b); break; }
      case DW_OP.deref: push(read(pop(), size)); break;
      case DW_OP.deref_size: { const n = r.u8(); if (n > size) throw new DwarfError(`DW_OP_deref_size ${n} is wider than an address`); push(read(pop(), n)); break; }
      case DW_OP.deref_type: case DW_OP.GNU_deref_type: { const n = r.u8(); const t = r.uleb(); push(typed(read(pop(), n), t, false)); break; }
      case DW_OP.xderef: case DW_OP.xderef_size: case DW_OP.xderef_type:
        throw new Unavailable('address-space dereferences (DW_OP_xderef) are not supported');
      case DW_OP.abs: { const v = s(pop()); push(v < 0n ? -v : v); break; }
      case DW_OP.neg: push(-s(pop())); break;
      case DW_OP.not: push(~pop()); break;
      case DW_OP.and: { const b = pop(); push(pop() & b); break; }
      case DW_OP.or: { const b = pop(); push(pop() | b); break; }
      case DW_OP.xor: { const b = pop(); push(pop() ^ b); break; }
      case DW_OP.plus: { const b = pop(); push(pop() + b); break; }
      case DW_OP.minus: { const b = pop(); push(pop() - b); break; }
      case DW_OP.mul: { const b = pop(); push(pop() * b); break; }
      case DW_OP.div: {
        // Signed, as gdb does for the generic type.
        const b = s(pop()); const a = s(pop());
        if (b === 0n) throw new Unavailable('the location expression divides by zero');
        push(a / b);
        break;
      }
      case DW_OP.mod: {
        const b = pop(); const a = pop();
        if (b === 0n) throw new Unavailable('the location expression divides by zero');
        push(a % b);
        break;
      }
      case DW_OP.plus_uconst: push(pop() + r.ulebBig()); break;
      case DW_OP.shl: { const b = pop(); const a = pop(); push(b >= BigInt(bits) ? 0n : a << b); break; }
      case DW_OP.shr: { const b = pop(); const a = pop(); push(b >= BigInt(bits) ? 0n : a >> b); break; }
      case DW_OP.shra: { const b = pop(); const a = s(pop()); push(a >> (b >= BigInt(bits) ? BigInt(bits - 1) : b)); break; }
      case DW_OP.eq: case DW_OP.ge: case DW_OP.gt: case DW_OP.le: case DW_OP.lt: case DW_OP.ne: {
        const b = s(pop()); const a = s(pop());
        const t = op === DW_OP.eq ? a === b : op === DW_OP.ge ? a >= b : op === DW_OP.gt ? a > b
          : op === DW_OP.le ? a <= b : op === DW_OP.lt ? a < b : a !== b;
        push(t ? 1n : 0n);
        break;
      }
      case DW_OP.skip: case DW_OP.bra: {
        const off = r.i16();
        if (op === DW_OP.bra && pop() === 0n) break;
        const to = r.pos + off;
        if (to < 0 || to > expr.length) throw new DwarfError(`a branch to ${to} leaves the ${expr.length}-byte expression`);
        r.seek(to);
        break;
      }
      case DW_OP.regx: simple = { kind: 'register', register: r.uleb() }; break;
      case DW_OP.fbreg: {
        const off = r.slebBig();
        if (!ctx.frameBase) throw new Unavailable('DW_OP_fbreg is used outside a function (no frame base)');
        const fb = ctx.frameBase();
        if (typeof fb === 'string') throw new Unavailable(fb);
        push(fb + off);
        break;
      }
      case DW_OP.bregx: { const n = r.uleb(); push(reg(n) + r.slebBig()); break; }
      case DW_OP.piece: case DW_OP.bit_piece: {
        const bitSize = op === DW_OP.piece ? r.uleb() * 8 : r.uleb();
        const bitOffset = op === DW_OP.bit_piece ? r.uleb() : undefined;
        if (pieces.length >= 1024) throw new DwarfError('more than 1024 pieces');
        // An empty piece (nothing before it) is a part that is optimized out.
        const location = simple || stack.length > 0 ? finish() : { kind: 'unavailable' as const, reason: 'optimized out' };
        pieces.push(bitOffset === undefined || bitOffset === 0 ? { location, bitSize } : { location, bitSize, bitOffset });
        break;
      }
      case DW_OP.nop: case DW_OP.GNU_uninit: break;
      case DW_OP.push_object_address: throw new Unavailable('DW_OP_push_object_address has no object here');
      case DW_OP.call2: case DW_OP.call4: case DW_OP.call_ref:
        throw new Unavailable('DWARF procedure calls (DW_OP_call*) are not supported');
      case DW_OP.form_tls_address: case DW_OP.GNU_push_tls_address: {
        const off = pop();
        const base = fr().tlsBase?.();
        if (base === undefined) throw new Unavailable('the thread-local storage base of this vCPU is not known');
        push(base + off);
        break;
      }
      case DW_OP.call_frame_cfa: {
        const cfa = fr().cfa();
        if (cfa === undefined) throw new Unavailable('the frame\'s canonical frame address (CFA) is not known');
        push(cfa);
        break;
      }
      case DW_OP.implicit_value: { const n = r.uleb(); simple = { kind: 'value', bytes: Uint8Array.from(r.bytes(n)) }; break; }
      case DW_OP.stack_value: if (stack.length === 0) throw new DwarfError('DW_OP_stack_value on an empty stack'); simple = { kind: 'stack-value' }; break;
      case DW_OP.implicit_pointer: case DW_OP.GNU_implicit_pointer:
        r.skip(ctx.offsetSize ?? 4); r.slebBig();
        simple = { kind: 'unavailable', reason: 'implicit pointer' };
        break;
      case DW_OP.GNU_variable_value: r.skip(ctx.offsetSize ?? 4); throw new Unavailable('DW_OP_GNU_variable_value is not supported');
      case DW_OP.entry_value: case DW_OP.GNU_entry_value: push(entryValue(r.bytes(r.uleb()), frame)); break;
      case DW_OP.const_type: case DW_OP.GNU_const_type: {
        const t = r.uleb(); const n = r.u8(); const b = r.bytes(n);
        if (n > 8) throw new Unavailable(`a ${n}-byte typed constant is not supported`);
        push(typed(fromLe(b), t, false));
        break;
      }
      case DW_OP.regval_type: case DW_OP.GNU_regval_type: { const n = r.uleb(); const t = r.uleb(); push(typed(reg(n), t, false)); break; }
      case DW_OP.convert: case DW_OP.GNU_convert: push(typed(pop(), r.uleb(), true)); break;
      case DW_OP.reinterpret: case DW_OP.GNU_reinterpret: push(typed(pop(), r.uleb(), false)); break;
      case DW_OP.GNU_parameter_ref: r.u32(); throw new Unavailable('a parameter reference (DW_OP_GNU_parameter_ref) is not supported');
      default: throw new DwarfError(`unknown operation 0x${op.toString(16)} at byte ${r.pos - 1}`);
    }
  }
  if (pieces.length > 0) {
    // Anything after the last piece is damage; the pieces stand.
    return { kind: 'pieces', pieces };
  }
  return finish();
}

/**
 * DW_OP_entry_value's value: only the plain-register form (DW_OP_regN /
 * DW_OP_regx), which is what gcc emits for parameters whose register is
 * reused, and only when the frame can recover the register's entry value.
 */
function entryValue(sub: Uint8Array, frame: FrameContext | undefined): bigint {
  let n: number | undefined;
  if (sub.length === 1 && sub[0] >= DW_OP.reg0 && sub[0] <= DW_OP.reg31) n = sub[0] - DW_OP.reg0;
  else if (sub.length >= 2 && sub[0] === DW_OP.regx) {
    const r = new ByteReader(sub, 1, sub.length, 'DW_OP_entry_value');
    n = r.uleb();
    if (!r.atEnd) n = undefined;
  }
  if (n === undefined) throw new Unavailable('the value on entry to the function (a memory DW_OP_entry_value) is not recoverable');
  const v = frame?.entryRegister?.(n);
  if (v === undefined) throw new Unavailable('the value on entry to the function is not recoverable here');
  return v;
}

/** `v` as `n` little-endian bytes. */
export function leBytes(v: bigint, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = BigInt.asUintN(n * 8, v);
  for (let i = 0; i < n; i++) { out[i] = Number(x & 0xffn); x >>= 8n; }
  return out;
}

function fromLe(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}

/**
 * A frame base from its evaluated DW_AT_frame_base: a memory location's
 * address, or a register location's contents (clang's DW_OP_reg6 means "the
 * value of rbp"); otherwise the reason it is unknown.
 */
export function frameBaseValue(loc: Location, frame: FrameContext): bigint | string {
  switch (loc.kind) {
    case 'memory': return loc.address;
    case 'register': {
      const v = frame.register(loc.register);
      return v ?? `the frame base register ${registerName(abiFor(frame.addressSize === 8 ? 64 : 32), loc.register)} is not recoverable in this frame`;
    }
    case 'value': return fromLe(loc.bytes.subarray(0, 8));
    case 'unavailable': return `the frame base is unavailable (${loc.reason})`;
    default: return 'the frame base is made of pieces';
  }
}
