// Damaged DWARF (seeded random mutations of real gcc/clang output:
// .debug_info, .debug_abbrev, .debug_loclists/.debug_loc, .debug_rnglists,
// .debug_str_offsets, .debug_addr, .debug_line) through openDebugData and
// every query: scopes at pcs, variables' locations, types walked deep, name
// lookups. Nothing throws, everything terminates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { debugSectionsOf, DebugSections, openDebugData } from '../../debug-adapter/dwarf';
import { sectionOf, type CType, type FrameContext, type Section } from '../../debug-adapter/dwarf/model';
import { compile, hasCompiler } from './helpers/c-programs';
import { fuzzRounds, fuzzSeed, rng } from './helpers/fuzz-budget';

const SOURCE = `typedef struct node { struct node *next; int v; unsigned f:3; } node_t;
union u { int i; struct { short a, b; }; } gu;
enum e { A = -1, B = 7 } ge;
int matrix[3][4];
node_t *head;
static int counter;
struct opaque;
struct opaque *op;
extern void ext(int);
static inline __attribute__((always_inline)) int sq(int q) { int r = q * q; return r + counter; }
__attribute__((noinline)) int work(int a, long b, node_t *n) {
	int s = a;
	for (int i = 0; i < b; i++) { int t = sq(i) + n->v; s += t; ext(t); }
	return s + gu.i + ge;
}
int main(void) { node_t n = { 0, 1, 2 }; head = &n; return work(3, 4, &n) + matrix[1][1]; }
`;
const EXT = 'struct opaque { int x; }; int sink; void ext(int v) { sink += v; }\n';

const MUTABLE: (keyof DebugSections)[] = ['debugInfo', 'debugAbbrev', 'debugLoclists', 'debugLoc', 'debugRnglists', 'debugRanges', 'debugStrOffsets', 'debugAddr', 'debugLine', 'debugAranges'];

function bytesOf(s: Section): Uint8Array { return Uint8Array.from(s.bytes(0, s.size)); }

/** One random damage: flipped bytes, a run of 0xff/0x80/0x00/0x7f, single bit flips, or a truncation. */
function mutate(src: Uint8Array, rand: () => number): Uint8Array {
  const out = Uint8Array.from(src);
  if (out.length === 0) return out;
  const pos = (): number => Math.floor(rand() * out.length);
  const kind = Math.floor(rand() * 4);
  if (kind === 0) for (let i = 0, n = 1 + Math.floor(rand() * 16); i < n; i++) out[pos()] = Math.floor(rand() * 256);
  else if (kind === 1) {
    const p = pos();
    const v = [0xff, 0x80, 0x00, 0x7f][Math.floor(rand() * 4)];
    for (let i = 0; i < 4 && p + i < out.length; i++) out[p + i] = v;
  } else if (kind === 2) for (let i = 0, n = 1 + Math.floor(rand() * 4); i < n; i++) out[pos()] ^= 1 << Math.floor(rand() * 8);
  else return out.subarray(0, pos());
  return out;
}

/** Walks a type as a value printer would, bounded. */
function walk(t: CType, depth: number, seen: { n: number }): void {
  if (depth > 6 || seen.n++ > 2000) return;
  switch (t.kind) {
    case 'pointer': case 'qualified': case 'typedef': walk(t.target(), depth + 1, seen); break;
    case 'struct': case 'union': void t.size; for (const m of t.members().slice(0, 64)) walk(m.type(), depth + 1, seen); break;
    case 'array': walk(t.element(), depth + 1, seen); break;
    case 'function': walk(t.returns(), depth + 1, seen); for (const p of t.params().slice(0, 16)) walk(p, depth + 1, seen); break;
    case 'enum': void t.enumerators.length; break;
    default: break;
  }
}

const frame = (pc: bigint, innermost: boolean): FrameContext => ({
  pc, innermost, addressSize: 8, register: (n) => 0x1000n * BigInt(n + 1), cfa: () => 0x7000n,
  readMemory: (_a, size) => new Uint8Array(size).fill(0x5a), relocate: (a) => a + 0x1000n,
  entryRegister: (n) => BigInt(n), tlsBase: () => 0x9000n,
});

