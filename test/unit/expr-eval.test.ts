// Evaluating C expressions against a fake frame: scope order, C's
// conversions, pointer scaling, casts, sizeof, ?:, registers, exact error
// sentences, conditions and completions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completions, evaluateCondition, evaluateExpression, ExprError, type ExprContext } from '../../debug-adapter/expr';
import { formatValue } from '../../debug-adapter/variables/format';
import { typeName } from '../../debug-adapter/variables/type-name';
import { addressOf } from '../../debug-adapter/variables/value';
import type { RecordType } from '../../debug-adapter/dwarf/model';
import { array, at, enumT, FakeMemory, fakeDebug, fakeFrame, ptr, scope, struct, T, typedef, variable } from './helpers/c-fixtures';

const mem = new FakeMemory();
const task: RecordType = struct('task_struct', 64, () => [['state', T.long, 0], ['pid', T.int, 8], ['comm', array(T.char, 16), 12], ['parent', ptr(task), 32], ['flags', T.uint, 40]]);
const color = enumT('color', [['RED', 0], ['GREEN', 1], ['BLUE', 2]]);
const point = struct('point', 8, [['x', T.int, 0], ['y', T.int, 4]]);
const ARR = 0x1000n, TASK = 0x2000n, G = 0x3000n;
for (let i = 0; i < 10; i++) mem.u32(ARR + BigInt(4 * i), i * i);
mem.u64(TASK, 0).u32(TASK + 8n, 42).str(TASK + 12n, 'init').u64(TASK + 32n, TASK).u32(TASK + 40n, 0x200);
mem.u64(G, 1000).u64(G + 8n, ARR).u64(G + 16n, TASK).u32(G + 24n, 2).u32(G + 28n, 3).u32(G + 32n, 5).u32(G + 36n, 7).u64(G + 40n, 0xbad0000n).u32(G + 48n, 111).u32(G + 52n, 222);
const frame = fakeFrame(mem, { registers: { 0: 7n, 5: 0x1234n, 7: 0x7ff0n, 16: 0xffffffff81000010n } });

const globals = [
  variable('jiffies', T.ulong, at(G)),
  variable('arr', array(T.int, 10), at(ARR)),
  variable('p', ptr(T.int), at(G + 8n)),
  variable('t', ptr(task), at(G + 16n)),
  variable('c', color, at(G + 24n)),
  variable('pt', point, at(G + 28n)),
  variable('bad', ptr(T.long), at(G + 40n)),
  variable('vp', ptr(T.void), at(G + 8n)),
  variable('shadowed', T.int, at(G + 48n)),
  variable('u', typedef('u32', T.uint), at(G + 36n)),
];
const debug = fakeDebug({ globals, types: { 'struct task_struct': task, 'struct point': point, u32: typedef('u32', T.uint), 'enum color': color } });
const doExit = scope('do_exit', {
  parameters: [variable('code', T.long, { kind: 'register', register: 5 }, 'parameter'), variable('shadowed', T.int, { kind: 'value', bytes: Uint8Array.of(2, 0, 0, 0) }, 'parameter')],
  blocks: [[variable('i', T.int, at(G + 32n), 'local'), variable('flags', T.uint, { kind: 'unavailable', reason: 'optimized out' }, 'local')], [variable('shadowed', T.int, { kind: 'value', bytes: Uint8Array.of(1, 0, 0, 0) }, 'local')]],
  statics: [variable('count', T.int, at(G + 52n), 'static')],
});
const symbols: Record<string, bigint> = { start_kernel: 0xffffffff81000000n, _text: 0xffffffff80000000n };
const ctx: ExprContext = {
  frame, scopes: [doExit], debug,
  register: (n) => ({ cr3: 0x1000n, rax: 7n } as Record<string, bigint>)[n],
  symbolAddress: (n) => symbols[n],
};
const symbolize = (a: bigint): string | undefined => (a === 0xffffffff81000010n ? 'start_kernel+0x10' : a === 0xffffffff81000000n ? 'start_kernel' : undefined);
const show = (text: string, hex = false): string => formatValue(evaluateExpression(text, ctx), { symbolize, hex });
const type = (text: string): string => typeName(evaluateExpression(text, ctx).type);
const fails = (text: string, message: string): void => {
  assert.throws(() => evaluateExpression(text, ctx), (e: Error) => {
    assert.ok(e instanceof ExprError, `${text}: ${e.constructor.name}: ${e.message}`);
    assert.equal(e.message, message, text);
    return true;
  });
};

test('names: innermost block first, then outer blocks, parameters, unit statics, globals', () => {
  assert.equal(show('shadowed'), '1');
  assert.equal(show('i'), '5');
  assert.equal(show('code'), '4660');
  assert.equal(show('count'), '222');
  assert.equal(show('jiffies'), '1000');
  assert.equal(show('flags'), '<optimized out>', 'alone, an optimized-out variable is a value that says so');
});

