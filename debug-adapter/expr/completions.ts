/**
 * Completions for the debug console (DAP completions): after `.` or `->`
 * the members of what is before it (typed without reading memory), else
 * the names in scope, then globals and types from DWARF, then registers
 * and the helpers.
 */
import type { CType } from '../dwarf/model';
import { flatMembers, isRecord, strip } from '../variables/ctype';
import type { Expr } from './ast';
import { lookupVariable, typeNameTest, typeOnlyFrame, type ExprContext } from './context';
import { ExprError } from './errors';
import { Evaluator } from './evaluate';
import { parseExpression } from './parser';
import { REGISTER_NAMES } from './registers';

export interface Completion {
  label: string;
  type: 'variable' | 'property' | 'function' | 'keyword';
  /** Where in `text` the word being completed starts, and its length (what the label replaces). */
  start: number;
  length: number;
}

const HELPERS = ['current', 'per_cpu', 'per_cpu_ptr', 'container_of', 'offsetof', 'sizeof'];

/** Completions for the end of `text` (the console line up to the cursor). */
export function completions(text: string, ctx: ExprContext, limit = 100): Completion[] {
  const word = /[A-Za-z_$][A-Za-z0-9_$]*$/.exec(text)?.[0] ?? '';
  const start = text.length - word.length;
  const before = text.slice(0, start);
  const op = /(\.|->)\s*$/.exec(before);
  const out: Completion[] = [];
  const seen = new Set<string>();
  const add = (label: string, type: Completion['type']): void => {
    if (out.length < limit && label.startsWith(word) && !seen.has(label)) {
      seen.add(label);
      out.push({ label, type, start, length: word.length });
    }
  };
  if (op) {
    const objectText = postfixTail(before.slice(0, op.index));
    for (const name of memberNames(objectText, op[1] === '->', ctx)) add(name, 'property');
    return out;
  }
  const scope = ctx.scopes[0];
  if (scope) {
    for (const b of scope.blocks) for (const v of b.locals) add(v.name, 'variable');
    for (const v of scope.parameters) add(v.name, 'variable');
    for (const v of scope.unit.statics()) add(v.name, 'variable');
  }
  if (word.length > 0 && !word.startsWith('$')) for (const n of ctx.debug?.namesStartingWith(word, limit) ?? []) add(n, lookupVariable(ctx, n) ? 'variable' : 'keyword');
  for (const h of HELPERS) add(h, 'function');
  if (word.startsWith('$')) {
    add('$task', 'function');
    add('$streq', 'function');
    for (const r of REGISTER_NAMES) add('$' + r, 'variable');
  }
  return out;
}

/** The members of what `objectText` is (a pointer's pointee after `->`); none when it does not evaluate. */
function memberNames(objectText: string, arrow: boolean, ctx: ExprContext): string[] {
  try {
    const ast = parseExpression(objectText, typeNameTest(ctx));
    let t = strip(typeOf(ast, objectText, ctx));
    if (arrow && t.kind === 'pointer') t = strip(t.target());
    return isRecord(t) && !t.declaration ? flatMembers(t).map((m) => m.name) : [];
  } catch (e) {
    if (e instanceof ExprError) return [];
    throw e;
  }
}

/**
 * The type of what is before the `.`: evaluated for real first (helpers
 * like `$task(1)` need memory), else without reading (an unreadable
 * pointer in the chain still has a type).
 */
function typeOf(ast: Expr, text: string, ctx: ExprContext): CType {
  try {
    return new Evaluator(text, ctx).eval(ast).type;
  } catch (e) {
    if (!(e instanceof ExprError)) throw e;
    return new Evaluator(text, { ...ctx, frame: typeOnlyFrame(ctx.frame) }).eval(ast).type;
  }
}

/** The postfix expression `text` ends with: `a + p->next` ends with `p->next`, `f((struct s *)x)` with `((struct s *)x)`. */
function postfixTail(text: string): string {
  let i = text.length;
  const skipSpace = (): void => { while (i > 0 && /\s/.test(text[i - 1])) i--; };
  for (;;) {
    skipSpace();
    const c = text[i - 1];
    if (c === ')' || c === ']') {
      let depth = 0;
      for (; i > 0; i--) {
        const d = text[i - 1];
        if (d === ')' || d === ']') depth++;
        else if (d === '(' || d === '[') depth--;
        if (depth === 0) { i--; break; }
      }
    } else {
      const id = /[A-Za-z_$][A-Za-z0-9_$]*$/.exec(text.slice(0, i));
      if (!id) break;
      i -= id[0].length;
    }
    skipSpace();
    if (text[i - 1] === '.') { i--; continue; }
    if (text.slice(i - 2, i) === '->') { i -= 2; continue; }
    // `[` after an identifier or `)` continues the chain: `arr[3].x` was read from its end.
    if (c === ']' || c === ')') continue;
    break;
  }
  return text.slice(i).trim();
}
