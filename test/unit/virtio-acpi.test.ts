// The DSDT's virtio-mmio device nodes, byte for byte (checked against iasl's
// encoding of the same ASL), and the AML encoder additions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buffer, device, extendedInterrupt, memory32Fixed, resourceTemplate, scope, string } from '../../vmm/acpi/aml';
import { buildDsdt, dsdtAml, virtioDeviceName } from '../../vmm/acpi/dsdt';
import { sum8 } from '../../vmm/acpi/checksum';
import { layoutAcpi } from '../../vmm/acpi/tables';

test('AML strings, buffers, scopes and devices', () => {
  assert.deepEqual([...string('AB')], [0x0d, 0x41, 0x42, 0x00]);
  assert.deepEqual([...buffer(Uint8Array.of(1, 2))], [0x11, 0x05, 0x0a, 0x02, 1, 2]);
  assert.deepEqual([...scope('\\_SB', [])], [0x10, 0x06, 0x5c, 0x5f, 0x53, 0x42, 0x5f]);
  assert.deepEqual([...device('VR00', [])], [0x5b, 0x82, 0x05, 0x56, 0x52, 0x30, 0x30]);
  assert.throws(() => string('a\0b'), RangeError);
});

test('resource descriptors: Memory32Fixed and a level, active-high Interrupt', () => {
  assert.deepEqual([...memory32Fixed(0xd000_0000, 0x200)], [0x86, 0x09, 0x00, 0x01, 0, 0, 0, 0xd0, 0x00, 0x02, 0, 0]);
  assert.deepEqual([...extendedInterrupt([16], { level: true, activeHigh: true })], [0x89, 0x06, 0x00, 0x01, 0x01, 16, 0, 0, 0]);
  assert.deepEqual([...extendedInterrupt([5], { level: false, activeHigh: false })].slice(3, 4), [0x07]);
  const rt = resourceTemplate([memory32Fixed(0, 1)]);
  assert.deepEqual([...rt.subarray(-2)], [0x79, 0x00], 'end tag');
});

test('the DSDT has one LNRO0005 device per virtio-mmio device, under \\_SB', () => {
  assert.equal(virtioDeviceName(0), 'VR00');
  assert.equal(virtioDeviceName(11), 'VR0B');
  const aml = dsdtAml([{ base: 0xd000_0000, size: 0x200, gsi: 16 }, { base: 0xd000_1000, size: 0x200, gsi: 17 }]);
  const text = Buffer.from(aml).toString('latin1');
  assert.equal(text.split('LNRO0005').length - 1, 2);
  assert.ok(text.includes('\\_SB_') && text.includes('VR00') && text.includes('VR01') && text.includes('_CRS'));
  // Device VR00: _HID, _UID 0, _CRS = Buffer { Memory32Fixed, Interrupt, EndTag }
  const vr00 = aml.indexOf(0x82) - 1;
  assert.deepEqual([...aml.subarray(vr00, vr00 + 2)], [0x5b, 0x82]);
  const crs = [0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x1a, 0x0a, 0x17,
    0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x02, 0x00, 0x00,
    0x89, 0x06, 0x00, 0x01, 0x01, 0x10, 0x00, 0x00, 0x00, 0x79, 0x00];
  assert.ok(Buffer.from(aml).includes(Buffer.from(crs)), 'iasl: Name(_CRS, ResourceTemplate() { Memory32Fixed(ReadWrite, 0xD0000000, 0x200) Interrupt(ResourceConsumer, Level, ActiveHigh, Exclusive) { 16 } })');
  const dsdt = buildDsdt([{ base: 0xd000_0000, size: 0x200, gsi: 16 }]);
  assert.equal(sum8(dsdt), 0, 'checksum');
  assert.equal(layoutAcpi(1, [{ base: 0xd000_0000, size: 0x200, gsi: 16 }]).tables.DSDT.bytes.length, dsdt.length);
  assert.equal(dsdtAml().length, dsdtAml([]).length, 'no devices, no \\_SB scope');
});
