// C types from real compiler output (gcc 12 DWARF 2-5 and 64-bit DWARF,
// clang DWARF 4 and 5): base types, typedef chains, qualifiers, pointers, records with
// anonymous members and bitfields, arrays, enums, function types, and a
// declaration resolved to its definition in another unit. Then hostile
// type graphs (cycles) built by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalBaseName, CYCLE, openDebugData, strip } from '../../debug-adapter/dwarf';
import { sectionOf, type CType } from '../../debug-adapter/dwarf/model';
import { compile, hasCompiler } from './helpers/c-programs';
import { buildDwarf, F } from './helpers/dwarf-builder';

const TYPES = `typedef unsigned long u64;
typedef u64 my64;
typedef struct node { struct node *next; int v; } node_t;
struct bf { unsigned a:3; int b:5; char c; unsigned long d:40; int e:2; };
union un { int i; float f; struct { short lo, hi; }; };
enum color { RED, GREEN = 5, BLUE = -2 };
enum big { SMALL = 1, HUGE = 4000000000u };
struct flex { int n; int data[]; };
struct fwd;
struct fwd *gfwd;
int matrix[3][4];
char zero[0];
const volatile my64 cv;
struct bf gbf;
union un gun;
enum color gcolor;
enum big gbig;
node_t gnode;
struct flex *gflex;
int (*fp)(int, const char *, ...);
void (*fv)(void);
void *vp;
_Bool flag;
signed char sc;
unsigned char uc;
double dbl;
static int counter = 7;
int global_x = 3;
char *restrict rp;
int main(void) { extern int use(void); return use() + gbf.a + gun.i + gcolor + gnode.v + matrix[1][2] + (int)cv + global_x + counter + zero[0]; }
`;
const OTHER = `struct fwd { int x; long y; };
struct fwd def;
int use(void) { return def.x; }
`;

/** A type as one line: C-ish, with sizes, bit positions and enumerators (base names in canonical C order). */
function show(t: CType, depth = 0): string {
  if (depth > 4) return '…';
  const d = depth + 1;
  switch (t.kind) {
    case 'void': return 'void';
    case 'base': return `${canonicalBaseName(t.name) ?? t.name}/${t.size}/${t.encoding}`;
    case 'pointer': return `*${show(t.target(), d)}`;
    case 'qualified': return `${t.qualifier} ${show(t.target(), d)}`;
    case 'typedef': return `${t.name}=${show(t.target(), d)}`;
    case 'struct': case 'union': {
      const ms = t.members().map((m) => `${m.name ?? '<anon>'}@${m.offset}${m.bitSize !== undefined ? `.${m.bitOffset}:${m.bitSize}` : ''} ${show(m.type(), d)}`);
      return `${t.kind} ${t.name ?? '<anon>'}/${t.size}${t.declaration ? '/decl' : ''} {${ms.join('; ')}}`;
    }
    case 'enum': return `enum ${t.name ?? '<anon>'}/${t.size}/${t.signed ? 'signed' : 'unsigned'} {${t.enumerators.map((e) => `${e.name}=${e.value}`).join(', ')}}`;
    case 'array': return `${show(t.element(), d)}[${t.counts.map((c) => c ?? '').join('][')}]`;
    case 'function': return `fn(${t.params().map((p) => show(p, d)).join(', ')}${t.variadic ? ', ...' : ''}) -> ${show(t.returns(), d)}`;
  }
}

const compilers: [string, string[]][] = [
  ['gcc', ['-gdwarf-2']], ['gcc', ['-gdwarf-3']], ['gcc', ['-gdwarf-4']], ['gcc', ['-gdwarf-5']], ['gcc', ['-gdwarf-5', '-gdwarf64']], ['gcc', ['-gdwarf-2', '-gstrict-dwarf']],
  ['clang', ['-gdwarf-4']], ['clang', ['-gdwarf-5']]];
