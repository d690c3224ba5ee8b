/**
 * The register/symbol expression language breakpoint conditions, hovers and
 * the debug console have used since before DWARF variables: registers (rax,
 * eax, ax, al, rip, ...), symbols (their address), numbers (42, 0x2a),
 * memory through a typed pointer (`*(u32*)0x1000`, `*(uint8_t*)(rsp+8)`),
 * C operators with C precedence. Values are unsigned 64-bit.
 *
 * Now a thin layer over the C evaluator (expr/) with no DWARF: the same
 * syntax and results, and C's types underneath (so `~0 >> 60` is an int
 * shift, as C has it; write `~0UL >> 60` for the 64-bit one).
 */
import type { FrameContext } from './dwarf/model';
import { evaluateExpression, ExprError, syntaxProblem as cSyntaxProblem, unsigned64, type ExprContext } from './expr';
import { REGISTER_NAMES } from './expr/registers';

export interface EvalContext {
  /** A register's value, undefined when there is no such register. */
  register(name: string): bigint | undefined;
  /** A symbol's address. */
  symbol(name: string): bigint | undefined;
  /** `size` bytes of guest (virtual) memory, undefined when any is unreadable. */
  read(address: bigint, size: number): Uint8Array | undefined;
}

/** The C evaluator's error: `instanceof ExpressionError` holds for everything it throws. */
export { ExprError as ExpressionError };

/** An ExprContext with no DWARF: registers by name, symbols as addresses. */
export function legacyContext(ctx: EvalContext): ExprContext {
  const frame: FrameContext = {
    pc: ctx.register('rip') ?? 0n,
    innermost: true,
    addressSize: 8,
    // DWARF numbers 0-16 are the general registers in REGISTER_NAMES' order.
    register: (n) => (n <= 16 ? ctx.register(REGISTER_NAMES[n]) : undefined),
    cfa: () => undefined,
    readMemory: (address, size) => ctx.read(address, size),
    relocate: (a) => a,
  };
  return { frame, scopes: [], register: (name) => ctx.register(name), symbolAddress: (name) => ctx.symbol(name) };
}

/** Evaluates `text`; throws ExpressionError with one sentence. */
export function evaluate(text: string, ctx: EvalContext): bigint {
  return unsigned64(evaluateExpression(text, legacyContext(ctx)), text.trim());
}

/** Checks the syntax only (when a breakpoint is set): undefined when fine, else the problem. */
export function syntaxProblem(text: string): string | undefined {
  return cSyntaxProblem(text);
}

/**
 * A hit condition as VS Code users write them: "5" (stop on the 5th hit
 * and after), ">= 5", "> 5", "== 5", "% 3" (every 3rd). Undefined = invalid.
 */
export function hitConditionMatcher(text: string): ((hits: number) => boolean) | undefined {
  const m = /^\s*(==|=|>=|>|<=|<|%)?\s*(\d+)\s*$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[2]);
  switch (m[1]) {
    case undefined: case '>=': return (h) => h >= n;
    case '==': case '=': return (h) => h === n;
    case '>': return (h) => h > n;
    case '<': return (h) => h < n;
    case '<=': return (h) => h <= n;
    case '%': return n === 0 ? undefined : (h) => h % n === 0;
  }
  return undefined;
}
