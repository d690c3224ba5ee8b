// KVM tier: the README's second demo, `kvmdbg demo fb` (test/guests/demo/
// fbdemo.c, a multiboot2 kernel; no needs beyond the base ones). It must
// draw and power off by itself, say where its screen went, and that
// screenshot must show what a person would see: the Mandelbrot set (black
// inside, colours around), the loader's answers in the side panel, and, run
// interactively, the keys typed into its text box.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOOT_MS, GUEST_DIR, ROOT } from './helpers/guests';
import { runCli } from './helpers/cli';
import { decodePng } from '../../vmm/screen/png';
import { Canvas } from './helpers/mb2-screen';
import type { RgbaImage } from '../../vmm/screen/image';

const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-fbdemo-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
/** Ring-0 code is emulated instruction by instruction on PVM: the set takes seconds there. */
const DEMO_MS = BOOT_MS * 3;

const PANEL = 0x121a38, WHITE = 0xffffff, MUTED = 0xa0a8c8, BOX = 0x070b1c, GOLD = 0xffc857, CYAN = 0x5ee7ff;
const INFO_X = 704, SET_X = 32, SET_Y = 120;

const rgb = (img: RgbaImage, x: number, y: number): number => {
  const i = (y * img.width + x) * 4;
  return (img.data[i] << 16) | (img.data[i + 1] << 8) | img.data[i + 2];
};

/** Compares the rectangle (x, y, w, h) of `img` with the same rectangle of `want`. */
function assertRegion(img: RgbaImage, want: RgbaImage, x: number, y: number, w: number, h: number, what: string): void {
  for (let r = y; r < y + h; r++) {
    for (let c = x; c < x + w; c++) {
      if (rgb(img, c, r) !== rgb(want, c, r)) {
        assert.fail(`${what}: pixel (${c}, ${r}) is #${rgb(img, c, r).toString(16).padStart(6, '0')}, expected #${rgb(want, c, r).toString(16).padStart(6, '0')}`);
      }
    }
  }
}

/** The side panel's six lines (fbdemo.c info_line) as the demo draws them. */
function expectedPanel(cmdline: string): RgbaImage {
  const c = new Canvas(1024, 768);
  c.fill(INFO_X, SET_Y, 288, 480, PANEL);
  c.text(INFO_X + 16, SET_Y + 12, 'what the boot loader said', GOLD, PANEL);
  const lines = [['loader', 'kvmdbg'], ['protocol', 'multiboot2'], ['screen', '1024x768x32'], ['memory', '64 MiB'], ['ACPI', 'RSDP revision 2'], ['cmdline', cmdline]];
  lines.forEach(([k, v], i) => {
    c.text(INFO_X + 16, SET_Y + 40 + i * 22, k, MUTED, PANEL);
    c.text(INFO_X + 104, SET_Y + 40 + i * 22, v, WHITE, PANEL);
  });
  return c.image;
}

test('kvmdbg demo fb: draws the Mandelbrot set and the loader\'s answers into its 1024x768x32 framebuffer, powers off, says where the picture is', async () => {
  const png = join(dir, 'demo.png');
  const r = await runCli(['demo', 'fb', '--memory', '64M', '--screenshot', png], DEMO_MS);
  assert.deepEqual([r.status, r.signal], [0, null]);
  assert.equal(r.stdout, 'kvmdbg framebuffer demo: multiboot2, 1024x768x32 framebuffer at 0xfd000000\ndrawn: the Mandelbrot set, 160x120 blocks\n');
  assert.equal(r.stderr, `kvmdbg: the demo's screen is in ${png}; to watch it draw and type into it, open ${join(ROOT, 'test', 'guests', 'demo')} in VS Code with kvmdbg installed and press F5\n`);
  const img = decodePng(readFileSync(png));
  assert.deepEqual([img.width, img.height], [1024, 768]);
  assertRegion(img, expectedPanel('once'), INFO_X + 16, SET_Y + 12, 256, 16 + 6 * 22 + 28, 'the side panel');
  // The set: 4x4 blocks over x in [-2.25, 0.75]; c = -0.25 + 0i (block 80, 60) is inside: black.
  assert.equal(rgb(img, SET_X + 80 * 4 + 1, SET_Y + 60 * 4 + 1), 0x000000, 'c = -0.25 is in the set');
  assert.notEqual(rgb(img, SET_X + 1, SET_Y + 1), 0x000000, 'c = -2.25 - 0.94i is far outside');
  const colours = new Set<number>();
  for (let y = SET_Y; y < SET_Y + 480; y += 4) for (let x = SET_X; x < SET_X + 640; x += 4) colours.add(rgb(img, x, y));
  assert.ok(colours.size >= 20, `the set's panel has ${colours.size} colours; a Mandelbrot picture has many more than a handful`);
  assert.equal(rgb(img, 36, 32), CYAN, 'the big cyan "kvmdbg" title (the k\'s stem)');
});

test('the framebuffer demo run interactively: typed keys appear in its text box, Backspace erases, Esc powers off', async () => {
  const png = join(dir, 'typed.png');
  const r = await runCli(['run', '--kernel', join(GUEST_DIR, 'fbdemo.elf'), '--memory', '64M', '--screenshot', png,
    '--keys', 'Hello, kvmx{Backspace}!{Escape}'], DEMO_MS);
  assert.deepEqual([r.status, r.signal, r.stderr], [0, null, '']);
  assert.equal(r.stdout, 'kvmdbg framebuffer demo: multiboot2, 1024x768x32 framebuffer at 0xfd000000\n'
    + 'drawn: the Mandelbrot set, 160x120 blocks\ntype on the guest\'s keyboard (Esc powers off)\ntyped: Hello, kvm!\nbye\n');
  const img = decodePng(readFileSync(png));
  const want = new Canvas(1024, 768);
  want.fill(INFO_X + 16, 470, 256, 28, BOX);
  const end = want.text(INFO_X + 24, 476, 'Hello, kvm!', GOLD, BOX);
  want.fill(end + 1, 476, 7, 16, CYAN);
  assertRegion(img, want.image, INFO_X + 16, 470, 256, 28, 'the text box');
  assertRegion(img, expectedPanel('(empty)'), INFO_X + 16, SET_Y + 12, 256, 16 + 6 * 22 + 28, 'the side panel');
});
