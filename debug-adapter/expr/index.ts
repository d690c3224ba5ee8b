/**
 * The C expression language's entry points for the session: evaluate (the
 * debug console, hovers, watches), conditions (breakpoints), set (Set Value
 * / setExpression), and completions. Only ExprError leaves here.
 */
import type { CType } from '../dwarf/model';
import { isFloat, isScalar, sizeOf, strip } from '../variables/ctype';
import { typeName } from '../variables/type-name';
import { floatValue, intValue, readBytes, ValueError, type Value } from '../variables/value';
import { assign } from '../variables/write';
import { typeNameTest, type ExprContext } from './context';
import { ExprError } from './errors';
import { Evaluator, evaluateText } from './evaluate';
import { parseExpression } from './parser';

export { ExprError } from './errors';
export type { ExprContext, LinuxConfig } from './context';
export { completions, type Completion } from './completions';

/** Evaluates `text` in `ctx`; throws ExprError with one sentence. `hint`: the type the result is for (lets an enum's names be used). */
export function evaluateExpression(text: string, ctx: ExprContext, hint?: CType): Value {
  return wrapped(() => probed(evaluateText(text, ctx, hint)));
}

/**
 * The result is read once, as gdb fetches what it prints: `*(long *)0x1000`
 * on unmapped memory is an error, not a value showing `<cannot read...>`.
 * A scalar is read whole; an aggregate (read lazily by its children) by its
 * first byte. Optimized-out results stay values: they show `<optimized out>`.
 */
function probed(v: Value): Value {
  try {
    if (isScalar(v.type)) {
      if (isFloat(v.type)) floatValue(v);
      else intValue(v);
    } else if (v.location.kind === 'memory' && sizeOf(v.type) > 0) {
      readBytes(v, 1);
    }
  } catch (e) {
    if (e instanceof ValueError && e.unavailable) return v;
    throw e;
  }
  return v;
}

/** A breakpoint condition: true when the value is non-zero. */
export function evaluateCondition(text: string, ctx: ExprContext): boolean {
  return wrapped(() => {
    const ast = parseExpression(text, typeNameTest(ctx));
    const ev = new Evaluator(text, ctx);
    return ev.truth(ast, ev.eval(ast));
  });
}

/** The value as the old register language had it: an unsigned 64-bit integer (floats truncated). */
export function unsigned64(v: Value, text: string): bigint {
  return wrapped(() => {
    const t = strip(v.type);
    if (t.kind === 'array' && v.location.kind === 'memory') return v.location.address;
    if (!isScalar(t)) throw new ExprError(`'${text}' is ${typeName(v.type)}, not a number`);
    return BigInt.asUintN(64, isFloat(t) ? BigInt(Math.trunc(floatValue(v))) : intValue(v));
  });
}

/** Whether `text` parses here (when a breakpoint's condition is set): undefined, or the problem. */
export function syntaxProblem(text: string, ctx?: ExprContext): string | undefined {
  try {
    parseExpression(text, ctx ? typeNameTest(ctx) : (n) => ['u8', 'u16', 'u32', 'u64', 'uint8_t', 'uint16_t', 'uint32_t', 'uint64_t', 'byte', 'word', 'dword', 'qword'].includes(n));
    return undefined;
  } catch (e) {
    if (e instanceof ExprError) return e.message;
    throw e;
  }
}

/**
 * `target = text` (Set Value, setExpression): `text` is evaluated with the
 * target's type as a hint, so an enum's names can be used. Returns the
 * target, to be shown again.
 */
export function assignExpression(target: Value, targetText: string, text: string, ctx: ExprContext): Value {
  return wrapped(() => {
    const source = evaluateText(text, ctx, target.type);
    assign(target, source, `'${targetText}'`);
    return target;
  });
}

/** setExpression: evaluates `targetText` to an lvalue and stores `text` in it. */
export function setExpression(targetText: string, text: string, ctx: ExprContext): Value {
  return wrapped(() => assignExpression(evaluateText(targetText, ctx), targetText, text, ctx));
}

/** A ValueError from a reading the evaluator did not guard (assignment) becomes an ExprError: the session always gets one kind. */
function wrapped<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ExprError) throw e;
    if (e instanceof ValueError) throw new ExprError(e.message);
    throw e;
  }
}