for (const [cc, flags] of compilers) {
  test(`${cc} ${flags.join(' ')} -O0: the types of globals, exactly`, { skip: hasCompiler(cc) ? false : `${cc} is not installed` }, () => {
    const p = compile(cc, { 'types.c': TYPES, 'other.c': OTHER }, ['-g', '-O0', ...flags]);
    assert.deepEqual(p.data.problems, []);
    const type = (name: string): string => {
      const v = p.data.findVariable(name);
      assert.ok(v, `no variable ${name}`);
      return show(v.type());
    };
    assert.equal(type('gbf'), 'struct bf/8 {a@0.0:3 unsigned int/4/unsigned; b@0.3:5 int/4/signed; c@1 char/1/signed-char; d@2.0:40 unsigned long/8/unsigned; e@7.0:2 int/4/signed}');
    assert.equal(type('gun'), 'union un/4 {i@0 int/4/signed; f@0 float/4/float; <anon>@0 struct <anon>/4 {lo@0 short/2/signed; hi@2 short/2/signed}}');
    assert.equal(type('gcolor'), 'enum color/4/signed {RED=0, GREEN=5, BLUE=-2}');
    assert.equal(type('gbig'), 'enum big/4/unsigned {SMALL=1, HUGE=4000000000}');
    assert.equal(type('gnode'), 'node_t=struct node/16 {next@0 *struct node/16 {next@0 *…; v@8 int/4/signed}; v@8 int/4/signed}');
    assert.equal(type('gflex'), '*struct flex/4 {n@0 int/4/signed; data@4 int/4/signed[]}');
    assert.equal(type('fp'), '*fn(int/4/signed, *const char/1/signed-char, ...) -> int/4/signed');
    assert.equal(type('fv'), '*fn() -> void');
    assert.equal(type('vp'), '*void');
    assert.equal(type('matrix'), 'int/4/signed[3][4]');
    assert.equal(type('zero'), 'char/1/signed-char[0]');
    // gcc writes "const volatile" as volatile-of-const, clang the other way round.
    assert.match(type('cv'), /^(const volatile|volatile const) my64=u64=unsigned long\/8\/unsigned$/);
    assert.equal(type('flag'), '_Bool/1/bool');
    assert.equal(type('sc'), 'signed char/1/signed-char');
    assert.equal(type('uc'), 'unsigned char/1/unsigned-char');
    assert.equal(type('dbl'), 'double/8/float');
    // DW_TAG_restrict_type is DWARF 3.
    assert.equal(type('rp'), flags.includes('-gdwarf-2') ? '*char/1/signed-char' : 'restrict *char/1/signed-char');
    // Declared only in types.c; defined in other.c: resolved by name across units.
    assert.equal(type('gfwd'), '*struct fwd/16 {x@0 int/4/signed; y@8 long/8/signed}');
    const counter = p.data.findVariable('counter');
    assert.equal(counter?.kind, 'static');
    assert.equal(p.data.findVariable('global_x')?.kind, 'global');
    assert.equal(counter?.declLine, 27);
    assert.match(counter?.declFile ?? '', /\/types\.c$/);

    // Types by C name, in C's spelling whatever the compiler's.
    assert.equal(show(p.data.findType('unsigned long')!), 'unsigned long/8/unsigned');
    assert.equal(show(p.data.findType('long unsigned int')!), 'unsigned long/8/unsigned');
    assert.equal(show(p.data.findType('unsigned')!), 'unsigned int/4/unsigned');
    assert.equal(show(p.data.findType('my64')!), 'my64=u64=unsigned long/8/unsigned');
    assert.equal(show(p.data.findType('struct fwd')!), 'struct fwd/16 {x@0 int/4/signed; y@8 long/8/signed}');
    assert.match(show(p.data.findType('union un')!), /^union un\/4 /);
    assert.match(show(p.data.findType('enum color')!), /^enum color\/4\/signed/);
    // No unit uses long long: made up from the data model, so casts still work.
    assert.deepEqual(p.data.findType('unsigned long long'), { kind: 'base', name: 'long long unsigned int', size: 8, encoding: 'unsigned' });
    assert.equal(p.data.findType('struct nosuch'), undefined);
    assert.equal(p.data.findType('nosuch_t'), undefined);
    // The same DIE is the same object (memoized), so consumers can compare types.
    assert.equal(p.data.findType('struct node'), strip(p.data.findVariable('gnode')!.type()));

    const names = p.data.namesStartingWith('g', 50);
    assert.deepEqual(names.filter((n) => ['gbf', 'gun', 'global_x', 'gfwd'].includes(n)).sort(), ['gbf', 'gfwd', 'global_x', 'gun']);
    assert.ok(p.data.namesStartingWith('', 3).length <= 3);
    assert.ok(names.indexOf('gbf') >= 0 && (names.indexOf('gbf') < names.indexOf('u64') || names.indexOf('u64') < 0), 'globals before types');
  });
}

