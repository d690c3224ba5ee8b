// Setting values: C's conversions, memory, bitfields (neighbours kept),
// registers only in the innermost frame, pieces whole or not at all, and
// one-sentence refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assign } from '../../debug-adapter/variables/write';
import { formatValue } from '../../debug-adapter/variables/format';
import { intRvalue, memberValue, type Value } from '../../debug-adapter/variables/value';
import { findMember } from '../../debug-adapter/variables/ctype';
import { assignExpression, ExprError, setExpression } from '../../debug-adapter/expr';
import type { Location } from '../../debug-adapter/dwarf/model';
import { array, at, enumT, FakeMemory, fakeDebug, fakeFrame, ptr, scope, struct, T, variable } from './helpers/c-fixtures';

const mem = new FakeMemory();
const frame = fakeFrame(mem, { registers: { 3: 0x1111111111111111n } });
const num = (n: number | bigint, type = T.int): Value => intRvalue(type, BigInt(n), frame);

test('integers, chars and pointers into memory, truncated as C truncates', () => {
  mem.map(0x1000n, 64);
  const x: Value = { type: T.int, location: at(0x1000n), frame };
  assign(x, num(6765));
  assert.equal(formatValue(x), '6765');
  const c: Value = { type: T.char, location: at(0x1004n), frame };
  assign(c, num(0x141));
  assert.equal(formatValue(c), "65 'A'");
  const p: Value = { type: ptr(T.int), location: at(0x1008n), frame };
  assign(p, num(0x1000n, T.ulong));
  assert.equal(formatValue(p), '0x1000');
  assert.equal(mem.u64At(0x1008n), 0x1000n);
});

test('bitfields: read-modify-write keeps the neighbours', () => {
  const S = struct('f', 4, [['a', T.uint, 0, 3, 0], ['b', T.int, 0, 5, 3], ['c', T.uint, 0, 8, 8]]);
  mem.u32(0x2000n, 0xffffffff);
  const s: Value = { type: S, location: at(0x2000n), frame };
  assign(memberValue(s, findMember(S, 'b')!), num(-3));
  assert.equal(formatValue(s), '{a = 7, b = -3, c = 255}');
  assign(memberValue(s, findMember(S, 'c')!), num(0x1ab));
  assert.equal(formatValue(s), '{a = 7, b = -3, c = 171}');
  assert.equal(mem.u64At(0x2000n) & 0xffffffffn, 0xffffabefn);
});

test('registers: the innermost frame writes the low bytes; a caller frame refuses', () => {
  const r: Value = { type: T.uint, location: { kind: 'register', register: 3 }, frame };
  assign(r, num(5), "'x'");
  assert.equal(frame.registers[3], 0x1111111100000005n);
  const caller = fakeFrame(mem, { registers: { 3: 1n }, innermost: false });
  assert.throws(() => assign({ ...r, frame: caller }, num(5), "'x'"), { message: "'x' is in a register of a caller's frame, which only the innermost frame can set" });
});

test('computed and optimized-out values are refused; nothing is written when one piece cannot be', () => {
  assert.throws(() => assign(num(1), num(2), "'a + 1'"), { message: "'a + 1' is not an lvalue" });
  assert.throws(() => assign({ type: T.int, location: { kind: 'unavailable', reason: 'optimized out' }, frame }, num(2), "'y'"), { message: "'y' is optimized out here and cannot be set" });
  mem.u64(0x3000n, 7);
  const writes = mem.writes;
  const pieces: Location = { kind: 'pieces', pieces: [{ location: at(0x3000n), bitSize: 64 }, { location: { kind: 'value', bytes: new Uint8Array(8) }, bitSize: 64 }] };
  const pair = struct('pair', 16, [['a', T.long, 0], ['b', T.long, 8]]);
  assert.throws(() => assign({ type: array(T.long, 2), location: pieces, frame }, { type: array(T.long, 2), location: pieces, frame }, "'p'"), /not an lvalue/);
  assert.equal(mem.writes, writes);
  // A member in the memory piece alone can be set.
  assign(memberValue({ type: pair, location: pieces, frame }, findMember(pair, 'a')!), num(9));
  assert.equal(mem.u64At(0x3000n), 9n);
});

test('pieces: a value split over a register and memory is written to both', () => {
  const f = fakeFrame(mem, { registers: { 0: 0n } });
  mem.map(0x4000n, 8);
  const split: Location = { kind: 'pieces', pieces: [{ location: { kind: 'register', register: 0 }, bitSize: 32 }, { location: at(0x4000n), bitSize: 32 }] };
  assign({ type: T.ulong, location: split, frame: f }, intRvalue(T.ulong, 0xaabbccdd11223344n, f));
  assert.equal(f.registers[0], 0x11223344n);
  assert.equal(mem.u64At(0x4000n) & 0xffffffffn, 0xaabbccddn);
});

test('Set Value through the evaluator: enum names, expressions, setExpression; errors are ExprError', () => {
  const color = enumT('color', [['RED', 0], ['GREEN', 1], ['BLUE', 2]]);
  mem.map(0x5000n, 16);
  const debug = fakeDebug({ globals: [variable('c', color, at(0x5000n)), variable('n', T.long, at(0x5008n))] });
  const ctx = { frame, scopes: [scope('do_exit')], debug };
  const c: Value = { type: color, location: at(0x5000n), frame };
  assignExpression(c, 'c', 'BLUE', ctx);
  assert.equal(formatValue(c), 'BLUE');
  assert.equal(formatValue(setExpression('n', 'c * 10 + 1', ctx)), '21');
  assert.equal(formatValue(setExpression('c', 'GREEN', ctx)), 'GREEN');
  assert.throws(() => setExpression('n + 1', '3', ctx), (e: Error) => e instanceof ExprError && e.message === "'n + 1' is not an lvalue");
  assert.throws(() => assignExpression(c, 'c', 'PURPLE', ctx), { message: "no symbol 'PURPLE' in do_exit" });
});
