// The DWARF expression machine on hand-assembled byte sequences: every op
// family, pieces, implicit values, entry values, TLS, typed-stack ops, and
// hostile input (loops, stack growth, truncation) ending as 'unavailable'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, ExpressionContext, MAX_STEPS } from '../../debug-adapter/dwarf';
import type { FrameContext, Location } from '../../debug-adapter/dwarf/model';
import { le, sleb, uleb } from './helpers/dwarf-builder';

const OP = {
  addr: 0x03, deref: 0x06, const1u: 0x08, const1s: 0x09, const2u: 0x0a, const2s: 0x0b, const4u: 0x0c, const4s: 0x0d,
  const8u: 0x0e, const8s: 0x0f, constu: 0x10, consts: 0x11, dup: 0x12, drop: 0x13, over: 0x14, pick: 0x15, swap: 0x16,
  rot: 0x17, abs: 0x19, and: 0x1a, div: 0x1b, minus: 0x1c, mod: 0x1d, mul: 0x1e, neg: 0x1f, not: 0x20, or: 0x21,
  plus: 0x22, plus_uconst: 0x23, shl: 0x24, shr: 0x25, shra: 0x26, xor: 0x27, bra: 0x28, eq: 0x29, ge: 0x2a, gt: 0x2b,
  le: 0x2c, lt: 0x2d, ne: 0x2e, skip: 0x2f, lit0: 0x30, reg0: 0x50, breg0: 0x70, regx: 0x90, fbreg: 0x91, bregx: 0x92,
  piece: 0x93, deref_size: 0x94, nop: 0x96, call2: 0x98, form_tls_address: 0x9b, call_frame_cfa: 0x9c, bit_piece: 0x9d,
  implicit_value: 0x9e, stack_value: 0x9f, implicit_pointer: 0xa0, addrx: 0xa1, constx: 0xa2, entry_value: 0xa3,
  const_type: 0xa4, regval_type: 0xa5, deref_type: 0xa6, convert: 0xa8, GNU_push_tls_address: 0xe0,
  GNU_entry_value: 0xf3, GNU_parameter_ref: 0xfa,
} as const;

const MEMORY = new Map<bigint, number>([[0x5000n, 0x11], [0x5001n, 0x22], [0x5002n, 0x33], [0x5003n, 0x44],
  [0x5004n, 0x55], [0x5005n, 0x66], [0x5006n, 0x77], [0x5007n, 0x88]]);

function frame(over: Partial<FrameContext> = {}): FrameContext {
  return {
    pc: 0x401000n, innermost: true, addressSize: 8,
    register: (n) => (n === 3 ? undefined : 0x1000n + BigInt(n) * 0x100n),
    cfa: () => 0x7000n,
    readMemory: (a, size) => {
      const out = new Uint8Array(size);
      for (let i = 0; i < size; i++) {
        const b = MEMORY.get(a + BigInt(i));
        if (b === undefined) return undefined;
        out[i] = b;
      }
      return out;
    },
    relocate: (a) => a + 0x100_0000n,
    entryRegister: (n) => (n === 5 ? 0xe5n : undefined),
    tlsBase: () => 0x9_0000n,
    ...over,
  };
}

const ctx: ExpressionContext = {
  addressSize: 8,
  addressAt: (i) => (i === 2 ? 0x402000n : undefined),
  frameBase: () => 0x6000n,
  baseType: (off) => (off === 0x30 ? { size: 1, signed: true, float: false } : off === 0x40 ? { size: 8, signed: true, float: true } : undefined),
};

