// --keys-when TEXT: typed once the text screen shows TEXT, a prompt's trailing blank included (xv6's shell prompt is "$ ").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { VgaState } from '../../vmm/devices/vga-state';
import { Vga } from '../../vmm/devices/vga';
import { textSnapshot } from '../../vmm/screen/text-mode';
import { screenShows } from '../../vmm/cli/screen-cli';

function screen(lines: string[]) {
  const memory = GuestMemory.allocate(2 * 1024 * 1024);
  for (let r = 0; r < 25; r++) {
    for (let c = 0; c < 80; c++) memory.writeU16(0xb8000 + (r * 80 + c) * 2, (lines[r]?.charCodeAt(c) ?? 0x20) | 0x0700);
  }
  return textSnapshot(memory, new Vga(new VgaState()).state);
}

test('a shell prompt ending in a blank is shown: "$ " after init, not before', () => {
  assert.equal(screenShows(screen(['init: starting sh', '$ ']), '$ '), true);
  assert.equal(screenShows(screen(['init: starting sh']), '$ '), false);
  assert.equal(screenShows(screen(['cost: 5$']), '$ '), true, 'a dollar before blanks is a "$ " too');
  assert.equal(screenShows(screen(['type:']), 'type:'), true);
  assert.equal(screenShows(screen(['typ']), 'type:'), false);
});
