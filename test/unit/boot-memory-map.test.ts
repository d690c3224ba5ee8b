import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { E820_RAM, E820_RESERVED, highMemoryEntry, isUsableRam, pcMemoryMap } from '../../vmm/memory/memory-map';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

test('the PC map of 256 MiB: low RAM, EBDA, BIOS, RAM from 1 MiB', () => {
  const map = pcMemoryMap(GuestMemory.allocate(256 * MiB));
  assert.deepEqual(map, [
    { addr: 0, size: 0x9fc00, type: E820_RAM },
    { addr: 0x9fc00, size: 0x400, type: E820_RESERVED },
    { addr: 0xf0000, size: 0x10000, type: E820_RESERVED },
    { addr: 0x100000, size: 255 * MiB, type: E820_RAM },
  ]);
  assert.equal(highMemoryEntry(map)?.size, 255 * MiB);
  assert.ok(isUsableRam(map, 0x100000, 255 * MiB));
  assert.ok(!isUsableRam(map, 0x100000, 255 * MiB + 1));
  assert.ok(!isUsableRam(map, 0x9f000, 0x1000), 'crosses into the EBDA');
  assert.ok(!isUsableRam(map, 0xa0000, 16), 'the VGA hole is not RAM');
  assert.ok(!isUsableRam(map, -1, 1));
  assert.ok(!isUsableRam(map, 0x100000, Number.NaN));
});

test('RAM above 4 GiB gets its own entry', () => {
  const buffer = new SharedArrayBuffer(24 * MiB);
  const memory = new GuestMemory(buffer, [{ guestPhys: 0, size: 16 * MiB, offset: 0 }, { guestPhys: 4 * GiB, size: 8 * MiB, offset: 16 * MiB }]);
  const map = pcMemoryMap(memory);
  assert.deepEqual(map.map((e) => [e.addr, e.size, e.type]), [
    [0, 0x9fc00, 1], [0x9fc00, 0x400, 2], [0xf0000, 0x10000, 2], [0x100000, 15 * MiB, 1], [4 * GiB, 8 * MiB, 1],
  ]);
});

test('a guest smaller than 1 MiB has no high memory', () => {
  const map = pcMemoryMap(GuestMemory.allocate(512 * 1024));
  assert.deepEqual(map.map((e) => [e.addr, e.size, e.type]), [[0, 512 * 1024, 1], [0x9fc00, 0x400, 2], [0xf0000, 0x10000, 2]]);
  assert.equal(highMemoryEntry(map), undefined);
});
