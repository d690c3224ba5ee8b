/**
 * Evaluates a parsed expression to a Value, typing it as C does on the way
 * (one pass, as gdb does: a debugger's expressions are short). Lvalues keep
 * their location, so `&x`, Set Value and data breakpoints work on the
 * result; computed results carry their bytes.
 *
 * Memory is read only when an operator needs a value (`p->next` reads `p`,
 * not `*p`), and `sizeof` reads nothing, as in C.
 */
import type { CType, EnumType } from '../dwarf/model';
import { arrayCount, arrayElement, BASE, findMember, isArithmetic, isFloat, isIntegral, isRecord, isScalar, pointerTo, sizeOf, strip, VOID } from '../variables/ctype';
import { typeName } from '../variables/type-name';
import { addressOf, elementValue, floatRvalue, floatValue, intRvalue, intValue, memberValue, memoryValue, rvalue, ValueError, type Value } from '../variables/value';
import { isTypeSyntax, type Expr, type TypeSyntax } from './ast';
import { binaryOp } from './arith';
import { lookupVariable, typeNameTest, typeOnlyFrame, type ExprContext } from './context';
import { ExprError } from './errors';
import { callHelper, currentTask } from './linux';
import { parseExpression } from './parser';
import { registerValue } from './registers';
import { literalType, promote, resolveType } from './types';

export class Evaluator {
  constructor(readonly source: string, readonly ctx: ExprContext) {}

  /** The operand as the user wrote it, for messages. */
  text(e: { span: readonly [number, number] }): string {
    return this.source.slice(e.span[0], e.span[1]).trim();
  }

