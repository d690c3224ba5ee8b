/**
 * A small, safe expression language for breakpoint conditions, hovers and
 * the debug console: registers (rax, eax, ax, al, rip, ...), symbols
 * (their address), numbers (42, 0x2a), memory through a typed pointer
 * (`*(u32*)0x1000`, `*(uint8_t*)(rsp+8)`), C operators with C precedence.
 * Values are unsigned 64-bit. A tokenizer and a recursive-descent parser:
 * nothing is ever handed to eval().
 */

export interface EvalContext {
  /** A register's value, undefined when there is no such register. */
  register(name: string): bigint | undefined;
  /** A symbol's address. */
  symbol(name: string): bigint | undefined;
  /** `size` bytes of guest (virtual) memory, undefined when any is unreadable. */
  read(address: bigint, size: number): Uint8Array | undefined;
}

export class ExpressionError extends Error {}

const MASK = (1n << 64n) - 1n;
const TYPE_SIZES: Record<string, number> = {
  u8: 1, u16: 2, u32: 4, u64: 8, uint8_t: 1, uint16_t: 2, uint32_t: 4, uint64_t: 8,
  char: 1, short: 2, int: 4, long: 8, byte: 1, word: 2, dword: 4, qword: 8,
};

type Token = { kind: 'num'; value: bigint } | { kind: 'id'; text: string } | { kind: 'op'; text: string };

const OPS = ['||', '&&', '==', '!=', '<=', '>=', '<<', '>>', '+', '-', '*', '/', '%', '&', '|', '^', '~', '!', '<', '>', '(', ')'];

export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) { i++; continue; }
    const num = /^(0x[0-9a-f_]+|0b[01_]+|[0-9][0-9_]*)/i.exec(text.slice(i));
    if (num) {
      const t = num[1].replace(/_/g, '');
      out.push({ kind: 'num', value: BigInt(t) & MASK });
      i += num[1].length;
      if (/[a-z_$]/i.test(text[i] ?? '')) throw new ExpressionError(`"${text.slice(0, i + 1)}…": a number cannot run into a name`);
      continue;
    }
    const id = /^[A-Za-z_.$][A-Za-z0-9_.$]*/.exec(text.slice(i));
    if (id) { out.push({ kind: 'id', text: id[0] }); i += id[0].length; continue; }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (!op) throw new ExpressionError(`unexpected "${c}" at position ${i + 1} of "${text}"`);
    out.push({ kind: 'op', text: op });
    i += op.length;
  }
  return out;
}

