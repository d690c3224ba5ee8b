// What VS Code shows for a value: exact strings for each kind of C value,
// read from a fake guest memory and fake registers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatValue } from '../../debug-adapter/variables/format';
import { intValue, floatValue, type Value } from '../../debug-adapter/variables/value';
import type { CType, Location } from '../../debug-adapter/dwarf/model';
import { array, enumT, FakeMemory, fakeFrame, fn, konst, ptr, struct, T, typedef } from './helpers/c-fixtures';

const mem = new FakeMemory();
const frame = fakeFrame(mem, { registers: { 0: 0x1122334455667788n, 3: 0xfffffffffffffffen } });
const v = (type: CType, location: Location): Value => ({ type, location, frame });
const m = (type: CType, address: bigint): Value => v(type, { kind: 'memory', address });
const symbols: Record<string, string> = { '0xffffffff81000000': 'start_kernel', '0xffffffff81000010': 'start_kernel+0x10', '0xffffffff81200000': 'do_exit' };
const symbolize = (a: bigint): string | undefined => symbols['0x' + a.toString(16)];

test('integers, chars, bools: decimal, hex on request, chars with their glyph', () => {
  mem.u32(0x1000n, 6765).u32(0x1004n, -1).int(0x1008n, 1, 65).int(0x1009n, 1, 10).int(0x100an, 1, 0xc3).int(0x100bn, 1, 1).int(0x100cn, 1, 2);
  assert.equal(formatValue(m(T.int, 0x1000n)), '6765');
  assert.equal(formatValue(m(T.int, 0x1000n), { hex: true }), '0x1a6d');
  assert.equal(formatValue(m(T.int, 0x1004n)), '-1');
  assert.equal(formatValue(m(T.int, 0x1004n), { hex: true }), '0xffffffff');
  assert.equal(formatValue(m(T.uint, 0x1004n)), '4294967295');
  assert.equal(formatValue(m(T.char, 0x1008n)), "65 'A'");
  assert.equal(formatValue(m(T.char, 0x1009n)), "10 '\\n'");
  assert.equal(formatValue(m(T.char, 0x100an)), "-61 '\\303'");
  assert.equal(formatValue(m(T.uchar, 0x100an)), "195 '\\303'");
  assert.equal(formatValue(m(T.bool, 0x100bn)), 'true');
  assert.equal(formatValue(m(T.bool, 0x100cn)), '2');
  assert.equal(formatValue(m(typedef('u32', konst(T.uint)), 0x1000n)), '6765', 'typedefs and qualifiers are looked through');
});

test('registers hold the low bytes; computed values their bytes', () => {
  assert.equal(formatValue(v(T.uint, { kind: 'register', register: 0 }), { hex: true }), '0x55667788');
  assert.equal(formatValue(v(T.long, { kind: 'register', register: 3 })), '-2');
  assert.equal(formatValue(v(T.int, { kind: 'value', bytes: Uint8Array.of(42, 0, 0, 0, 0, 0, 0, 0) })), '42', 'a stack value wider than the type');
  assert.equal(formatValue(v(T.int, { kind: 'register', register: 9 })), '<not saved in this frame (r9)>');
  assert.equal(formatValue(v(T.int, { kind: 'unavailable', reason: 'optimized out' })), '<optimized out>');
});

test('floats: shortest text that reads back, x87 extended too', () => {
  const f = new Uint8Array(4);
  new DataView(f.buffer).setFloat32(0, 3.14, true);
  assert.equal(formatValue(v(T.float, { kind: 'value', bytes: f })), '3.14');
  mem.f64(0x1100n, 0.1 + 0.2);
  assert.equal(formatValue(m(T.double, 0x1100n)), '0.30000000000000004');
  mem.f64(0x1108n, -Infinity);
  assert.equal(formatValue(m(T.double, 0x1108n)), '-inf');
  // 1.5 as x87: mantissa 0xC000000000000000, exponent 16383.
  const x = new Uint8Array(16);
  new DataView(x.buffer).setBigUint64(0, 0xc000000000000000n, true);
  new DataView(x.buffer).setUint16(8, 16383, true);
  assert.equal(floatValue(v({ kind: 'base', name: 'long double', size: 16, encoding: 'float' }, { kind: 'value', bytes: x })), 1.5);
});

