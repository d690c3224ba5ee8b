// Split virtqueues against a GuestMemory, with the descriptors a hostile
// guest can write: loops, indices and buffers out of range, huge lengths,
// wrapped indices, and indirect tables good and bad. Each bad one must be a
// logged guest error and DEVICE_NEEDS_RESET, never a throw or a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtioRng } from '../../vmm/virtio/rng';
import { feature, INT_CONFIG_CHANGE, REG, STATUS, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1 } from '../../vmm/virtio/mmio-transport';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, Virtqueue, VirtqueueError } from '../../vmm/virtio/virtqueue';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { AVAIL, DATA, DESC, TestDriver, USED } from './helpers/virtio-driver';

const V1 = feature(VIRTIO_F_VERSION_1);
const W = VIRTQ_DESC_F_WRITE;
const N = VIRTQ_DESC_F_NEXT;

function rng(features = V1, size = 8): TestDriver {
  const d = new TestDriver((m) => new VirtioRng(m), size);
  d.bringUp(features);
  return d;
}

/** The device refused the chain: needs reset, config interrupt, one logged error mentioning `what`. */
function assertBroken(d: TestDriver, what: RegExp): void {
  assert.ok(d.r(REG.status) & STATUS.NEEDS_RESET, 'DEVICE_NEEDS_RESET set');
  assert.ok(d.r(REG.interruptStatus) & INT_CONFIG_CHANGE, 'configuration-change interrupt');
  assert.equal(d.irq.level, true);
  assert.ok(d.log.errors.some((e) => what.test(e)), `a guest error matching ${what}: ${JSON.stringify(d.log.errors)}`);
}

test('a good chain: the rng fills the writable buffers and returns them in the used ring', () => {
  const d = rng();
  d.desc(0, { addr: DATA, len: 16, flags: W | N, next: 3 });
  d.desc(3, { addr: DATA + 0x100, len: 48, flags: W });
  d.offer(0);
  assert.equal(d.usedIdx(), 1);
  assert.deepEqual(d.used(0), { id: 0, len: 64 });
  assert.ok(d.memory.read(DATA, 16).some((b) => b !== 0) && d.memory.read(DATA + 0x100, 48).some((b) => b !== 0));
  assert.equal(d.irq.level, true, 'used-buffer interrupt');
  d.w(REG.interruptAck, 1);
  assert.equal(d.irq.level, false, 'ACK lowers the line');
  assert.deepEqual(d.log.errors, []);
});

test('a descriptor loop is cut at the queue size', () => {
  const d = rng();
  d.desc(0, { addr: DATA, len: 8, flags: W | N, next: 1 });
  d.desc(1, { addr: DATA, len: 8, flags: W | N, next: 0 });
  d.offer(0);
  assertBroken(d, /longer than its table.*loop/);
  assert.equal(d.usedIdx(), 0);
});

test('a self-loop of one descriptor is cut too', () => {
  const d = rng();
  d.desc(2, { addr: DATA, len: 8, flags: W | N, next: 2 });
  d.offer(2);
  assertBroken(d, /loop/);
});

test('head and next indices at or past the queue size are refused', () => {
  const d = rng();
  d.offer(8);
  assertBroken(d, /chain head 8 is not below the queue size 8/);
  const e = rng();
  e.desc(0, { addr: DATA, len: 8, flags: W | N, next: 9 });
  e.offer(0);
  assertBroken(e, /next 9, outside its table of 8/);
});

test('buffers outside guest RAM, huge lengths and 64-bit addresses are refused', () => {
  for (const bad of [
    { addr: 0xf000_0000, len: 16 },            // the MMIO hole
    { addr: DATA, len: 0xffff_ffff },          // runs past RAM
    { addr: 16 * 1024 * 1024 - 8, len: 16 },   // straddles the end of RAM
    { addr: 1n << 63n, len: 1 },               // beyond any number
    { addr: (1n << 64n) - 1n, len: 2 },        // wraps
  ]) {
    const d = rng();
    d.desc(0, { ...bad, flags: W });
    d.offer(0);
    assertBroken(d, /is not inside guest RAM/);
    assert.equal(d.usedIdx(), 0, JSON.stringify(bad, (_, v) => typeof v === 'bigint' ? v.toString() : v));
  }
});

