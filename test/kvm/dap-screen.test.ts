// KVM tier: the Guest Screen through the debug adapter (the requests the VS
// Code view sends): kvm/screen returns the picture, watching sends a
// kvm/screen event for each change while the guest runs, the picture is
// still there (and exact) while the guest is paused, and kvm/keyboard
// types into the guest, also queued while it is paused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { BOOT_MS, GUEST_DIR } from './helpers/guests';
import { finishDap, launchDap, startDap, stopAfter, waitForText } from './helpers/dap-session';
import { decodePng } from '../../vmm/screen/png';
import { assertSameImage, expectedScreen, firstDifference } from './helpers/screen';
import type { ScreenBody } from '../../debug-adapter/protocol-extensions';

const KERNEL = join(GUEST_DIR, 'screen64.elf');
const picture = (f: ScreenBody) => decodePng(Buffer.from(f.png, 'base64'));

test('kvm/screen and kvm/keyboard: the exact screen while running and paused, changed frames as events, typed keys echoed', async () => {
  const s = await startDap(BOOT_MS);
  try {
    const frames: ScreenBody[] = [];
    s.dc.on('kvm/screen', (e: DebugProtocol.Event) => frames.push(e.body as ScreenBody));
    await launchDap(s, { kernel: KERNEL, memory: '64M' });
    await waitForText(s.stdout, 'screen ready\n', BOOT_MS, 'the screen kernel at its prompt');

    const first = (await s.dc.customRequest('kvm/screen', { watch: true, maxFps: 30 })).body as ScreenBody;
    assert.deepEqual([first.mode, first.description, first.width, first.height], ['text', '80x25 text', 640, 400]);
    assertSameImage(picture(first), expectedScreen(1).image, 'kvm/screen at the prompt');
    // The text rows (what the Guest Screen view gives screen readers): exact, CP437 as Unicode.
    assert.deepEqual(first.text?.slice(0, 6), ['  kvmdbg screen64: VGA text mode', 'colours: ################', 'blink: BLINK', 'scan code set 1', '', '>']);
    assert.equal(first.text?.length, 25);

    // Typing changes the screen: a watched session gets the new frame as an event.
    await s.dc.customRequest('kvm/keyboard', { text: 'Hi' });
    const want = expectedScreen(1, 'Hi').image;
    const t0 = Date.now();
    while (!frames.some((f) => !firstDifference(picture(f), want))) {
      if (Date.now() - t0 > 20_000) assert.fail(`no kvm/screen event showed "> Hi" (${frames.length} frames came)`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(frames.every((f, i) => i === 0 || f.hash !== frames[i - 1].hash), 'only changed frames are sent');

    // Paused: the picture is still the exact current screen; keys wait for the guest to run.
    await stopAfter(s, 'pause', () => s.dc.pauseRequest({ threadId: 1 }));
    const paused = (await s.dc.customRequest('kvm/screen', {})).body as ScreenBody;
    assertSameImage(picture(paused), want, 'kvm/screen while paused');
    await s.dc.customRequest('kvm/keyboard', { keys: [{ code: 'Digit7', down: true }, { code: 'Digit7', down: false }, { code: 'Enter', down: true }, { code: 'Enter', down: false }] });
    const bad = await s.dc.customRequest('kvm/keyboard', { keys: [{ code: 'NoSuchKey', down: true }] }).then(() => undefined, (e: Error) => e.message);
    assert.match(bad ?? '', /unknown key 'NoSuchKey'/);
    const terminated = s.dc.waitForEvent('terminated', BOOT_MS);
    await s.dc.continueRequest({ threadId: 1 });
    await waitForText(s.stdout, 'typed: Hi7\n', BOOT_MS, 'the keys typed while paused');
    await terminated;
  } finally {
    await finishDap(s);
  }
});
