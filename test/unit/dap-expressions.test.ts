import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, ExpressionError, hitConditionMatcher, syntaxProblem, type EvalContext } from '../../debug-adapter/expressions';

const mem = new Map<bigint, number>([[0x1000n, 0x78], [0x1001n, 0x56], [0x1002n, 0x34], [0x1003n, 0x12]]);
const ctx: EvalContext = {
  register: (n) => ({ rax: 5n, rbx: 0xffff_ffff_0000_0003n, rsp: 0x1000n } as Record<string, bigint>)[n] ?? (n === 'eax' ? 5n : undefined),
  symbol: (n) => (n === 'result_value' ? 0x1000n : undefined),
  read: (a, size) => {
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      const b = mem.get(a + BigInt(i));
      if (b === undefined) return undefined;
      out[i] = b;
    }
    return out;
  },
};

test('registers, numbers and comparisons', () => {
  assert.equal(evaluate('rax == 5', ctx), 1n);
  assert.equal(evaluate('$rax != 5', ctx), 0n);
  assert.equal(evaluate('RAX + 0x10', ctx), 0x15n);
  assert.equal(evaluate('(u32)rbx', ctx), 3n);
  assert.equal(evaluate('rax > 2 && rax < 10 || 0', ctx), 1n);
  assert.equal(evaluate('1 + 2 * 3', ctx), 7n);
  assert.equal(evaluate('(1 + 2) * 3', ctx), 9n);
  assert.equal(evaluate('-1', ctx), (1n << 64n) - 1n);
  // C's types since the C evaluator took over: ~0 is an int (-1), so the 64-bit shift needs its UL.
  assert.equal(evaluate('~0UL >> 60', ctx), 0xfn);
  assert.equal(evaluate('~0 >> 60', ctx), (1n << 64n) - 1n);
  assert.equal(evaluate('!rax', ctx), 0n);
});

test('memory through typed pointers; symbols are addresses', () => {
  assert.equal(evaluate('*(u32*)0x1000', ctx), 0x12345678n);
  assert.equal(evaluate('*(u32*)0x1000 != 0', ctx), 1n);
  assert.equal(evaluate('*(uint16_t*)(rsp + 2)', ctx), 0x1234n);
  assert.equal(evaluate('*(u8*)result_value', ctx), 0x78n);
  assert.throws(() => evaluate('*(u32*)0x2000', ctx), /cannot read 4 bytes at 0x2000/);
});

test('mistakes are one sentence, never eval()', () => {
  assert.throws(() => evaluate('nosuch == 1', ctx), (e: Error) => e instanceof ExpressionError && /neither a register nor a symbol/.test(e.message));
  assert.throws(() => evaluate('rax ==', ctx), /ends too early/);
  assert.throws(() => evaluate('process.exit(1)', ctx), ExpressionError);
  assert.throws(() => evaluate('rax; 1', ctx), /unexpected ";"/);
  assert.throws(() => evaluate('1 / 0', ctx), /division by zero/);
  assert.throws(() => evaluate('', ctx), /empty/);
  assert.equal(syntaxProblem('rax == 5'), undefined);
  assert.match(syntaxProblem('rax == (5') ?? '', /expected "\)"/);
});

test('hit conditions', () => {
  assert.equal(hitConditionMatcher('3')!(2), false);
  assert.equal(hitConditionMatcher('3')!(3), true);
  assert.equal(hitConditionMatcher('== 3')!(4), false);
  assert.equal(hitConditionMatcher('% 2')!(4), true);
  assert.equal(hitConditionMatcher('> 1')!(1), false);
  assert.equal(hitConditionMatcher('abc'), undefined);
});
