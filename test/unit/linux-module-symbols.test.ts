// A kernel module's symbols at run time (symbols/relocate.ts, symbols/symbol-space.ts,
// linux/module-symbols.ts): real ET_REL objects compiled here with `gcc -c -g -O1`, their
// sections placed as the kernel's loader would, relocated (RELA: R_X86_64_64, _32, PC32 in
// .debug_*, .debug_frame/.eh_frame), and looked up through one SymbolSpace with a "kernel"
// object beside them. Bad input: relocations outside their section, a stripped copy. No KVM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { symbolsFromObject, type Symbols } from '../../debug-adapter/symbols';
import { relocatableObject } from '../../debug-adapter/symbols/relocate';
import { SymbolSpace } from '../../debug-adapter/symbols/symbol-space';
import { ElfFile } from '../../vmm/boot/elf';
import { loadModuleSymbols } from '../../debug-adapter/linux/module-symbols';
import type { KernelModule } from '../../debug-adapter/linux/module-list';
import { BreakpointTable } from '../../debug-adapter/breakpoints';
import { pendingSourceMessage, rebindBreakpoints } from '../../debug-adapter/linux/module-breakpoints';
import { candidateFiles, moduleKey } from '../../debug-adapter/linux/module-files';
import { gcc, lineOf, placeAll, workDir as dir } from './helpers/kernel-modules';


const MODULE_C = `
struct probe { int id; unsigned long calls; const char *label; };
static struct probe probe = { .id = 7, .label = "kvmdbg" };
static int rounds = 10;
__attribute__((noinline)) static int mod_sum(int n)
{
	int i, total = 0;
	for (i = 1; i <= n; i++)
		total += i * i;
	probe.calls++;
	return total; /* bp:ret */
}
__attribute__((section(".init.text"))) int mod_init(void)
{
	int result = mod_sum(rounds); /* bp:init */
	return result;
}
__attribute__((section(".exit.text"))) void mod_exit(void)
{
	probe.calls += mod_sum(3);
}
`;

const KERNEL_C = `
int kernel_counter;
__attribute__((noinline)) int kernel_work(int x)
{
	kernel_counter += x; /* bp:kernel */
	return kernel_counter;
}
`;

const MODULE_BASE = 0xffffffffa0000000n;
const KERNEL_BASE = 0xffffffff81000000n;

function moduleSymbols(flags: string[] = []): { syms: Symbols; loads: Map<string, bigint>; source: string; problems: string[] } {
  const o = gcc(`mod${flags.join('').replace(/\W/g, '')}`, MODULE_C, flags);
  const loads = placeAll(o.bytes, MODULE_BASE);
  const obj = relocatableObject('kvm_mod', o.bytes, loads);
  const syms = symbolsFromObject(obj, { name: 'kvm_mod' });
  return { syms, loads, source: o.source, problems: [...obj.problems, ...syms.problems] };
}

for (const variant of [[], ['-fno-asynchronous-unwind-tables']]) {
  const cfi = variant.length === 0 ? '.eh_frame' : '.debug_frame';
  test(`a relocated module (${cfi}): lines, functions, symbols, DWARF variables and CFI at its load addresses`, () => {
    const { syms, loads, source, problems } = moduleSymbols(variant);
    assert.deepEqual(problems, []);
    const text = loads.get('.text')!;
    const sum = syms.addressOf('mod_sum')!;
    assert.ok(sum >= text && sum < text + 0x100n, `mod_sum at 0x${sum.toString(16)}, .text at 0x${text.toString(16)}`);
    assert.equal(syms.addressOf('mod_init'), loads.get('.init.text'));
    assert.equal(syms.addressOf('mod_exit'), loads.get('.exit.text'));
    const ret = lineOf(MODULE_C, 'bp:ret');
    const r = syms.resolveBreakpoint(source, ret)!;
    assert.equal(r.line, ret);
    assert.equal(r.addresses.length, 1);
    assert.ok(r.addresses[0] > sum && r.addresses[0] < sum + 0x40n);
    assert.deepEqual({ ...syms.lineForAddress(r.addresses[0]), address: undefined }, { file: source, line: ret, column: 2, address: undefined });
    assert.equal(syms.functionAt(r.addresses[0])?.name, 'mod_sum');
    assert.equal(syms.symbolize(sum + 1n)?.name, 'mod_sum');
    assert.equal(syms.resolveBreakpoint(source, lineOf(MODULE_C, 'bp:init'))!.addresses[0] >= loads.get('.init.text')!, true);
    // DWARF: the function's scope, its parameter, and the static's address in the placed .data.
    const scopes = syms.debug!.scopesAt(r.addresses[0]);
    assert.equal(scopes[0].name, 'mod_sum');
    assert.deepEqual(scopes[0].parameters.map((p) => p.name), ['n']);
    const probe = syms.debug!.findVariable('probe', scopes[0].unit)!;
    const frame = { pc: r.addresses[0], innermost: true, addressSize: 8 as const, register: () => 0n, cfa: () => 0n, readMemory: () => undefined, relocate: (a: bigint) => a };
    const dataSection = [...loads].find(([n]) => n.startsWith('.data'))![1];
    assert.deepEqual(probe.location(frame), { kind: 'memory', address: dataSection });
    assert.equal(syms.debug!.findType('struct probe')?.kind, 'struct');
    // CFI: the row for mod_sum's first instruction (CFA = rsp + 8, return address at CFA - 8).
    const row = syms.unwindRow(sum)!;
    assert.equal(row.source, cfi);
    assert.deepEqual(row.cfa, { kind: 'register', register: 7, offset: 8n });
  });
}

