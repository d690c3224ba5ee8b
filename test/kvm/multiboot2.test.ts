// KVM tier: multiboot2 through `kvmdbg run`, on our own mb2 kernel
// (test/guests/kernel/mb2.c, entered in 32-bit protected mode; no needs
// beyond the base ones). What the kernel printed on its serial console is
// the boot information exactly (command line, loader name, memory, the
// memory map, the module's first line, both RSDPs, the framebuffer, the
// ELF sections, the load base); its framebuffer, set to 1024x768x32 before
// entry, is read back from --screenshot and compared pixel for pixel with
// the picture mb2.c draws; keys typed with --keys come back on the screen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOOT_MS, GUEST_DIR } from './helpers/guests';
import { runCli } from './helpers/cli';
import { decodePng } from '../../vmm/screen/png';
import { assertSameImage } from './helpers/screen';
import { expectedMb2Screen } from './helpers/mb2-screen';
import { ElfFile, PT_LOAD } from '../../vmm/boot/elf';

const KERNEL = join(GUEST_DIR, 'mb2.elf');
const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-mb2-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Where kvmdbg puts module 0: the first page after the kernel image. */
function elfFacts(): { moduleAddr: number; sections: number; shstrndx: number } {
  const elf = new ElfFile(KERNEL, readFileSync(KERNEL));
  const end = Math.max(...elf.programHeaders.filter((p) => p.type === PT_LOAD).map((p) => Number(p.paddr + p.memsz)));
  return { moduleAddr: Math.ceil(end / 4096) * 4096, sections: elf.sections().length, shstrndx: elf.header.shstrndx };
}

function expectedConsole(cmdline: string, modules: string[], typed: string): RegExp {
  const f = elfFacts();
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp('^' + [
    'kvmdbg mb2 kernel: magic 0x36d76289, info at 0x30000 \\(\\d+ bytes\\)',
    `cmdline: ${esc(cmdline)}`,
    'loader: kvmdbg',
    'meminfo: lower 639 KiB, upper 64512 KiB',
    'mmap: 0x0\\+0x9fc00 type 1',
    'mmap: 0x9fc00\\+0x400 type 2',
    'mmap: 0xf0000\\+0x10000 type 2',
    'mmap: 0x100000\\+0x3f00000 type 1',
    ...modules.map((m, i) => esc(m.replace('ADDR', `0x${(f.moduleAddr + i * 4096).toString(16)}`))),
    'rsdp: old "RSD PTR " rev 2, new "RSD PTR " rev 2 length 36',
    `elf sections: ${f.sections} of 40 bytes, names in ${f.shstrndx}`,
    'load base: 0x100000',
    'framebuffer: 1024x768x32 pitch 4096 at 0xfd000000 type 1 red 16/8 green 8/8 blue 0/8',
    'screen ready',
    `typed: ${esc(typed)}`,
  ].join('\n') + '\n$');
}

test('multiboot2: the command line, two modules (--initrd, --module with its own command line) and the memory map on the console; the framebuffer picture and the typed keys pixel for pixel', async () => {
  const module = join(dir, 'hello.mod');
  writeFileSync(module, 'hello from module zero\nsecond line\n');
  const png = join(dir, 'mb2.png');
  const cmdline = 'mb2 test root=/dev/ram0';
  const second = join(dir, 'second.mod');
  writeFileSync(second, 'font data');
  const r = await runCli(['run', '--kernel', KERNEL, '--memory', '64M', '--cmdline', cmdline, '--initrd', module,
    '--module', `${second},font --size=16`, '--screenshot', png, '--keys', 'Hi 42{Enter}'], BOOT_MS);
  assert.equal(r.stderr, '');
  assert.deepEqual([r.status, r.signal], [0, null]);
  assert.match(r.stdout, expectedConsole(cmdline, [`module 0: 35 bytes at ADDR, "${module}": hello from module zero`,
    'module 1: 9 bytes at ADDR, "font --size=16": font data'], 'Hi 42'));
  const img = decodePng(readFileSync(png));
  assert.deepEqual([img.width, img.height], [1024, 768]);
  assertSameImage(img, expectedMb2Screen(cmdline, 'hello from module zero', 'Hi 42'), png);
});

test('multiboot2 without modules: Shift, punctuation and Backspace typed on the PS/2 keyboard reach the framebuffer', async () => {
  const png = join(dir, 'mb2-keys.png');
  const r = await runCli(['run', '--kernel', KERNEL, '--memory', '64M', '--screenshot', png,
    '--keys', 'kvmx{Backspace}dbg: OK!{Enter}'], BOOT_MS);
  assert.deepEqual([r.status, r.signal, r.stderr], [0, null, '']);
  assert.match(r.stdout, expectedConsole('', [], 'kvmdbg: OK!'));
  assertSameImage(decodePng(readFileSync(png)), expectedMb2Screen('', 'none', 'kvmdbg: OK!'), png);
});
