/**
 * A recursive-descent parser for C expressions with C's precedence. Like a
 * C compiler it must know which names are types to read `(u32)x` as a cast
 * and `(x) - 1` as a subtraction; the caller says (`isTypeName`: DWARF's
 * typedefs, minus names a variable in scope shadows).
 *
 * Nesting is bounded so hostile input (`((((...`) is an ExprError, not a
 * stack overflow.
 */
import type { BinaryOp, Expr, Span, TypeSyntax } from './ast';
import { ExprError } from './errors';
import { tokenize, type Token } from './tokens';

const BINARY: readonly (readonly BinaryOp[])[] = [
  ['||'], ['&&'], ['|'], ['^'], ['&'], ['==', '!='], ['<', '<=', '>', '>='], ['<<', '>>'], ['+', '-'], ['*', '/', '%'],
];

const TYPE_KEYWORDS = new Set(['struct', 'union', 'enum', 'unsigned', 'signed', 'int', 'char', 'short', 'long', 'float', 'double', 'void', '_Bool', 'const', 'volatile', 'restrict']);
const SPECIFIERS = new Set(['unsigned', 'signed', 'int', 'char', 'short', 'long', 'float', 'double', 'void', '_Bool']);
const QUALIFIERS = new Set(['const', 'volatile', 'restrict']);
const MAX_DEPTH = 200;
/** A left-deep `1+1+...` is as deep as it is long when evaluated: long expressions are refused (conditions and watches are short). */
const MAX_TOKENS = 2000;
/** `int ***...` and `int [1][1]...` nest types as deeply. */
const MAX_DECLARATORS = 32;

export function parseExpression(text: string, isTypeName: (name: string) => boolean = () => false): Expr {
  return new Parser(text, isTypeName).parseAll();
}

class Parser {
  private readonly tokens: Token[];
  private pos = 0;
  private depth = 0;

  constructor(private readonly source: string, private readonly isTypeName: (name: string) => boolean) {
    this.tokens = tokenize(source);
    if (this.tokens.length > MAX_TOKENS) throw new ExprError(`the expression is too long (over ${MAX_TOKENS} tokens)`);
  }

  parseAll(): Expr {
    if (this.peek().kind === 'end') throw new ExprError('the expression is empty');
    const e = this.expression();
    const t = this.peek();
    if (t.kind !== 'end') throw new ExprError(`unexpected "${t.text}" in "${this.source.trim()}"`);
    return e;
  }

