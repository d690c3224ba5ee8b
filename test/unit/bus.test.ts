import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus, NoopDevice } from '../../vmm/bus/bus';
import type { AccessSize, Device, DeviceLog } from '../../vmm/bus/device';

function recordingLog() {
  const info: string[] = [];
  const errors: string[] = [];
  const log: DeviceLog = { info: (m) => info.push(m), guestError: (m) => errors.push(m) };
  return { log, info, errors };
}

/** A device that records accesses and reads back `offset + 0x10`. */
class Probe implements Device {
  readonly accesses: string[] = [];
  constructor(readonly name: string) {}
  read(offset: number, size: AccessSize): number {
    this.accesses.push(`r${size}@${offset}`);
    return 0x10 + offset;
  }
  write(offset: number, size: AccessSize, value: number): void {
    this.accesses.push(`w${size}@${offset}=${value.toString(16)}`);
  }
}

test('PIO accesses reach the device with offset = port - base', () => {
  const bus = new Bus('pio');
  const dev = new Probe('uart');
  bus.register(0x3f8, 8, dev);
  assert.equal(bus.read(0x3fd, 1), 0x15);
  bus.write(0x3f8, 1, 0x41);
  assert.deepEqual(dev.accesses, ['r1@5', 'w1@0=41']);
  assert.equal(bus.deviceAt(0x3ff), dev);
  assert.equal(bus.deviceAt(0x400), undefined);
});

test('a device can own a second range at a chosen device offset', () => {
  const bus = new Bus('pio');
  const dev = new Probe('i8042');
  bus.register(0x60, 1, dev);
  bus.register(0x64, 1, dev, 4);
  bus.read(0x64, 1);
  bus.read(0x60, 1);
  assert.deepEqual(dev.accesses, ['r1@4', 'r1@0']);
});

test('overlapping PIO registrations are rejected, naming both devices and ranges', () => {
  const bus = new Bus('pio');
  bus.register(0x3f8, 8, new Probe('serial@0x3f8'));
  assert.throws(() => bus.register(0x3fc, 8, new Probe('other')),
    (e: Error) => /other/.test(e.message) && /serial@0x3f8/.test(e.message) &&
      /0x3fc-0x403/.test(e.message) && /0x3f8-0x3ff/.test(e.message));
  assert.throws(() => bus.register(0xfff0, 0x20, new Probe('too-far')), /too-far/);
});

test('overlapping MMIO registrations are rejected, naming both devices', () => {
  const bus = new Bus('mmio');
  bus.register(0xfee0_0000, 0x1000, new Probe('lapic'));
  assert.throws(() => bus.register(0xfedf_f000, 0x2000, new Probe('virtio')), /virtio.*lapic|lapic.*virtio/);
  bus.register(0xfee0_1000, 0x1000, new Probe('adjacent'));
});

test('unregister frees the range for another device', () => {
  const bus = new Bus('pio');
  const a = new Probe('a');
  bus.register(0x100, 4, a);
  assert.equal(bus.unregister(0x101), undefined, 'only the base unregisters');
  assert.equal(bus.unregister(0x100), a);
  assert.equal(bus.read(0x100, 1), 0xff);
  const b = new Probe('b');
  bus.register(0x100, 4, b);
  assert.equal(bus.read(0x102, 1), 0x12);
});

test('an unknown port reads all-ones for the size, ignores writes, and is logged once', () => {
  const { log, info, errors } = recordingLog();
  const bus = new Bus('pio', log);
  assert.equal(bus.read(0x2f8, 1), 0xff);
  assert.equal(bus.read(0x2f8, 2), 0xffff);
  assert.equal(bus.read(0x2f8, 4), 0xffffffff);
  bus.write(0x2f8, 1, 0);
  bus.write(0x378, 1, 0);
  assert.equal(info.length, 2, info.join('\n'));
  assert.match(info[0], /0x2f8/);
  assert.equal(errors.length, 0);
  assert.deepEqual(bus.unhandledAccesses(), [
    { address: 0x2f8, reads: 3, writes: 1, lastSize: 1, reason: 'unmapped' },
    { address: 0x378, reads: 0, writes: 1, lastSize: 1, reason: 'unmapped' },
  ]);
});