test('enums by name, flag combinations, the number when nothing matches', () => {
  const color = enumT('color', [['RED', 0], ['GREEN', 1], ['BLUE', 2], ['YELLOW', 3]]);
  const flags = enumT('flags', [['F_READ', 1], ['F_WRITE', 2], ['F_EXEC', 4]]);
  const val = (t: CType, n: number): Value => v(t, { kind: 'value', bytes: Uint8Array.of(n, 0, 0, 0) });
  assert.equal(formatValue(val(color, 0)), 'RED');
  assert.equal(formatValue(val(color, 7)), '7');
  assert.equal(formatValue(val(flags, 5)), '(F_READ | F_EXEC)');
  assert.equal(formatValue(val(flags, 9)), '(F_READ | unknown: 0x8)');
  assert.equal(formatValue(val(flags, 0)), '0');
});

test('pointers: hex, <symbol+off>, NULL, function pointers, strings', () => {
  mem.u64(0x2000n, 0xffffffff81000000n).u64(0x2008n, 0xffffffff81000010n).u64(0x2010n, 0).u64(0x2018n, 0xffff888000123000n);
  mem.u64(0x2020n, 0x3000n).str(0x3000n, 'hello\tworld\n').u64(0x2028n, 0xdead0000n).u64(0x2030n, 0xffffffff81200000n);
  assert.equal(formatValue(m(ptr(T.void), 0x2000n), { symbolize }), '0xffffffff81000000 <start_kernel>');
  assert.equal(formatValue(m(ptr(T.int), 0x2008n), { symbolize }), '0xffffffff81000010 <start_kernel+0x10>');
  assert.equal(formatValue(m(ptr(T.int), 0x2010n), { symbolize }), '0x0');
  assert.equal(formatValue(m(ptr(T.int), 0x2018n), { symbolize }), '0xffff888000123000');
  assert.equal(formatValue(m(ptr(fn(T.void, [T.int])), 0x2030n), { symbolize }), '0xffffffff81200000 <do_exit>');
  assert.equal(formatValue(m(ptr(konst(T.char)), 0x2020n)), '0x3000 "hello\\tworld\\n"');
  assert.equal(formatValue(m(ptr(T.char), 0x2028n)), '0xdead0000 <cannot read 1 byte at 0xdead0000>');
  assert.equal(formatValue(m(ptr(T.char), 0x2010n)), '0x0');
  assert.equal(formatValue(m(ptr(T.int), 0xbad000n)), '<cannot read 8 bytes at 0xbad000>');
});

test('strings: char arrays to their NUL, a length limit, escapes', () => {
  mem.str(0x4000n, 'hello\tworld\n').str(0x4100n, 'x'.repeat(300)).str(0x4300n, 'say "hi"\\', true);
  assert.equal(formatValue(m(array(T.char, 16), 0x4000n)), '"hello\\tworld\\n"');
  assert.equal(formatValue(m(ptr(T.char), 0x12000n)), '<cannot read 8 bytes at 0x12000>');
  mem.u64(0x4400n, 0x4100n);
  assert.equal(formatValue(m(ptr(T.char), 0x4400n)), `0x4100 "${'x'.repeat(200)}"...`);
  assert.equal(formatValue(m(ptr(T.char), 0x4400n), { limits: { maxStringLength: 5 } }), '0x4100 "xxxxx"...');
  assert.equal(formatValue(m(array(T.char, 300), 0x4100n)), `"${'x'.repeat(200)}"...`);
  assert.equal(formatValue(m(array(T.char, 11), 0x4300n)), '"say \\"hi\\"\\\\"');
  // A string that ends at an unmapped page is what was read.
  const end = 0x6000n - 3n;
  mem.map(end, 3).write(end, Buffer.from('abc'));
  mem.u64(0x4408n, end);
  assert.equal(formatValue(m(ptr(T.char), 0x4408n)), '0x5ffd "abc"...');
});

