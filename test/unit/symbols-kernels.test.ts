// The symbol layer on our real test kernels (test/guests/build, built by `npm run build`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadSymbols, SymbolTable } from '../../debug-adapter/symbols';

const GUESTS = join(__dirname, '..', '..', '..', 'test', 'guests');
const kernel = (name: string): string => join(GUESTS, 'build', `${name}.elf`);
const mainC = readFileSync(join(GUESTS, 'kernel', 'main.c'), 'utf8').split('\n');

/** 1-based number of the first source line containing `text`. */
function lineOf(text: string): number {
  const i = mainC.findIndex((l) => l.includes(text));
  assert.ok(i >= 0, `kernel/main.c has no line containing ${text}`);
  return i + 1;
}

/** The function's opening brace: gcc attributes a function's entry to it. */
function braceAfter(line: number): number {
  for (let i = line - 1; i < mainC.length; i++) if (mainC[i].trimStart().startsWith('{')) return i + 1;
  assert.fail('no opening brace');
}

for (const name of ['multiboot32', 'pvh64', 'elf64']) {
  const syms = loadSymbols(kernel(name));
  const bits = name === 'multiboot32' ? 32 : 64;

  test(`${name}: the summary names what was found, and nothing is damaged`, () => {
    assert.match(syms.summary, new RegExp(`^${name}\\.elf: DWARF 5 line tables for \\d+ files, CFI for \\d+ functions \\(\\.eh_frame\\), \\d+ symbols$`));
    assert.deepEqual(syms.warnings, []);
    assert.deepEqual(syms.problems, []);
    assert.equal(syms.bits, bits);
  });

  test(`${name}: the line of fib's definition maps to addresses inside fib`, () => {
    const fib = syms.table.lookup('fib');
    assert.ok(fib && fib.size > 0n);
    const def = lineOf('uint32_t fib(uint32_t n)');
    for (const file of ['kernel/main.c', 'main.c', join(GUESTS, 'kernel', 'main.c'), '/elsewhere/checkout/kernel/main.c']) {
      const bp = syms.resolveBreakpoint(file, def);
      assert.ok(bp, `no breakpoint for ${file}:${def}`);
      assert.ok(bp.line === def || bp.line === braceAfter(def), `moved to line ${bp.line}`);
      assert.equal(bp.addresses.length, 1);
      for (const a of [...bp.addresses, ...syms.addressesForLine(file, bp.line)]) {
        assert.ok(a >= fib.address && a < fib.address + fib.size, `0x${a.toString(16)} is outside fib`);
      }
    }
    assert.equal(syms.addressesForLine('demo/main.c', def).length, 0, 'a suffix must match whole path components');
    assert.equal(syms.addressesForLine('nosuchfile.c', def).length, 0);
    const body = lineOf('return fib(n - 1) + fib(n - 2);');
    const addrs = syms.addressesForLine('kernel/main.c', body);
    assert.ok(addrs.length >= 1);
    for (const a of addrs) assert.equal(syms.symbolize(a)?.name, 'fib');
  });

  test(`${name}: lineForAddress(compute_checksum) is its definition in main.c`, () => {
    const addr = syms.addressOf('compute_checksum');
    assert.ok(addr !== undefined);
    const loc = syms.lineForAddress(addr);
    assert.ok(loc);
    assert.ok(loc.file.endsWith('/kernel/main.c'), loc.file);
    const def = lineOf('uint32_t compute_checksum(const uint8_t *data, size_t len)');
    // Several rows share the entry address (DWARF 5 location views: '{', the first declarations,
    // the first statement); like gdb, the last statement row names it: a line of the function's start.
    assert.ok(loc.line >= def && loc.line <= braceAfter(def) + 2, `line ${loc.line}, definition at ${def}`);
    assert.equal(loc.address, addr);
    // The current line's range holds the address and stays inside the function.
    const range = syms.lineRange(addr);
    const fn = syms.functionAt(addr);
    assert.ok(range && fn);
    assert.equal(fn.name, 'compute_checksum');
    assert.ok(range[0] <= addr && addr < range[1] && range[1] <= fn.end, `${range} vs ${fn.start}..${fn.end}`);
    // Stepping: the address right after the range is on another line (or outside every row).
    const after = syms.lineForAddress(range[1]);
    assert.ok(!after || after.line !== loc.line || after.address === range[1]);
  });

  test(`${name}: every line of step_sequence (assembly) has its own address`, () => {
    const step = syms.addressOf('step_sequence');
    assert.ok(step !== undefined);
    const loc = syms.lineForAddress(step);
    assert.ok(loc && loc.file.endsWith(bits === 64 ? 'kernel/step64.S' : 'kernel/step32.S'), loc?.file);
    const next = syms.addressesForLine(loc.file, loc.line + 1);
    assert.equal(next.length, 1);
    assert.ok(next[0] > step && next[0] - step <= 16n);
    assert.deepEqual(syms.lineRange(step), [step, next[0]]);
  });

  test(`${name}: symbols, DWARF compile units and subprograms`, () => {
    for (const s of ['kernel_main', 'fib', 'compute_checksum', 'step_sequence', 'spin_loop', 'result_value', 'tick_counter']) {
      const e = syms.table.lookup(s);
      assert.ok(e, s);
      assert.deepEqual(syms.symbolize(e.address), { name: s, offset: 0n, symbol: e });
    }
    const fib = syms.table.lookup('fib')!;
    assert.equal(syms.table.format(fib.address + 3n), 'fib+0x3');
    assert.equal(syms.table.lookup('fib')?.kind, 'function');
    assert.equal(syms.table.lookup('tick_counter')?.kind, 'object');
    const info = syms.info;
    assert.ok(info);
    const main = info.units.find((u) => u.name === 'kernel/main.c');
    assert.ok(main);
    assert.equal(main.compDir, GUESTS);
    assert.equal(main.version, 5);
    assert.ok(main.stmtList !== undefined);
    const sp = info.subprograms.find((s) => s.name === 'fib');
    assert.ok(sp);
    assert.equal(sp.lowPc, fib.address);
    assert.equal(sp.highPc, fib.address + fib.size);
    assert.equal(syms.functionAt(fib.address + 5n)?.name, 'fib');
  });
}

