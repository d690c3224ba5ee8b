// Scopes at pcs of real programs (gcc DWARF 4 and 5, clang): the function,
// its parameters and locals by lexical block, the chain of inlined
// instances with their call sites, file statics and globals; and -O0
// locations evaluated in a fake frame, cross-checked against gdb's own
// reading of the same file where gdb is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { FrameContext, FunctionScope, Location } from '../../debug-adapter/dwarf/model';
import { compile, hasCompiler, Program } from './helpers/c-programs';

const SOURCE = `int counter;
__attribute__((noinline)) int add(int a, int b)
{
	int s = a + b;
	{
		int t = s * 2;
		counter += t;
	}
	return s;
}
static inline __attribute__((always_inline)) int sq(int q)
{
	int r = q * q;
	return r + counter;
}
__attribute__((noinline)) int user(int z)
{
	int w = sq(z + 1);
	return w + add(z, w);
}
int main(void)
{
	static int calls;
	calls++;
	return user(3);
}
`;
const lineOf = (text: string): number => SOURCE.split('\n').findIndex((l) => l.includes(text)) + 1;

const CFA = 0x7000n;
const REG = (n: number): bigint => 0x1000n + BigInt(n) * 0x100n;
function frame(pc: bigint, over: Partial<FrameContext> = {}): FrameContext {
  return {
    pc, innermost: true, addressSize: 8, register: REG, cfa: () => CFA,
    readMemory: () => undefined, relocate: (a) => a, ...over,
  };
}

/** Every distinct scope chain over a function's pcs, as [pc, chain]. */
function chains(p: Program, fn: string): [bigint, readonly FunctionScope[]][] {
  const { address, size } = p.symbol(fn);
  const out: [bigint, readonly FunctionScope[]][] = [];
  let last = '';
  for (let pc = address; pc < address + size; pc++) {
    const s = p.data.scopesAt(pc);
    const key = s.map((f) => `${f.name}:${f.blocks.length}`).join('/');
    if (key !== last) out.push([pc, s]);
    last = key;
  }
  return out;
}

const names = (vars: readonly { name: string }[]): string[] => vars.map((v) => v.name);