test('structs and arrays: short summaries, one unreadable member says so alone', () => {
  const inner = struct('inner', 8, [['x', T.int, 0], ['y', T.int, 4]]);
  const s = struct('state', 48, [['mode', T.int, 0], ['ready', T.bool, 4], ['name', array(T.char, 8), 8], ['in', inner, 16], ['next', ptr(T.int), 24], ['more', T.long, 32], ['last', T.long, 40]]);
  mem.u32(0x5000n, 5).int(0x5004n, 1, 1).str(0x5008n, 'idle').u32(0x5010n, 3).u32(0x5014n, 4).u64(0x5018n, 0);
  mem.map(0x5000n, 48);
  assert.equal(formatValue(m(s, 0x5000n), { limits: { maxSummaryItems: 2 } }), '{mode = 5, ready = 1, ...}'.replace('ready = 1', 'ready = true'));
  assert.equal(formatValue(m(s, 0x5000n)), '{mode = 5, ready = true, name = "idle", in = {x = 3, y = 4}, next = 0x0, more = 0, last = 0}');
  assert.equal(formatValue(m(s, 0x5000n), { limits: { maxSummaryDepth: 0 } }), '{mode = 5, ready = true, name = "idle", in = {...}, next = 0x0, more = 0, last = 0}');
  const squares = 0x7000n;
  for (let i = 0; i < 300; i++) mem.u32(squares + BigInt(i * 4), i * i);
  assert.equal(formatValue(m(array(T.int, 300), squares), { limits: { maxSummaryItems: 3 } }), '[300] {0, 1, 4, ...}');
  assert.equal(formatValue(m(array(T.int, 2, 3), squares)), '[2] {[3] {0, 1, 4}, [3] {9, 16, 25}}');
  // Half-mapped: the struct's second member is on an unmapped page.
  const pair = struct('pair', 16, [['a', T.long, 0], ['b', T.long, 8]]);
  mem.u64(0xa000n - 8n, 7);
  assert.equal(formatValue(m(pair, 0xa000n - 8n)), '{a = 7, b = <cannot read 8 bytes at 0xa000>}');
});

test('bitfields: unsigned and signed (sign-extended), across a byte boundary', () => {
  // struct { unsigned a:3; int b:3; unsigned c:6; int d:5 } packed in 0b...: a=5, b=-2 (0b110), c=45 (0b101101), d=-9 (0b10111)
  const bits = struct('flags', 4, [['a', T.uint, 0, 3, 0], ['b', T.int, 0, 3, 3], ['c', T.uint, 0, 6, 6], ['d', T.int, 0, 5, 12]]);
  const word = 5 | (0b110 << 3) | (45 << 6) | (0b10111 << 12);
  mem.u32(0xb000n, word);
  assert.equal(formatValue(m(bits, 0xb000n)), '{a = 5, b = -2, c = 45, d = -9}');
});

test('pieces: a struct split between a register and memory; an optimized-out piece only hides its member', () => {
  const pair = struct('pair', 16, [['lo', T.long, 0], ['hi', T.long, 8]]);
  mem.u64(0xc000n, 99);
  const split: Location = { kind: 'pieces', pieces: [{ location: { kind: 'register', register: 3 }, bitSize: 64 }, { location: { kind: 'memory', address: 0xc000n }, bitSize: 64 }] };
  assert.equal(formatValue(v(pair, split)), '{lo = -2, hi = 99}');
  const half: Location = { kind: 'pieces', pieces: [{ location: { kind: 'unavailable', reason: 'optimized out' }, bitSize: 64 }, { location: { kind: 'memory', address: 0xc000n }, bitSize: 64 }] };
  assert.equal(formatValue(v(pair, half)), '{lo = <optimized out>, hi = 99}');
  // Bit pieces: a 16-bit value from 8 bits of rax (bits 8..15) and 8 bits of memory.
  const bitty: Location = { kind: 'pieces', pieces: [{ location: { kind: 'register', register: 0 }, bitSize: 8, bitOffset: 8 }, { location: { kind: 'memory', address: 0xc000n }, bitSize: 8 }] };
  assert.equal(intValue(v(T.short, bitty)), (99n << 8n) | 0x77n);
});
