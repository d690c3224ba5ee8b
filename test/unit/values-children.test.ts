// Expanding values (members, array pages, pointees) and naming types as C
// writes them; every child's evaluateName reads back as the same value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { childCount, children, derefExpr, isPostfix, memberExpr, type Child } from '../../debug-adapter/variables/children';
import { formatValue } from '../../debug-adapter/variables/format';
import { typeName } from '../../debug-adapter/variables/type-name';
import { addressOf, memoryRange, type Value } from '../../debug-adapter/variables/value';
import { evaluateExpression } from '../../debug-adapter/expr';
import type { CType, RecordType } from '../../debug-adapter/dwarf/model';
import { array, at, enumT, FakeMemory, fakeDebug, fakeFrame, fn, konst, ptr, scope, struct, T, typedef, variable } from './helpers/c-fixtures';

test('type names as C writes them', () => {
  const node: RecordType = struct('node', 16, () => [['value', T.int, 0], ['next', ptr(node), 8]]);
  assert.equal(typeName(ptr(T.int)), 'int *');
  assert.equal(typeName(ptr(konst(T.char))), 'const char *');
  assert.equal(typeName(konst(ptr(T.char))), 'char * const');
  assert.equal(typeName(ptr(konst(ptr(T.char)))), 'char * const *');
  assert.equal(typeName(array(T.char, 16)), 'char [16]');
  assert.equal(typeName(array(T.int, 3, 4)), 'int [3][4]');
  assert.equal(typeName(array(T.int, undefined)), 'int []');
  assert.equal(typeName(ptr(fn(T.int, [T.int, ptr(T.char)]))), 'int (*)(int, char *)');
  assert.equal(typeName(ptr(fn(T.void, []))), 'void (*)(void)');
  assert.equal(typeName(fn(T.int, [T.int], true)), 'int (int, ...)');
  assert.equal(typeName(ptr(array(T.int, 3))), 'int (*)[3]');
  assert.equal(typeName(array(ptr(T.int), 3)), 'int *[3]');
  assert.equal(typeName(ptr(ptr(T.char))), 'char **');
  assert.equal(typeName(ptr(node)), 'struct node *');
  assert.equal(typeName(T.ulong), 'unsigned long');
  assert.equal(typeName(T.short), 'short');
  assert.equal(typeName(typedef('u64', T.ulong)), 'u64');
  assert.equal(typeName(struct(undefined, 4, [], 'union')), 'union {...}');
  assert.equal(typeName(enumT('color', [])), 'enum color');
  assert.equal(typeName(T.uint, 3), 'unsigned int:3');
});

test('evaluateName parenthesization', () => {
  assert.equal(isPostfix('p->next[3].x'), true);
  assert.equal(isPostfix('(*p)'), true);
  assert.equal(isPostfix('*p'), false);
  assert.equal(isPostfix('(struct s *)x'), false);
  assert.equal(isPostfix('a + b'), false);
  assert.equal(memberExpr('*p', 'x'), '(*p).x');
  assert.equal(memberExpr('((struct s *)x)', 'y'), '((struct s *)x).y');
  assert.equal(derefExpr('p'), '*p');
  assert.equal(derefExpr('*p'), '**p');
  assert.equal(derefExpr('p + 1'), '*(p + 1)');
  assert.equal(derefExpr('(char *)x'), '*((char *)x)');
});

// A little world: struct s { int mode; union { int f; float g; }; unsigned flags:3; int level:4; struct node *list; int arr[300]; };
const mem = new FakeMemory();
const frame = fakeFrame(mem);
const node: RecordType = struct('node', 16, () => [['value', T.int, 0], ['next', ptr(node), 8]]);
const anon = struct(undefined, 4, [['f', T.int, 0], ['g', T.float, 0]], 'union');
const S = struct('s', 1232, [['mode', T.int, 0], [undefined, anon, 4], ['flags', T.uint, 8, 3, 0], ['level', T.int, 8, 4, 3], ['list', ptr(node), 16], ['arr', array(T.int, 300), 24], ['grid', array(T.char, 2, 3), 1224]]);
const base = 0x10000n;
mem.map(base, 1232).u32(base, 5).u32(base + 4n, 77).u32(base + 8n, 6 | (0b1001 << 3)).u64(base + 16n, 0x20000n);
for (let i = 0; i < 300; i++) mem.u32(base + 24n + BigInt(4 * i), i * 2);
mem.u32(0x20000n, 1).u64(0x20008n, 0x20010n).u32(0x20010n, 2).u64(0x20018n, 0);
mem.u64(0x30000n, base).u64(0x30008n, 0x30010n).u32(0x30010n, 42);
const debug = fakeDebug({
  globals: [variable('state', S, at(base)), variable('sp', ptr(S), at(0x30000n)), variable('ip', ptr(T.int), at(0x30008n))],
  types: { 'struct s': S, 'struct node': node },
});
const ctx = { frame, scopes: [scope('do_exit')], debug };
const state: Value = { type: S, location: at(base), frame };

