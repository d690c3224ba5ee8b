// Small programs compiled with gcc at test time for DWARF 2-5, 32 and 64 bit,
// with .debug_frame (-fno-asynchronous-unwind-tables) or .eh_frame.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { abiFor, loadSymbols } from '../../debug-adapter/symbols';

const SOURCE = `int counter;
__attribute__((noinline)) int add(int a, int b)
{
	return a + b;
}
__attribute__((noinline)) int twice(int x)
{
	int y = add(x, x);
	counter += y;
	return y;
}
void _start(void)
{
	for (;;)
		counter = twice(counter);
}
`;
const lines = SOURCE.split('\n');
const lineOf = (text: string): number => lines.findIndex((l) => l.includes(text)) + 1;

const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-dwarf-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'fx.c'), SOURCE);

function compile(bits: 32 | 64, version: number, frames: 'debug_frame' | 'eh_frame'): string | undefined {
  const out = join(dir, `fx${bits}-${version}-${frames}.elf`);
  const r = spawnSync('gcc', [
    `-m${bits}`, '-O1', '-g', `-gdwarf-${version}`, '-ffreestanding', '-nostdlib', '-static', '-fno-pie', '-no-pie',
    '-fno-omit-frame-pointer', frames === 'debug_frame' ? '-fno-asynchronous-unwind-tables' : '-fasynchronous-unwind-tables',
    '-o', out, 'fx.c',
  ], { cwd: dir, encoding: 'utf8' });
  return r.status === 0 ? out : undefined;
}

for (const bits of [32, 64] as const) {
  for (const version of [2, 3, 4, 5]) {
    for (const frames of ['debug_frame', 'eh_frame'] as const) {
      test(`gcc -m${bits} -gdwarf-${version} with ${frames}`, () => {
        const file = compile(bits, version, frames);
        assert.ok(file, 'gcc failed');
        const syms = loadSymbols(file);
        assert.deepEqual(syms.problems, []);
        assert.equal(syms.bits, bits);
        // gas writes line tables of version >= 3.
        assert.deepEqual([...syms.lines.versions], [Math.max(version, 3)]);
        assert.match(syms.summary, new RegExp(`DWARF ${Math.max(version, 3)} line tables for 1 file, CFI for 3 functions \\(\\.${frames}\\)`));
        assert.ok(syms.info);
        assert.deepEqual([...syms.info.versions], [version]);
        const cu = syms.info.units[0];
        assert.equal(cu.name, 'fx.c');
        assert.equal(cu.compDir, dir);
        assert.deepEqual(syms.info.subprograms.map((s) => s.name).sort(), ['_start', 'add', 'twice']);

        const add = syms.table.lookup('add')!;
        const twice = syms.table.lookup('twice')!;
        const at = syms.resolveBreakpoint('fx.c', lineOf('return a + b;'));
        assert.ok(at && at.addresses.length === 1);
        assert.ok(at.addresses[0] >= add.address && at.addresses[0] < add.address + add.size);
        // Full path as the compile directory names it, too.
        assert.deepEqual(syms.addressesForLine(join(dir, 'fx.c'), at.line), syms.addressesForLine('fx.c', at.line));
        const loc = syms.lineForAddress(twice.address);
        assert.equal(loc?.file, join(dir, 'fx.c'));
        assert.ok(loc && loc.line >= lineOf('int twice(int x)') && loc.line <= lineOf('int twice(int x)') + 1);

        const abi = abiFor(bits);
        const row = syms.unwindRow(twice.address);
        assert.ok(row, 'no CFI row for twice');
        assert.equal(row.source, `.${frames}`);
        assert.deepEqual(row.cfa, { kind: 'register', register: abi.sp, offset: BigInt(bits / 8) });
      });
    }
  }
}
