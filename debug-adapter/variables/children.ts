/**
 * A value's children, read only when the user expands it: a struct's
 * members, an array's elements a page at a time, what a pointer points at.
 *
 * Choices, as VS Code's C/C++ extension makes them:
 * - Anonymous struct/union members are flattened: their members appear as
 *   the parent's own (`s.f` for `f` inside `union { int f; }`), since C
 *   names them that way and the evaluateName is then plain C. gdb shows
 *   `<anonymous union>` as a child instead; one click less here.
 * - A pointer to a struct/union expands to the pointee's members, with
 *   evaluateNames `p->m`; a pointer to anything else expands to `*p`.
 *   NULL, `void *` and function pointers do not expand.
 *
 * Every child has an evaluateName that the expression evaluator reads back
 * as the same value (tested), parenthesized where C needs it.
 */
import type { CType } from '../dwarf/model';
import { arrayCount, arrayElement, flatMembers, isRecord, strip } from './ctype';
import { loadConfig, type LoadConfig } from './load-config';
import { typeName } from './type-name';
import { addressOf, elementValue, intValue, memberValue, memoryValue, ValueError, type Value } from './value';

export interface Child {
  /** What the Variables view shows: `next`, `[42]`, `*p`. */
  name: string;
  value: Value;
  /** The C expression for this child, when the parent had one. */
  evaluateName?: string;
  /** `struct node *`, `int [300]`, `unsigned int:3`. */
  typeName: string;
  /** Where it lives, for DAP memoryReference (none in registers, computed, bitfields). */
  address?: bigint;
}

/** How many children a value has: named (members, `*p`) and indexed (array elements). Both 0: a leaf. */
export function childCount(v: Value): { named: number; indexed: number } {
  const t = strip(v.type);
  if (isRecord(t)) return { named: t.declaration ? 0 : flatMembers(t).length, indexed: 0 };
  if (t.kind === 'array') return { named: 0, indexed: arrayCount(t) ?? 0 };
  if (t.kind === 'pointer') {
    const pointee = pointeeOf(v);
    if (!pointee) return { named: 0, indexed: 0 };
    const pt = strip(pointee.type);
    if (isRecord(pt)) return { named: pt.declaration ? 0 : flatMembers(pt).length, indexed: 0 };
    return { named: 1, indexed: 0 };
  }
  return { named: 0, indexed: 0 };
}

export interface ChildrenOptions {
  /** For arrays: the first element and how many (default: from 0, `limits.maxArrayValues`). */
  start?: number;
  count?: number;
  limits?: Partial<LoadConfig>;
}

/** The children of `v`, whose own C expression is `expr` (undefined: children get no evaluateName). */
export function children(v: Value, expr: string | undefined, options: ChildrenOptions = {}): Child[] {
  const limits = loadConfig(options.limits);
  const t = strip(v.type);
  if (isRecord(t)) return members(v, expr === undefined ? undefined : (m) => memberExpr(expr, m));
  if (t.kind === 'array') {
    const count = arrayCount(t) ?? 0;
    const element = arrayElement(t);
    const start = Math.max(0, Math.min(options.start ?? 0, count));
    const end = Math.min(count, start + Math.max(0, options.count ?? limits.maxArrayValues));
    const out: Child[] = [];
    for (let i = start; i < end; i++) {
      out.push(child(`[${i}]`, elementValue(v, element, i), expr === undefined ? undefined : indexExpr(expr, i)));
    }
    return out;
  }
  if (t.kind === 'pointer') {
    const pointee = pointeeOf(v);
    if (!pointee) return [];
    if (isRecord(strip(pointee.type))) return members(pointee, expr === undefined ? undefined : (m) => arrowExpr(expr, m));
    const e = expr === undefined ? undefined : derefExpr(expr);
    return [child(e ?? '*', pointee, e)];
  }
  return [];
}

function members(v: Value, exprOf: ((member: string) => string) | undefined): Child[] {
  const t = strip(v.type);
  if (!isRecord(t) || t.declaration) return [];
  return flatMembers(t).map((m) => child(m.name, memberValue(v, m), exprOf?.(m.name)));
}

function child(name: string, value: Value, evaluateName: string | undefined): Child {
  const c: Child = { name, value, typeName: typeName(value.type, value.bits?.size) };
  if (evaluateName !== undefined) c.evaluateName = evaluateName;
  const address = addressOf(value);
  if (address !== undefined) c.address = address;
  return c;
}

/** What a pointer value points at, or undefined when it expands to nothing (NULL, unreadable, void, function). */
function pointeeOf(v: Value): Value | undefined {
  const t = strip(v.type);
  if (t.kind !== 'pointer') return undefined;
  const target: CType = t.target();
  const tk = strip(target).kind;
  if (tk === 'void' || tk === 'function') return undefined;
  let address: bigint;
  try {
    address = BigInt.asUintN(t.size * 8, intValue(v));
  } catch (e) {
    if (e instanceof ValueError) return undefined;
    throw e;
  }
  return address === 0n ? undefined : memoryValue(target, address, v.frame);
}

// ---------------------------------------------------------------- evaluateNames

export function memberExpr(parent: string, member: string): string {
  return `${postfixOperand(parent)}.${member}`;
}

export function arrowExpr(parent: string, member: string): string {
  return `${postfixOperand(parent)}->${member}`;
}

export function indexExpr(parent: string, index: number): string {
  return `${postfixOperand(parent)}[${index}]`;
}

/** `*p`, `**pp`, `*(p + 1)`: a unary operand may itself be a `*` chain. */
export function derefExpr(parent: string): string {
  const p = parent.trim();
  return isPostfix(p.replace(/^\*+\s*/, '')) ? `*${p}` : `*(${p})`;
}

function postfixOperand(parent: string): string {
  const p = parent.trim();
  return isPostfix(p) ? p : `(${p})`;
}

/**
 * Whether `e` is a C postfix expression (an identifier or a parenthesized
 * expression, then any `.m`, `->m`, `[i]`, `(args)`), which `.`, `->` and
 * `[]` can follow without parentheses.
 */
export function isPostfix(e: string): boolean {
  let i = 0;
  const n = e.length;
  const skipSpace = (): void => { while (i < n && /\s/.test(e[i])) i++; };
  const ident = (): boolean => {
    const m = /^\$?[A-Za-z_][A-Za-z0-9_]*|^\$[A-Za-z0-9_]+/.exec(e.slice(i));
    if (!m) return false;
    i += m[0].length;
    return true;
  };
  /** From an opening bracket to just past its match, stepping over quoted literals. */
  const balanced = (): boolean => {
    const stack: string[] = [];
    for (; i < n; i++) {
      const c = e[i];
      if (c === '"' || c === "'") {
        for (i++; i < n && e[i] !== c; i++) if (e[i] === '\\') i++;
        if (i >= n) return false;
      } else if (c === '(' || c === '[') stack.push(c === '(' ? ')' : ']');
      else if (c === ')' || c === ']') {
        if (stack.pop() !== c) return false;
        if (stack.length === 0) { i++; return true; }
      }
    }
    return false;
  };
  skipSpace();
  if (e[i] === '(') {
    if (!balanced()) return false;
  } else if (!ident()) {
    return false;
  }
  for (;;) {
    skipSpace();
    if (i >= n) return true;
    if (e[i] === '.' && e[i + 1] !== '.') { i++; skipSpace(); if (!ident()) return false; continue; }
    if (e.startsWith('->', i)) { i += 2; skipSpace(); if (!ident()) return false; continue; }
    if (e[i] === '[' || e[i] === '(') { if (!balanced()) return false; continue; }
    return false;
  }
}