test('an available index more than a queue ahead is refused', () => {
  const d = rng();
  d.memory.writeU16(AVAIL + 2, 9);
  d.w(REG.queueNotify, 0);
  assertBroken(d, /9 entries ahead/);
});

test('indices wrap at 2^16', () => {
  const d = rng();
  const q = d.dev.queues[0];
  q.lastAvail = q.usedIdx = 0xfffe;
  d.avail = 0xfffe;
  for (let i = 0; i < 4; i++) d.desc(i, { addr: DATA + 0x100 * i, len: 4, flags: W });
  for (let i = 0; i < 4; i++) d.offer(i, false);
  d.w(REG.queueNotify, 0);
  assert.equal(d.usedIdx(), 2, 'used index wrapped to 2');
  assert.deepEqual([0xfffe, 0xffff, 0, 1].map((n) => d.used(n).id), [0, 1, 2, 3]);
  assert.deepEqual(d.log.errors, []);
});

test('a device-readable descriptor after a writable one is refused', () => {
  const d = rng();
  d.desc(0, { addr: DATA, len: 8, flags: W | N, next: 1 });
  d.desc(1, { addr: DATA, len: 8 });
  d.offer(0);
  assertBroken(d, /device-readable after a device-writable/);
});

test('indirect descriptors: refused unless negotiated, then bounds-checked', () => {
  const table = DATA + 0x1000;
  const setup = (features: bigint) => {
    const d = rng(features);
    d.desc(0, { addr: DATA, len: 32, flags: W }, table);
    d.desc(1, { addr: DATA + 0x100, len: 32, flags: W }, table);
    return d;
  };
  const noInd = setup(V1);
  noInd.desc(0, { addr: table, len: 32, flags: VIRTQ_DESC_F_INDIRECT });
  noInd.offer(0);
  assertBroken(noInd, /not negotiated/);

  const IND = V1 | feature(VIRTIO_F_INDIRECT_DESC);
  const cases: [string, (d: TestDriver) => void, RegExp][] = [
    ['length not a multiple of 16', (d) => d.desc(0, { addr: table, len: 24, flags: VIRTQ_DESC_F_INDIRECT }), /not a non-zero multiple of 16/],
    ['empty', (d) => d.desc(0, { addr: table, len: 0, flags: VIRTQ_DESC_F_INDIRECT }), /not a non-zero multiple/],
    ['too large', (d) => d.desc(0, { addr: table, len: 16 * 2000, flags: VIRTQ_DESC_F_INDIRECT }), /at most 1024/],
    ['outside RAM', (d) => d.desc(0, { addr: 0xe000_0000, len: 32, flags: VIRTQ_DESC_F_INDIRECT }), /indirect table .* not inside guest RAM/],
    ['with NEXT', (d) => d.desc(0, { addr: table, len: 32, flags: VIRTQ_DESC_F_INDIRECT | N, next: 1 }), /both INDIRECT and NEXT/],
    ['nested', (d) => { d.desc(0, { addr: table, len: 32, flags: VIRTQ_DESC_F_INDIRECT }); d.desc(1, { addr: table, len: 32, flags: VIRTQ_DESC_F_INDIRECT }, table); d.desc(0, { addr: DATA, len: 8, flags: W | N, next: 1 }, table); }, /nesting/],
    ['loop inside', (d) => { d.desc(0, { addr: table, len: 32, flags: VIRTQ_DESC_F_INDIRECT }); d.desc(0, { addr: DATA, len: 8, flags: W | N, next: 1 }, table); d.desc(1, { addr: DATA, len: 8, flags: W | N, next: 0 }, table); }, /loop/],
    ['next outside the table', (d) => { d.desc(0, { addr: table, len: 32, flags: VIRTQ_DESC_F_INDIRECT }); d.desc(0, { addr: DATA, len: 8, flags: W | N, next: 5 }, table); }, /next 5, outside its table of 2/],
  ];
  for (const [what, arrange, expect] of cases) {
    const d = setup(IND);
    arrange(d);
    d.offer(0);
    assertBroken(d, expect);
    assert.equal(d.usedIdx(), 0, what);
  }
});