test('registers: $-names always, bare names when no variable has them; $rip shows its symbol', () => {
  assert.equal(show('$rip'), '0xffffffff81000010 <start_kernel+0x10>');
  assert.equal(show('rax'), '7');
  assert.equal(show('$eax + 1'), '8');
  assert.equal(show('$rdi == code'), '1');
  assert.equal(show('$cr3', true), '0x1000');
  assert.equal(type('$rsp'), 'void *');
  assert.equal(show('start_kernel'), '0xffffffff81000000 <start_kernel>', 'an ELF symbol without DWARF is its address');
  assert.equal(show('*(u32 *)&arr[3]'), '9');
});

test('C\'s conversions: integer literals, promotions, signedness, wrapping', () => {
  assert.equal(show('-1 < 0u'), '0');
  assert.equal(show('-1 < 0'), '1');
  assert.equal(show('-1L < 0u'), '1');
  assert.equal(type('0xffffffff'), 'unsigned int');
  assert.equal(type('2147483648'), 'long');
  assert.equal(type('0x8000000000000000'), 'unsigned long');
  assert.equal(show('1 << 31'), '-2147483648');
  assert.equal(show('1UL << 63', true), '0x8000000000000000');
  assert.equal(show('1 << 40'), '0');
  assert.equal(show('-8 >> 100'), '-1');
  assert.equal(show('-7 / 2'), '-3');
  assert.equal(show('-7 % 2'), '-1');
  assert.equal(show('1.5 * 2'), '3');
  assert.equal(show('1 / 2.0'), '0.5');
  assert.equal(show("'a' + 1"), '98');
  assert.equal(type("'a' + 1"), 'int');
  assert.equal(show("'A'"), "65 'A'");
  assert.equal(show('~0u'), '4294967295');
  assert.equal(show('u * 2'), '14');
  assert.equal(type('u * 2'), 'unsigned int');
  assert.equal(show('!5 + !0'), '1');
  assert.equal(show('(1, 2)'.replace(', 2', '')), '1');
});

test('precedence as C has it', () => {
  assert.equal(show('1 + 2 * 3'), '7');
  assert.equal(show('(1 + 2) * 3'), '9');
  assert.equal(show('1 | 2 ^ 3 & 4'), '3');
  assert.equal(show('2 + 3 << 1'), '10');
  assert.equal(show('1 < 2 == 1'), '1');
  assert.equal(show('-arr[3]'), '-9');
  assert.equal(show('*p + 1'), '1');
  assert.equal(show('*(p + 1)'), '1');
});

test('pointer arithmetic is scaled by the pointee; differences are in elements', () => {
  assert.equal(show('p + 1', true), '0x1004');
  assert.equal(show('*(p + 3)'), '9');
  assert.equal(show('p[4]'), '16');
  assert.equal(show('4[p]'), '16');
  assert.equal(show('arr + 2', true), '0x1008');
  assert.equal(type('arr + 2'), 'int *');
  assert.equal(show('&arr[7] - &arr[2]'), '5');
  assert.equal(type('&arr[7] - &arr[2]'), 'long');
  assert.equal(show('(char *)(p + 1) - (char *)p'), '4');
  assert.equal(show('vp + 1', true), '0x1001', 'void * steps by bytes');
  assert.equal(show('(struct task_struct *)0x1000 + 1', true), '0x1040');
  assert.equal(show('&t->comm[1]', true), '0x200d "nit"');
  assert.equal(show('p == &arr[0]'), '1');
  assert.equal(show('p != 0 && *p == 0'), '1');
  assert.equal(addressOf(evaluateExpression('arr[9]', ctx)), ARR + 36n, 'an element is an lvalue with its address');
});

test('members, casts and sizeof', () => {
  assert.equal(show('t->pid'), '42');
  assert.equal(show('t->comm'), '"init"');
  assert.equal(show('t->parent->parent->pid'), '42');
  assert.equal(show('(*t).pid'), '42');
  assert.equal(show('pt.y - pt.x'), '2');
  assert.equal(type('(struct task_struct *)$rdi'), 'struct task_struct *');
  assert.equal(show('((struct task_struct *)0x2000)->flags', true), '0x200');
  assert.equal(show('(unsigned char)300'), "44 ','");
  assert.equal(show('(char)65'), "65 'A'");
  assert.equal(show('(unsigned int)-1'), '4294967295');
  assert.equal(show('(long)-1'), '-1');
  assert.equal(show('(int)3.9'), '3');
  assert.equal(show('(double)1 / 4'), '0.25');
  assert.equal(show('(_Bool)7'), 'true');
  assert.equal(show('(enum color)1'), 'GREEN');
  assert.equal(show('(unsigned long)&arr', true), '0x1000');
  assert.equal(show('sizeof(struct task_struct)'), '64');
  assert.equal(show('sizeof arr'), '40');
  assert.equal(show('sizeof arr / sizeof arr[0]'), '10');
  assert.equal(show('sizeof(*bad)'), '8', 'sizeof reads nothing: bad points at unmapped memory');
  assert.equal(show('sizeof(int [3][4])'), '48');
  assert.equal(show('sizeof(long) + sizeof(char) + sizeof(short)'), '11');
  assert.equal(show('sizeof(t->comm)'), '16');
  assert.equal(type('sizeof(int)'), 'unsigned long');
});

