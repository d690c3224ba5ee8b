// The DWARF name index (issue 14, "Scale"): top-level named DIEs -> section
// offsets, exactly those readelf lists at depth 1 of every unit; built in a
// worker, cached by build-id, a damaged cache rebuilt with a log line, a
// different build-id in a file of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildIndexBytes, NameIndex, openNameIndex } from '../../debug-adapter/dwarf/name-index-service';
import { loadSymbols } from '../../debug-adapter/symbols';

const GUESTS = join(__dirname, '..', '..', '..', 'test', 'guests', 'build');
const TAGS: Record<string, 'variable' | 'function' | 'type'> = {
  DW_TAG_variable: 'variable', DW_TAG_subprogram: 'function', DW_TAG_structure_type: 'type', DW_TAG_union_type: 'type',
  DW_TAG_enumeration_type: 'type', DW_TAG_typedef: 'type', DW_TAG_base_type: 'type',
};

/** Depth-1 DIEs with a DW_AT_name, as readelf prints them: name -> kind -> offsets (declarations apart). */
function readelfTopLevel(path: string): Map<string, { kind: string; offset: number; declaration: boolean }[]> {
  const r = spawnSync('readelf', ['--debug-dump=info', '--wide', path], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, `readelf (binutils) is needed: ${r.stderr}`);
  const out = new Map<string, { kind: string; offset: number; declaration: boolean }[]>();
  let cur: { kind: string; offset: number; declaration: boolean; name?: string } | undefined;
  const flush = (): void => {
    if (cur?.name) {
      const list = out.get(cur.name) ?? [];
      list.push({ kind: cur.kind, offset: cur.offset, declaration: cur.declaration });
      out.set(cur.name, list);
    }
    cur = undefined;
  };
  for (const line of r.stdout.split('\n')) {
    const die = /^\s*<(\d+)><([0-9a-f]+)>: Abbrev Number: \d+ \((DW_TAG_\w+)\)/.exec(line);
    if (die) {
      flush();
      if (die[1] === '1' && TAGS[die[3]]) cur = { kind: TAGS[die[3]], offset: parseInt(die[2], 16), declaration: false };
      continue;
    }
    if (/^\s*<(\d+)><[0-9a-f]+>: Abbrev Number: 0/.test(line)) { flush(); continue; }
    if (!cur) continue;
    // "(strp) (offset: 0x45): fib", "(string) int", "(indirect string, offset: 0x45): fib"
    const name = /DW_AT_name\s*:\s*(?:\(\w+\)\s*)?(?:\((?:indirect (?:line )?string, )?offset: 0x[0-9a-f]+\):\s*)?(.*)$/.exec(line);
    if (name) cur.name = name[1].trim();
    if (/DW_AT_declaration/.test(line)) cur.declaration = true;
  }
  flush();
  return out;
}

for (const kernel of ['pvh64', 'multiboot32', 'demo']) {
  test(`${kernel}: the index holds every top-level definition readelf lists, at the same offsets`, () => {
    const path = join(GUESTS, `${kernel}.elf`);
    const index = new NameIndex(buildIndexBytes(path, 'test').bytes, 'test');
    const want = readelfTopLevel(path);
    assert.ok(want.size > 10);
    let compared = 0;
    for (const [name, dies] of want) {
      for (const kind of ['variable', 'function', 'type'] as const) {
        const defs = dies.filter((d) => d.kind === kind && !d.declaration).map((d) => d.offset);
        const got = kind === 'variable' ? index.variables(name) : kind === 'function' ? index.functions(name) : index.types(name);
        if (defs.length > 0) { assert.deepEqual(got, defs, `${kind} ${name}`); compared++; }
        else if (dies.some((d) => d.kind === kind)) assert.ok(got.length > 0, `${kind} ${name}: its declarations`);
      }
    }
    assert.ok(compared > 10, `${compared} names compared`);
    assert.ok(index.namesStartingWith('', 1e6).length >= want.size);
  });
}

