// dwarf/ on our real test kernels (test/guests/build, built by `npm run build`;
// gcc, 32- and 64-bit): every function's entry has a scope named after it,
// every variable in scope there has a location that evaluates, every
// global's type can be walked, and nothing is reported damaged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { objectFileFromElf } from '../../debug-adapter/symbols';
import { debugSectionsOf, openDebugData, strip } from '../../debug-adapter/dwarf';
import type { CType, FrameContext } from '../../debug-adapter/dwarf/model';

const kernel = (name: string): string => join(__dirname, '..', '..', '..', 'test', 'guests', 'build', `${name}.elf`);

function walk(t: CType, depth: number): number {
  if (depth > 8) return 0;
  const s = strip(t);
  if (s.kind === 'pointer') return 1 + walk(s.target(), depth + 1);
  if (s.kind === 'struct' || s.kind === 'union') return 1 + s.members().reduce((n, m) => n + walk(m.type(), depth + 1), 0);
  if (s.kind === 'array') return 1 + walk(s.element(), depth + 1);
  return 1;
}

for (const name of ['multiboot32', 'pvh64', 'elf64']) {
  test(`${name}: scopes at every function's entry, locations, globals' types`, () => {
    const obj = objectFileFromElf(name, readFileSync(kernel(name)));
    const data = openDebugData(debugSectionsOf(obj));
    const bits = obj.bits;
    const frame = (pc: bigint): FrameContext => ({
      pc, innermost: true, addressSize: bits === 64 ? 8 : 4, register: (n) => 0x10000n + BigInt(n) * 0x100n,
      cfa: () => 0x8000n, readMemory: (_a, size) => new Uint8Array(size), relocate: (a) => a,
    });
    const functions = obj.symbols().filter((s) => s.type.toLowerCase() === 'func' && s.size > 0n);
    assert.ok(functions.length > 5);
    let withScope = 0;
    let variables = 0;
    for (const f of functions) {
      const scopes = data.scopesAt(f.value);
      if (scopes.length === 0) continue; // assembly entry code has no DWARF functions
      withScope++;
      // The outermost scope is the concrete function the symbol names.
      assert.equal(scopes[scopes.length - 1].name, f.name, `at ${f.name}`);
      assert.equal(scopes[scopes.length - 1].lowPc, f.value);
      for (const s of scopes) {
        for (const v of [...s.parameters, ...s.blocks.flatMap((b) => b.locals)]) {
          variables++;
          const loc = v.location(frame(f.value));
          assert.ok(['memory', 'register', 'value', 'pieces', 'unavailable'].includes(loc.kind));
          if (loc.kind === 'unavailable') assert.doesNotMatch(loc.reason, /damaged|could not/, `${f.name}: ${v.name}`);
          walk(v.type(), 0);
        }
      }
    }
    assert.ok(withScope >= functions.length / 2, `${withScope} of ${functions.length} functions have scopes`);
    assert.ok(variables > 0);
    const statics = data.scopesAt(functions.find((f) => data.scopesAt(f.value).length)!.value)[0].unit.statics();
    for (const v of statics) {
      const loc = v.location(frame(0n));
      assert.ok(loc.kind === 'memory' || loc.kind === 'value', `${v.name}: ${loc.kind}`);
      walk(v.type(), 0);
    }
    assert.deepEqual(data.problems, []);
  });
}
