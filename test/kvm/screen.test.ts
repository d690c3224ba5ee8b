// KVM tier: the guest's screen and keyboard through `kvmdbg run`, on our own
// screen64 kernel (test/guests/kernel/screen.c). Its text screen is read
// back from --screenshot and compared pixel for pixel with what our
// renderer draws for the buffer the kernel is known to write (no OCR: the
// same font, the same palette); keys typed with --keys come back as the
// kernel's echo, in scan code set 1 (translation) and set 2 (translation
// off); the framebuffer kernel's 1024x768x32 picture is checked pixel by
// pixel; SIGUSR1 writes a screenshot while the guest runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOOT_MS, GUEST_DIR, within } from './helpers/guests';
import { runCli, startCli } from './helpers/cli';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { Vga } from '../../vmm/devices/vga';
import { VgaState } from '../../vmm/devices/vga-state';
import { renderText, textLines, textSnapshot } from '../../vmm/screen/text-mode';
import { decodePng } from '../../vmm/screen/png';
import type { RgbaImage } from '../../vmm/screen/image';

const KERNEL = join(GUEST_DIR, 'screen64.elf');
const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-screen-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** The text screen screen.c draws, after `typed` was typed (undefined: still at the prompt), as our renderer draws it. */
function expectedScreen(set: 1 | 2, typed?: string): { image: RgbaImage; lines: string[] } {
  const memory = GuestMemory.allocate(2 * 1024 * 1024);
  const put = (r: number, c: number, s: string, attr: number) => {
    for (let i = 0; i < s.length && c + i < 80; i++) memory.writeU16(0xb8000 + ((r * 80 + c + i) * 2), s.charCodeAt(i) | (attr << 8));
  };
  for (let r = 0; r < 25; r++) put(r, 0, ' '.repeat(80), 0x07);
  put(0, 0, ' '.repeat(80), 0x1f);
  put(0, 2, 'kvmdbg screen64: VGA text mode', 0x1f);
  put(1, 0, 'colours:', 0x07);
  for (let i = 0; i < 16; i++) put(1, 9 + i, '#', i);
  put(2, 0, 'blink:', 0x07);
  put(2, 7, 'BLINK', 0x8e);
  put(3, 0, `scan code set ${set}`, 0x0a);
  put(5, 0, `> ${typed ?? ''}`, 0x07);
  const vga = new Vga(new VgaState());
  let cursor = 5 * 80 + 2;
  if (typed !== undefined) {
    put(6, 0, `typed: ${typed}`, 0x0f);
    cursor = 7 * 80;
  }
  vga.write(0x14, 2, 0x0e | ((cursor >> 8) << 8));
  vga.write(0x14, 2, 0x0f | ((cursor & 0xff) << 8));
  const t = textSnapshot(memory, vga.state);
  return { image: renderText(t), lines: textLines(t) };
}

function assertSameImage(actual: RgbaImage, expected: RgbaImage, what: string): void {
  assert.deepEqual([actual.width, actual.height], [expected.width, expected.height], `${what}: size`);
  for (let i = 0; i < expected.data.length; i += 4) {
    if (actual.data[i] !== expected.data[i] || actual.data[i + 1] !== expected.data[i + 1] || actual.data[i + 2] !== expected.data[i + 2]) {
      const p = i / 4;
      assert.fail(`${what}: pixel (${p % expected.width}, ${Math.floor(p / expected.width)}) is ${[...actual.data.subarray(i, i + 3)]}, expected ${[...expected.data.subarray(i, i + 3)]}`);
    }
  }
}

for (const set of [1, 2] as const) {
  test(`--keys through scan code set ${set}${set === 1 ? ' (i8042 translation)' : ' (translation off)'}: the echo is on the screen, the screenshot is the expected text pixel for pixel`, async () => {
    const png = join(dir, `keys-set${set}.png`);
    const r = await runCli(['run', '--kernel', KERNEL, '--memory', '64M', '--cmdline', set === 2 ? 'set2' : '',
      '--screenshot', png, '--keys', 'Hello 42{Enter}', '--keys-when', 'scan code set'], BOOT_MS);
    assert.equal(r.stderr, '');
    assert.deepEqual([r.status, r.signal], [0, null]);
    assert.equal(r.stdout, 'kvmdbg screen64 (pvh)\nscreen ready\ntyped: Hello 42\n');
    assertSameImage(decodePng(readFileSync(png)), expectedScreen(set, 'Hello 42').image, `${png}`);
  });
}

test('--screen without a terminal: the final text screen follows the console', async () => {
  const r = await runCli(['run', '--kernel', KERNEL, '--memory', '64M', '--screen', '--keys', 'abc{Enter}', '--keys-when', 'scan code set'], BOOT_MS);
  assert.deepEqual([r.status, r.signal], [0, null]);
  assert.equal(r.stdout, 'kvmdbg screen64 (pvh)\nscreen ready\ntyped: abc\n' + expectedScreen(1, 'abc').lines.join('\n').replace(/\n+$/, '') + '\n');
});

test('SIGUSR1 writes the screenshot while the guest runs (waiting at its prompt)', async () => {
  const png = join(dir, 'usr1.png');
  const run = startCli(['run', '--kernel', KERNEL, '--memory', '64M', '--screenshot', png], { keepStdinOpen: true });
  try {
    await run.waitForStdout('screen ready\n', BOOT_MS);
    run.child.kill('SIGUSR1');
    await within((async () => { while (!existsSync(png)) await new Promise((r) => setTimeout(r, 50)); })(), 10_000, 'the SIGUSR1 screenshot');
    assertSameImage(decodePng(readFileSync(png)), expectedScreen(1).image, 'the screenshot at the prompt');
    assert.equal(run.child.exitCode, null, 'kvmdbg still runs after SIGUSR1');
  } finally {
    run.child.kill('SIGTERM');
    await within(run.done, 30_000, 'kvmdbg to end after SIGTERM');
  }
});

test('the dispi framebuffer: 1024x768x32 at PCI 1234:1111 BAR 0, the screenshot is the kernel\'s picture pixel for pixel', async () => {
  const png = join(dir, 'fb.png');
  const r = await runCli(['run', '--kernel', KERNEL, '--memory', '64M', '--cmdline', 'fb', '--screenshot', png], BOOT_MS);
  assert.equal(r.stderr, '');
  assert.deepEqual([r.status, r.signal], [0, null]);
  assert.equal(r.stdout, 'kvmdbg screen64 (pvh)\nfb done at 0xfd000000\n');
  const img = decodePng(readFileSync(png));
  assert.deepEqual([img.width, img.height], [1024, 768]);
  // screen.c's fb_pixel: constant over 128-pixel blocks of a line.
  const fbPixel = (x: number, y: number) => { const b = x >> 7; return [b * 0x24, y & 0xff, ((b ^ (y >> 5)) * 0x1b) & 0xff]; };
  for (let y = 0; y < 768; y++) {
    for (let x = 0; x < 1024; x++) {
      const i = (y * 1024 + x) * 4;
      const want = fbPixel(x, y);
      if (img.data[i] !== want[0] || img.data[i + 1] !== want[1] || img.data[i + 2] !== want[2]) {
        assert.fail(`pixel (${x}, ${y}) is ${[...img.data.subarray(i, i + 3)]}, expected ${want}`);
      }
    }
  }
});