test('lookups: struct/union/enum prefixes pick that kind; completion by prefix is sorted and limited', () => {
  const path = join(GUESTS, 'pvh64.elf');
  const index = new NameIndex(buildIndexBytes(path, 'test').bytes, 'test');
  assert.ok(index.types('struct boot_info').length > 0);
  assert.deepEqual(index.types('union boot_info'), []);
  assert.deepEqual(index.types('boot_info'), index.types('struct boot_info'));
  assert.ok(index.variables('boot').length > 0);
  assert.ok(index.functions('kernel_main').length > 0);
  const w = index.namesStartingWith('watch_', 3);
  assert.equal(w.length, 3);
  assert.deepEqual(w, [...w].sort());
  assert.ok(w.every((n) => n.startsWith('watch_')));
  assert.deepEqual(index.variables('no_such_name'), []);
});

test('the cache: built in a worker, reused, a damaged file rebuilt with a log line, another build-id apart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-index-'));
  try {
    const path = join(GUESTS, 'pvh64.elf');
    const log: string[] = [];
    const first = openNameIndex(path, { buildId: 'aa11', cacheDir: dir, log: (l) => log.push(l) });
    assert.equal(first.state, 'building');
    assert.deepEqual(first.variables('boot'), [], 'nothing until it is built (the symbol table answers meanwhile)');
    const built = await first.ready;
    assert.ok(built, log.join('\n'));
    assert.equal(first.source, 'built');
    assert.ok(first.variables('boot').length > 0);
    const file = join(dir, readdirSync(dir).find((f) => f.startsWith('aa11'))!);
    assert.ok(existsSync(file));
    assert.match(log.join('\n'), /name index of .*pvh64\.elf: \d+ names in .* s, cached in/);

    const second = openNameIndex(path, { buildId: 'aa11', cacheDir: dir });
    assert.equal(second.state, 'ready', 'read from the cache at once');
    assert.equal(second.source, 'cache');
    assert.deepEqual(second.variables('boot'), first.variables('boot'));

    const bytes = readFileSync(file);
    bytes[bytes.length - 10] ^= 0xff;
    writeFileSync(file, bytes);
    const log3: string[] = [];
    const third = openNameIndex(path, { buildId: 'aa11', cacheDir: dir, log: (l) => log3.push(l), inline: true });
    assert.match(log3[0], /name index cache .* is damaged \(its checksum does not match/);
    await third.ready;
    assert.equal(third.source, 'built');
    assert.deepEqual(third.variables('boot'), first.variables('boot'));
    assert.equal(openNameIndex(path, { buildId: 'aa11', cacheDir: dir }).source, 'cache', 'the rebuilt file is valid');

    writeFileSync(file, 'not an index');
    const log4: string[] = [];
    const fourth = openNameIndex(path, { buildId: 'aa11', cacheDir: dir, log: (l) => log4.push(l), inline: true });
    assert.match(log4[0], /damaged/);
    await fourth.ready;

    const other = openNameIndex(join(GUESTS, 'demo.elf'), { buildId: 'bb22', cacheDir: dir, inline: true });
    await other.ready;
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.idx')).sort().map((f) => f.slice(0, 4)), ['aa11', 'bb22']);
    // A file named for one build-id but holding another's index is refused.
    const bbFile = join(dir, readdirSync(dir).find((f) => f.startsWith('bb22'))!);
    assert.throws(() => new NameIndex(readFileSync(bbFile), 'aa11'), /built for build-id bb22, not aa11/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadSymbols starts the index for a file with a build-id, and never waits for it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-index-'));
  try {
    // Our test kernels have no build-id note: the index is built but not cached.
    const syms = loadSymbols(join(GUESTS, 'pvh64.elf'), { nameIndex: { cacheDir: dir } });
    assert.ok(syms.names);
    assert.ok(syms.addressOf('fib') !== undefined, 'the symbol table answers at once');
    await syms.names.ready;
    assert.ok(syms.names.functions('fib').length > 0);
    assert.deepEqual(readdirSync(dir), [], 'no build-id, no cache file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
