// Lean loading (issue 14, "Scale"): a kernel file is opened and read on
// demand, never whole; which unit covers an address comes from
// .debug_aranges, so no line program runs at load. On our test kernels the
// answers must be exactly those of the bytes-in-memory path and of running
// every line program; a huge file costs what its small sections cost.
// And DWARF 5 file names: directory 0 is the compile directory (not a path
// under it), as gcc writes it for a relative comp_dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileSource } from '../../vmm/boot/byte-source';
import { loadSymbols, objectFileFromElf, parseLineTables } from '../../debug-adapter/symbols';

const GUESTS = join(__dirname, '..', '..', '..', 'test', 'guests', 'build');
const hex = (a: bigint | undefined): string => (a === undefined ? '-' : `0x${a.toString(16)}`);

for (const name of ['pvh64', 'elf64', 'multiboot32', 'demo']) {
  const path = join(GUESTS, `${name}.elf`);

  test(`${name}: the file read on demand answers what the bytes in memory and every line program answer`, () => {
    const lean = loadSymbols(path);
    const bytes = readFileSync(path);
    const inMemory = loadSymbols(new Uint8Array(bytes), { name: `${name}.elf` });
    assert.equal(lean.summary, inMemory.summary);
    assert.deepEqual(lean.problems, []);
    // The old load: every program run to learn its ranges (no .debug_aranges).
    const obj = objectFileFromElf(name, bytes);
    const scanned = parseLineTables({
      debugLine: obj.section('.debug_line')!.data, debugLineStr: obj.section('.debug_line_str')?.data,
      debugStr: obj.section('.debug_str')?.data, addressSize: obj.bits === 64 ? 8 : 4,
    });
    let checked = 0;
    for (const seq of scanned.sequences) {
      for (const row of seq) {
        for (const a of [row.address, row.address + 1n]) {
          const want = scanned.lineForAddress(a);
          const got = lean.lines.lineForAddress(a);
          assert.deepEqual(got, want, `line at ${hex(a)}`);
          assert.deepEqual(lean.lines.lineRange(a), scanned.lineRange(a), `line range at ${hex(a)}`);
          assert.deepEqual(lean.lineForAddress(a), inMemory.lineForAddress(a));
          assert.deepEqual(lean.functionAt(a), inMemory.functionAt(a));
          assert.deepEqual(lean.symbolize(a), inMemory.symbolize(a));
          assert.deepEqual(lean.unwindRow(a), inMemory.unwindRow(a));
          checked++;
        }
        if (!row.endSequence) {
          const file = scanned.files[row.file];
          assert.deepEqual(lean.resolveBreakpoint(file, row.line), inMemory.resolveBreakpoint(file, row.line));
          assert.deepEqual(lean.lines.resolveLine(file, row.line), scanned.resolveLine(file, row.line));
        }
      }
    }
    assert.ok(checked > 100, `${checked} addresses compared`);
    assert.deepEqual(lean.lines.sourceFiles(), scanned.sourceFiles());
  });
}

test('a kernel file with a 1 GiB tail is loaded without reading it: memory and reads stay small', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-lean-'));
  try {
    const big = join(dir, 'big.elf');
    copyFileSync(join(GUESTS, 'pvh64.elf'), big);
    truncateSync(big, 1024 ** 3); // sparse: no disk used
    const before = process.memoryUsage().arrayBuffers;
    const file = openFileSource(big);
    const syms = loadSymbols(file, { name: 'big.elf' });
    const fib = syms.addressOf('fib');
    assert.ok(fib !== undefined);
    assert.match(syms.lineForAddress(fib)?.file ?? '', /main\.c$/);
    assert.ok(file.stats.bytesRead < 4 * 1024 * 1024, `${file.stats.bytesRead} bytes read of a 1 GiB file`);
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024, 'no buffer of the file size');
    file.close();
    // And by path, as the adapter loads it.
    const byPath = loadSymbols(big);
    assert.equal(byPath.addressOf('fib'), fib);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DWARF 5 with a relative comp_dir: a file is its directory 0 joined once, not twice (gcc -fdebug-prefix-map)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-reldir-'));
  try {
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'hello.c'), 'int counter;\nint add(int a, int b)\n{\n  return a + b + counter;\n}\n');
    const out = join(dir, 'hello.elf');
    const cc = spawnSync('gcc', ['-g', '-O0', '-gdwarf-5', '-nostdlib', '-static', '-Wl,-e,add', `-fdebug-prefix-map=${dir}=rel/build`,
      '-o', out, 'sub/hello.c'], { cwd: dir, encoding: 'utf8' });
    if (cc.error || cc.status !== 0) assert.fail(`gcc is needed for this test (apt-get install build-essential): ${cc.error?.message ?? cc.stderr}`);
    t.diagnostic('built with gcc -gdwarf-5 and a relative comp_dir "rel/build"');
    const syms = loadSymbols(out);
    const add = syms.addressOf('add');
    assert.equal(syms.lineForAddress(add!)?.file, 'rel/build/sub/hello.c');
    assert.deepEqual(syms.lines.files, ['rel/build/sub/hello.c']);
    assert.equal(syms.resolveBreakpoint('sub/hello.c', 4)?.line, 4, 'a breakpoint by the path gdb shows finds it');
    // DWARF 4 has no directory 0 in the header: comp_dir is directory 0.
    const out4 = join(dir, 'hello4.elf');
    const cc4 = spawnSync('gcc', ['-g', '-O0', '-gdwarf-4', '-nostdlib', '-static', '-Wl,-e,add', `-fdebug-prefix-map=${dir}=rel/build`,
      '-o', out4, 'sub/hello.c'], { cwd: dir, encoding: 'utf8' });
    assert.equal(cc4.status, 0, cc4.stderr);
    const syms4 = loadSymbols(out4);
    assert.equal(syms4.lineForAddress(syms4.addressOf('add')!)?.file, 'rel/build/sub/hello.c');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
