// The C expression parser: ASTs for precedence, casts, type names and the
// helpers' calls, and one-sentence syntax errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExpression } from '../../debug-adapter/expr/parser';
import { tokenize } from '../../debug-adapter/expr/tokens';
import type { Expr, TypeSyntax } from '../../debug-adapter/expr/ast';
import { ExprError } from '../../debug-adapter/expr';

const types = new Set(['u32', 'pid_t']);
const isType = (n: string): boolean => types.has(n);

/** The AST as a compact Lisp-like string: easier to read in a test than nested objects. */
function show(e: Expr | TypeSyntax): string {
  switch (e.k) {
    case 'int': return e.value.toString() + (e.unsigned ? 'u' : '') + (e.long ? 'l' : '');
    case 'float': return `${e.value}${e.single ? 'f' : ''}`;
    case 'char': return `'${String.fromCharCode(e.value)}'`;
    case 'string': return JSON.stringify(Buffer.from(e.bytes).toString('latin1'));
    case 'id': return e.name;
    case 'unary': return `(${e.op} ${show(e.operand)})`;
    case 'binary': return `(${e.op} ${show(e.left)} ${show(e.right)})`;
    case 'cond': return `(? ${show(e.test)} ${show(e.then)} ${show(e.else)})`;
    case 'cast': return `(cast ${show(e.type)} ${show(e.operand)})`;
    case 'sizeof': return `(sizeof ${show(e.of)})`;
    case 'member': return `(${e.arrow ? '->' : '.'} ${show(e.object)} ${e.member})`;
    case 'index': return `([] ${show(e.object)} ${show(e.index)})`;
    case 'call': return `(call ${e.callee}${e.args.map((a) => ' ' + show(a)).join('')})`;
    case 'named': return `<${e.words.join(' ')}>`;
    case 'pointer': return `<ptr ${show(e.to)}>`;
    case 'qualified': return `<${e.qualifier} ${show(e.of)}>`;
    case 'array': return `<array ${e.count ?? ''} ${show(e.of)}>`;
    case 'function': return `<fn ${show(e.returns)} (${e.params.map(show).join(' ')}${e.variadic ? ' ...' : ''})>`;
  }
}
const p = (text: string): string => show(parseExpression(text, isType));

test('precedence and associativity are C\'s', () => {
  assert.equal(p('1 + 2 * 3'), '(+ 1 (* 2 3))');
  assert.equal(p('a - b - c'), '(- (- a b) c)');
  assert.equal(p('a << 1 + 2'), '(<< a (+ 1 2))');
  assert.equal(p('a & b == c'), '(& a (== b c))');
  assert.equal(p('a || b && c | d ^ e & f'), '(|| a (&& b (| c (^ d (& e f)))))');
  assert.equal(p('a ? b : c ? d : e'), '(? a b (? c d e))');
  assert.equal(p('-x->y[2].z'), '(- (. ([] (-> x y) 2) z))');
  assert.equal(p('*p++q'.replace('++', '+ +')), '(+ (* p) (+ q))');
  assert.equal(p('!~-+*&x'), '(! (~ (- (+ (* (& x))))))');
  assert.equal(p('a < b >= c'), '(>= (< a b) c)');
});

test('literals: radix, suffixes, chars with escapes, strings concatenated', () => {
  assert.equal(p('0x1f + 017 + 0b101 + 42ul + 7LL + 1_000'), '(+ (+ (+ (+ (+ 31 15) 5) 42ul) 7l) 1000)');
  assert.equal(p("'A'"), "'A'");
  assert.equal(show(parseExpression("'\\n'")), "'\n'");
  assert.deepEqual((parseExpression("'\\x41'") as { value: number }).value, 65);
  assert.deepEqual((parseExpression("'\\0'") as { value: number }).value, 0);
  assert.equal(p('"ab" "c\\t"'), '"abc\\t"');
  assert.equal(p('1.5 + 2.0f + .5'), '(+ (+ 1.5 2f) 0.5)');
  assert.equal(p("'foo.cold'"), 'foo.cold', 'a quoted symbol name');
  assert.equal(tokenize('$rip')[0].kind, 'id');
});