/** Runs every query; returns how many problems the damage made. */
function exercise(sections: DebugSections, pcs: readonly bigint[]): number {
  const d = openDebugData(sections);
  for (const pc of pcs) {
    for (const fn of d.scopesAt(pc)) {
      for (const v of [...fn.parameters, ...fn.blocks.flatMap((b) => b.locals), ...fn.unit.statics()].slice(0, 64)) {
        v.location(frame(pc, true));
        v.location(frame(pc, false));
        walk(v.type(), 0, { n: 0 });
      }
    }
  }
  for (const name of ['head', 'gu', 'ge', 'matrix', 'counter', 'op', 'nosuch']) {
    const v = d.findVariable(name);
    if (v) { walk(v.type(), 0, { n: 0 }); v.location(frame(0n, true)); }
  }
  for (const name of ['struct node', 'node_t', 'union u', 'enum e', 'struct opaque', 'int', 'unsigned long', 'long long']) {
    const t = d.findType(name);
    if (t) walk(t, 0, { n: 0 });
  }
  d.namesStartingWith('', 20);
  d.namesStartingWith('m', 5);
  assert.ok(Array.isArray(d.problems));
  return d.problems.length;
}

const WALL_MS = 60_000 * Math.max(1, fuzzRounds(1000) / 1000);

for (const [cc, flags] of [['gcc', ['-O2', '-gdwarf-5']], ['gcc', ['-O2', '-gdwarf-4']], ['clang', ['-O2', '-gdwarf-5']]] as const) {
  test(`${cc} ${flags.join(' ')} output, damaged: every query answers, none throws or hangs`, { skip: hasCompiler(cc) ? false : `${cc} is not installed` }, () => {
    const p = compile(cc, { 'fuzz.c': SOURCE, 'fext.c': EXT }, ['-g', ...flags]);
    const clean = debugSectionsOf(p.obj);
    const { address, size } = p.symbol('work');
    const pcs = [address, address + 1n, address + size / 3n, address + size / 2n, address + size - 1n, p.symbol('main').address];
    assert.equal(exercise(clean, pcs), 0, 'the undamaged output reads cleanly');
    const present = MUTABLE.filter((k) => clean[k] !== undefined);
    const original = new Map(present.map((k) => [k, bytesOf(clean[k] as Section)]));
    const rand = rng(fuzzSeed(0xd3a4f, cc.length + flags.join('').length));
    const rounds = fuzzRounds(300);
    const started = Date.now();
    let noticed = 0;
    let i = 0;
    for (; i < rounds && Date.now() - started < WALL_MS; i++) {
      const damaged: DebugSections = { ...clean };
      // Usually one section, sometimes two at once.
      for (let k = 0, n = rand() < 0.2 ? 2 : 1; k < n; k++) {
        const which = present[Math.floor(rand() * present.length)];
        (damaged as unknown as Record<string, Section>)[which] = sectionOf(mutate(original.get(which)!, rand));
      }
      try {
        if (exercise(damaged, pcs) > 0) noticed++;
      } catch (e) {
        assert.fail(`round ${i} threw: ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
    // The damage reaches the parsers (most mutations are noticed; some land in unread bytes).
    assert.ok(noticed > i / 5, `only ${noticed} of ${i} damaged rounds reported a problem`);
  });
}

test('random bytes as every section', () => {
  const rand = rng(fuzzSeed(0xbadd, 7));
  for (let i = 0; i < fuzzRounds(200); i++) {
    const rnd = (n: number): Section => sectionOf(Uint8Array.from({ length: n }, () => Math.floor(rand() * 256)));
    const s: DebugSections = { addressSize: rand() < 0.5 ? 8 : 4 };
    for (const k of MUTABLE) (s as unknown as Record<string, Section>)[k] = rnd(Math.floor(rand() * 512));
    // A plausible unit header now and then, so the DIE parser is reached.
    if (rand() < 0.5) {
      const info = bytesOf(s.debugInfo!);
      const head = [0x40, 0, 0, 0, 5, 0, 1, 8, 0, 0, 0, 0];
      const b = new Uint8Array(Math.max(info.length, 0x44));
      b.set(info); b.set(head);
      s.debugInfo = sectionOf(b);
    }
    exercise(s, [0n, 0x1000n, BigInt(Math.floor(rand() * 0xffffffff))]);
  }
});