  // ---- helpers

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.pos + ahead, this.tokens.length - 1)];
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind === 'end') throw new ExprError(`"${this.source.trim()}" ends too early`);
    this.pos++;
    return t;
  }

  private isOp(op: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t.kind === 'op' && t.op === op;
  }

  private accept(op: string): boolean {
    if (!this.isOp(op)) return false;
    this.pos++;
    return true;
  }

  private expect(op: string): Token {
    const t = this.peek();
    if (t.kind === 'op' && t.op === op) return this.next();
    if (t.kind === 'end') throw new ExprError(`expected "${op}" at the end of "${this.source.trim()}"`);
    throw new ExprError(`expected "${op}" before "${t.text}" in "${this.source.trim()}"`);
  }

  private identifier(what: string): Token & { kind: 'id' } {
    const t = this.next();
    if (t.kind !== 'id') throw new ExprError(`expected ${what} before "${t.text}" in "${this.source.trim()}"`);
    return t;
  }

  private start(): number {
    return this.peek().pos;
  }

  private end(): number {
    const prev = this.tokens[this.pos - 1];
    return prev ? prev.pos + prev.text.length : 0;
  }

  private span(start: number): Span {
    return [start, this.end()];
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw new ExprError('the expression nests too deeply');
  }

  // ---- expressions

  private expression(): Expr {
    this.enter();
    try {
      const start = this.start();
      const test = this.binary(0);
      if (!this.accept('?')) return test;
      const then = this.expression();
      this.expect(':');
      const otherwise = this.expression();
      return { k: 'cond', test, then, else: otherwise, span: this.span(start) };
    } finally {
      this.depth--;
    }
  }

  private binary(level: number): Expr {
    if (level >= BINARY.length) return this.unary();
    const start = this.start();
    let left = this.binary(level + 1);
    for (;;) {
      const t = this.peek();
      const op = t.kind === 'op' ? BINARY[level].find((o) => o === t.op) : undefined;
      if (!op) break;
      this.pos++;
      const right = this.binary(level + 1);
      left = { k: 'binary', op, left, right, span: this.span(start) };
    }
    const t = this.peek();
    if (level === 0 && t.kind === 'op' && ['=', '++', '--'].includes(t.op)) {
      throw new ExprError(`"${t.op}" would change the program: expressions here only read (use Set Value to change a variable)`);
    }
    return left;
  }

  private unary(): Expr {
    this.enter();
    try {
      const start = this.start();
      const t = this.peek();
      if (t.kind === 'op' && ['-', '+', '!', '~', '*', '&'].includes(t.op)) {
        this.pos++;
        const operand = this.unary();
        return { k: 'unary', op: t.op as '-', operand, span: this.span(start) };
      }
      if (t.kind === 'id' && t.name === 'sizeof') {
        this.pos++;
        if (this.isOp('(') && this.startsType(1)) {
          this.pos++;
          const type = this.typeName();
          this.expect(')');
          return { k: 'sizeof', of: type, span: this.span(start) };
        }
        return { k: 'sizeof', of: this.unary(), span: this.span(start) };
      }
      if (this.isOp('(') && this.startsType(1)) {
        this.pos++;
        const type = this.typeName();
        this.expect(')');
        const operand = this.unary();
        return { k: 'cast', type, operand, span: this.span(start) };
      }
      return this.postfix();
    } finally {
      this.depth--;
    }
  }

  private postfix(): Expr {
    const start = this.start();
    let e = this.primary();
    for (;;) {
      if (this.accept('[')) {
        const index = this.expression();
        this.expect(']');
        e = { k: 'index', object: e, index, span: this.span(start) };
      } else if (this.isOp('.') || this.isOp('->')) {
        const arrow = this.next().text === '->';
        const member = this.identifier('a member name').name;
        e = { k: 'member', object: e, member, arrow, span: this.span(start) };
      } else if (this.isOp('(')) {
        if (e.k !== 'id') throw new ExprError(`only the debugger's helpers can be called, not "${this.source.slice(e.span[0], e.span[1])}"`);
        this.pos++;
        const args: (Expr | TypeSyntax)[] = [];
        if (!this.accept(')')) {
          do args.push(this.startsType(0) ? this.typeName() : this.expression());
          while (this.accept(','));
          this.expect(')');
        }
        e = { k: 'call', callee: e.name, args, span: this.span(start) };
      } else {
        return e;
      }
    }
  }

  private primary(): Expr {
    const start = this.start();
    const t = this.next();
    switch (t.kind) {
      case 'int': return { k: 'int', value: t.value, unsigned: t.unsigned, long: t.long, decimal: t.decimal, span: this.span(start) };
      case 'float': return { k: 'float', value: t.value, single: t.single, span: this.span(start) };
      case 'char': return { k: 'char', value: t.value, span: this.span(start) };
      case 'string': {
        // Adjacent literals concatenate, as in C.
        const parts = [t.bytes];
        while (this.peek().kind === 'string') parts.push((this.next() as Token & { kind: 'string' }).bytes);
        return { k: 'string', bytes: Uint8Array.from(parts.flatMap((p) => [...p])), span: this.span(start) };
      }
      case 'id':
        if (TYPE_KEYWORDS.has(t.name)) throw new ExprError(`"${t.name}" starts a type name, which needs parentheses here`);
        return { k: 'id', name: t.name, span: this.span(start) };
      case 'op':
        if (t.op === '(') {
          const e = this.expression();
          this.expect(')');
          return { ...e, span: this.span(start) };
        }
    }
    throw new ExprError(`unexpected "${t.text}" in "${this.source.trim()}"`);
  }

  // ---- type names

  private startsType(ahead: number): boolean {
    const t = this.peek(ahead);
    return t.kind === 'id' && (TYPE_KEYWORDS.has(t.name) || (!t.name.startsWith('$') && this.isTypeName(t.name)));
  }

  /** specifier-qualifier-list abstract-declarator? */
  private typeName(): TypeSyntax {
    this.enter();
    try {
      const start = this.start();
      const words: string[] = [];
      const quals: string[] = [];
      for (;;) {
        const t = this.peek();
        if (t.kind !== 'id') break;
        if (QUALIFIERS.has(t.name)) { this.pos++; quals.push(t.name); continue; }
        if (t.name === 'struct' || t.name === 'union' || t.name === 'enum') {
          if (words.length) break;
          this.pos++;
          words.push(t.name, this.identifier(`a ${t.name} name`).name);
          continue;
        }
        if (SPECIFIERS.has(t.name) && (words.length === 0 || SPECIFIERS.has(words[0]))) { this.pos++; words.push(t.name); continue; }
        if (words.length === 0 && this.isTypeName(t.name)) { this.pos++; words.push(t.name); continue; }
        break;
      }
      if (words.length === 0) throw new ExprError(`expected a type name in "${this.source.trim()}"`);
      let type: TypeSyntax = { k: 'named', words, span: this.span(start) };
      for (const q of quals) type = { k: 'qualified', qualifier: q as 'const', of: type, span: type.span };
      return this.abstractDeclarator(type, start);
    } finally {
      this.depth--;
    }
  }

  /** `*`s (with qualifiers), then `[n]`s and `(params)`s; a parenthesized inner declarator (`(*)(int)`) binds tighter. */
  private abstractDeclarator(base: TypeSyntax, start: number): TypeSyntax {
    this.enter();
    try {
      let t = base;
      let stars = 0;
      while (this.accept('*')) {
        if (++stars > MAX_DECLARATORS) throw new ExprError(`the type has more than ${MAX_DECLARATORS} '*'s`);
        t = { k: 'pointer', to: t, span: this.span(start) };
        for (let q = this.peek(); q.kind === 'id' && QUALIFIERS.has(q.name); q = this.peek()) {
          this.pos++;
          t = { k: 'qualified', qualifier: q.name as 'const', of: t, span: this.span(start) };
        }
      }
      if (this.isOp('(') && (this.isOp('*', 1) || this.isOp('(', 1) || this.isOp('[', 1))) {
        this.pos++;
        const hole: TypeSyntax = { k: 'named', words: [], span: [0, 0] };
        const inner = this.abstractDeclarator(hole, start);
        this.expect(')');
        return substitute(inner, hole, this.suffixes(t, start));
      }
      return this.suffixes(t, start);
    } finally {
      this.depth--;
    }
  }

  private suffixes(base: TypeSyntax, start: number): TypeSyntax {
    const wraps: ((t: TypeSyntax) => TypeSyntax)[] = [];
    for (;;) {
      if (wraps.length >= MAX_DECLARATORS) throw new ExprError(`the type has more than ${MAX_DECLARATORS} dimensions or parameter lists`);
      if (this.accept('[')) {
        let count: number | undefined;
        const c = this.peek();
        if (c.kind === 'int') {
          this.pos++;
          if (c.value > 0xffff_ffffn) throw new ExprError(`an array of ${c.value} elements is too large`);
          count = Number(c.value);
        }
        this.expect(']');
        wraps.push((t) => ({ k: 'array', of: t, count, span: this.span(start) }));
      } else if (this.isOp('(') && !this.startsExpressionAfterParen()) {
        this.pos++;
        const params: TypeSyntax[] = [];
        let variadic = false;
        if (!this.accept(')')) {
          do {
            if (this.accept('.')) { this.expect('.'); this.expect('.'); variadic = true; break; }
            params.push(this.typeName());
            if (this.peek().kind === 'id') this.pos++; // a parameter's name, ignored
          } while (this.accept(','));
          this.expect(')');
        }
        const ps = params.length === 1 && params[0].k === 'named' && params[0].words.join(' ') === 'void' ? [] : params;
        wraps.push((t) => ({ k: 'function', returns: t, params: ps, variadic, span: this.span(start) }));
      } else {
        break;
      }
    }
    // `int [3][4]` is an array of 3 arrays of 4: the last suffix is innermost.
    let t = base;
    for (let i = wraps.length - 1; i >= 0; i--) t = wraps[i](t);
    return t;
  }

  /** After a type, `(` opens a parameter list only when a type or `)` follows it. */
  private startsExpressionAfterParen(): boolean {
    return !(this.isOp(')', 1) || this.startsType(1) || this.isOp('.', 1));
  }
}

function substitute(t: TypeSyntax, hole: TypeSyntax, by: TypeSyntax): TypeSyntax {
  if (t === hole) return by;
  switch (t.k) {
    case 'named': return t;
    case 'pointer': return { ...t, to: substitute(t.to, hole, by) };
    case 'qualified': return { ...t, of: substitute(t.of, hole, by) };
    case 'array': return { ...t, of: substitute(t.of, hole, by) };
    case 'function': return { ...t, returns: substitute(t.returns, hole, by) };
  }
}

/** The source text of a node, for messages. */
export function sourceOf(source: string, node: { span: Span }): string {
  return source.slice(node.span[0], node.span[1]).trim();
}