test('casts and sizeof: type names only where the caller says they are types', () => {
  assert.equal(p('(u32)x'), '(cast <u32> x)');
  assert.equal(p('(x) - 1'), '(- x 1)', 'x is not a type: a parenthesized expression');
  assert.equal(p('(struct task_struct *)$rdi'), '(cast <ptr <struct task_struct>> $rdi)');
  assert.equal(p('(unsigned long)x'), '(cast <unsigned long> x)');
  assert.equal(p('(const char *)p'), '(cast <ptr <const <char>>> p)');
  assert.equal(p('(char * const *)p'), '(cast <ptr <const <ptr <char>>>> p)');
  assert.equal(p('(int (*)(int, char *))f'), '(cast <ptr <fn <int> (<int> <ptr <char>>)>> f)');
  assert.equal(p('(void (*)(void))f'), '(cast <ptr <fn <void> ()>> f)');
  assert.equal(p('(int (*)[3])p'), '(cast <ptr <array 3 <int>>> p)');
  assert.equal(p('sizeof(int [3][4])'), '(sizeof <array 3 <array 4 <int>>>)');
  assert.equal(p('sizeof x + 1'), '(+ (sizeof x) 1)');
  assert.equal(p('sizeof(x)'), '(sizeof x)');
  assert.equal(p('sizeof(pid_t)'), '(sizeof <pid_t>)');
  assert.equal(p('*(u32*)0x1000'), '(* (cast <ptr <u32>> 4096))');
  assert.equal(p('(char)(x)'), '(cast <char> x)');
  assert.equal(p('(long unsigned int)-1'), '(cast <long unsigned int> (- 1))');
});

test('the helpers\' calls take types and member designators', () => {
  assert.equal(p('container_of(p, struct task_struct, tasks)'), '(call container_of p <struct task_struct> tasks)');
  assert.equal(p('per_cpu(runqueues, 1).nr_running'), '(. (call per_cpu runqueues 1) nr_running)');
  assert.equal(p('$task(1)->comm'), '(-> (call $task 1) comm)');
  assert.equal(p('offsetof(struct s, a.b[2])'), '(call offsetof <struct s> ([] (. a b) 2))');
});

test('syntax errors are one sentence', () => {
  const err = (text: string): string => {
    try { parseExpression(text, isType); } catch (e) { assert.ok(e instanceof ExprError, String(e)); return e.message; }
    return 'parsed';
  };
  assert.equal(err(''), 'the expression is empty');
  assert.equal(err('a +'), '"a +" ends too early');
  assert.equal(err('(a'), 'expected ")" at the end of "(a"');
  assert.equal(err('a b'), 'unexpected "b" in "a b"');
  assert.equal(err('a = 1'), '"=" would change the program: expressions here only read (use Set Value to change a variable)');
  assert.equal(err('x++'), '"++" would change the program: expressions here only read (use Set Value to change a variable)');
  assert.equal(err('a; b'), 'unexpected ";" at position 2 of "a; b"');
  assert.equal(err('12abc'), '"12abc": a number cannot run into a name');
  assert.equal(err('09'), '"09" is not an octal number');
  assert.equal(err("'ab"), 'the character at position 1 is not closed');
  assert.equal(err('p->'), '"p->" ends too early');
  assert.equal(err('(struct)x'), 'expected a struct name before ")" in "(struct)x"');
  assert.equal(err('f(1)(2)'), 'only the debugger\'s helpers can be called, not "f(1)"');
  assert.equal(err('('.repeat(300) + '1' + ')'.repeat(300)), 'the expression nests too deeply');
  assert.equal(err('- '.repeat(1000) + '1'), 'the expression nests too deeply');
  assert.equal(err('1' + ' + 1'.repeat(1000)), 'the expression is too long (over 2000 tokens)');
  assert.equal(err('(int ' + '*'.repeat(40) + ')0'), "the type has more than 32 '*'s");
});
