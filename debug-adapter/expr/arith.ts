/**
 * C's binary operators on values that have already decayed (arrays are
 * pointers here): the usual arithmetic conversions, results wrapped to
 * their type's width, pointer arithmetic scaled by the pointee's size
 * (`void *` and function pointers by bytes, as GNU C does), pointer
 * differences in elements, and comparisons of pointers as addresses.
 */
import type { CType } from '../dwarf/model';
import { BASE, isArithmetic, isFloat, isIntegral, isSigned, sizeOf, strip } from '../variables/ctype';
import { typeName } from '../variables/type-name';
import { floatRvalue, intRvalue, type Value } from '../variables/value';
import type { BinaryOp, Expr } from './ast';
import { ExprError } from './errors';
import { article, type Evaluator } from './evaluate';
import { promote, usualConversion } from './types';

const COMPARISONS = new Set<BinaryOp>(['<', '>', '<=', '>=', '==', '!=']);

export function binaryOp(ev: Evaluator, node: Expr, op: BinaryOp, le: Expr, a: Value, re: Expr, b: Value): Value {
  const frame = ev.ctx.frame;
  const at = strip(a.type);
  const bt = strip(b.type);
  const aPtr = at.kind === 'pointer';
  const bPtr = bt.kind === 'pointer';

  if (aPtr || bPtr) {
    if (COMPARISONS.has(op) && (aPtr || isIntegral(at)) && (bPtr || isIntegral(bt))) {
      const x = BigInt.asUintN(64, ev.int(le, a));
      const y = BigInt.asUintN(64, ev.int(re, b));
      return ev.boolResult(compare(op, x, y));
    }
    if (op === '+' && aPtr && isIntegral(bt)) return offsetPointer(ev, a, le, ev.int(re, b));
    if (op === '+' && bPtr && isIntegral(at)) return offsetPointer(ev, b, re, ev.int(le, a));
    if (op === '-' && aPtr && isIntegral(bt)) return offsetPointer(ev, a, le, -ev.int(re, b));
    if (op === '-' && aPtr && bPtr) {
      const sa = step(at);
      if (sa !== step(bt)) throw new ExprError(`'${ev.text(node)}' subtracts pointers to ${typeName(target(at))} and ${typeName(target(bt))}`);
      const diff = BigInt.asIntN(64, ev.int(le, a) - ev.int(re, b));
      return intRvalue(BASE.long, diff / BigInt(sa), frame);
    }
    throw new ExprError(`'${ev.text(node)}': ${op} does not take ${article(typeName(a.type))} and ${article(typeName(b.type))}`);
  }

  if (!isArithmetic(at) || !isArithmetic(bt)) {
    const [bad, badExpr] = isArithmetic(at) ? [b, re] : [a, le];
    throw new ExprError(`'${ev.text(badExpr)}' is ${article(typeName(bad.type))}, which ${op} does not take`);
  }

  if (op === '<<' || op === '>>') return shift(ev, op, le, a, re, b);

  const common = usualConversion(at, bt);
  if (isFloat(common)) {
    if (['%', '&', '|', '^'].includes(op)) throw new ExprError(`'${ev.text(node)}': ${op} does not take floating-point operands`);
    const x = ev.float(le, a);
    const y = ev.float(re, b);
    if (COMPARISONS.has(op)) return ev.boolResult(compare(op, x, y));
    const r = op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : x / y;
    return floatRvalue(common, r, frame);
  }

  // Both operands converted to the common type: an int -1 compared with an unsigned int is 0xffffffff, as in C.
  const bits = sizeOf(common) * 8;
  const conv = (n: bigint): bigint => (isSigned(common) ? BigInt.asIntN(bits, n) : BigInt.asUintN(bits, n));
  const x = conv(ev.int(le, a));
  const y = conv(ev.int(re, b));
  if (COMPARISONS.has(op)) return ev.boolResult(compare(op, x, y));
  let r: bigint;
  switch (op) {
    case '+': r = x + y; break;
    case '-': r = x - y; break;
    case '*': r = x * y; break;
    case '/': case '%':
      if (y === 0n) throw new ExprError('division by zero');
      r = op === '/' ? x / y : x % y;
      break;
    case '&': r = x & y; break;
    case '|': r = x | y; break;
    case '^': r = x ^ y; break;
    default: throw new ExprError(`unknown operator ${op}`);
  }
  return intRvalue(common, r, frame);
}

/**
 * Shifts in the promoted left operand's type. A count of the width or more
 * (undefined in C) gives what shifting one bit at a time would: 0, or -1
 * for a negative signed value shifted right; never a huge BigInt.
 */
function shift(ev: Evaluator, op: '<<' | '>>', le: Expr, a: Value, re: Expr, b: Value): Value {
  if (!isIntegral(a.type) || !isIntegral(b.type)) throw new ExprError(`'${ev.text(isIntegral(a.type) ? re : le)}' is not an integer, which ${op} needs`);
  const type = promote(a.type);
  const bits = sizeOf(type) * 8;
  const x = ev.int(le, a);
  const n = ev.int(re, b);
  if (n < 0n) throw new ExprError(`the shift count '${ev.text(re)}' is negative`);
  const count = n >= BigInt(bits) ? BigInt(bits) : n;
  const r = op === '<<' ? (count >= BigInt(bits) ? 0n : x << count) : x >> count;
  return intRvalue(type, r, ev.ctx.frame);
}

function target(t: CType): CType {
  return t.kind === 'pointer' ? t.target() : t;
}

/** How far `p + 1` moves: the pointee's size, 1 for void and functions. */
function step(t: CType): number {
  const size = sizeOf(target(t));
  return size > 0 ? size : 1;
}

function offsetPointer(ev: Evaluator, p: Value, pe: Expr, n: bigint): Value {
  const t = strip(p.type);
  const address = ev.int(pe, p) + n * BigInt(step(t));
  return intRvalue(p.type, BigInt.asUintN(sizeOf(t) * 8, address), ev.ctx.frame);
}

/** A C comparison, the same for integers (bigint) and floating values (number). */
function compare<T extends bigint | number>(op: BinaryOp, x: T, y: T): boolean {
  switch (op) {
    case '<': return x < y;
    case '>': return x > y;
    case '<=': return x <= y;
    case '>=': return x >= y;
    case '==': return x === y;
    default: return x !== y;
  }
}

