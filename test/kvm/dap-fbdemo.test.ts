// KVM tier: the framebuffer demo the way F5 in VS Code runs it (the launch
// configuration in test/guests/demo/.vscode/launch.json), through the real
// debug adapter: a source breakpoint in fbdemo.c stops the 32-bit
// multiboot2 kernel when a key typed into the Guest Screen arrives, and at
// that stop kvm/screen (what the view shows) is the demo's 1024x768
// framebuffer, drawn; continuing, the key reaches the text box and Esc ends it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOOT_MS, GUEST_DIR, ROOT } from './helpers/guests';
import { evaluate, finishDap, launchDap, nextStop, startDap, topFrame, waitForText } from './helpers/dap-session';
import { decodePng } from '../../vmm/screen/png';
import type { ScreenBody } from '../../debug-adapter/protocol-extensions';

const KERNEL = join(GUEST_DIR, 'fbdemo.elf');
const SOURCE = join(ROOT, 'test', 'guests', 'demo', 'fbdemo.c');
/** `if (ch == 27) {`: the first line after a key was read (fbdemo.c); it runs for keys only. */
const KEY_LINE = readFileSync(SOURCE, 'utf8').split('\n').findIndex((l) => l.includes('if (ch == 27) {')) + 1;
const DEMO_MS = BOOT_MS * 3;

test('F5 on the framebuffer demo: a breakpoint in fbdemo.c on a typed key, the framebuffer shown at the stop, the key echoed after continuing', async () => {
  const s = await startDap(DEMO_MS);
  try {
    await launchDap(s, { kernel: KERNEL, cmdline: '', memory: '64M' });
    await waitForText(s.stdout, 'type on the guest\'s keyboard (Esc powers off)\n', DEMO_MS, 'the demo at its prompt');
    const bp = (await s.dc.setBreakpointsRequest({ source: { path: SOURCE }, breakpoints: [{ line: KEY_LINE }] })).body.breakpoints;
    assert.deepEqual([bp[0].verified, bp[0].line], [true, KEY_LINE]);
    const stop = nextStop(s, 'the breakpoint on the typed key');
    await s.dc.customRequest('kvm/keyboard', { text: 'Q' });
    assert.equal((await stop).body.reason, 'breakpoint');
    const top = await topFrame(s);
    assert.deepEqual([top.name, top.line, top.source?.path], ['kernel_main', KEY_LINE, SOURCE]);
    assert.equal((await evaluate(s, 'ch', top.id)).result, "81 'Q'", 'the key the Guest Screen typed, as a C char');

    const shot = (await s.dc.customRequest('kvm/screen', {})).body as ScreenBody;
    assert.deepEqual([shot.mode, shot.width, shot.height], ['framebuffer', 1024, 768]);
    const img = decodePng(Buffer.from(shot.png, 'base64'));
    const at = (x: number, y: number) => { const i = (y * 1024 + x) * 4; return (img.data[i] << 16) | (img.data[i + 1] << 8) | img.data[i + 2]; };
    assert.equal(at(32 + 80 * 4 + 1, 120 + 60 * 4 + 1), 0, 'the Mandelbrot set is drawn (c = -0.25 is black)');
    assert.equal(at(36, 32), 0x5ee7ff, 'the cyan title');

    await s.dc.setBreakpointsRequest({ source: { path: SOURCE }, breakpoints: [] });
    const terminated = s.dc.waitForEvent('terminated', DEMO_MS);
    await s.dc.continueRequest({ threadId: 1 });
    await s.dc.customRequest('kvm/keyboard', { text: '\x1b' });
    await waitForText(s.stdout, 'typed: Q\nbye\n', DEMO_MS, 'the typed key and Esc');
    await terminated;
  } finally {
    await finishDap(s);
  }
});
