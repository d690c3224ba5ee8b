import { test } from 'node:test';
import assert from 'node:assert/strict';
import { integer, name, nameSeg, pkg, pkgLength } from '../../vmm/acpi/aml';
import { setChecksum, sum8 } from '../../vmm/acpi/checksum';

test('AML integers take the shortest encoding', () => {
  assert.deepEqual([...integer(0)], [0x00]);
  assert.deepEqual([...integer(1)], [0x01]);
  assert.deepEqual([...integer(5)], [0x0a, 5]);
  assert.deepEqual([...integer(0x1234)], [0x0b, 0x34, 0x12]);
  assert.deepEqual([...integer(0x12345678)], [0x0c, 0x78, 0x56, 0x34, 0x12]);
  assert.deepEqual([...integer(0x1_0000_0000n)], [0x0e, 0, 0, 0, 0, 1, 0, 0, 0]);
  assert.deepEqual([...integer((1n << 64n) - 1n)], [0xff]);
  assert.throws(() => integer(-1), RangeError);
});

test('PkgLength counts itself and grows to 2-4 bytes', () => {
  assert.deepEqual([...pkgLength(5)], [6]);
  assert.deepEqual([...pkgLength(62)], [63]);
  assert.deepEqual([...pkgLength(63)], [0x41, 0x04], '65 = 0x41 low nibble 1, then 0x04');
  assert.deepEqual([...pkgLength(0x800)], [0x42, 0x80], '0x802');
  assert.deepEqual([...pkgLength(0x1000)], [0x83, 0x00, 0x01], '0x1003: past 12 bits, 3 bytes');
  assert.deepEqual([...pkgLength(0x100000)], [0xc4, 0x00, 0x00, 0x01], '0x100004: past 20 bits, 4 bytes');
  assert.throws(() => pkgLength(1 << 28), RangeError);
});

test('names and packages', () => {
  assert.deepEqual([...nameSeg('_S5')], [0x5f, 0x53, 0x35, 0x5f]);
  assert.throws(() => nameSeg('5AB'), RangeError);
  assert.throws(() => nameSeg('TOOLONG'), RangeError);
  assert.deepEqual([...name('ABCD', pkg([integer(2)]))], [0x08, 0x41, 0x42, 0x43, 0x44, 0x12, 0x04, 0x01, 0x0a, 0x02]);
  const big = pkg(Array.from({ length: 40 }, () => integer(0x1234)));
  assert.equal(big.length, 1 + 2 + 1 + 40 * 3, 'a long package uses a 2-byte PkgLength');
});

test('checksums', () => {
  const b = Uint8Array.of(1, 2, 3, 0, 250);
  setChecksum(b, 3);
  assert.equal(sum8(b), 0);
  const r = Uint8Array.of(9, 0x52, 0x53, 0, 7, 7);
  setChecksum(r, 3, 1, 4);
  assert.equal(sum8(r, 1, 4), 0, 'only the covered range');
  assert.equal(r[3], 0x5b);
});