test('an unknown MMIO address is logged once per 4 KiB page', () => {
  const { log, info } = recordingLog();
  const bus = new Bus('mmio', log);
  assert.equal(bus.read(0xfebf_0010, 4), 0xffffffff);
  assert.equal(bus.read(0xfebf_0ffc, 2), 0xffff);
  bus.write(0xfebf_1000, 4, 1);
  assert.equal(info.length, 2);
  assert.deepEqual(bus.unhandledAccesses().map((u) => [u.address, u.reads, u.writes]),
    [[0xfebf_0000, 2, 0], [0xfebf_1000, 0, 1]]);
});

test('a device that throws does not crash the bus: logged, counted, reads all-ones', () => {
  const { log, errors } = recordingLog();
  const bus = new Bus('pio', log);
  const bad: Device = {
    name: 'broken',
    read() { throw new Error('boom'); },
    write() { throw new TypeError('bang'); },
  };
  bus.register(0x500, 2, bad);
  assert.equal(bus.read(0x500, 2), 0xffff);
  bus.write(0x501, 1, 7);
  assert.equal(errors.length, 2);
  assert.match(errors[0], /broken.*boom/);
  assert.match(errors[1], /broken.*bang/);
  for (let i = 0; i < 100; i++) bus.read(0x500, 1);
  assert.ok(errors.length <= 10, 'a throwing device does not flood the log');
  assert.deepEqual(bus.deviceFaults(), [{ device: 'broken', count: 102, lastError: 'boom' }]);
});

test('an access running past the end of a device range is a guest error, not a device access', () => {
  const { log, errors } = recordingLog();
  const bus = new Bus('pio', log);
  const dev = new Probe('uart');
  bus.register(0x3f8, 8, dev);
  assert.equal(bus.read(0x3fe, 4), 0xffffffff);
  bus.write(0x3ff, 2, 0x1234);
  assert.deepEqual(dev.accesses, []);
  assert.equal(errors.length, 2);
  assert.match(errors[0], /uart/);

  const mmio = new Bus('mmio', log);
  const m = new Probe('mmio-dev');
  mmio.register(0x1000, 0x10, m);
  assert.equal(mmio.read(0x100c, 8), 2 ** 64 - 1);
  assert.deepEqual(m.accesses, []);
});

test('writes and reads are masked to the access size', () => {
  const bus = new Bus('pio');
  const dev = new Probe('d');
  const wide: Device = { name: 'wide', read: () => 0x1234_5678_9, write: () => {} };
  bus.register(0x10, 4, dev);
  bus.register(0x20, 4, wide);
  bus.write(0x10, 1, 0x1ff);
  bus.write(0x10, 2, -1);
  assert.deepEqual(dev.accesses, ['w1@0=ff', 'w2@0=ffff']);
  assert.equal(bus.read(0x20, 1), 0x89);
  assert.equal(bus.read(0x20, 4), 0x2345_6789);
});

test('guest-controlled nonsense (bad port, size, address) never throws', () => {
  const pio = new Bus('pio');
  const mmio = new Bus('mmio');
  pio.register(0, 0x10000, new Probe('all'));
  for (const addr of [-1, 0x10000, 1.5, NaN, 2 ** 60]) {
    assert.equal(pio.read(addr, 1), 0xff);
    pio.write(addr, 4, 1);
    assert.equal(mmio.read(addr, 4), 0xffffffff);
    mmio.write(addr, 8, 1);
  }
  assert.equal(pio.read(0, 3), 0xffffffff);
  assert.equal(pio.read(0, 8), 0xffffffff);
  pio.readBytes(0, new Uint8Array(3));
});

