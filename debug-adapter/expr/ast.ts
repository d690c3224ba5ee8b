/**
 * The parsed expression. Every node keeps its span in the source text, so
 * an error can quote the operand it is about ("'p->next' is not a
 * pointer") exactly as the user wrote it.
 */

export type Span = readonly [start: number, end: number];

export type Expr =
  | { k: 'int'; value: bigint; unsigned: boolean; long: boolean; decimal: boolean; span: Span }
  | { k: 'float'; value: number; single: boolean; span: Span }
  | { k: 'char'; value: number; span: Span }
  | { k: 'string'; bytes: Uint8Array; span: Span }
  | { k: 'id'; name: string; span: Span }
  | { k: 'unary'; op: '-' | '+' | '!' | '~' | '*' | '&'; operand: Expr; span: Span }
  | { k: 'binary'; op: BinaryOp; left: Expr; right: Expr; span: Span }
  | { k: 'cond'; test: Expr; then: Expr; else: Expr; span: Span }
  | { k: 'cast'; type: TypeSyntax; operand: Expr; span: Span }
  | { k: 'sizeof'; of: Expr | TypeSyntax; span: Span }
  | { k: 'member'; object: Expr; member: string; arrow: boolean; span: Span }
  | { k: 'index'; object: Expr; index: Expr; span: Span }
  /** Only the debugger's helpers can be called (`per_cpu`, `container_of`, `$task`); an argument may be a type. */
  | { k: 'call'; callee: string; args: readonly (Expr | TypeSyntax)[]; span: Span };

export type BinaryOp = '*' | '/' | '%' | '+' | '-' | '<<' | '>>' | '<' | '>' | '<=' | '>=' | '==' | '!=' | '&' | '^' | '|' | '&&' | '||';

/** A type name as written: `unsigned long`, `struct task_struct *`, `int (*)(int, char *)`. */
export type TypeSyntax =
  | { k: 'named'; words: readonly string[]; span: Span }
  | { k: 'pointer'; to: TypeSyntax; span: Span }
  | { k: 'qualified'; qualifier: 'const' | 'volatile' | 'restrict'; of: TypeSyntax; span: Span }
  | { k: 'array'; of: TypeSyntax; count?: number; span: Span }
  | { k: 'function'; returns: TypeSyntax; params: readonly TypeSyntax[]; variadic: boolean; span: Span };

export function isTypeSyntax(x: Expr | TypeSyntax): x is TypeSyntax {
  return x.k === 'named' || x.k === 'pointer' || x.k === 'qualified' || x.k === 'array' || x.k === 'function';
}
