// Random expressions (from C's grammar, from a token soup, from raw
// characters) against hostile memory (every address readable, every byte
// random: garbage pointers, garbage list links, huge counts) never throw
// anything but ExprError and always end; formatting and expanding whatever
// they return never throws at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completions, evaluateCondition, evaluateExpression, ExprError, syntaxProblem, type ExprContext } from '../../debug-adapter/expr';
import { children } from '../../debug-adapter/variables/children';
import { formatValue } from '../../debug-adapter/variables/format';
import type { FrameContext, RecordType } from '../../debug-adapter/dwarf/model';
import { array, at, enumT, fakeDebug, ptr, scope, struct, T, typedef, variable } from './helpers/c-fixtures';
import { fuzzRounds, fuzzSeed, rng } from './helpers/fuzz-budget';

const listHead: RecordType = struct('list_head', 16, () => [['next', ptr(listHead), 0], ['prev', ptr(listHead), 8]]);
const task: RecordType = struct('task_struct', 96, () => [
  ['pid', T.int, 8], ['comm', array(T.char, 16), 16], ['tasks', listHead, 32], ['parent', ptr(task), 48],
  ['flags', T.uint, 56, 3, 2], ['big', array(T.long, 0xffffffff), 64], [undefined, struct(undefined, 8, [['u', T.long, 0]], 'union'), 72],
]);
const color = enumT('color', [['RED', 0], ['BLUE', 4]]);

/** Memory where every read succeeds with bytes derived from the address (stable, so a re-read agrees), except near zero. */
function hostileFrame(seed: number): FrameContext {
  return {
    pc: 0xffffffff81000000n, innermost: true, addressSize: 8,
    register: (n) => (n < 17 ? BigInt.asUintN(64, BigInt(n + 1) * 0x9e3779b97f4a7c15n * BigInt(seed)) : undefined),
    cfa: () => undefined,
    readMemory: (a, size) => {
      if (a < 0x1000n || size > 1 << 20) return undefined;
      const out = new Uint8Array(size);
      for (let i = 0; i < size; i++) out[i] = Number((BigInt.asUintN(64, (a + BigInt(i)) * 0x2545f4914f6cdd1dn) >> 56n) ^ BigInt(seed & 0xff));
      return out;
    },
    relocate: (a) => a,
    tlsBase: () => 0xffff888000000000n,
  };
}

function context(seed: number): ExprContext {
  const globals = [
    variable('init_task', task, at(0xffffffff82000000n)), variable('current_task', ptr(task), at(0x1000n)),
    variable('__per_cpu_offset', array(T.ulong, 4), at(0xffffffff82100000n)), variable('arr', array(T.int, 300), at(0x5000n)),
    variable('p', ptr(T.int), at(0x6000n)), variable('t', ptr(task), at(0x6008n)), variable('c', color, at(0x6010n)),
    variable('s', array(T.char, 0xffffffff), at(0x7000n)), variable('gone', T.long, { kind: 'unavailable', reason: 'optimized out' }),
    variable('pieces', task, { kind: 'pieces', pieces: [{ location: { kind: 'register', register: 3 }, bitSize: 64 }, { location: at(0x8000n), bitSize: 200 }] }),
  ];
  const debug = fakeDebug({ globals, types: { 'struct task_struct': task, 'struct list_head': listHead, u32: typedef('u32', T.uint), 'enum color': color } });
  return { frame: hostileFrame(seed), scopes: [scope('do_exit', { parameters: [variable('code', T.long, { kind: 'register', register: 5 }, 'parameter')] })], debug, register: () => 1n, symbolAddress: (n) => (n === 'start_kernel' ? 0xffffffff81000000n : undefined), linux: { maxTasks: 200 } };
}

const ATOMS = ['0', '1', '-1', '0x7fffffff', '0xffffffffffffffff', '42u', '3.5', "'a'", '"str"', 'p', 't', 'arr', 'c', 's', 'code', 'gone', 'pieces', '$rip', '$rsp', 'rax', 'current', 'init_task', 'RED', 'nosuch', 'start_kernel'];
const CASTS = ['(char)', '(u32)', '(unsigned long)', '(struct task_struct *)', '(int *)', '(void *)', '(char (*)[100])', '(int (*)(int))', '(enum color)', '(double)', '(_Bool)'];
const BINOPS = ['+', '-', '*', '/', '%', '<<', '>>', '<', '>=', '==', '!=', '&', '|', '^', '&&', '||'];