test('a SymbolSpace answers by address from the object there, by file and name from every object', () => {
  const k = gcc('kernel', KERNEL_C);
  const kernel = symbolsFromObject(relocatableObject('vmlinux', k.bytes, placeAll(k.bytes, KERNEL_BASE)), { name: 'vmlinux' });
  const space = new SymbolSpace(kernel);
  const m = moduleSymbols();
  const modFile = m.source;
  const ret = lineOf(MODULE_C, 'bp:ret');
  assert.equal(space.resolveBreakpoint(modFile, ret), undefined);
  assert.deepEqual(space.objectsWithFile(modFile), []);
  space.add({ name: 'kvm_mod', symbols: m.syms, ranges: [[MODULE_BASE, MODULE_BASE + 0x1000n]] });
  const r = space.resolveBreakpoint(modFile, ret)!;
  assert.equal(r.line, ret);
  assert.deepEqual(space.resolveEverywhere(modFile, ret).map((x) => x.object), ['kvm_mod']);
  assert.deepEqual(space.objectsWithFile(modFile), ['kvm_mod']);
  assert.equal(space.lineForAddress(r.addresses[0])?.line, ret);
  assert.equal(space.functionAt(r.addresses[0])?.name, 'mod_sum');
  assert.equal(space.objectNameAt(r.addresses[0]), 'kvm_mod');
  assert.equal(space.toLinked(r.addresses[0]), r.addresses[0]);
  // The kernel's own lines and names still come from the kernel.
  const kline = lineOf(KERNEL_C, 'bp:kernel');
  const kr = space.resolveBreakpoint(k.source, kline)!;
  assert.equal(space.functionAt(kr.addresses[0])?.name, 'kernel_work');
  assert.equal(space.objectNameAt(kr.addresses[0]), 'vmlinux');
  assert.equal(space.addressOf('kernel_work'), kernel.addressOf('kernel_work'));
  assert.equal(space.addressOf('mod_sum'), m.syms.addressOf('mod_sum'));
  // C data of both: scopes by pc, types by name.
  assert.equal(space.debug!.scopesAt(r.addresses[0])[0].name, 'mod_sum');
  assert.equal(space.debug!.scopesAt(kr.addresses[0])[0].name, 'kernel_work');
  assert.equal(space.debug!.findType('struct probe')?.kind, 'struct');
  assert.ok(space.debug!.findVariable('kernel_counter'));
  // Unloaded: its addresses belong to nothing, its file to no object.
  assert.equal(space.remove('kvm_mod'), true);
  assert.equal(space.resolveBreakpoint(modFile, ret), undefined);
  assert.equal(space.functionAt(r.addresses[0]), undefined);
  assert.equal(space.objectNameAt(r.addresses[0]), 'vmlinux');
});

test('relocations pointing outside their section are skipped with one sentence; the rest of the module still reads', () => {
  const o = gcc('badrel', MODULE_C);
  const bytes = new Uint8Array(o.bytes);
  const elf = new ElfFile('badrel', bytes);
  const rela = elf.sections().find((s) => s.name === '.rela.debug_info')!;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The first two entries' offsets far past the end of .debug_info.
  v.setBigUint64(rela.offset, 0x7fff_0000n, true);
  v.setBigUint64(rela.offset + 24, 0x7fff_0008n, true);
  const obj = relocatableObject('badrel', bytes, placeAll(bytes, MODULE_BASE));
  const syms = symbolsFromObject(obj, { name: 'badrel' });
  assert.equal(syms.resolveBreakpoint(o.source, lineOf(MODULE_C, 'bp:ret'))?.line, lineOf(MODULE_C, 'bp:ret'));
  const size = elf.sections().find((s) => s.name === '.debug_info')!.size;
  assert.deepEqual(obj.problems, [`badrel: 2 relocations of .debug_info point outside its ${size} bytes (first: relocation 0 at offset 0x7fff0000): skipped`]);
});

