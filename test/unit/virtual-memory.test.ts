import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { PagingState } from '../../vmm/debug/page-walk';
import { MAX_ACCESS_LENGTH, readPhysical, readVirtual, VirtualReader, writePhysical, writeVirtual } from '../../vmm/debug/virtual-memory';

const MiB = 2 ** 20;
const P = 1n, W = 2n, PS = 0x80n;
const LONG: Omit<PagingState, 'cr3'> = { cr0: 0x8000_0011n, cr4: 0x20n, efer: 0x500n };
const PAGING32: Omit<PagingState, 'cr3'> = { cr0: 0x8000_0011n, cr4: 0n, efer: 0n };
const NONE: PagingState = { cr0: 0x11n, cr3: 0n, cr4: 0n, efer: 0n };

const pattern = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
const ones = (n: number): number[] => Array<number>(n).fill(1);
const zeros = (n: number): number[] => Array<number>(n).fill(0);

/**
 * 4-level tables at 0x10000..0x13000: 0x400000 -> 0x8000, 0x401000 unmapped,
 * 0x402000 -> 0x9000 (read-only), 0x403000 -> 0xfee00000 (not RAM),
 * 2 MiB pages at 0x600000 -> 0x800000 and 0x800000 -> 0xa00000,
 * the top page 0xfffffffffffff000 -> 0xb000 and page 0 -> 0xc000.
 */
function setup(): { m: GuestMemory; s: PagingState } {
  const m = GuestMemory.allocate(16 * MiB);
  m.writeU64(0x10000, 0x11000n | P | W);
  m.writeU64(0x11000, 0x12000n | P | W);
  m.writeU64(0x12000 + 2 * 8, 0x13000n | P | W);
  m.writeU64(0x13000 + 0 * 8, 0x8000n | P | W);
  m.writeU64(0x13000 + 2 * 8, 0x9000n | P);
  m.writeU64(0x13000 + 3 * 8, 0xfee0_0000n | P | W);
  m.writeU64(0x12000 + 3 * 8, 0x80_0000n | P | W | PS);
  m.writeU64(0x12000 + 4 * 8, 0xa0_0000n | P | W | PS);
  m.writeU64(0x10000 + 511 * 8, 0x14000n | P | W);
  m.writeU64(0x14000 + 511 * 8, 0x15000n | P | W);
  m.writeU64(0x15000 + 511 * 8, 0x16000n | P | W);
  m.writeU64(0x16000 + 511 * 8, 0xb000n | P | W);
  m.writeU64(0x12000 + 0 * 8, 0x17000n | P | W);
  m.writeU64(0x17000 + 0 * 8, 0xc000n | P | W);
  m.write(0x8000, pattern(4096, 1));
  m.write(0x9000, pattern(4096, 2));
  m.write(0xb000, pattern(4096, 3));
  m.write(0xc000, pattern(4096, 4));
  return { m, s: { ...LONG, cr3: 0x10000n } };
}

test('readVirtual across mapped and unmapped pages gives the right readable map', () => {
  const { m, s } = setup();
  const r = readVirtual(m, s, 0x40_0ff0n, 0x2020);
  assert.deepEqual([...r.readable], [...ones(0x10), ...zeros(0x1000), ...ones(0x1000), ...zeros(0x10)], 'the last 16 bytes map to 0xfee00000, not RAM');
  assert.equal(r.unreadableBytes, 0x1010);
  assert.deepEqual(r.data.subarray(0, 0x10), pattern(4096, 1).subarray(0xff0));
  assert.deepEqual(r.data.subarray(0x10, 0x1010), new Uint8Array(0x1000), 'unreadable bytes are zero');
  assert.deepEqual(r.data.subarray(0x1010, 0x2010), pattern(4096, 2));
});

test('readVirtual: a page mapped to non-RAM is unreadable; 2 MiB pages are read in one piece each', () => {
  const { m, s } = setup();
  const r = readVirtual(m, s, 0x40_2ffen, 4);
  assert.deepEqual([...r.readable], [1, 1, 0, 0]);
  m.fill(0x9f_fff0, 0x20, 0x5a);
  const big = readVirtual(m, s, 0x7f_fff0n, 0x20);
  assert.equal(big.unreadableBytes, 0);
  assert.deepEqual(big.data, new Uint8Array(0x20).fill(0x5a), 'two 2 MiB pages, contiguous here');
  assert.equal(readVirtual(m, s, 0x40_0000n, 0).data.length, 0);
});