  /** Runs `read`, turning a reading problem into a sentence about `e`. */
  guard<T>(e: Expr, read: () => T): T {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      if (!err.unavailable) throw new ExprError(err.message);
      throw new ExprError(err.message === 'optimized out' ? `'${this.text(e)}' is optimized out here` : `'${this.text(e)}' is ${err.message}`);
    }
  }

  int(e: Expr, v: Value): bigint {
    return this.guard(e, () => intValue(v));
  }

  float(e: Expr, v: Value): number {
    return this.guard(e, () => floatValue(v));
  }

  type(t: TypeSyntax): CType {
    return resolveType(t, this.ctx.debug, this.ctx.frame.addressSize);
  }

  /** Array-to-pointer and function-to-pointer decay: an operand used as a value. */
  decay(e: Expr, v: Value): Value {
    const t = strip(v.type);
    if (t.kind !== 'array' && t.kind !== 'function') return v;
    const address = addressOf(v);
    if (address === undefined) throw new ExprError(`'${this.text(e)}' is not in memory, so it has no address to use`);
    return intRvalue(pointerTo(t.kind === 'array' ? arrayElement(t) : v.type, this.ctx.frame.addressSize), address, this.ctx.frame);
  }

  /** A scalar's truth (`if (x)`). */
  truth(e: Expr, v: Value): boolean {
    const d = this.decay(e, v);
    if (!isScalar(d.type)) throw new ExprError(`'${this.text(e)}' is ${article(typeName(d.type))}, not a number or pointer`);
    return isFloat(d.type) ? this.float(e, d) !== 0 : this.int(e, d) !== 0n;
  }

  boolResult(b: boolean): Value {
    return intRvalue(BASE.int, b ? 1n : 0n, this.ctx.frame);
  }

  eval(e: Expr, hint?: CType): Value {
    const frame = this.ctx.frame;
    switch (e.k) {
      case 'int': return intRvalue(literalType(e.value, e.unsigned, e.long, e.decimal), e.value, frame);
      case 'float': return floatRvalue(e.single ? BASE.float : BASE.double, e.value, frame);
      case 'char': return intRvalue(BASE.char, BigInt(e.value), frame);
      case 'string': {
        const bytes = new Uint8Array(e.bytes.length + 1);
        bytes.set(e.bytes);
        return rvalue({ kind: 'array', element: () => BASE.char, counts: [bytes.length] }, bytes, frame);
      }
      case 'id': return this.identifier(e.name, hint);
      case 'unary': return this.unary(e);
      case 'binary': {
        if (e.op === '&&' || e.op === '||') {
          const left = this.truth(e.left, this.eval(e.left));
          if (e.op === '&&' ? !left : left) return this.boolResult(left);
          return this.boolResult(this.truth(e.right, this.eval(e.right)));
        }
        // An enum on one side lets the other name its enumerators: `state == TASK_RUNNING`.
        const left = this.eval(e.left);
        const right = this.eval(e.right, enumOf(left.type));
        return binaryOp(this, e, e.op, e.left, this.decay(e.left, left), e.right, this.decay(e.right, right));
      }
      case 'cond': return this.truth(e.test, this.eval(e.test)) ? this.eval(e.then, hint) : this.eval(e.else, hint);
      case 'cast': return this.cast(e.operand, this.eval(e.operand), this.type(e.type));
      case 'sizeof': {
        const t = isTypeSyntax(e.of) ? this.type(e.of) : new Evaluator(this.source, { ...this.ctx, frame: typeOnlyFrame(frame) }).eval(e.of).type;
        const st = strip(t);
        if (isRecord(st) && st.declaration) throw new ExprError(`${typeName(t)} is incomplete here, so it has no size`);
        if (st.kind === 'function') throw new ExprError(`'${this.text(e)}': a function has no size`);
        const size = sizeOf(t);
        if (!Number.isSafeInteger(size)) throw new ExprError(`'${this.text(e)}' is too large to have a size`);
        return intRvalue(BASE.unsignedLong, BigInt(size), frame);
      }
      case 'member': return this.member(e);
      case 'index': return this.index(e);
      case 'call': return callHelper(this, e);
    }
  }

  private identifier(name: string, hint: CType | undefined): Value {
    const ctx = this.ctx;
    if (name.startsWith('$')) {
      const reg = registerValue(ctx, name.slice(1));
      if (reg) return reg;
      throw new ExprError(`there is no register '${name}'`);
    }
    const variable = lookupVariable(ctx, name);
    if (variable) return { type: variable.type(), location: variable.location(ctx.frame), frame: ctx.frame };
    const enumerator = hint && strip(hint).kind === 'enum' ? (strip(hint) as EnumType).enumerators.find((x) => x.name === name) : undefined;
    if (enumerator) return intRvalue(hint!, enumerator.value, ctx.frame);
    if (name === 'current' && ctx.debug) {
      const task = currentTask(this);
      if (task) return task;
    }
    const reg = registerValue(ctx, name.toLowerCase());
    if (reg) return reg;
    const address = ctx.symbolAddress?.(name);
    if (address !== undefined) return intRvalue(pointerTo(VOID, ctx.frame.addressSize), address, ctx.frame);
    if (ctx.scopes.length > 0) throw new ExprError(`no symbol '${name}' in ${ctx.scopes[0].name}`);
    if (ctx.debug) throw new ExprError(`no symbol '${name}' here`);
    throw new ExprError(`"${name}" is neither a register nor a symbol`);
  }

  private unary(e: Expr & { k: 'unary' }): Value {
    const frame = this.ctx.frame;
    const operand = this.eval(e.operand);
    switch (e.op) {
      case '&': {
        if (strip(operand.type).kind === 'function' && operand.location.kind === 'memory') return this.decay(e.operand, operand);
        if (operand.bits) throw new ExprError(`'${this.text(e.operand)}' is a bitfield, which has no address`);
        const address = addressOf(operand);
        if (address === undefined) {
          const where = operand.location.kind === 'register' ? 'lives in a register' : operand.location.kind === 'value' ? 'is a computed value' : 'is not in memory';
          throw new ExprError(`'${this.text(e.operand)}' ${where}, so it has no address`);
        }
        return intRvalue(pointerTo(operand.type, frame.addressSize), address, frame);
      }
      case '*': return this.deref(e.operand, operand);
      case '!': return this.boolResult(!this.truth(e.operand, operand));
    }
    const t = strip(operand.type);
    if (!isArithmetic(t) || (e.op === '~' && !isIntegral(t))) {
      throw new ExprError(`'${this.text(e.operand)}' is ${article(typeName(operand.type))}, which unary ${e.op} does not take`);
    }
    if (isFloat(t)) {
      const f = this.float(e.operand, operand);
      return floatRvalue(t, e.op === '-' ? -f : f, frame);
    }
    const pt = promote(t);
    const n = this.int(e.operand, operand);
    return intRvalue(pt, e.op === '-' ? -n : e.op === '~' ? ~n : n, frame);
  }

  /** `*p`: the pointee as an lvalue in memory; `*arr` is `arr[0]`. */
  deref(operandExpr: Expr, operand: Value): Value {
    const t = strip(operand.type);
    if (t.kind === 'array') return elementValue(operand, arrayElement(t), 0);
    if (t.kind !== 'pointer') throw new ExprError(`'${this.text(operandExpr)}' is not a pointer`);
    const target = t.target();
    const tk = strip(target).kind;
    if (tk === 'void') throw new ExprError(`'${this.text(operandExpr)}' is a void pointer: cast it to a typed pointer first`);
    const address = BigInt.asUintN(t.size * 8, this.int(operandExpr, operand));
    return memoryValue(target, address, this.ctx.frame);
  }

  private member(e: Expr & { k: 'member' }): Value {
    let object = this.eval(e.object);
    if (e.arrow) {
      const t = strip(object.type);
      if (t.kind !== 'pointer' && t.kind !== 'array') {
        throw new ExprError(`'${this.text(e.object)}' is not a pointer${isRecord(t) ? ` (use '.' for a ${t.kind})` : ''}`);
      }
      object = this.deref(e.object, object);
    }
    const rt = strip(object.type);
    if (!isRecord(rt)) {
      const hint = !e.arrow && strip(rt).kind === 'pointer' && isRecord(strip((strip(rt) as { target: () => CType }).target())) ? ` (use '->' for a pointer)` : '';
      throw new ExprError(`'${this.text(e.object)}' is ${article(typeName(object.type))}, not a struct or union${hint}`);
    }
    if (rt.declaration) throw new ExprError(`${typeName(rt)} is incomplete here (only declared), so '${e.member}' cannot be found`);
    const m = findMember(rt, e.member);
    if (!m) throw new ExprError(`no member '${e.member}' in ${typeName(rt)}`);
    return memberValue(object, m);
  }

  private index(e: Expr & { k: 'index' }): Value {
    const object = this.eval(e.object);
    const index = this.eval(e.index);
    let [base, baseExpr, idx, idxExpr] = [object, e.object, index, e.index];
    // C's i[p] is p[i].
    if (isIntegral(object.type) && !isIntegral(index.type)) [base, baseExpr, idx, idxExpr] = [index, e.index, object, e.object];
    const bt = strip(base.type);
    if (!isIntegral(idx.type)) throw new ExprError(`the index '${this.text(idxExpr)}' is not an integer`);
    const i = this.int(idxExpr, idx);
    if (bt.kind === 'array') {
      const count = arrayCount(bt);
      // Outside memory (registers, pieces, computed) there is nothing past the end to read.
      if (base.location.kind !== 'memory' && (i < 0n || (count !== undefined && i >= BigInt(count)))) {
        throw new ExprError(`index ${i} is outside '${this.text(baseExpr)}' (${count} elements)`);
      }
      if (base.location.kind === 'memory') {
        const element = arrayElement(bt);
        return memoryValue(element, BigInt.asUintN(64, base.location.address + i * BigInt(sizeOf(element))), base.frame);
      }
      return elementValue(base, arrayElement(bt), Number(i));
    }
    if (bt.kind !== 'pointer') throw new ExprError(`'${this.text(baseExpr)}' is neither an array nor a pointer`);
    const target = bt.target();
    if (strip(target).kind === 'void') throw new ExprError(`'${this.text(baseExpr)}' is a void pointer: cast it to a typed pointer first`);
    const address = BigInt.asUintN(bt.size * 8, this.int(baseExpr, base) + i * BigInt(sizeOf(target)));
    return memoryValue(target, address, base.frame);
  }

  /** `(type)operand`: C's conversions between scalars; a cast to the operand's own type changes nothing. */
  cast(operandExpr: Expr, operand: Value, to: CType): Value {
    const frame = this.ctx.frame;
    const tt = strip(to);
    if (tt === strip(operand.type) && !isScalar(tt)) return { ...operand, type: to };
    if (tt.kind === 'void') return rvalue(to, new Uint8Array(0), frame);
    if (!isScalar(tt)) throw new ExprError(`cannot cast to ${typeName(to)}: only to numbers and pointers`);
    const v = this.decay(operandExpr, operand);
    const from = strip(v.type);
    if (!isScalar(from)) throw new ExprError(`'${this.text(operandExpr)}' is ${article(typeName(v.type))}, which cannot be cast to ${typeName(to)}`);
    if (isFloat(tt)) return floatRvalue(to, this.float(operandExpr, v), frame);
    if (isFloat(from)) {
      const f = this.float(operandExpr, v);
      if (!Number.isFinite(f)) throw new ExprError(`${f} cannot be converted to ${typeName(to)}`);
      return intRvalue(to, BigInt(Math.trunc(f)), frame);
    }
    const n = this.int(operandExpr, v);
    if (tt.kind === 'base' && tt.encoding === 'bool') return intRvalue(to, n !== 0n ? 1n : 0n, frame);
    return intRvalue(to, n, frame);
  }
}

function enumOf(t: CType): CType | undefined {
  return strip(t).kind === 'enum' ? t : undefined;
}

/** "a struct task_struct", "an int". */
export function article(name: string): string {
  return `${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name}`;
}

/** Parses and evaluates `text`; throws ExprError (only). */
export function evaluateText(text: string, ctx: ExprContext, hint?: CType): Value {
  const ast = parseExpression(text, typeNameTest(ctx));
  return new Evaluator(text, ctx).eval(ast, hint);
}
