import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRef, parseRef, toDapRead, GuestMemoryView } from '../../debug-adapter/memory';
import { GuestMemory } from '../../vmm/memory/guest-memory';

test('memory references name a space and an address', () => {
  assert.deepEqual(parseRef('v:0x1000'), { space: 'v', address: 0x1000n });
  assert.deepEqual(parseRef('p:0xFEE00000'), { space: 'p', address: 0xfee00000n });
  assert.deepEqual(parseRef('0x10'), { space: 'v', address: 0x10n });
  assert.deepEqual(parseRef('4096'), { space: 'v', address: 4096n });
  assert.equal(formatRef('v', -1n), 'v:0xffffffffffffffff');
  assert.throws(() => parseRef('q:0x10'), /not a memory reference/);
  assert.throws(() => parseRef('v:0x10000000000000000'), /64 bits/);
});

test('DAP reads: the readable run from the start, then the unreadable run after it', () => {
  const r = { data: new Uint8Array([1, 2, 0, 0, 5]), readable: new Uint8Array([1, 1, 0, 0, 1]), unreadableBytes: 2 };
  assert.deepEqual({ ...toDapRead(0x10n, r), data: [...toDapRead(0x10n, r).data] }, { address: '0x10', data: [1, 2], unreadableBytes: 2 });
  const s = { data: new Uint8Array([0, 0, 3]), readable: new Uint8Array([0, 0, 1]), unreadableBytes: 2 };
  assert.deepEqual(toDapRead(0x20n, s).unreadableBytes, 2);
  assert.equal(toDapRead(0x20n, s).data.length, 0);
});

test('physical and (paging off) virtual reads and writes on guest RAM; beyond RAM is unreadable', () => {
  const buffer = new SharedArrayBuffer(1 << 20);
  const memory = new GuestMemory(buffer, [{ guestPhys: 0, size: 1 << 20, offset: 0 }] as never);
  const view = new GuestMemoryView(memory, () => ({ cr0: 0n, cr3: 0n, cr4: 0n, efer: 0n }));
  assert.equal(view.write({ space: 'p', address: 0x1000n }, new Uint8Array([0xa9, 0xfa, 0xec, 0xa7])).written, 4);
  assert.deepEqual([...view.readExact({ space: 'v', address: 0x1000n }, 4)!], [0xa9, 0xfa, 0xec, 0xa7]);
  const r = view.readForDap('p:0xffffe', 0, 8);
  assert.deepEqual([r.address, r.data.length, r.unreadableBytes], ['0xffffe', 2, 6]);
  const far = view.readForDap('p:0x40000000', 16, 16);
  assert.deepEqual([far.address, far.data.length, far.unreadableBytes], ['0x40000010', 0, 16]);
});

test('DAP reads of whole runs: all readable, all unreadable, readable to the end', () => {
  const all = { data: new Uint8Array([1, 2, 3]), readable: new Uint8Array([1, 1, 1]), unreadableBytes: 0 };
  assert.deepEqual([toDapRead(0n, all).data.length, toDapRead(0n, all).unreadableBytes], [3, 0]);
  const none = { data: new Uint8Array(4), readable: new Uint8Array(4), unreadableBytes: 4 };
  assert.deepEqual([toDapRead(0n, none).data.length, toDapRead(0n, none).unreadableBytes], [0, 4]);
  const tail = { data: new Uint8Array([1, 0, 0]), readable: new Uint8Array([1, 0, 0]), unreadableBytes: 2 };
  assert.deepEqual([toDapRead(0n, tail).data.length, toDapRead(0n, tail).unreadableBytes], [1, 2]);
  const empty = { data: new Uint8Array(0), readable: new Uint8Array(0), unreadableBytes: 0 };
  assert.deepEqual([toDapRead(0n, empty).data.length, toDapRead(0n, empty).unreadableBytes], [0, 0]);
});
