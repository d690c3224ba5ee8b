// KVM tier: the guest's screen and keyboard through `kvmdbg run`, on our own
// screen64 kernel (test/guests/kernel/screen.c). Its text screen is read
// back from --screenshot and compared pixel for pixel with what our
// renderer draws for the buffer the kernel is known to write (no OCR: the
// same font, the same palette); keys typed with --keys come back as the
// kernel's echo, in scan code set 1 (translation) and set 2 (translation
// off), also through IRQ1; the framebuffer kernel's 1024x768x32 picture is checked pixel by
// pixel; SIGUSR1 writes a screenshot while the guest runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOOT_MS, GUEST_DIR, within } from './helpers/guests';
import { runCli, startCli } from './helpers/cli';
import { decodePng } from '../../vmm/screen/png';
import { assertSameImage, expectedScreen } from './helpers/screen';

const KERNEL = join(GUEST_DIR, 'screen64.elf');
const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-screen-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

for (const set of [1, 2] as const) {
  test(`--keys through scan code set ${set}${set === 1 ? ' (i8042 translation)' : ' (translation off)'}: the echo is on the screen, the screenshot is the expected text pixel for pixel`, async () => {
    const png = join(dir, `keys-set${set}.png`);
    const r = await runCli(['run', '--kernel', KERNEL, '--memory', '64M', '--cmdline', set === 2 ? 'set2' : '',
      '--screenshot', png, '--keys', 'Hello 42{Enter}', '--keys-when', 'scan code set'], BOOT_MS);
    assert.equal(r.stderr, '');
    assert.deepEqual([r.status, r.signal], [0, null]);
    assert.equal(r.stdout, 'kvmdbg screen64 (pvh)\nscreen ready\ntyped: Hello 42\n');
    assertSameImage(decodePng(readFileSync(png)), expectedScreen(set, 'Hello 42', true).image, `${png}`);
  });
}

test('IRQ1: a kernel that reads the keyboard in its interrupt handler gets one interrupt a byte (set 1: 9 bytes for "Hi7" and Enter, set 2: 13)', async () => {
  for (const [cmdline, irqs] of [['irq', 9], ['irq set2', 13]] as const) {
    const r = await runCli(['run', '--kernel', KERNEL, '--memory', '64M', '--cmdline', cmdline, '--keys', 'Hi7{Enter}', '--keys-when', 'scan code set'], BOOT_MS);
    assert.deepEqual([r.status, r.signal, r.stderr], [0, null, '']);
    assert.equal(r.stdout, `kvmdbg screen64 (pvh)\nscreen ready\ntyped: Hi7 (irqs ${irqs})\n`, cmdline);
  }
});

test('--screen without a terminal: the final text screen follows the console', async () => {
  const r = await runCli(['run', '--kernel', KERNEL, '--memory', '64M', '--screen', '--keys', 'abc{Enter}', '--keys-when', 'scan code set'], BOOT_MS);
  assert.deepEqual([r.status, r.signal], [0, null]);
  assert.equal(r.stdout, 'kvmdbg screen64 (pvh)\nscreen ready\ntyped: abc\n' + expectedScreen(1, 'abc', true).lines.join('\n').replace(/\n+$/, '') + '\n');
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
