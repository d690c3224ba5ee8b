// kvm-needs: real-mode
// KVM tier: a BIOS boot sector and its second stage (test/guests/bios) through
// `kvmdbg run`, on kvmdbg's own BIOS (vmm/bios). The boot sector prints with
// INT 10h and loads stage 2 by CHS and by LBA (INT 13h); stage 2 prints the
// E820 map, enables A20, reads past the disk's end (which must fail), waits
// for the INT 1Ah tick count to move, echoes a typed line (INT 16h), then
// writes the VGA buffer from 32-bit protected mode and powers off. The text
// screen is read back exactly (--screen) and pixel for pixel (--screenshot).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOOT_MS, GUEST_DIR } from './helpers/guests';
import { runCli } from './helpers/cli';
import { decodePng } from '../../vmm/screen/png';
import { assertSameImage } from './helpers/screen';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { Vga } from '../../vmm/devices/vga';
import { VgaState } from '../../vmm/devices/vga-state';
import { renderText, textSnapshot } from '../../vmm/screen/text-mode';
import type { RgbaImage } from '../../vmm/screen/image';

const DISK = join(GUEST_DIR, 'bios-disk.img');
const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-bios-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** The E820 map of a 64 MiB guest, as stage 2 prints it (base, length, type). */
const E820_64M = [
  '0000000000000000 000000000009fc00 01',
  '000000000009fc00 0000000000000400 02',
  '00000000000f0000 0000000000010000 02',
  '0000000000100000 0000000003f00000 01',
];

function expectedLines(drive: string, sectors: string, typed: string): string[] {
  const text = [
    `kvmdbg boot sector, drive ${drive}`,
    'stage 2 sector 1 by CHS',
    'stage 2 by LBA, sectors 0001',
    'E820 map:',
    ...E820_64M,
    'A20 on',
    `disk sectors ${sectors}`,
    'read past the end: error 04',
    'ticks advance',
    `type: ${typed}`,
    `typed: ${typed}`,
  ];
  return [...text, ...Array(24 - text.length).fill(''), '32-bit protected mode'];
}

/** The screen drawn by our renderer from the cells the guest is known to leave (light grey on black; row 24 white on green), the cursor below the last line. */
function expectedImage(lines: string[]): RgbaImage {
  const memory = GuestMemory.allocate(2 * 1024 * 1024);
  lines.forEach((line, r) => {
    const attr = r === 24 ? 0x2f : 0x07;
    for (let c = 0; c < 80; c++) {
      const ch = c < line.length ? line.charCodeAt(c) : 0x20;
      memory.writeU16(0xb8000 + (r * 80 + c) * 2, ch | ((r === 24 && c >= line.length ? 0x07 : attr) << 8));
    }
  });
  const vga = new Vga(new VgaState());
  const cursor = lines.indexOf('') * 80;
  vga.write(0x14, 2, 0x0e | ((cursor >> 8) << 8));
  vga.write(0x14, 2, 0x0f | ((cursor & 0xff) << 8));
  return renderText(textSnapshot(memory, vga.state));
}

test('a boot sector and stage 2 on a hard-disk image (drive 80h): the text screen is exactly what INT 10h and the protected-mode code wrote; a typed line with a backspace is echoed', async () => {
  const png = join(dir, 'hd.png');
  const r = await runCli(['run', '--kernel', DISK, '--memory', '64M', '--screen', '--screenshot', png,
    '--keys', 'hello biod{Backspace}s{Enter}', '--keys-when', 'type:'], BOOT_MS);
  assert.equal(r.stderr, '');
  assert.deepEqual([r.status, r.signal], [0, null]);
  const lines = expectedLines('80', '000003f0', 'hello bios');
  assert.equal(r.stdout, lines.join('\n') + '\n');
  assertSameImage(decodePng(readFileSync(png)), expectedImage(lines), png);
});

test('a 1.44 MB floppy image boots as drive 00h with its real geometry (80/2/18): CHS and LBA reads and the size from AH=48h', async () => {
  const floppy = join(dir, 'floppy.img');
  copyFileSync(DISK, floppy);
  truncateSync(floppy, 1_474_560);
  const r = await runCli(['run', '--kernel', floppy, '--memory', '64M', '--screen', '--keys', 'fd0{Enter}', '--keys-when', 'type:'], BOOT_MS);
  assert.equal(r.stderr, '');
  assert.deepEqual([r.status, r.signal], [0, null]);
  assert.equal(r.stdout, expectedLines('00', '00000b40', 'fd0').join('\n') + '\n');
});

test('an invalid opcode in the boot sector, with no handler of its own: the VM ends with status 2 and a sentence naming CS:IP', async () => {
  const bad = join(dir, 'ud2.img');
  const sector = new Uint8Array(512);
  sector.set([0x90, 0x0f, 0x0b]);           // nop; ud2 at 0000:7C01
  sector.set([0x55, 0xaa], 510);
  writeFileSync(bad, sector);
  const r = await runCli(['run', '--kernel', bad, '--memory', '64M'], BOOT_MS);
  assert.deepEqual([r.status, r.signal, r.stdout], [2, null, '']);
  assert.equal(r.stderr, 'kvmdbg: the guest raised #UD (invalid opcode) at 0000:7C01 in real mode, and vector 06h is still kvmdbg\'s BIOS default (the guest installed no handler)\n');
});

test('jmp FFFF:0000 (the reset vector) boots again: the boot sector is read again and POST runs; RAM outside it keeps a reboot count', async () => {
  const img = join(dir, 'reboot.img');
  const sector = new Uint8Array(512);
  sector.set([
    0x31, 0xc0, 0x8e, 0xd8,                   // xor ax,ax; mov ds,ax
    0xfe, 0x06, 0x00, 0x06,                   // inc byte [0x600]
    0x80, 0x3e, 0x00, 0x06, 0x03,             // cmp byte [0x600], 3
    0x73, 0x05,                               // jae done
    0xea, 0x00, 0x00, 0xff, 0xff,             // jmp FFFF:0000
    0xa0, 0x00, 0x06, 0x04, 0x30,             // done: mov al,[0x600]; add al,'0'
    0xb4, 0x0e, 0xcd, 0x10,                   // mov ah,0Eh; int 10h
    0xba, 0x04, 0x06, 0xb8, 0x00, 0x20, 0xef, // mov dx,0x604; mov ax,0x2000; out dx,ax
    0xf4,
  ]);
  sector.set([0x55, 0xaa], 510);
  writeFileSync(img, sector);
  const r = await runCli(['run', '--kernel', img, '--memory', '64M', '--screen'], BOOT_MS);
  assert.deepEqual([r.status, r.signal, r.stderr], [0, null, '']);
  assert.equal(r.stdout, '3\n', 'booted three times, the screen cleared each time');
});