test('readVirtual stops at the top of the 64-bit address space instead of wrapping', () => {
  const { m, s } = setup();
  const r = readVirtual(m, s, 0xffff_ffff_ffff_fff0n, 32);
  assert.deepEqual([...r.readable], [...ones(16), ...zeros(16)]);
  assert.deepEqual(r.data.subarray(0, 16), pattern(4096, 3).subarray(4080));
  assert.deepEqual(r.data.subarray(16), new Uint8Array(16), 'page 0 (mapped) is not read by wrapping around');
  const w = writeVirtual(m, s, 0xffff_ffff_ffff_fffen, new Uint8Array([1, 2, 3, 4]));
  assert.equal(w.written, 2);
  assert.match(w.firstFailure!, /past the top of the 64-bit address space/);
  assert.deepEqual(m.read(0xbffe, 2), new Uint8Array([1, 2]));
  assert.equal(m.readU16(0xc000), pattern(2, 4)[0] | (pattern(2, 4)[1] << 8), 'page 0 untouched');
});

test('readVirtual stops at 4 GiB in 32-bit modes', () => {
  const m = GuestMemory.allocate(16 * MiB);
  m.writeU32(0x1000 + 1023 * 4, 0x2000 | 3);
  m.writeU32(0x2000 + 1023 * 4, 0x5000 | 3);
  m.writeU32(0x1000, 0x3000 | 3);
  m.writeU32(0x3000, 0x6000 | 3);
  m.write(0x5000, pattern(4096, 5));
  m.write(0x6000, pattern(4096, 6));
  const s = { ...PAGING32, cr3: 0x1000n };
  const r = readVirtual(m, s, 0xffff_fff8n, 16);
  assert.deepEqual([...r.readable], [...ones(8), ...zeros(8)]);
  assert.deepEqual(r.data.subarray(0, 8), pattern(4096, 5).subarray(4088));
  // No paging: same limit.
  const n = readVirtual(m, NONE, 0xffff_fff8n, 16);
  assert.equal(n.unreadableBytes, 16, 'top of 4 GiB is not RAM and nothing wraps to 0');
  const low = readVirtual(m, NONE, 0x1_0000_5000n, 8);
  assert.deepEqual(low.data, pattern(8, 5), 'outside long mode linear addresses are 32 bits');
  assert.match(writeVirtual(m, s, 0xffff_ffffn, new Uint8Array(2)).firstFailure!, /32-bit address space/);
});

test('readVirtual without paging reads all of RAM at the length cap', () => {
  const m = GuestMemory.allocate(16 * MiB);
  m.write(16 * MiB - 4, new Uint8Array([9, 8, 7, 6]));
  const r = readVirtual(m, NONE, 0n, MAX_ACCESS_LENGTH);
  assert.equal(r.unreadableBytes, 0);
  assert.deepEqual(r.data.subarray(-4), new Uint8Array([9, 8, 7, 6]));
  const past = readVirtual(m, NONE, BigInt(16 * MiB - 2), 4);
  assert.deepEqual([...past.readable], [1, 1, 0, 0]);
});

test('lengths: capped with a sentence, negative and fractional refused', () => {
  const { m, s } = setup();
  assert.throws(() => readVirtual(m, s, 0n, MAX_ACCESS_LENGTH + 1), (e: unknown) => e instanceof RangeError && /longer than the 16 MiB kvmdbg allows at once/.test(e.message));
  assert.throws(() => readVirtual(m, s, 0n, -1), RangeError);
  assert.throws(() => readPhysical(m, 0, 1.5), RangeError);
  assert.throws(() => writeVirtual(m, s, 0n, new Uint8Array(MAX_ACCESS_LENGTH + 1)), /16 MiB/);
  assert.throws(() => readPhysical(m, -1, 1), /non-negative whole number/);
  assert.throws(() => writePhysical(m, 2 ** 53, new Uint8Array(1)), RangeError);
});