test('a file that is not a relocatable object is refused with a sentence', () => {
  assert.throws(() => relocatableObject('vmlinux', new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 62, 0, ...new Array(44).fill(0)]), new Map()), /vmlinux is not a relocatable object \(ELF type 2, not ET_REL\): it is not a kernel module/);
});

/** A struct module as module-list.ts reads it: one region of text, its sections from sect_attrs. */
const loadedModule = (name: string, loads: Map<string, bigint>): KernelModule => ({
  address: 0xffffffffa0100000n, name, state: 'coming', sections: loads,
  regions: [{ kind: 'core', base: MODULE_BASE, size: 0x2000, init: false }],
});

test('loadModuleSymbols: the debug file from modulePaths (its - spelled _), relocated; a stripped copy alone says "No debug info"', async () => {
  const o = gcc('kvm-mod', MODULE_C);
  const loads = placeAll(o.bytes, MODULE_BASE);
  const withDebug = mkdtempSync(join(dir, 'debug-'));
  writeFileSync(join(withDebug, 'kvm-mod.ko'), o.bytes);
  const read = (): undefined => undefined;
  const got = await loadModuleSymbols(loadedModule('kvm_mod', loads), { modulePaths: [withDebug] }, { resolve: () => undefined, read });
  assert.equal(got.status, 'Symbols loaded');
  assert.equal(got.path, join(withDebug, 'kvm-mod.ko'));
  assert.equal(got.symbols.resolveBreakpoint(o.source, lineOf(MODULE_C, 'bp:ret'))?.line, lineOf(MODULE_C, 'bp:ret'));

  const strippedDir = mkdtempSync(join(dir, 'stripped-'));
  const stripped = join(strippedDir, 'kvm_mod.ko');
  writeFileSync(stripped, o.bytes);
  const s = spawnSync('strip', ['--strip-debug', stripped], { encoding: 'utf8' });
  if (s.error || s.status !== 0) assert.fail(`strip --strip-debug failed (apt-get install binutils): ${s.error?.message ?? s.stderr}`);
  const bare = await loadModuleSymbols(loadedModule('kvm_mod', loads), { modulePaths: [strippedDir] }, { resolve: () => undefined, read });
  assert.equal(bare.status, `No debug info: ${stripped} has no DWARF (a stripped copy: names only); searched ${strippedDir}`);
  assert.equal(bare.symbols.addressOf('mod_sum'), got.symbols.addressOf('mod_sum'));
  assert.equal(bare.symbols.resolveBreakpoint(o.source, lineOf(MODULE_C, 'bp:ret')), undefined);

  const none = await loadModuleSymbols(loadedModule('other_mod', loads), { modulePaths: [strippedDir], release: 'no-such-release' }, { resolve: () => undefined, read });
  assert.equal(none.status, `No debug info: no other_mod.ko found; searched ${strippedDir}, /usr/lib/debug/lib/modules/no-such-release, /lib/modules/no-such-release`);
});

test('a .ko.xz is read through the xz command', async (t) => {
  const xz = spawnSync('xz', ['--version']);
  if (xz.error) assert.fail('the xz command is missing: apt-get install xz-utils');
  const o = gcc('xzmod', MODULE_C);
  const d = mkdtempSync(join(dir, 'xz-'));
  writeFileSync(join(d, 'xzmod.ko'), o.bytes);
  const r = spawnSync('xz', [join(d, 'xzmod.ko')]);
  assert.equal(r.status, 0);
  const got = await loadModuleSymbols(loadedModule('xzmod', placeAll(o.bytes, MODULE_BASE)), { modulePaths: [d] }, { resolve: () => undefined, read: () => undefined });
  assert.equal(got.status, 'Symbols loaded');
  assert.equal(got.path, join(d, 'xzmod.ko.xz'));
  t.diagnostic(`read ${got.path}`);
});

