/**
 * Which register layout `kvmdbg run --gdb` serves: i386 for an ELF32 kernel,
 * x86-64 otherwise, --gdb-arch to override.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { gdbArchForImage, gdbArchForKernel } from '../../vmm/gdb/arch';
import { UsageError, parseCli } from '../../vmm/cli/args';

/** A minimal ELF header (no program or section headers) of the given class. */
function elfHeader(bits: 32 | 64, machine: number): Uint8Array {
  const d = new Uint8Array(bits === 64 ? 64 : 52);
  d.set([0x7f, 0x45, 0x4c, 0x46, bits === 64 ? 2 : 1, 1, 1]);
  const v = new DataView(d.buffer);
  v.setUint16(16, 2, true);       // ET_EXEC
  v.setUint16(18, machine, true);
  v.setUint32(20, 1, true);       // EV_CURRENT
  return d;
}

const build = join(__dirname, '..', '..', '..', 'test', 'guests', 'build');

test('an ELF32 kernel gets the i386 layout, an ELF64 one x86-64', () => {
  assert.equal(gdbArchForImage('k32', elfHeader(32, 3)), 'i386');
  assert.equal(gdbArchForImage('k64', elfHeader(64, 62)), 'x86-64');
  // The ELF class decides, whatever the boot protocol.
  assert.equal(gdbArchForImage('k64', elfHeader(64, 62), 'multiboot'), 'x86-64');
  assert.equal(gdbArchForImage('k32', elfHeader(32, 3), 'pvh'), 'i386');
});

test('not an ELF (bzImage) or an unreadable header: the boot protocol is the hint', () => {
  const bzImage = new Uint8Array(1024);
  bzImage.set([0x55, 0xaa], 510);
  assert.equal(gdbArchForImage('bzImage', bzImage, 'linux'), 'x86-64');
  assert.equal(gdbArchForImage('bzImage', bzImage), 'x86-64');
  const broken = elfHeader(32, 3).subarray(0, 20);
  assert.equal(gdbArchForImage('broken', broken, 'multiboot'), 'i386');
  assert.equal(gdbArchForImage('broken', broken, 'pvh'), 'x86-64');
  assert.equal(gdbArchForKernel('/nonexistent/kernel', 'multiboot'), 'i386');
});

test('the test kernels: multiboot32.elf is i386, pvh64.elf and elf64.elf are x86-64', () => {
  for (const f of ['multiboot32.elf', 'pvh64.elf', 'elf64.elf']) assert.ok(existsSync(join(build, f)), `${f}: make -C test/guests`);
  assert.equal(gdbArchForKernel(join(build, 'multiboot32.elf')), 'i386');
  assert.equal(gdbArchForKernel(join(build, 'pvh64.elf')), 'x86-64');
  assert.equal(gdbArchForKernel(join(build, 'elf64.elf')), 'x86-64');
});

test('--gdb-arch x86-64|i386 overrides; anything else, or without --gdb, is a usage error', () => {
  const run = (...extra: string[]) => parseCli(['run', '--kernel', 'k.elf', ...extra]);
  const a = run('--gdb', '1234', '--gdb-arch', 'x86-64');
  assert.ok(a !== 'help');
  assert.equal(a.gdbArch, 'x86-64');
  const b = run('--gdb', '1234', '--gdb-arch', 'i386');
  assert.ok(b !== 'help');
  assert.equal(b.gdbArch, 'i386');
  const c = run('--gdb', '1234');
  assert.ok(c !== 'help');
  assert.equal(c.gdbArch, undefined, 'chosen from the kernel later');
  assert.throws(() => run('--gdb', '1234', '--gdb-arch', 'arm'), (e: Error) => e instanceof UsageError && /--gdb-arch arm: expected x86-64 or i386/.test(e.message));
  assert.throws(() => run('--gdb-arch', 'i386'), (e: Error) => e instanceof UsageError && /--gdb-arch needs --gdb/.test(e.message));
});