/** gdb's reading of each variable of a function: "fbreg N" (gcc: frame base = CFA) or "reg R offset N" (clang). */
function gdbScope(path: string, fn: string): Map<string, (f: FrameContext) => Location> | undefined {
  const r = spawnSync('gdb', ['-batch', '-nx', '-ex', `info scope ${fn}`, path], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const out = new Map<string, (f: FrameContext) => Location>();
  for (const m of r.stdout.matchAll(/Symbol (\w+) is (?:a complex DWARF expression:\s+0: DW_OP_fbreg (-?\d+)|a variable at frame base reg \$(\w+) offset (\d+)\+(-?\d+))/g)) {
    const [, name, fb, reg, a, b] = m;
    const regs: Record<string, number> = { rbp: 6, rsp: 7, ebp: 5, esp: 4 };
    out.set(name, fb !== undefined
      ? (f) => ({ kind: 'memory', address: f.cfa()! + BigInt(fb) })
      : (f) => ({ kind: 'memory', address: f.register(regs[reg])! + BigInt(a) + BigInt(b) }));
  }
  return out;
}
const hasGdb = spawnSync('gdb', ['--version']).status === 0;

const configs: [string, string[]][] = [['gcc', ['-gdwarf-4']], ['gcc', ['-gdwarf-5']], ['gcc', ['-m32', '-gdwarf-5']], ['clang', ['-gdwarf-5']]];
for (const [cc, flags] of configs) {
  test(`${cc} ${flags.join(' ')} -O0: scopes, blocks, the inlined chain, statics and frame locations`, { skip: hasCompiler(cc) ? false : `${cc} is not installed` }, () => {
    const p = compile(cc, { 'scopes.c': SOURCE }, ['-g', '-O0', ...flags]);
    assert.deepEqual(p.data.problems, []);

    // add: the body's locals, and inside the block its own local first.
    const add = chains(p, 'add');
    assert.ok(add.every(([, s]) => s.length === 1 && s[0].name === 'add'));
    const { address: addAt, size: addSize } = p.symbol('add');
    for (const [, [fn]] of add) {
      assert.deepEqual(names(fn.parameters), ['a', 'b']);
      assert.equal(fn.lowPc, addAt);
      assert.equal(fn.highPc, addAt + addSize);
      assert.equal(fn.inlinedAt, undefined);
      assert.deepEqual(names(fn.blocks[fn.blocks.length - 1].locals), ['s']);
    }
    const inBlock = add.find(([, [fn]]) => fn.blocks.length === 2);
    assert.ok(inBlock, 'no pc inside the inner block');
    const [blockPc, [withBlock]] = inBlock;
    assert.deepEqual(withBlock.blocks.map((b) => names(b.locals)), [['t'], ['s']]);
    assert.ok(withBlock.blocks[0].lowPc <= blockPc && blockPc < withBlock.blocks[0].highPc);
    assert.equal(withBlock.parameters[0].kind, 'parameter');
    assert.equal(withBlock.blocks[0].locals[0].kind, 'local');
    assert.equal(withBlock.parameters[0].declLine, lineOf('int add(int a, int b)'));
    assert.match(withBlock.parameters[0].declFile ?? '', /\/scopes\.c$/);
    assert.equal(withBlock.blocks[0].locals[0].declLine, lineOf('int t = s * 2;'));

    // user: sq is inlined (always_inline even at -O0), a scope of its own with its call site.
    const user = chains(p, 'user');
    const inl = user.find(([, s]) => s.length === 2);
    assert.ok(inl, 'no pc inside the inlined sq');
    const [sq, outer] = inl[1];
    assert.equal(sq.name, 'sq');
    assert.deepEqual(names(sq.parameters), ['q']);
    assert.deepEqual(sq.blocks.flatMap((b) => names(b.locals)), ['r']);
    assert.equal(sq.inlinedAt?.line, lineOf('int w = sq(z + 1);'));
    assert.match(sq.inlinedAt?.file ?? '', /\/scopes\.c$/);
    assert.ok((sq.inlinedAt?.column ?? 0) > 0);
    assert.equal(outer.name, 'user');
    assert.deepEqual(names(outer.parameters), ['z']);
    assert.deepEqual(outer.blocks.flatMap((b) => names(b.locals)), ['w']);
    assert.equal(sq.unit, outer.unit, 'one UnitScope object per unit');
    assert.equal(sq.parameters[0].declLine, lineOf('int sq(int q)'), 'an inlined parameter\'s declaration is its abstract origin\'s');

    // Locations in a frame: each as gdb reads it, else at least inside the frame.
    const pcIn = inBlock[0];
    // `info scope *pc`: the innermost block at pc and the blocks around it, up to the function.
    const gdbAdd = hasGdb ? gdbScope(p.path, `*0x${pcIn.toString(16)}`) : undefined;
    for (const v of [...withBlock.parameters, ...withBlock.blocks.flatMap((b) => b.locals)]) {
      const loc = v.location(frame(pcIn));
      assert.equal(loc.kind, 'memory', `${v.name}: ${JSON.stringify(loc, (_k, x) => (typeof x === 'bigint' ? x.toString(16) : x))}`);
      const expect = gdbAdd?.get(v.name);
      if (expect) assert.deepEqual(loc, expect(frame(pcIn)), `${v.name} where gdb says`);
      const a = (loc as { address: bigint }).address;
      // Near the CFA (gcc's frame base; i386 passes arguments just above it) or rbp (clang's).
      const near = (base: bigint): boolean => a > base - 0x1000n && a < base + 0x100n;
      assert.ok(near(CFA) || near(REG(6)), `${v.name} at 0x${a.toString(16)}`);
    }
    if (hasGdb) assert.ok(gdbAdd && gdbAdd.size === 4, 'gdb read the four variables of add');

    // main's static local lives at its symbol; file scope has the global only.
    const [mainScope] = p.data.scopesAt(p.symbol('main').address);
    const calls = mainScope.blocks.flatMap((b) => b.locals).find((v) => v.name === 'calls');
    assert.equal(calls?.kind, 'static');
    const callsSym = p.obj.symbols().find((s) => /^calls\.\d+$|\.calls$/.test(s.name))!; // gcc: calls.0, clang: main.calls
    assert.deepEqual(calls?.location(frame(0n, { relocate: (x) => x + 0x1000n })), { kind: 'memory', address: callsSym.value + 0x1000n });
    const statics = mainScope.unit.statics();
    assert.deepEqual(statics.map((v) => [v.name, v.kind]), [['counter', 'global']]);
    assert.match(mainScope.unit.name ?? '', /scopes\.c$/);
    assert.ok(mainScope.unit.compDir);
    assert.equal(p.data.findVariable('counter', mainScope.unit), statics[0]);
    assert.deepEqual(statics[0].location(frame(0n)), { kind: 'memory', address: p.symbol('counter').address });

    // Outside any function: nothing.
    assert.deepEqual(p.data.scopesAt(0n), []);
    assert.deepEqual(p.data.scopesAt(0xffff_ffff_ffff_fff0n), []);
  });
}

test('gcc -O2: an inlined chain and register parameters at entry', { skip: hasCompiler('gcc') ? false : 'gcc is not installed' }, () => {
  const p = compile('gcc', { 'scopes.c': SOURCE }, ['-g', '-O2']);
  assert.deepEqual(p.data.problems, []);
  const [add] = p.data.scopesAt(p.symbol('add').address);
  assert.equal(add.name, 'add');
  // At entry, the System V ABI's rdi and rsi (DWARF 5 and 4).
  const at = frame(p.symbol('add').address);
  assert.deepEqual(add.parameters.map((v) => v.location(at)), [{ kind: 'register', register: 5 }, { kind: 'register', register: 4 }]);
  const user = chains(p, 'user');
  const inl = user.find(([, s]) => s.length === 2);
  assert.ok(inl, 'sq is inlined into user');
  assert.deepEqual(inl[1].map((s) => s.name), ['sq', 'user']);
  assert.equal(inl[1][0].inlinedAt?.line, lineOf('int w = sq(z + 1);'));
});