test('a source breakpoint in a module binds when the module is in the space and is pending again when it leaves', () => {
  const k = gcc('kernel2', KERNEL_C);
  const space = new SymbolSpace(symbolsFromObject(relocatableObject('vmlinux', k.bytes, placeAll(k.bytes, KERNEL_BASE)), { name: 'vmlinux' }));
  const m = moduleSymbols();
  const ret = lineOf(MODULE_C, 'bp:ret');
  const table = new BreakpointTable();
  const message = pendingSourceMessage(m.source, 'kvm_mod');
  assert.equal(message, 'pending: in module kvm_mod, which is not loaded');
  const [b] = table.replace(`source:${m.source}`, [{ key: `${m.source}:${ret}`, kind: 'source', path: m.source, line: ret, problem: message, pending: true, rebind: true }]);
  const owner = (): string => 'kvm_mod';
  assert.deepEqual(rebindBreakpoints(table.all(), space, (p) => p, owner), []);
  space.add({ name: 'kvm_mod', symbols: m.syms, ranges: [[MODULE_BASE, MODULE_BASE + 0x1000n]] });
  assert.deepEqual(rebindBreakpoints(table.all(), space, (p) => p, owner), [b]);
  assert.equal(b.problem, undefined);
  assert.equal(b.line, ret);
  assert.deepEqual(b.addresses, m.syms.resolveBreakpoint(m.source, ret)!.addresses);
  space.remove('kvm_mod');
  assert.deepEqual(rebindBreakpoints(table.all(), space, (p) => p, owner), [b]);
  assert.deepEqual([b.problem, b.addresses, b.pending], [message, [], true]);
  assert.equal(pendingSourceMessage('/src/x.c', undefined), 'pending: no loaded object has code for x.c (a module not loaded yet?); kvmdbg sets it when one with it loads');
});

test('module files: the kernel build tree\'s modules.order (.o names since 6.2) and M= directories in modulePaths, - and _ alike', () => {
  const tree = mkdtempSync(join(dir, 'tree-'));
  mkdirSync(join(tree, 'drivers', 'misc'), { recursive: true });
  writeFileSync(join(tree, 'vmlinux'), '');
  writeFileSync(join(tree, 'drivers', 'misc', 'foo-bar.ko'), '');
  writeFileSync(join(tree, 'modules.order'), 'drivers/misc/foo-bar.o\nfs/other.o\n');
  const out = mkdtempSync(join(dir, 'M-'));
  mkdirSync(join(out, 'sub'));
  writeFileSync(join(out, 'sub', 'foo_bar.ko'), '');
  assert.equal(moduleKey('foo-bar'), 'foo_bar');
  assert.deepEqual(candidateFiles('foo_bar', { modulePaths: [out], vmlinux: join(tree, 'vmlinux') }), {
    files: [join(out, 'sub', 'foo_bar.ko'), join(tree, 'drivers', 'misc', 'foo-bar.ko')],
    searched: [out, tree],
  });
});

test('once the kernel frees a module\'s init sections, a breakpoint in its init function is unbound with a sentence', () => {
  const k = gcc('kernel3', KERNEL_C);
  const space = new SymbolSpace(symbolsFromObject(relocatableObject('vmlinux', k.bytes, placeAll(k.bytes, KERNEL_BASE)), { name: 'vmlinux' }));
  const m = moduleSymbols();
  const init = m.loads.get('.init.text')!;
  const line = lineOf(MODULE_C, 'bp:init');
  space.add({ name: 'kvm_mod', symbols: m.syms, ranges: [[MODULE_BASE, init], [init, init + 0x100n]] });
  const table = new BreakpointTable();
  const [b] = table.replace(`source:${m.source}`, [{ key: `${m.source}:${line}`, kind: 'source', path: m.source, line, problem: 'pending', pending: true, rebind: true }]);
  rebindBreakpoints(table.all(), space, (p) => p, () => undefined);
  assert.ok(b.addresses[0] >= init, 'bound in .init.text');
  assert.equal(space.setRanges('kvm_mod', [[MODULE_BASE, init]]), true);
  assert.deepEqual(rebindBreakpoints(table.all(), space, (p) => p, () => undefined), [b]);
  assert.deepEqual(b.addresses, []);
  assert.equal(b.problem, `pending: no live code at or after line ${line} of ${m.source.split('/').pop()} in kvm_mod (a module's init code is freed once it has run); kvmdbg sets it if the module loads again`);
});

test('module_init\'s alias: an address in the init function is named as its source names it (fault_init), not init_module', () => {
  const src = `
__attribute__((section(".init.text"))) static int fault_init(void)
{
	return 3;
}
int init_module(void) __attribute__((alias("fault_init")));
`;
  const o = gcc('alias', src);
  const syms = symbolsFromObject(relocatableObject('kvm_alias', o.bytes, placeAll(o.bytes, MODULE_BASE)), { name: 'kvm_alias' });
  const init = syms.addressOf('init_module')!;
  assert.equal(syms.addressOf('fault_init'), init, 'both names at one address');
  assert.equal(syms.symbolize(init + 1n)?.name, 'fault_init');
  assert.equal(syms.functionAt(init + 1n)?.name, 'fault_init', 'the same name the Call Stack shows');
});