const BINARY: { ops: string[] }[] = [
  { ops: ['||'] }, { ops: ['&&'] }, { ops: ['|'] }, { ops: ['^'] }, { ops: ['&'] },
  { ops: ['==', '!='] }, { ops: ['<', '<=', '>', '>='] }, { ops: ['<<', '>>'] }, { ops: ['+', '-'] }, { ops: ['*', '/', '%'] },
];

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[], private readonly ctx: EvalContext, private readonly source: string) {}

  parse(): bigint {
    if (this.tokens.length === 0) throw new ExpressionError('the expression is empty');
    const v = this.binary(0);
    if (this.pos < this.tokens.length) throw new ExpressionError(`unexpected ${this.describe(this.tokens[this.pos])} in "${this.source}"`);
    return v;
  }

  private describe(t: Token): string {
    return t.kind === 'num' ? `number 0x${t.value.toString(16)}` : `"${t.text}"`;
  }

  private peekOp(...ops: string[]): string | undefined {
    const t = this.tokens[this.pos];
    return t && t.kind === 'op' && ops.includes(t.text) ? t.text : undefined;
  }

  private expect(op: string): void {
    if (!this.peekOp(op)) throw new ExpressionError(`expected "${op}" in "${this.source}"`);
    this.pos++;
  }

  private binary(level: number): bigint {
    if (level >= BINARY.length) return this.unary();
    let left = this.binary(level + 1);
    for (;;) {
      const op = this.peekOp(...BINARY[level].ops);
      if (!op) return left;
      this.pos++;
      const right = this.binary(level + 1);
      left = apply(op, left, right);
    }
  }

  /** `(type*)` right after a `*`: the size of the pointed-to type. */
  private pointerCast(): number | undefined {
    const [open, type, star, close] = this.tokens.slice(this.pos, this.pos + 4);
    if (open?.kind === 'op' && open.text === '(' && type?.kind === 'id' && type.text in TYPE_SIZES
      && star?.kind === 'op' && star.text === '*' && close?.kind === 'op' && close.text === ')') {
      this.pos += 4;
      return TYPE_SIZES[type.text];
    }
    return undefined;
  }

  /** `(type)` truncation cast. */
  private valueCast(): number | undefined {
    const [open, type, close] = this.tokens.slice(this.pos, this.pos + 3);
    if (open?.kind === 'op' && open.text === '(' && type?.kind === 'id' && type.text in TYPE_SIZES && close?.kind === 'op' && close.text === ')') {
      this.pos += 3;
      return TYPE_SIZES[type.text];
    }
    return undefined;
  }

  private unary(): bigint {
    const op = this.peekOp('-', '~', '!', '*', '+');
    if (op) {
      this.pos++;
      if (op === '*') {
        const size = this.pointerCast() ?? 8;
        const addr = this.unary();
        return this.deref(addr, size);
      }
      const v = this.unary();
      if (op === '-') return (-v) & MASK;
      if (op === '~') return ~v & MASK;
      if (op === '!') return v === 0n ? 1n : 0n;
      return v;
    }
    const size = this.valueCast();
    if (size !== undefined) return this.unary() & ((1n << BigInt(size * 8)) - 1n);
    return this.primary();
  }

  private deref(address: bigint, size: number): bigint {
    const bytes = this.ctx.read(address, size);
    if (!bytes || bytes.length < size) throw new ExpressionError(`cannot read ${size} byte${size === 1 ? '' : 's'} at 0x${address.toString(16)}`);
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
    return v;
  }

  private primary(): bigint {
    const t = this.tokens[this.pos++];
    if (!t) throw new ExpressionError(`"${this.source}" ends too early`);
    if (t.kind === 'num') return t.value;
    if (t.kind === 'id') {
      const name = t.text.startsWith('$') ? t.text.slice(1) : t.text;
      const reg = this.ctx.register(name.toLowerCase());
      if (reg !== undefined) return reg & MASK;
      const sym = this.ctx.symbol(t.text);
      if (sym !== undefined) return sym & MASK;
      throw new ExpressionError(`"${t.text}" is neither a register nor a symbol`);
    }
    if (t.text === '(') {
      const v = this.binary(0);
      this.expect(')');
      return v;
    }
    throw new ExpressionError(`unexpected "${t.text}" in "${this.source}"`);
  }
}

function apply(op: string, a: bigint, b: bigint): bigint {
  switch (op) {
    case '||': return a !== 0n || b !== 0n ? 1n : 0n;
    case '&&': return a !== 0n && b !== 0n ? 1n : 0n;
    case '|': return a | b;
    case '^': return a ^ b;
    case '&': return a & b;
    case '==': return a === b ? 1n : 0n;
    case '!=': return a !== b ? 1n : 0n;
    case '<': return a < b ? 1n : 0n;
    case '<=': return a <= b ? 1n : 0n;
    case '>': return a > b ? 1n : 0n;
    case '>=': return a >= b ? 1n : 0n;
    case '<<': return b >= 64n ? 0n : (a << b) & MASK;
    case '>>': return b >= 64n ? 0n : a >> b;
    case '+': return (a + b) & MASK;
    case '-': return (a - b) & MASK;
    case '*': return (a * b) & MASK;
    case '/': if (b === 0n) throw new ExpressionError('division by zero'); return a / b;
    case '%': if (b === 0n) throw new ExpressionError('division by zero'); return a % b;
  }
  throw new ExpressionError(`unknown operator ${op}`);
}

/** Evaluates `text`; throws ExpressionError with one sentence. */
export function evaluate(text: string, ctx: EvalContext): bigint {
  return new Parser(tokenize(text), ctx, text.trim()).parse();
}

/** Checks the syntax only (when a breakpoint is set): undefined when fine, else the problem. */
export function syntaxProblem(text: string): string | undefined {
  const ctx: EvalContext = { register: () => 0n, symbol: () => 0n, read: (_a, size) => new Uint8Array(size) };
  try {
    evaluate(text, ctx);
    return undefined;
  } catch (e) {
    return e instanceof ExpressionError && !/division by zero/.test(e.message) ? e.message : undefined;
  }
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
