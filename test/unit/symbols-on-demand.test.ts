// Symbols made on first use (issue 14, "Scale"): the symbol table counted
// and searched in place from the raw .symtab, and a second load of a file
// (by build-id) that reads what the first learned (load-facts.ts) instead
// of parsing its line-table headers, compile units and CFI. The answers,
// the summary and the problems must be exactly those of a full load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSymbols, objectFileFromElf, SymbolTable } from '../../debug-adapter/symbols';
import { quickSymbols } from '../../debug-adapter/symbols/elf-symtab';

const GUESTS = join(__dirname, '..', '..', '..', 'test', 'guests', 'build');

for (const name of ['pvh64', 'multiboot32', 'demo', 'cdata-gcc-O2']) {
  test(`${name}: the symtab read in place counts and finds exactly what the whole table does`, (t) => {
    let bytes: Uint8Array;
    try { bytes = readFileSync(join(GUESTS, `${name}.elf`)); } catch { t.skip(`${name}.elf is not built`); return; }
    const obj = objectFileFromElf(name, bytes);
    const raw = obj.rawSymtab!();
    assert.ok(raw);
    const quick = quickSymbols(raw)!;
    const full = SymbolTable.fromElf(obj.symbols());
    assert.equal(quick.count, full.size);
    const names = new Set(obj.symbols().map((s) => s.name));
    for (const n of [...names, 'no_such_symbol', '', '.Lnothing', 'fi', 'ib']) assert.deepEqual(quick.lookup(n), full.lookup(n), n);
    // The lazy table answers from `quick` until something needs the entries, then from them.
    const lazy = SymbolTable.lazyFromElf(() => obj.symbols(), quick);
    const fn = full.entries.find((e) => e.kind === 'function' && e.size > 1n && full.lookup(e.name) === e)!;
    assert.equal(lazy.size, full.size);
    assert.deepEqual(lazy.lookup(fn.name), fn);
    assert.deepEqual(lazy.entries, full.entries);
    assert.equal(lazy.format(fn.address + 1n), full.format(fn.address + 1n));
  });
}

test('a damaged symtab is left to the full reader (which says what is wrong)', () => {
  const bytes = new Uint8Array(readFileSync(join(GUESTS, 'pvh64.elf')));
  const obj = objectFileFromElf('pvh64', bytes);
  const raw = obj.rawSymtab!()!;
  // A name offset past the string table: elf.ts refuses the whole table.
  const symtab = Uint8Array.from(raw.symtab);
  new DataView(symtab.buffer).setUint32(raw.entsize * 3, raw.strtab.length + 10, true);
  assert.equal(quickSymbols({ ...raw, symtab }), undefined);
});

const C_FILES = {
  'a.c': 'int counter;\nint helper(int x);\n__attribute__((noinline)) int add(int a, int b)\n{\n  return a + b + counter;\n}\nint _start(void)\n{\n  return helper(add(1, 2));\n}\n',
  'b.c': 'static int local_state = 3;\n__attribute__((noinline)) int helper(int x)\n{\n  local_state += x;\n  return local_state * 2;\n}\n',
};

test('a second load by build-id reads the first one\'s facts: the same summary, problems and answers, headers read on demand', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-facts-'));
  try {
    for (const [f, text] of Object.entries(C_FILES)) writeFileSync(join(dir, f), text);
    const out = join(dir, 'two.elf');
    const cc = spawnSync('gcc', ['-g', '-O1', '-gdwarf-5', '-nostdlib', '-static', '-fno-asynchronous-unwind-tables', '-Wl,--build-id=sha1',
      '-o', out, 'a.c', 'b.c'], { cwd: dir, encoding: 'utf8' });
    if (cc.error || cc.status !== 0) assert.fail(`gcc is needed for this test (apt-get install build-essential): ${cc.error?.message ?? cc.stderr}`);
    t.diagnostic('two units, gcc -gdwarf-5 with a build-id and .debug_frame');
    const cache = join(dir, 'cache');
    const plain = loadSymbols(out);
    const first = loadSymbols(out, { nameIndex: { cacheDir: cache, inline: true } });
    const facts = readdirSync(cache).filter((f) => f.endsWith('.json'));
    assert.equal(facts.length, 1, 'the first load wrote its facts');
    const second = loadSymbols(out, { nameIndex: { cacheDir: cache, inline: true } });
    for (const s of [first, second]) {
      assert.equal(s.summary, plain.summary);
      assert.deepEqual(s.problems, plain.problems);
      assert.deepEqual(s.warnings, plain.warnings);
    }
    assert.match(second.summary, /^two\.elf: DWARF 5 line tables for 2 files, CFI for 3 functions \(\.debug_frame\), \d+ symbols$/);
    for (const fn of ['add', '_start', 'helper']) {
      const a = plain.addressOf(fn)!;
      assert.equal(second.addressOf(fn), a);
      for (const x of [a, a + 1n, a + 4n]) {
        assert.deepEqual(second.lineForAddress(x), plain.lineForAddress(x), `${fn}: line at +${x - a}`);
        assert.deepEqual(second.lineRange(x), plain.lineRange(x));
        assert.deepEqual(second.functionAt(x), plain.functionAt(x));
        assert.deepEqual(second.symbolize(x), plain.symbolize(x));
        assert.deepEqual(second.unwindRow(x), plain.unwindRow(x));
      }
    }
    for (const [file, line] of [['a.c', 4], ['b.c', 4], ['a.c', 9]] as const) {
      assert.deepEqual(second.resolveBreakpoint(file, line), plain.resolveBreakpoint(file, line), `${file}:${line}`);
    }
    assert.deepEqual([...second.lines.files].sort(), [...plain.lines.files].sort());
    assert.deepEqual(second.lines.sourceFiles(), plain.lines.sourceFiles());
    assert.deepEqual(second.info?.units, plain.info?.units);
    assert.equal(second.debug?.findVariable('counter')?.name, 'counter');
    // Facts of another file (or version) under this build-id are not used: a damaged file is parsed again.
    writeFileSync(join(cache, facts[0]), '{"version": 1, "buildId": "nope"');
    const third = loadSymbols(out, { nameIndex: { cacheDir: cache, inline: true } });
    assert.equal(third.summary, plain.summary);
    assert.ok(JSON.parse(readFileSync(join(cache, facts[0]), 'utf8')).strings, 'and written again');
    // No cache asked for (cacheDir null): nothing written, the same answers.
    const none = loadSymbols(out, { nameIndex: { cacheDir: null, inline: true } });
    assert.equal(none.summary, plain.summary);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
