import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../vmm/bus/bus';
import type { MachineControl } from '../../vmm/bus/device';
import { AcpiPm, PM1_CNT_SCI_EN, PM_BASE, PM_PORT_COUNT } from '../../vmm/devices/pm';

function setup() {
  const exits: [number, string][] = [];
  const errors: string[] = [];
  const control: MachineControl = { exit: (s, r) => exits.push([s, r]), reset: () => assert.fail('no reset expected') };
  const bus = new Bus('pio');
  bus.register(PM_BASE, PM_PORT_COUNT, new AcpiPm({ control, log: { info() {}, guestError: (m) => errors.push(m) } }));
  return { bus, exits, errors };
}

test('outw 0x604 0x2000 powers off with status 0', () => {
  const { bus, exits } = setup();
  bus.write(0x604, 2, 0x2000);
  assert.deepEqual(exits, [[0, 'guest powered off']]);
});

test('the same request as two byte writes powers off when the SLP_EN byte lands', () => {
  const { bus, exits } = setup();
  bus.write(0x604, 1, 0x00);
  assert.equal(exits.length, 0);
  bus.write(0x605, 1, 0x20);
  assert.deepEqual(exits.map(([s]) => s), [0]);
});

test('other sleep types are a guest error and do nothing', () => {
  const { bus, exits, errors } = setup();
  bus.write(0x604, 2, 0x2000 | (5 << 10));
  assert.deepEqual(exits, []);
  assert.equal(errors.length, 1);
  assert.match(errors[0], /sleep type 5/);
});

test('PM1_CNT keeps SLP_TYP, hides SLP_EN, and SCI_EN reads set; PM1_EN is storage, PM1_STS reads 0', () => {
  const { bus } = setup();
  assert.equal(bus.read(0x604, 2), PM1_CNT_SCI_EN);
  bus.write(0x604, 2, 5 << 10);
  assert.equal(bus.read(0x604, 2), (5 << 10) | PM1_CNT_SCI_EN);
  bus.write(0x602, 2, 0x0121);
  assert.equal(bus.read(0x602, 2), 0x0121);
  bus.write(0x600, 2, 0xffff);
  assert.equal(bus.read(0x600, 4), 0x0121_0000);
});