test('?:, && and || evaluate only what C evaluates', () => {
  assert.equal(show('code > 0 ? 1 : *bad'), '1');
  assert.equal(show('code < 0 ? *bad : 2'), '2');
  assert.equal(show('0 && *bad'), '0');
  assert.equal(show('1 || *bad'), '1');
  assert.equal(show('i ? t->pid : 0'), '42');
});

test('enums: names compare, and the other operand may name an enumerator', () => {
  assert.equal(show('c'), 'BLUE');
  assert.equal(show('c == BLUE'), '1');
  assert.equal(show('c != RED'), '1');
  assert.equal(show('c + 1'), '3');
});

test('errors are one exact sentence', () => {
  fails('foo', "no symbol 'foo' in do_exit");
  fails('*(long *)0xffff888000001000', 'cannot read 8 bytes at 0xffff888000001000 (not mapped)');
  fails('*bad', 'cannot read 8 bytes at 0xbad0000 (not mapped)');
  fails('flags + 1', "'flags' is optimized out here");
  fails('*i', "'i' is not a pointer");
  fails('i->x', "'i' is not a pointer");
  fails('t->pidd', "no member 'pidd' in struct task_struct");
  fails('t.pid', "'t' is a struct task_struct *, not a struct or union (use '->' for a pointer)");
  fails('pt->x', "'pt' is not a pointer (use '.' for a struct)");
  fails('arr.x', "'arr' is an int [10], not a struct or union");
  fails('&code', "'code' lives in a register, so it has no address");
  fails('&(i + 1)', "'(i + 1)' is a computed value, so it has no address");
  fails('1 / 0', 'division by zero');
  fails('(struct nosuch *)0', "no type named 'struct nosuch'");
  fails('(nosuch_t)0'.replace('nosuch_t', 'struct nosuch'), "no type named 'struct nosuch'");
  fails('$nosuch', "there is no register '$nosuch'");
  fails('*vp', "'vp' is a void pointer: cast it to a typed pointer first");
  fails('i[2]', "'i' is neither an array nor a pointer");
  fails('pt + 1', "'pt' is a struct point, which + does not take");
  fails('t + p', "'t + p': + does not take a struct task_struct * and an int *");
  fails('1 << -1', "the shift count '-1' is negative");
  fails('(struct point)i', 'cannot cast to struct point: only to numbers and pointers');
  fails('printk("x")', "'printk' cannot be called: only the debugger's helpers can (per_cpu, per_cpu_ptr, container_of, offsetof, $task, $streq)");
  fails('!pt', "'pt' is a struct point, not a number or pointer");
  fails('p - (char *)p', "'p - (char *)p' subtracts pointers to int and char");
});

test('conditions: non-zero is true; a struct is refused', () => {
  assert.equal(evaluateCondition('i == 5', ctx), true);
  assert.equal(evaluateCondition('code', ctx), true);
  assert.equal(evaluateCondition('t->pid != 42', ctx), false);
  assert.equal(evaluateCondition('p', ctx), true);
  assert.equal(evaluateCondition('0.0', ctx), false);
  assert.throws(() => evaluateCondition('pt', ctx), { message: "'pt' is a struct point, not a number or pointer" });
});

test('completions: names in scope, globals, members after . and ->', () => {
  const labels = (text: string): string[] => completions(text, ctx).map((c) => c.label);
  assert.deepEqual(labels('co'), ['code', 'count', 'color', 'container_of'], 'scope, then DWARF\'s globals and types, then helpers');
  assert.deepEqual(labels('t->p'), ['pid', 'parent']);
  assert.deepEqual(labels('i + t->parent->'), ['state', 'pid', 'comm', 'parent', 'flags']);
  assert.deepEqual(labels('pt.'), ['x', 'y']);
  assert.deepEqual(labels('(*t).c'), ['comm']);
  assert.deepEqual(labels('arr[2].'), []);
  assert.ok(labels('$r').includes('$rip'));
  assert.ok(labels('ji').includes('jiffies'));
  const c = completions('x + t->pa', ctx)[0];
  assert.deepEqual([c.start, c.length], [7, 2]);
});
