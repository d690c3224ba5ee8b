// virtio-console: the transmit queue's bytes reach the console in order,
// across buffers, with nothing taken from device-writable buffers; the
// receive queue's buffers are left alone (input stays with the serial
// port); the layout puts the console after the rng.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { feature, REG, VIRTIO_F_VERSION_1 } from '../../vmm/virtio/mmio-transport';
import { CONSOLE_MAX_CHAIN_BYTES, CONSOLE_RECEIVE_QUEUE, CONSOLE_TRANSMIT_QUEUE, VIRTIO_ID_CONSOLE, VirtioConsole } from '../../vmm/virtio/console';
import { VIRTIO_MAX_DISKS, VIRTIO_MMIO_BASE, virtioLayout } from '../../vmm/virtio/layout';
import { VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '../../vmm/virtio/virtqueue';
import { DATA, TestDriver } from './helpers/virtio-driver';

/** `accept`: how many bytes the console takes before it drops one (its reader stalled). */
function consoleDriver(queue: number, accept = Infinity) {
  const out: number[] = [];
  let dropped = 0;
  const d = new TestDriver((m) => new VirtioConsole(m, (b) => {
    if (out.length >= accept) { dropped++; return false; }
    out.push(b);
    return true;
  }));
  d.bringUp(feature(VIRTIO_F_VERSION_1), queue);
  return { d, text: () => Buffer.from(out).toString('latin1'), out, dropped: () => dropped };
}

test('virtio-console: device id 3, two queues (receive, transmit)', () => {
  const { d } = consoleDriver(CONSOLE_TRANSMIT_QUEUE);
  assert.equal(d.r(REG.deviceId), VIRTIO_ID_CONSOLE);
  for (const q of [CONSOLE_RECEIVE_QUEUE, CONSOLE_TRANSMIT_QUEUE]) {
    d.w(REG.queueSel, q);
    assert.ok(d.r(REG.queueNumMax) > 0, `queue ${q} exists`);
  }
  d.w(REG.queueSel, 2);
  assert.equal(d.r(REG.queueNumMax), 0, 'no third queue: no multiport');
});

test('virtio-console: a chain on the transmit queue reaches the console in order, across its buffers; writable buffers are not output', () => {
  const { d, text } = consoleDriver(CONSOLE_TRANSMIT_QUEUE);
  d.memory.write(DATA, Buffer.from('Goodbye from '));
  d.memory.write(DATA + 0x100, Buffer.from('the demo kernel.\r\n'));
  d.memory.write(DATA + 0x200, Buffer.from('not output'));
  d.desc(0, { addr: DATA, len: 13, flags: VIRTQ_DESC_F_NEXT, next: 1 });
  d.desc(1, { addr: DATA + 0x100, len: 18, flags: VIRTQ_DESC_F_NEXT, next: 2 });
  d.desc(2, { addr: DATA + 0x200, len: 10, flags: VIRTQ_DESC_F_WRITE });
  d.offer(0, true, CONSOLE_TRANSMIT_QUEUE);
  assert.equal(text(), 'Goodbye from the demo kernel.\r\n');
  assert.equal(d.usedIdx(), 1);
  assert.deepEqual(d.used(0), { id: 0, len: 0 }, 'nothing written into the chain');
  assert.equal(d.irq.level, true, 'the used buffer interrupts');
  assert.equal(Buffer.from(d.memory.read(DATA + 0x200, 10)).toString('latin1'), 'not output', 'the writable buffer is untouched');
});

test('virtio-console: buffers offered on the receive queue stay unused (typed input goes to the serial port)', () => {
  const { d, text } = consoleDriver(CONSOLE_RECEIVE_QUEUE);
  d.memory.view8(DATA, 64).fill(0xaa);
  d.desc(0, { addr: DATA, len: 64, flags: VIRTQ_DESC_F_WRITE });
  d.offer(0, true, CONSOLE_RECEIVE_QUEUE);
  assert.equal(d.usedIdx(), 0);
  assert.equal(text(), '');
  assert.ok(d.memory.view8(DATA, 64).every((b) => b === 0xaa));
});

test('virtio-console: a chain over CONSOLE_MAX_CHAIN_BYTES writes only that many, with one guest error; the next chain is whole', () => {
  const { d, out, text } = consoleDriver(CONSOLE_TRANSMIT_QUEUE);
  const big = 0x100000 + 0x1000;
  d.memory.view8(big, CONSOLE_MAX_CHAIN_BYTES + 10).fill(0x41);
  d.desc(0, { addr: big, len: CONSOLE_MAX_CHAIN_BYTES + 10 });
  d.offer(0, true, CONSOLE_TRANSMIT_QUEUE);
  assert.equal(out.length, CONSOLE_MAX_CHAIN_BYTES);
  assert.equal(d.log.errors.length, 1);
  assert.match(d.log.errors[0], new RegExp(`a transmit chain of ${CONSOLE_MAX_CHAIN_BYTES + 10} bytes: only its first ${CONSOLE_MAX_CHAIN_BYTES} are written`));
  out.length = 0;
  d.memory.write(DATA, Buffer.from('after\r\n'));
  d.desc(1, { addr: DATA, len: 7 });
  d.offer(1, true, CONSOLE_TRANSMIT_QUEUE);
  assert.equal(text(), 'after\r\n');
  assert.equal(d.usedIdx(), 2);
});

test('virtio-console: once the console drops a byte (a stalled reader), the rest of that chain is not waited for; the chain is still used', () => {
  const { d, text, dropped } = consoleDriver(CONSOLE_TRANSMIT_QUEUE, 5);
  d.memory.write(DATA, Buffer.from('0123456789'));
  d.desc(0, { addr: DATA, len: 10, flags: VIRTQ_DESC_F_NEXT, next: 1 });
  d.desc(1, { addr: DATA, len: 10 });
  d.offer(0, true, CONSOLE_TRANSMIT_QUEUE);
  assert.equal(text(), '01234');
  assert.equal(dropped(), 1, 'one byte offered to the stalled console, not fifteen');
  assert.equal(d.usedIdx(), 1);
});

test('the layout: the console after the rng; one fewer disk fits', () => {
  const l = virtioLayout([{ path: 'a', readOnly: false }]);
  assert.deepEqual(l.map((s) => [s.kind, s.base, s.gsi]), [
    ['blk', VIRTIO_MMIO_BASE, 16], ['rng', VIRTIO_MMIO_BASE + 0x1000, 17], ['console', VIRTIO_MMIO_BASE + 0x2000, 18],
  ]);
  assert.equal(VIRTIO_MAX_DISKS, 6);
  assert.equal(virtioLayout(Array.from({ length: 6 }, () => ({ path: 'x', readOnly: false }))).length, 8);
});