test('MMIO finds the right range among many', () => {
  const bus = new Bus('mmio');
  const devs = [0xd000_0000, 0xfec0_0000, 0x1_0000_0000, 0xa_0000, 0xfed0_0000].map((base) => {
    const d = new Probe(`dev@${base.toString(16)}`);
    bus.register(base, 0x1000, d);
    return [base, d] as const;
  });
  for (const [base, d] of devs) {
    assert.equal(bus.read(base + 0x20, 4), 0x30);
    assert.equal(bus.deviceAt(base + 0xfff), d);
    assert.equal(bus.deviceAt(base + 0x1000), undefined);
  }
  assert.deepEqual(bus.mappings().map((m) => m.base), [0xa_0000, 0xd000_0000, 0xfec0_0000, 0xfed0_0000, 0x1_0000_0000]);
});

test('an 8-byte MMIO access becomes two 4-byte device accesses, low half first', () => {
  const bus = new Bus('mmio');
  const dev = new Probe('virtio');
  bus.register(0xfe00_0000, 0x100, dev);
  assert.equal(bus.read(0xfe00_0008, 8), 0x18 + 0x1c * 2 ** 32);
  bus.write(0xfe00_0010, 8, 0x1_2345_6789);
  assert.deepEqual(dev.accesses, ['r4@8', 'r4@12', 'w4@16=23456789', 'w4@20=1']);
});

test('readBytes/writeBytes carry exact 64-bit data for MMIO exits', () => {
  const bus = new Bus('mmio');
  const dev = new Probe('virtio');
  bus.register(0x1000, 0x100, dev);
  bus.writeBytes(0x1000, Uint8Array.of(1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff));
  const data = new Uint8Array(8);
  bus.readBytes(0x1004, data);
  assert.deepEqual(dev.accesses, ['w4@0=4030201', 'w4@4=ffffffff', 'r4@4', 'r4@8']);
  assert.deepEqual([...data], [0x14, 0, 0, 0, 0x18, 0, 0, 0]);
  const two = new Uint8Array(2);
  bus.readBytes(0x9000, two);
  assert.deepEqual([...two], [0xff, 0xff]);
});

test('string I/O (rep outsb/insw) through accessBuffer', () => {
  const bus = new Bus('pio');
  const dev = new Probe('d');
  bus.register(0x1f0, 8, dev);
  bus.accessBuffer(0x1f0, 1, true, Uint8Array.of(0x61, 0x62, 0x63), 3);
  const buf = new Uint8Array(4);
  bus.accessBuffer(0x1f2, 2, false, buf, 2);
  assert.deepEqual(dev.accesses, ['w1@0=61', 'w1@0=62', 'w1@0=63', 'r2@2', 'r2@2']);
  assert.deepEqual([...buf], [0x12, 0, 0x12, 0]);
});

test('NoopDevice answers noisy legacy ports without counting them as unhandled', () => {
  const { log, info } = recordingLog();
  const bus = new Bus('pio', log);
  const post = new NoopDevice('post-code');
  bus.register(0x80, 1, post);
  bus.register(0xed, 1, new NoopDevice('io-delay'));
  bus.write(0x80, 1, 0x42);
  bus.write(0xed, 1, 0);
  assert.equal(bus.read(0x80, 1), 0xff);
  assert.equal(post.lastValue, 0x42);
  assert.deepEqual(info, []);
  assert.deepEqual(bus.unhandledAccesses(), []);
  assert.deepEqual(bus.mappings().map((m) => [m.device.name, m.reads, m.writes]), [['post-code', 1, 1], ['io-delay', 0, 1]]);
});

test('a guest sweeping unmapped MMIO cannot grow the unhandled list without bound', () => {
  const { log, info } = recordingLog();
  const bus = new Bus('mmio', log);
  for (let page = 0; page < 10000; page++) bus.read(0x1_0000_0000 + page * 4096, 4);
  const list = bus.unhandledAccesses();
  assert.ok(list.length <= 4097);
  assert.equal(list.reduce((n, u) => n + u.reads, 0), 10000, 'every access is still counted');
  assert.ok(info.length <= 4097);
});