test('a System.map gives names and addresses', () => {
  const elf = loadSymbols(kernel('pvh64'));
  const nm = spawnSync('nm', [kernel('pvh64')], { encoding: 'utf8' });
  const text = nm.status === 0 ? nm.stdout : 'ffffffff81000000 T _text\n';
  const map = SymbolTable.fromSystemMap(`${text}\ngarbage line\n                 U undefined_thing\n`);
  assert.equal(map.source, 'System.map');
  assert.equal(map.lookup('undefined_thing'), undefined);
  if (nm.status === 0) {
    const fib = elf.table.lookup('fib')!;
    assert.equal(map.lookup('fib')?.address, fib.address);
    assert.equal(map.lookup('fib')?.kind, 'function');
    assert.deepEqual(map.symbolize(fib.address + 7n)?.name, 'fib');
  }
  const linux = SymbolTable.fromSystemMap('ffffffff81000000 T _text\nffffffff81000040 t start_cpu0\nffffffff82a00000 D jiffies\n0000000000000000 A __per_cpu_start\n');
  assert.equal(linux.size, 3);
  assert.equal(linux.format(0xffffffff81000050n), 'start_cpu0+0x10');
  assert.equal(linux.symbolize(0xffffffff80000000n), undefined);
});

test('an ELF without debug sections: one sentence on what still works', () => {
  const out = join(tmpdir(), `kvmdbg-stripped-${process.pid}.elf`);
  const r = spawnSync('objcopy', ['--strip-debug', kernel('pvh64'), out]);
  assert.equal(r.status, 0, 'objcopy (binutils) is needed for this test: apt-get install binutils');
  const syms = loadSymbols(out, { name: 'vmlinux' });
  assert.ok(syms.warnings.includes('vmlinux has no DWARF line tables (built without CONFIG_DEBUG_INFO?): source breakpoints are unavailable; function breakpoints by name still work'), syms.warnings.join('\n'));
  assert.ok(syms.addressOf('fib') !== undefined);
  assert.deepEqual(syms.addressesForLine('main.c', 30), []);
  rmSync(out, { force: true });
});

test('loadSymbols never throws on files that are not kernels', () => {
  const missing = loadSymbols('/nonexistent/vmlinux');
  assert.equal(missing.summary, 'vmlinux: cannot be read (no such file): no symbols, source lines or stacks are available');
  const notElf = loadSymbols(new Uint8Array([1, 2, 3]), { name: 'junk.bin' });
  assert.match(notElf.summary, /^junk\.bin: is not an ELF file/);
  assert.deepEqual(notElf.addressesForLine('main.c', 1), []);
  assert.equal(notElf.lineForAddress(0x100000n), undefined);
  assert.equal(notElf.unwind({ pc: 1n, sp: 2n, fp: 0n }, () => undefined).frames.length, 1);
});
