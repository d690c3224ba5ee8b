import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../vmm/bus/bus';
import type { AccessSize, MachineControl } from '../../vmm/bus/device';
import {
  PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_PORT_COUNT, PciBus, PciConfigIo, PciFunction, PciHostBridge,
} from '../../vmm/devices/pci';

function setup() {
  const resets: string[] = [];
  const control: MachineControl = { exit: () => assert.fail('no exit expected'), reset: (r) => resets.push(r) };
  const pci = new PciBus();
  pci.register(0, 0, new PciHostBridge());
  const bus = new Bus('pio');
  bus.register(PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_PORT_COUNT, new PciConfigIo(pci, { control }));
  const address = (b: number, d: number, f: number, reg: number) => 0x8000_0000 | (b << 16) | (d << 11) | (f << 8) | reg;
  const cfgRead = (b: number, d: number, f: number, reg: number, size: AccessSize = 4) => {
    bus.write(0xcf8, 4, address(b, d, f, reg & 0xfc));
    return bus.read(0xcfc + (reg & 3), size);
  };
  const cfgWrite = (b: number, d: number, f: number, reg: number, size: AccessSize, v: number) => {
    bus.write(0xcf8, 4, address(b, d, f, reg & 0xfc));
    bus.write(0xcfc + (reg & 3), size, v);
  };
  return { pci, bus, cfgRead, cfgWrite, resets };
}

test('PCI host bridge IDs and class are readable via CF8/CFC; an absent device is all-ones', () => {
  const { cfgRead } = setup();
  assert.equal(cfgRead(0, 0, 0, 0x00), 0x29c0_8086);
  assert.equal(cfgRead(0, 0, 0, 0x02, 2), 0x29c0);
  assert.equal(cfgRead(0, 0, 0, 0x08) >>> 8, 0x060000);
  assert.equal(cfgRead(0, 0, 0, 0x0a, 2), 0x0600, 'Linux pci_sanity_check reads the class word');
  assert.equal(cfgRead(0, 0, 0, 0x0e, 1), 0x00);
  assert.equal(cfgRead(0, 1, 0, 0x00), 0xffffffff);
  assert.equal(cfgRead(0, 0, 1, 0x00, 2), 0xffff);
  assert.equal(cfgRead(1, 0, 0, 0x00), 0xffffffff, 'only bus 0 exists');
});

test('the host bridge is read-only except its error-reporting command bits', () => {
  const { cfgRead, cfgWrite } = setup();
  cfgWrite(0, 0, 0, 0x00, 4, 0);
  assert.equal(cfgRead(0, 0, 0, 0x00), 0x29c0_8086);
  cfgWrite(0, 0, 0, 0x04, 2, 0xffff);
  assert.equal(cfgRead(0, 0, 0, 0x04, 2), 0x0146);
  cfgWrite(0, 0, 0, 0x04, 2, 0);
  assert.equal(cfgRead(0, 0, 0, 0x04, 2), 0x0006, 'memory and bus master stay on');
  cfgWrite(0, 0, 0, 0x10, 4, 0xffffffff);
  assert.equal(cfgRead(0, 0, 0, 0x10), 0, 'no BARs');
});

test('CONFIG_ADDRESS reads back only as dwords, keeping the defined bits (Linux type 1 probe)', () => {
  const { bus } = setup();
  bus.write(0xcfb, 1, 0x01);
  bus.write(0xcf8, 4, 0x8000_0000);
  assert.equal(bus.read(0xcf8, 4), 0x8000_0000);
  bus.write(0xcf8, 4, 0xffff_ffff);
  assert.equal(bus.read(0xcf8, 4), 0x80ff_fffc);
  assert.equal(bus.read(0xcf8, 2), 0xffff);
});

test('with the enable bit clear the data window reads all-ones', () => {
  const { bus } = setup();
  bus.write(0xcf8, 4, 0);
  assert.equal(bus.read(0xcfc, 4), 0xffffffff);
});

test('data window accesses at every offset and size reach the function with the right offset', () => {
  const { pci, bus } = setup();
  const seen: string[] = [];
  const fn: PciFunction = {
    name: 'probe',
    readConfig: (o, s) => { seen.push(`r${s}@${o.toString(16)}`); return 0; },
    writeConfig: (o, s, v) => { seen.push(`w${s}@${o.toString(16)}=${v.toString(16)}`); },
  };
  pci.register(3, 2, fn);
  bus.write(0xcf8, 4, 0x8000_0000 | (3 << 11) | (2 << 8) | 0x40);
  bus.read(0xcfc, 4);
  bus.read(0xcfd, 2);
  bus.read(0xcff, 1);
  bus.write(0xcfe, 2, 0xbeef);
  assert.deepEqual(seen, ['r4@40', 'r2@41', 'r1@43', 'w2@42=beef']);
  assert.throws(() => pci.register(3, 2, fn), /probe.*already/);
  assert.throws(() => pci.register(32, 0, fn), /0-31/);
});

test('0x06 to the reset control register at 0xCF9 resets the machine', () => {
  const { bus, resets } = setup();
  bus.write(0xcf9, 1, 0x02);
  assert.equal(resets.length, 0);
  assert.equal(bus.read(0xcf9, 1), 0x02);
  bus.write(0xcf9, 1, 0x06);
  assert.equal(resets.length, 1);
});