function generate(r: () => number, depth: number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  if (depth <= 0 || r() < 0.2) return pick(ATOMS);
  const sub = (): string => generate(r, depth - 1);
  switch (Math.floor(r() * 12)) {
    case 0: return `${sub()} ${pick(BINOPS)} ${sub()}`;
    case 1: return `${pick(['-', '!', '~', '*', '&', '+'])}${sub()}`;
    case 2: return `${pick(CASTS)}${sub()}`;
    case 3: return `${sub()}->${pick(['pid', 'comm', 'tasks', 'parent', 'flags', 'big', 'u', 'nosuch'])}`;
    case 4: return `${sub()}.${pick(['next', 'prev', 'pid', 'u', 'tasks'])}`;
    case 5: return `${sub()}[${sub()}]`;
    case 6: return `(${sub()})`;
    case 7: return `${sub()} ? ${sub()} : ${sub()}`;
    case 8: return `sizeof(${pick([sub(), 'struct task_struct', 'int [3][4]', 'char *'])})`;
    case 9: return `${pick(['per_cpu', 'per_cpu_ptr'])}(${sub()}, ${sub()})`;
    case 10: return `container_of(${sub()}, struct task_struct, ${pick(['tasks', 'tasks.next', 'pid', 'nosuch'])})`;
    default: return `$task(${sub()})`;
  }
}

function soup(r: () => number): string {
  const TOKENS = [...ATOMS, ...BINOPS, '(', ')', '[', ']', '.', '->', '?', ':', ',', 'sizeof', 'struct', 'int', 'unsigned', 'const', '*', '$task', 'per_cpu', '=', '++', "'", '"', '\\', '0x', '1e999', '9'.repeat(40)];
  const n = Math.floor(r() * 12);
  return Array.from({ length: n }, () => TOKENS[Math.floor(r() * TOKENS.length)]).join(r() < 0.5 ? ' ' : '');
}

function chars(r: () => number): string {
  const n = Math.floor(r() * 20);
  return Array.from({ length: n }, () => String.fromCharCode(Math.floor(r() * 128))).join('');
}

/** Everything the session would do with a text: never anything but ExprError. */
function exercise(text: string, ctx: ExprContext): void {
  try {
    syntaxProblem(text, ctx);
    completions(text, ctx);
    const v = evaluateExpression(text, ctx);
    formatValue(v, { hex: text.length % 2 === 0, symbolize: () => 'sym' });
    for (const k of children(v, text, { count: 20 })) {
      formatValue(k.value);
      children(k.value, k.evaluateName, { count: 3 }).forEach((g) => formatValue(g.value));
    }
    evaluateCondition(text, ctx);
  } catch (e) {
    if (!(e instanceof ExprError)) {
      assert.fail(`${JSON.stringify(text)} threw ${(e as Error).constructor.name}: ${(e as Error).stack}`);
    }
  }
}

test('random expressions against hostile memory: only ExprError, always ends', () => {
  const r = rng(fuzzSeed(0xc0ffee, 7));
  const rounds = fuzzRounds(1500);
  const started = Date.now();
  for (let i = 0; i < rounds; i++) {
    const ctx = context(1 + (i % 13));
    const kind = i % 3;
    exercise(kind === 0 ? generate(r, 4) : kind === 1 ? soup(r) : chars(r), ctx);
  }
  assert.ok(Date.now() - started < 60_000, 'the fuzz rounds took over a minute');
});

test('hostile inputs the generator rarely makes', () => {
  const ctx = context(3);
  for (const text of [
    '('.repeat(10000), '-'.repeat(10000) + '1', '- '.repeat(3000) + '1', '1' + '+1'.repeat(5000), '(int ' + '*'.repeat(1000) + ')0',
    'sizeof(int' + '[99999]'.repeat(40) + ')', 'sizeof(char[99999999999999999999999])', "'\\", '"\\x', '$task($task(1)->pid)',
    'init_task.tasks.next->next->next->next->next', '*(char (*)[4294967295])p', 's', '((struct task_struct *)0)->big[0x7fffffffffffffff]',
    '(long double)1 / 3', 'pieces', 'pieces.pid', '&pieces.pid', 'gone ? 1 : 2', '1 << 0xffffffffffffffff', '0x' + 'f'.repeat(100),
  ]) exercise(text, ctx);
});