test('a good indirect chain is served', () => {
  const d = rng(V1 | feature(VIRTIO_F_INDIRECT_DESC));
  const table = DATA + 0x1000;
  d.desc(0, { addr: DATA, len: 32, flags: W | N, next: 1 }, table);
  d.desc(1, { addr: DATA + 0x100, len: 32, flags: W }, table);
  d.desc(5, { addr: table, len: 32, flags: VIRTQ_DESC_F_INDIRECT });
  d.offer(5);
  assert.deepEqual(d.log.errors, []);
  assert.deepEqual(d.used(0), { id: 5, len: 64 });
});

test('after NEEDS_RESET the queue is ignored until the driver resets the device', () => {
  const d = rng();
  d.offer(8);
  assertBroken(d, /chain head/);
  d.desc(0, { addr: DATA, len: 8, flags: W });
  d.offer(0);
  assert.equal(d.usedIdx(), 0, 'ignored while broken');
  d.avail = 0;
  d.bringUp(V1);
  assert.equal(d.r(REG.status) & STATUS.NEEDS_RESET, 0);
  assert.equal(d.irq.level, false, 'reset drops the interrupt');
  d.memory.fill(USED, 64);
  d.offer(0);
  assert.equal(d.usedIdx(), 1, 'served after reset');
});

test('rings outside RAM or misaligned are refused at QueueReady', () => {
  for (const [reg, addr, what] of [
    [REG.queueDescLow, 0xf000_0000, /descriptor table .* not inside guest RAM/],
    [REG.queueDescLow, DESC + 8, /not 16-byte aligned/],
    [REG.queueDriverLow, 16 * 1024 * 1024 - 4, /available ring .* not inside/],
    [REG.queueDeviceLow, USED + 2, /used ring .* not 4-byte aligned/],
  ] as const) {
    const d = new TestDriver((m) => new VirtioRng(m));
    d.w(REG.status, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    d.w(REG.queueNum, 8);
    d.w(REG.queueDescLow, DESC); d.w(REG.queueDriverLow, AVAIL); d.w(REG.queueDeviceLow, USED);
    d.w(reg, addr);
    d.w(REG.queueReady, 1);
    assert.equal(d.r(REG.queueReady), 0, String(what));
    assert.ok(d.r(REG.status) & STATUS.NEEDS_RESET);
    assert.ok(d.log.errors.some((e) => what.test(e)), `${what}: ${d.log.errors}`);
  }
  const d = new TestDriver((m) => new VirtioRng(m));
  d.w(REG.queueNum, 65);
  d.w(REG.queueReady, 1);
  assert.ok(d.log.errors.some((e) => /QueueNum 65 is not in 1..64/.test(e)));
});

test('Virtqueue.pop throws only VirtqueueError or GuestMemoryError on garbage', () => {
  const memory = GuestMemory.allocate(1024 * 1024);
  let seed = 12345;
  const rand = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed; };
  for (let round = 0; round < 300; round++) {
    const q = new Virtqueue(0, 16, memory);
    q.size = 1 + (rand() % 16);
    q.descAddr = 0x1000; q.driverAddr = 0x2000; q.deviceAddr = 0x3000; q.ready = true;
    q.indirect = (rand() & 1) === 1;
    const junk = new Uint8Array(0x400);
    for (let i = 0; i < junk.length; i++) junk[i] = rand() & 0xff;
    // Addresses mostly small so that some chains are valid.
    for (let i = 0; i < 16; i++) junk[16 * i + 3] = junk[16 * i + 4] = junk[16 * i + 5] = junk[16 * i + 6] = junk[16 * i + 7] = (rand() % 8 === 0) ? 0xff : 0;
    memory.write(0x1000, junk);
    memory.write(0x2000, junk.subarray(0, 64));
    for (let k = 0; k < 20; k++) {
      try {
        if (!q.pop()) break;
      } catch (e) {
        assert.ok(e instanceof VirtqueueError || (e as Error).name === 'GuestMemoryError', String(e));
        break;
      }
    }
  }
});