test('struct members, anonymous union flattened, bitfields typed with their width', () => {
  const kids = children(state, 'state');
  assert.deepEqual(kids.map((c) => c.name), ['mode', 'f', 'g', 'flags', 'level', 'list', 'arr', 'grid']);
  assert.deepEqual(kids.map((c) => c.evaluateName), ['state.mode', 'state.f', 'state.g', 'state.flags', 'state.level', 'state.list', 'state.arr', 'state.grid']);
  assert.deepEqual(kids.map((c) => c.typeName), ['int', 'int', 'float', 'unsigned int:3', 'int:4', 'struct node *', 'int [300]', 'char [2][3]']);
  assert.equal(kids[0].address, base);
  assert.equal(kids[1].address, base + 4n);
  assert.equal(kids[3].address, undefined, 'a bitfield has no address');
  assert.deepEqual(kids.slice(3, 5).map((c) => formatValue(c.value)), ['6', '-7']);
  assert.deepEqual(childCount(state), { named: 8, indexed: 0 });
  assert.deepEqual(memoryRange(kids[6].value), { address: base + 24n, size: 1200 }, 'what a data breakpoint on state.arr watches');
  assert.deepEqual(memoryRange(kids[4].value), { address: base + 8n, size: 1 }, 'a bitfield is watched through its bytes');
  assert.equal(memoryRange(evaluateExpression('state.mode + 1', ctx)), undefined);
});

test('arrays page: elements 100..199 of 300', () => {
  const arr = children(state, 'state').find((c) => c.name === 'arr')!;
  assert.deepEqual(childCount(arr.value), { named: 0, indexed: 300 });
  const page = children(arr.value, arr.evaluateName, { start: 100, count: 100 });
  assert.equal(page.length, 100);
  assert.equal(page[0].name, '[100]');
  assert.equal(page[99].name, '[199]');
  assert.equal(page[42].evaluateName, 'state.arr[142]');
  assert.equal(formatValue(page[42].value), '284');
  assert.equal(page[42].address, base + 24n + 142n * 4n);
  assert.equal(children(arr.value, 'a', { start: 290, count: 100 }).length, 10, 'the last page is short');
  assert.equal(children(arr.value, 'a').length, 100, 'a page is maxArrayValues by default');
  const grid = children(state, 'state').find((c) => c.name === 'grid')!;
  const rows = children(grid.value, grid.evaluateName);
  assert.deepEqual(rows.map((r) => [r.evaluateName, r.typeName]), [['state.grid[0]', 'char [3]'], ['state.grid[1]', 'char [3]']]);
});

test('pointers expand to the pointee: its members for a struct, *p otherwise; NULL does not expand', () => {
  const sp: Value = { type: ptr(S), location: at(0x30000n), frame };
  const kids = children(sp, 'sp');
  assert.equal(kids[0].evaluateName, 'sp->mode');
  assert.equal(kids[1].evaluateName, 'sp->f');
  const list = kids.find((c) => c.name === 'list')!;
  const second = children(list.value, list.evaluateName).find((c) => c.name === 'next')!;
  assert.equal(second.evaluateName, 'sp->list->next');
  const third = children(second.value, second.evaluateName).find((c) => c.name === 'next')!;
  assert.equal(formatValue(third.value), '0x0');
  assert.deepEqual(childCount(third.value), { named: 0, indexed: 0 });
  const ip: Value = { type: ptr(T.int), location: at(0x30008n), frame };
  const star = children(ip, 'ip');
  assert.deepEqual(star.map((c) => [c.name, c.evaluateName, formatValue(c.value)]), [['*ip', '*ip', '42']]);
  assert.deepEqual(children(ip, '(int *)0x30010').map((c) => c.evaluateName), ['*((int *)0x30010)']);
  assert.deepEqual(childCount({ type: ptr(T.void), location: at(0x30000n), frame }), { named: 0, indexed: 0 });
});

test('evaluateName round trip: every child, two levels deep, evaluates to the same value', () => {
  let checked = 0;
  const visit = (c: { value: Value; evaluateName?: string }, depth: number): void => {
    if (c.evaluateName === undefined) return;
    const again = evaluateExpression(c.evaluateName, ctx);
    assert.equal(formatValue(again), formatValue(c.value), c.evaluateName);
    assert.equal(typeName(again.type), typeName(c.value.type), c.evaluateName);
    assert.equal(addressOf(again), addressOf(c.value), c.evaluateName);
    checked++;
    if (depth < 3) for (const k of children(c.value, c.evaluateName, { count: 5 })) visit(k, depth + 1);
  };
  for (const root of ['state', 'sp', 'ip', '&state', '*sp', '(struct node *)0x20000', 'sp->list->next']) visit({ value: evaluateExpression(root, ctx), evaluateName: root }, 0);
  assert.ok(checked > 60, `${checked} checked`);
});

test('children of unreadable and computed values are values that say why', () => {
  const bad: Value = { type: S, location: at(0xdead000n), frame };
  const kids: Child[] = children(bad, 'x');
  assert.equal(formatValue(kids[0].value), '<cannot read 4 bytes at 0xdead000>');
  const gone: Value = { type: S, location: { kind: 'unavailable', reason: 'optimized out' }, frame };
  assert.equal(formatValue(children(gone, 'g')[0].value), '<optimized out>');
  const computed = evaluateExpression('*sp', ctx);
  assert.equal(children(computed, undefined)[0].evaluateName, undefined);
  const t: CType = ptr(S);
  assert.deepEqual(childCount({ type: t, location: at(0xdead000n), frame }), { named: 0, indexed: 0 }, 'an unreadable pointer does not expand');
});