/** A unit of hand-built type DIEs around a variable `v` of type `id`. */
function typesUnit(types: Parameters<typeof buildDwarf>[0][0]['children'], id: string): ReturnType<typeof openDebugData> {
  const b = buildDwarf([{
    tag: 0x11, attrs: [[0x03, F.string, 'cycle.c']],
    children: [...(types ?? []), { tag: 0x34, attrs: [[0x03, F.string, 'v'], [0x49, F.ref4, { ref: id }], [0x3f, F.flag_present, 1], [0x02, F.exprloc, Uint8Array.from([0x03, 0, 0x10, 0, 0, 0, 0, 0, 0])]] }],
  }]);
  return openDebugData({ debugInfo: sectionOf(b.debugInfo), debugAbbrev: sectionOf(b.debugAbbrev), addressSize: 8 });
}

test('hostile type graphs terminate: self-typedef, typedef loops, pointer and qualifier cycles', () => {
  const td = (id: string, name: string, to: string) => ({ tag: 0x16, id, attrs: [[0x03, F.string, name], [0x49, F.ref4, { ref: to }]] as [number, number, string | { ref: string }][] });
  const self = typesUnit([td('t', 'self_t', 't')], 't');
  assert.equal(self.findVariable('v')!.type(), CYCLE);
  const loop = typesUnit([td('a', 'a_t', 'b'), td('b', 'b_t', 'a')], 'a');
  assert.equal(loop.findVariable('v')!.type(), CYCLE);
  assert.equal(loop.findType('b_t'), CYCLE);
  const ptr = typesUnit([{ tag: 0x0f, id: 'p', attrs: [[0x0b, F.data1, 8], [0x49, F.ref4, { ref: 'p' }]] }], 'p');
  assert.equal(ptr.findVariable('v')!.type(), CYCLE);
  const qual = typesUnit([{ tag: 0x26, id: 'c', attrs: [[0x49, F.ref4, { ref: 'v' }]] }, { tag: 0x35, id: 'v', attrs: [[0x49, F.ref4, { ref: 'c' }]] }], 'c');
  assert.equal(qual.findVariable('v')!.type(), CYCLE);
  // An array of itself.
  const arr = typesUnit([{ tag: 0x01, id: 'x', attrs: [[0x49, F.ref4, { ref: 'x' }]], children: [{ tag: 0x21, attrs: [[0x37, F.data1, 4]] }] }], 'x');
  assert.equal(arr.findVariable('v')!.type(), CYCLE);
  // Real recursion through a struct is fine: a node's pointer to itself.
  const node = typesUnit([
    { tag: 0x13, id: 's', attrs: [[0x03, F.string, 'n'], [0x0b, F.data1, 8]], children: [{ tag: 0x0d, attrs: [[0x03, F.string, 'next'], [0x49, F.ref4, { ref: 'p' }], [0x38, F.data1, 0]] }] },
    { tag: 0x0f, id: 'p', attrs: [[0x0b, F.data1, 8], [0x49, F.ref4, { ref: 's' }]] },
  ], 's');
  const s = node.findVariable('v')!.type();
  assert.equal(s.kind, 'struct');
  const next = (s as { members(): readonly { type(): CType }[] }).members()[0].type();
  assert.equal(next.kind === 'pointer' && next.target(), s);
  // A reference to nowhere is void; a declaration nobody defines stays a declaration.
  const dangling = typesUnit([{ tag: 0x0f, id: 'p', attrs: [[0x0b, F.data1, 8], [0x49, F.ref4, 0x7777]] }], 'p');
  const dp = dangling.findVariable('v')!.type();
  assert.equal(dp.kind === 'pointer' && dp.target().kind, 'void');
  const decl = typesUnit([{ tag: 0x13, id: 'd', attrs: [[0x03, F.string, 'opaque'], [0x3c, F.flag_present, 1]] }], 'd');
  const dt = decl.findVariable('v')!.type();
  assert.deepEqual([dt.kind, (dt as { declaration?: boolean }).declaration, (dt as { size: number }).size], ['struct', true, 0]);
});