test('writeVirtual writes through read-only pages and stops at the first unmapped one', () => {
  const { m, s } = setup();
  const ro = writeVirtual(m, s, 0x40_2010n, new Uint8Array([0xcc, 0xcc]));
  assert.deepEqual(ro, { written: 2 });
  assert.deepEqual(m.read(0x9010, 2), new Uint8Array([0xcc, 0xcc]), 'the debugger may patch read-only pages');
  const across = writeVirtual(m, s, 0x40_0ffcn, new Uint8Array(8).fill(0xab));
  assert.equal(across.written, 4);
  assert.equal(across.firstFailure, 'virtual 0x401000: PTE at 0x13008 is not present');
  assert.deepEqual(m.read(0x8ffc, 4), new Uint8Array(4).fill(0xab));
  const mmio = writeVirtual(m, s, 0x40_3000n, new Uint8Array(1));
  assert.equal(mmio.written, 0);
  assert.equal(mmio.firstFailure, 'virtual 0x403000: physical address 0xfee00000 is not guest RAM');
  assert.deepEqual(writeVirtual(m, s, 0x40_0000n, new Uint8Array(0)), { written: 0 });
  // A write across two 2 MiB pages.
  assert.deepEqual(writeVirtual(m, s, 0x7f_fffen, new Uint8Array([1, 2, 3, 4])), { written: 4 });
  assert.deepEqual(m.read(0x9f_fffe, 4), new Uint8Array([1, 2, 3, 4]));
  const nc = writeVirtual(m, s, 0x8000_0000_0000n, new Uint8Array(1));
  assert.match(nc.firstFailure!, /^virtual 0x800000000000: non-canonical address/);
});

test('readPhysical and writePhysical: non-RAM bytes unreadable, writes stop at the end of RAM', () => {
  // Two RAM regions with a hole between them: [0, 1 MiB) and [2 MiB, 3 MiB).
  const buffer = new SharedArrayBuffer(2 * MiB);
  const m = new GuestMemory(buffer, [{ guestPhys: 0, size: MiB, offset: 0 }, { guestPhys: 2 * MiB, size: MiB, offset: MiB }]);
  m.write(MiB - 2, new Uint8Array([1, 2]));
  m.write(2 * MiB, new Uint8Array([3, 4]));
  const r = readPhysical(m, MiB - 2, MiB + 4);
  assert.equal(r.unreadableBytes, MiB);
  assert.deepEqual([...r.readable.subarray(0, 3)], [1, 1, 0]);
  assert.deepEqual([...r.readable.subarray(-3)], [0, 1, 1]);
  assert.deepEqual(r.data.subarray(0, 2), new Uint8Array([1, 2]));
  assert.deepEqual(r.data.subarray(-2), new Uint8Array([3, 4]));
  assert.equal(readPhysical(m, 2 ** 53 - 2, 8).unreadableBytes, 8);
  assert.equal(readPhysical(m, 0xfee0_0000, 16).unreadableBytes, 16);

  const w = writePhysical(m, MiB - 2, new Uint8Array([9, 9, 9]));
  assert.equal(w.written, 2);
  assert.equal(w.firstFailure, 'physical address 0x100000 is not guest RAM');
  assert.deepEqual(writePhysical(m, 3 * MiB - 1, new Uint8Array([7])), { written: 1 });
  assert.equal(m.readU8(3 * MiB - 1), 7);
  assert.equal(writePhysical(m, 3 * MiB - 1, new Uint8Array([7, 7])).written, 1);
  // Adjacent regions: a write continues from one into the next.
  const adj = new GuestMemory(new SharedArrayBuffer(2 * MiB), [{ guestPhys: 0, size: MiB, offset: 0 }, { guestPhys: MiB, size: MiB, offset: MiB }]);
  assert.deepEqual(writePhysical(adj, MiB - 1, new Uint8Array([5, 6])), { written: 2 });
  assert.equal(readPhysical(adj, MiB - 1, 2).unreadableBytes, 0);
});

test('VirtualReader answers as readVirtual does, walking each page once', () => {
  const { m, s } = setup();
  const reader = new VirtualReader(m, s);
  const cases: [bigint, number][] = [[0x40_0010n, 8], [0x40_0ffcn, 8], [0x40_1000n, 8], [0x40_3000n, 4], [0x60_0100n, 8], [0xffff_ffff_ffff_fffcn, 8], [0x40_2ff8n, 8]];
  for (const [va, n] of cases) {
    const r = readVirtual(m, s, va, n);
    assert.deepEqual(reader.readExact(va, n), r.unreadableBytes === 0 ? r.data : undefined, `0x${va.toString(16)}+${n}`);
  }
  // Remembered translations: a page table changed under the reader is not looked at again (one request, one stop).
  m.writeU64(0x13000, 0n);
  assert.deepEqual(reader.readExact(0x40_0020n, 4), pattern(4096, 1).subarray(0x20, 0x24));
  assert.equal(new VirtualReader(m, s).readExact(0x40_0020n, 4), undefined, 'a new reader walks again');
});