const ev = (bytes: number[], f: FrameContext | undefined = frame(), c: ExpressionContext = ctx): Location => evaluate(Uint8Array.from(bytes), f, c);
/** The value an expression ending in DW_OP_stack_value computes. */
function value(bytes: number[], c: ExpressionContext = ctx): bigint {
  const loc = ev([...bytes, OP.stack_value], frame(), c);
  assert.equal(loc.kind, 'value', JSON.stringify(loc, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
  let v = 0n;
  const b = (loc as { bytes: Uint8Array }).bytes;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}
const unavailable = (loc: Location, pattern: RegExp): void => {
  assert.equal(loc.kind, 'unavailable');
  assert.match((loc as { reason: string }).reason, pattern);
};
const M64 = (v: bigint): bigint => BigInt.asUintN(64, v);

test('literals and constants', () => {
  assert.equal(value([OP.lit0 + 5]), 5n);
  assert.equal(value([OP.lit0 + 31]), 31n);
  assert.equal(value([OP.const1u, 0xff]), 0xffn);
  assert.equal(value([OP.const1s, 0xff]), M64(-1n));
  assert.equal(value([OP.const2u, ...le(0xbeef, 2)]), 0xbeefn);
  assert.equal(value([OP.const2s, ...le(-2, 2)]), M64(-2n));
  assert.equal(value([OP.const4u, ...le(0xdeadbeef, 4)]), 0xdeadbeefn);
  assert.equal(value([OP.const4s, ...le(-3, 4)]), M64(-3n));
  assert.equal(value([OP.const8u, ...le(0x1122334455667788n, 8)]), 0x1122334455667788n);
  assert.equal(value([OP.const8s, ...le(-4n, 8)]), M64(-4n));
  assert.equal(value([OP.constu, ...uleb(624485)]), 624485n);
  assert.equal(value([OP.consts, ...sleb(-123456)]), M64(-123456n));
});

test('stack operations', () => {
  assert.equal(value([OP.lit0 + 1, OP.dup, OP.plus]), 2n);
  assert.equal(value([OP.lit0 + 1, OP.lit0 + 2, OP.drop]), 1n);
  assert.equal(value([OP.lit0 + 1, OP.lit0 + 2, OP.over]), 1n);
  assert.equal(value([OP.lit0 + 7, OP.lit0 + 8, OP.lit0 + 9, OP.pick, 2]), 7n);
  assert.equal(value([OP.lit0 + 1, OP.lit0 + 2, OP.swap, OP.minus]), 1n);
  // rot: (1 2 3) -> (3 1 2); 3 - ... top is 2.
  assert.equal(value([OP.lit0 + 1, OP.lit0 + 2, OP.lit0 + 3, OP.rot]), 2n);
  assert.equal(value([OP.lit0 + 1, OP.lit0 + 2, OP.lit0 + 3, OP.rot, OP.drop]), 1n);
  unavailable(ev([OP.drop]), /damaged.*empty stack/);
  unavailable(ev([OP.lit0, OP.pick, 4]), /damaged.*pick/);
});

test('arithmetic and logic, in the address-sized generic type', () => {
  assert.equal(value([OP.lit0 + 3, OP.lit0 + 4, OP.plus, OP.lit0 + 2, OP.mul]), 14n);
  assert.equal(value([OP.lit0 + 3, OP.lit0 + 5, OP.minus]), M64(-2n));
  assert.equal(value([OP.consts, ...sleb(-8), OP.lit0 + 2, OP.div]), M64(-4n));
  assert.equal(value([OP.lit0 + 17, OP.lit0 + 5, OP.mod]), 2n);
  assert.equal(value([OP.lit0 + 5, OP.neg]), M64(-5n));
  assert.equal(value([OP.consts, ...sleb(-9), OP.abs]), 9n);
  assert.equal(value([OP.lit0 + 12, OP.lit0 + 10, OP.and]), 8n);
  assert.equal(value([OP.lit0 + 12, OP.lit0 + 3, OP.or]), 15n);
  assert.equal(value([OP.lit0 + 12, OP.lit0 + 10, OP.xor]), 6n);
  assert.equal(value([OP.lit0, OP.not]), M64(-1n));
  assert.equal(value([OP.lit0 + 1, OP.lit0 + 4, OP.shl]), 16n);
  assert.equal(value([OP.const1u, 64, OP.lit0 + 1, OP.lit0 + 0, OP.plus, OP.shl]), 128n);
  assert.equal(value([OP.lit0 + 1, OP.const1u, 64, OP.shl]), 0n, 'a shift past the width is 0');
  assert.equal(value([OP.consts, ...sleb(-16), OP.lit0 + 2, OP.shr]), M64(-16n) >> 2n);
  assert.equal(value([OP.consts, ...sleb(-16), OP.lit0 + 2, OP.shra]), M64(-4n));
  assert.equal(value([OP.lit0 + 5, OP.plus_uconst, ...uleb(1000)]), 1005n);
  unavailable(ev([OP.lit0 + 1, OP.lit0, OP.div]), /divides by zero/);
  unavailable(ev([OP.lit0 + 1, OP.lit0, OP.mod]), /divides by zero/);
  // 32-bit code: the generic type is 4 bytes wide.
  const c32: ExpressionContext = { ...ctx, addressSize: 4 };
  const loc = evaluate(Uint8Array.from([OP.lit0, OP.lit0 + 1, OP.minus, OP.stack_value]), frame({ addressSize: 4 }), c32);
  assert.deepEqual(loc, { kind: 'value', bytes: Uint8Array.from([0xff, 0xff, 0xff, 0xff]) });
});

test('comparisons are signed', () => {
  const cmp = (op: number, a: number, b: number): bigint => value([OP.consts, ...sleb(a), OP.consts, ...sleb(b), op]);
  assert.equal(cmp(OP.lt, -1, 1), 1n);
  assert.equal(cmp(OP.gt, -1, 1), 0n);
  assert.equal(cmp(OP.le, 2, 2), 1n);
  assert.equal(cmp(OP.ge, 1, 2), 0n);
  assert.equal(cmp(OP.eq, 7, 7), 1n);
  assert.equal(cmp(OP.ne, 7, 7), 0n);
});

test('skip and bra; loops end at the step limit; branches stay inside', () => {
  // 5; lit1; bra +1 (taken, pops the 1) over lit2; lit3; plus -> 8.
  assert.equal(value([OP.lit0 + 5, OP.lit0 + 1, OP.bra, ...le(1, 2), OP.lit0 + 2, OP.lit0 + 3, OP.plus]), 8n);
  assert.equal(value([OP.lit0 + 5, OP.lit0, OP.bra, ...le(1, 2), OP.nop, OP.lit0 + 3, OP.plus]), 8n);
  assert.equal(value([OP.lit0 + 4, OP.skip, ...le(1, 2), OP.lit0 + 9]), 4n);
  // lit1; bra -4 (back to itself): a hostile loop.
  unavailable(ev([OP.lit0 + 1, OP.bra, ...le(-4, 2)]), new RegExp(`${MAX_STEPS} steps`));
  unavailable(ev([OP.skip, ...le(-3, 2)]), /steps/);
  // A loop that grows the stack ends at the depth limit first.
  unavailable(ev([OP.lit0, OP.dup, OP.skip, ...le(-4, 2)]), /stack grows past/);
  unavailable(ev([OP.skip, ...le(100, 2)]), /damaged.*leaves/);
  unavailable(ev([OP.skip, ...le(-100, 2)]), /damaged.*leaves/);
});

test('registers, register-relative addresses, frame base, CFA', () => {
  assert.deepEqual(ev([OP.reg0 + 5]), { kind: 'register', register: 5 });
  assert.deepEqual(ev([OP.regx, ...uleb(17)]), { kind: 'register', register: 17 });
  assert.deepEqual(ev([OP.reg0 + 4, 0xf0]), { kind: 'register', register: 4 }, 'DW_OP_GNU_uninit after a register (gcc, Linux)');
  assert.deepEqual(ev([OP.breg0 + 6, ...sleb(-8)]), { kind: 'memory', address: 0x1600n - 8n });
  assert.deepEqual(ev([OP.bregx, ...uleb(12), ...sleb(16)]), { kind: 'memory', address: 0x1000n + 12n * 0x100n + 16n });
  assert.deepEqual(ev([OP.fbreg, ...sleb(-20)]), { kind: 'memory', address: 0x6000n - 20n });
  assert.deepEqual(ev([OP.call_frame_cfa]), { kind: 'memory', address: 0x7000n });
  assert.deepEqual(ev([OP.call_frame_cfa, OP.consts, ...sleb(-24), OP.plus]), { kind: 'memory', address: 0x7000n - 24n });
  unavailable(ev([OP.breg0 + 3, 0]), /register rbx is not recoverable/);
  unavailable(ev([OP.call_frame_cfa], frame({ cfa: () => undefined })), /CFA/);
  unavailable(ev([OP.fbreg, 0], frame(), { ...ctx, frameBase: () => 'the frame base is unavailable (x)' }), /frame base is unavailable/);
  unavailable(ev([OP.fbreg, 0], frame(), { addressSize: 8 }), /no frame base/);
  unavailable(evaluate(Uint8Array.from([OP.breg0, 0]), undefined, ctx), /stack frame/);
  unavailable(ev([OP.reg0 + 1, OP.lit0]), /damaged.*follows a complete location/);
});

test('memory dereferences', () => {
  assert.equal(value([OP.const2u, ...le(0x5000, 2), OP.deref]), 0x8877665544332211n);
  assert.equal(value([OP.const2u, ...le(0x5000, 2), OP.deref_size, 2]), 0x2211n);
  assert.equal(value([OP.const2u, ...le(0x5000, 2), OP.deref_type, 1, ...uleb(0x30)]), M64(0x11n));
  unavailable(ev([OP.const2u, ...le(0x6000, 2), OP.deref]), /memory at 0x6000 is not readable/);
  unavailable(ev([OP.const2u, ...le(0x5000, 2), OP.deref_size, 9]), /damaged.*wider/);
});

test('addresses: DW_OP_addr and addrx relocate, constx does not', () => {
  assert.deepEqual(ev([OP.addr, ...le(0x403008, 8)]), { kind: 'memory', address: 0x403008n + 0x100_0000n });
  assert.deepEqual(ev([OP.addrx, ...uleb(2)]), { kind: 'memory', address: 0x402000n + 0x100_0000n });
  assert.equal(value([OP.constx, ...uleb(2)]), 0x402000n);
  unavailable(ev([OP.addrx, ...uleb(7)]), /damaged.*\.debug_addr entry 7/);
  // Without a frame (a member offset), addresses stay link-time.
  assert.deepEqual(evaluate(Uint8Array.from([OP.addr, ...le(0x10, 8)]), undefined, ctx), { kind: 'memory', address: 0x10n });
});

test('implicit values and stack values', () => {
  assert.deepEqual(ev([OP.implicit_value, 4, 1, 2, 3, 4]), { kind: 'value', bytes: Uint8Array.from([1, 2, 3, 4]) });
  assert.deepEqual(ev([OP.lit0 + 9, OP.stack_value]), { kind: 'value', bytes: Uint8Array.from(le(9, 8)) });
  unavailable(ev([OP.stack_value]), /damaged/);
  unavailable(ev([]), /^optimized out$/);
});

test('pieces: registers, memory, values, empty parts, bit pieces', () => {
  assert.deepEqual(ev([OP.reg0, OP.piece, 4, OP.reg0 + 1, OP.piece, 4]), {
    kind: 'pieces', pieces: [{ location: { kind: 'register', register: 0 }, bitSize: 32 }, { location: { kind: 'register', register: 1 }, bitSize: 32 }],
  });
  assert.deepEqual(ev([OP.piece, 4, OP.breg0 + 7, 8, OP.piece, 4]), {
    kind: 'pieces', pieces: [{ location: { kind: 'unavailable', reason: 'optimized out' }, bitSize: 32 }, { location: { kind: 'memory', address: 0x1708n }, bitSize: 32 }],
  });
  assert.deepEqual(ev([OP.lit0 + 1, OP.stack_value, OP.piece, 2, OP.implicit_value, 2, 0xaa, 0xbb, OP.piece, 2]), {
    kind: 'pieces', pieces: [
      { location: { kind: 'value', bytes: Uint8Array.from(le(1, 8)) }, bitSize: 16 },
      { location: { kind: 'value', bytes: Uint8Array.from([0xaa, 0xbb]) }, bitSize: 16 },
    ],
  });
  assert.deepEqual(ev([OP.reg0 + 2, OP.bit_piece, 3, 5, OP.reg0 + 4, OP.bit_piece, 5, 0]), {
    kind: 'pieces', pieces: [{ location: { kind: 'register', register: 2 }, bitSize: 3, bitOffset: 5 }, { location: { kind: 'register', register: 4 }, bitSize: 5 }],
  });
  // A part whose location is an implicit pointer is unavailable; its neighbours stand.
  assert.deepEqual(ev([OP.implicit_pointer, ...le(0x40, 4), 0, OP.piece, 8, OP.reg0, OP.piece, 8]), {
    kind: 'pieces', pieces: [{ location: { kind: 'unavailable', reason: 'implicit pointer' }, bitSize: 64 }, { location: { kind: 'register', register: 0 }, bitSize: 64 }],
  });
});

test('entry values: a plain register through the frame, anything else unavailable', () => {
  assert.equal(value([OP.entry_value, 1, OP.reg0 + 5]), 0xe5n);
  assert.equal(value([OP.GNU_entry_value, 2, OP.regx, 5, OP.lit0 + 1, OP.plus]), 0xe6n);
  unavailable(ev([OP.entry_value, 1, OP.reg0 + 4, OP.stack_value]), /on entry.*not recoverable here/);
  unavailable(ev([OP.entry_value, 2, OP.breg0 + 5, 0, OP.stack_value]), /memory DW_OP_entry_value/);
  unavailable(ev([OP.entry_value, 1, OP.reg0 + 5, OP.stack_value], frame({ entryRegister: undefined })), /not recoverable/);
});

test('thread-local storage: DW_OP_form_tls_address and GNU_push_tls_address add the vCPU\'s base', () => {
  assert.deepEqual(ev([OP.const2u, ...le(0x40, 2), OP.form_tls_address]), { kind: 'memory', address: 0x9_0040n });
  assert.deepEqual(ev([OP.const2u, ...le(0x40, 2), OP.GNU_push_tls_address]), { kind: 'memory', address: 0x9_0040n });
  unavailable(ev([OP.lit0, OP.form_tls_address], frame({ tlsBase: undefined })), /thread-local/);
});

test('typed stack: const_type, regval_type, convert; unknown or float types unavailable', () => {
  assert.equal(value([OP.const_type, ...uleb(0x30), 1, 0xff]), M64(-1n));
  assert.equal(value([OP.regval_type, 1, ...uleb(0x30)]), 0n, 'rdx = 0x1100 truncated to a signed byte');
  assert.equal(value([OP.const1u, 0x80, OP.convert, ...uleb(0x30)]), M64(-128n));
  assert.equal(value([OP.const1u, 0x80, OP.convert, 0]), 0x80n, 'type 0 is the generic type');
  unavailable(ev([OP.lit0, OP.convert, ...uleb(0x99), OP.stack_value]), /typed DWARF stack/);
  unavailable(ev([OP.lit0, OP.convert, ...uleb(0x40), OP.stack_value]), /floating-point/);
});

test('unsupported and damaged expressions become unavailable, never a throw', () => {
  unavailable(ev([OP.implicit_pointer, ...le(0x40, 4), 0]), /^implicit pointer$/);
  unavailable(ev([OP.GNU_parameter_ref, ...le(0x40, 4)]), /parameter reference/);
  unavailable(ev([OP.call2, 0, 0]), /procedure calls/);
  unavailable(ev([OP.const4u, 1, 2]), /damaged.*runs past the end/);
  unavailable(ev([0xff]), /damaged.*unknown operation 0xff/);
  unavailable(ev([OP.implicit_value, 200, 1]), /damaged/);
  unavailable(ev([OP.piece]), /damaged/);
});
