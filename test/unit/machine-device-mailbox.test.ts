// An AP's device accesses through its mailbox (vmm/machine/device-mailbox.ts),
// across real threads: a worker plays the AP (RemoteBuses, blocking in
// Atomics.wait), this thread plays vCPU 0 (MailboxServer on the real buses),
// woken by CONTROL_DEVICE on its control word as the idle vCPU 0 is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { Bus } from '../../vmm/bus/bus';
import type { AccessSize, Device } from '../../vmm/bus/device';
import { createMailbox, MailboxServer, VM_ENDING } from '../../vmm/machine/device-mailbox';
import { CONTROL_DEVICE } from '../../vmm/machine/protocol';

const MAILBOX = join(__dirname, '..', '..', 'vmm', 'machine', 'device-mailbox.js');

class Recorder implements Device {
  readonly name = 'recorder';
  writes: [number, number, number][] = [];
  constructor(private readonly value: number) {}
  read(_offset: number, size: AccessSize): number { return this.value & (size === 4 ? 0xffffffff : (1 << (size * 8)) - 1); }
  write(offset: number, size: AccessSize, value: number): void { this.writes.push([offset, size, value]); }
}

/** Runs `body` (the AP's code, given `pio`, `mmio`) in a worker and resolves with what it posts. */
function ap(mailbox: SharedArrayBuffer, control: Int32Array, vmState: Int32Array, body: string): Promise<unknown> {
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { RemoteBuses } = require(${JSON.stringify(MAILBOX)});
    const { pio, mmio } = new RemoteBuses(workerData.mailbox, new Int32Array(workerData.control), 0, new Int32Array(workerData.vmState));
    parentPort.postMessage((() => { ${body} })());`;
  const w = new Worker(code, { eval: true, workerData: { mailbox, control: control.buffer, vmState: vmState.buffer } });
  return new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
}

test('port and MMIO accesses of an AP are performed by the device thread, values travel both ways', async () => {
  const mailbox = createMailbox();
  const control = new Int32Array(new SharedArrayBuffer(4));
  const vmState = new Int32Array(new SharedArrayBuffer(4));
  const uart = new Recorder(0x5a);
  const mmioDev = new Recorder(0x1234_5678);
  const pio = new Bus('pio');
  pio.register(0x3f8, 8, uart);
  const mmio = new Bus('mmio');
  mmio.register(0xd000_0000, 0x100, mmioDev);
  const server = new MailboxServer([mailbox], pio, mmio);
  let served = 0;
  let done = false;
  const serving = (async () => {
    while (!done) {
      const word = Atomics.load(control, 0);
      if (word & CONTROL_DEVICE) { Atomics.and(control, 0, ~CONTROL_DEVICE); served += server.serve(); continue; }
      const w = Atomics.waitAsync(control, 0, word, 100);
      if (w.async) await w.value;
    }
  })();
  const result = await ap(mailbox, control, vmState, `
    pio.write(0x3f9, 1, 0x41);
    const inb = pio.read(0x3f8, 1);
    const inl = pio.read(0x3f8, 4);
    const unmapped = pio.read(0x500, 2);
    mmio.writeBytes(0xd0000010, new Uint8Array([0xef, 0xbe, 0xad, 0xde]));
    const b = new Uint8Array(4);
    mmio.readBytes(0xd0000000, b);
    return { inb, inl, unmapped, mmio: [...b] };`);
  done = true;
  // A pending waitAsync does not keep Node's event loop alive once the worker is gone: wake it.
  Atomics.notify(control, 0);
  await serving;
  assert.deepEqual(result, { inb: 0x5a, inl: 0x5a, unmapped: 0xffff, mmio: [0x78, 0x56, 0x34, 0x12] });
  assert.deepEqual(uart.writes, [[1, 1, 0x41]]);
  assert.deepEqual(mmioDev.writes, [[0x10, 4, 0xdeadbeef]]);
  assert.equal(served, 6, 'one round trip per access');
});

test('once the VM is ending, an AP stops waiting: reads are all-ones, nothing hangs', async () => {
  const vmState = new Int32Array(new SharedArrayBuffer(4));
  Atomics.store(vmState, VM_ENDING, 1);
  const started = Date.now();
  const result = await ap(createMailbox(), new Int32Array(new SharedArrayBuffer(4)), vmState, `
    const b = new Uint8Array(2);
    mmio.readBytes(0xd0000000, b);
    return { inw: pio.read(0x3f8, 2), inl: pio.read(0x3f8, 4), mmio: [...b] };`);
  assert.deepEqual(result, { inw: 0xffff, inl: 0xffffffff, mmio: [0xff, 0xff] });
  assert.ok(Date.now() - started < 10_000, 'no device thread, yet the AP returned');
});
