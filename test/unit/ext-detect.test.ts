// F5 without launch.json: what the configuration provider finds in fixture trees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyKernelFile, configurationFor, describeCandidate, detectKernels, obviousChoice, staleBuild } from '../../extension/detect';

const GUESTS = join(__dirname, '..', '..', '..', 'test', 'guests', 'build');

function tree(files: Record<string, string | Buffer>): string {
  const root = mkdtempSync(join(tmpdir(), 'kvmdbg-ext-'));
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    if (typeof content === 'string' && content.startsWith('guest:')) copyFileSync(join(GUESTS, content.slice(6)), join(root, rel));
    else writeFileSync(join(root, rel), content);
  }
  return root;
}

function bzImage(): Buffer {
  const b = Buffer.alloc(4096);
  b.write('HdrS', 0x202, 'latin1');
  return b;
}

test('our test kernels are classified by their headers', () => {
  const size = 1 << 20;
  assert.equal(classifyKernelFile(join(GUESTS, 'pvh64.elf'), size), 'pvh');
  assert.equal(classifyKernelFile(join(GUESTS, 'multiboot32.elf'), size), 'multiboot');
  assert.equal(classifyKernelFile(join(GUESTS, 'elf64.elf'), size), 'elf64');
});

test('a Linux tree wins and is not walked; symbols come from vmlinux', (t) => {
  const root = tree({ 'vmlinux': 'guest:elf64.elf', 'arch/x86/boot/bzImage': bzImage(), 'tools/x.elf': 'guest:pvh64.elf' });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const d = detectKernels(root);
  assert.equal(d.candidates.length, 1);
  const c = obviousChoice(d)!;
  assert.equal(c.kind, 'linux-tree');
  assert.equal(c.symbols, join(root, 'vmlinux'));
  assert.deepEqual(configurationFor(c, root), {
    type: 'kvm', request: 'launch', name: 'Boot bzImage (KVM)', kernel: '${workspaceFolder}/arch/x86/boot/bzImage',
    symbols: '${workspaceFolder}/vmlinux', cmdline: 'console=ttyS0 nokaslr',
  });
  assert.match(describeCandidate(c, root), /Linux build tree: booting arch\/x86\/boot\/bzImage with symbols from vmlinux/);
});

test('a hobby kernel folder: the PVH kernel is picked over object files and sources', (t) => {
  const root = tree({ 'src/main.c': 'int main;', 'build/main.o': 'junk', 'build/kernel.elf': 'guest:pvh64.elf', 'README.md': '# hi' });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const d = detectKernels(root);
  const c = obviousChoice(d)!;
  assert.equal(c.kind, 'pvh');
  assert.equal(configurationFor(c, root).kernel, '${workspaceFolder}/build/kernel.elf');
});

test('two kernels of the same kind: no obvious choice (the quick pick asks)', (t) => {
  const root = tree({ 'a.elf': 'guest:multiboot32.elf', 'b/b.elf': 'guest:multiboot32.elf' });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const d = detectKernels(root);
  assert.equal(d.candidates.length, 2);
  assert.equal(obviousChoice(d), undefined);
  assert.equal(d.candidates[0].kernel, join(root, 'a.elf'), 'shallower first');
});

test('nothing bootable: no candidates; the walk is bounded', (t) => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 50; i++) files[`d${i}/f.txt`] = 'x';
  const root = tree({ ...files, 'notes.bin': 'not a kernel at all, but long enough '.repeat(40) });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.equal(detectKernels(root).candidates.length, 0);
  assert.ok(detectKernels(root, { maxFiles: 10 }).scanned <= 10);
});

test('a source newer than the kernel is reported as a stale build', (t) => {
  const root = tree({ 'kernel.elf': 'guest:elf64.elf', 'main.c': 'int x;' });
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const old = new Date(Date.now() - 3600_000);
  utimesSync(join(root, 'kernel.elf'), old, old);
  const d = detectKernels(root);
  assert.match(staleBuild(obviousChoice(d)!, d, root)!, /kernel\.elf is older than main\.c/);
  const now = new Date();
  utimesSync(join(root, 'kernel.elf'), now, now);
  const d2 = detectKernels(root);
  assert.equal(staleBuild(obviousChoice(d2)!, d2, root), undefined);
});
