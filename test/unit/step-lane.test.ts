// Unit tier (no KVM): the step lane's protocol (vmm/machine/step-lane.ts)
// between this thread and a real worker thread standing in for a vCPU's:
// steps and messages are done in the order sent, whether the worker waits in
// the lane or in its event loop; each step is answered once, with its result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createLane, LaneClient, RESULT_STEP } from '../../vmm/machine/step-lane';

/** The worker: a LaneServer whose steps and messages only record their order. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { LaneServer, RESULT_STEP } = require(workerData.module);
const order = [];
const onMessage = (m) => { if (m.type === 'order') parentPort.postMessage(order.splice(0)); else order.push('msg' + m.n); };
const lane = new LaneServer(workerData.lane, parentPort, { step: (id) => { order.push('step' + id); return RESULT_STEP; }, message: onMessage });
parentPort.on('message', (m) => { lane.noteMessage(); onMessage(m); if (lane.pending) lane.serve(); });
(async () => {
  for (;;) {
    const door = lane.door;
    if (lane.due) { lane.serve(); continue; }
    const w = Atomics.waitAsync(lane.buffer, 0, door);
    if (w.async) await w.value;
  }
})();
`;

function startWorker(): { worker: Worker; client: LaneClient; post(m: object): void; step(id: number): Promise<number>; order(): Promise<string[]> } {
  const lane = createLane();
  const worker = new Worker(WORKER, { eval: true, workerData: { lane, module: join(__dirname, '..', '..', 'vmm', 'machine', 'step-lane.js') } });
  const client = new LaneClient(lane);
  const post = (m: object): void => { worker.postMessage(m); client.posted(); };
  return {
    worker, client, post,
    step: (id) => client.whenDone(client.askStep(id)),
    order: () => new Promise((resolve) => { worker.once('message', resolve); post({ type: 'order' }); }),
  };
}

test('step lane: 100 steps, each answered once with its result, in order with the messages between them', async () => {
  const w = startWorker();
  try {
    const expected: string[] = [];
    for (let i = 1; i <= 100; i++) {
      if (i % 10 === 0) { w.post({ n: i }); expected.push(`msg${i}`); }
      assert.equal(await w.step(i), RESULT_STEP);
      expected.push(`step${i}`);
    }
    assert.deepEqual(await w.order(), expected);
  } finally {
    await w.worker.terminate();
  }
});

test('step lane: a message posted just before a step is done first, whether the worker waits in the lane or in its event loop', async () => {
  const w = startWorker();
  try {
    // The worker in its event loop (it has not served the lane yet): message, then step, sent together.
    w.post({ n: 1 });
    const first = w.step(1);
    assert.equal(await first, RESULT_STEP);
    // Now it waits in the lane (a step just ended): the same again.
    w.post({ n: 2 });
    w.post({ n: 3 });
    assert.equal(await w.step(2), RESULT_STEP);
    assert.deepEqual(await w.order(), ['msg1', 'step1', 'msg2', 'msg3', 'step2']);
    // A synchronous wait for a step answered from the lane gets its result.
    const before = w.client.askStep(3);
    let result = w.client.waitDone(before, 2000);
    if (result === undefined) result = await w.client.whenDone(before);
    assert.equal(result, RESULT_STEP);
    assert.deepEqual(await w.order(), ['step3']);
  } finally {
    await w.worker.terminate();
  }
});

test('step lane: 200 steps waited for synchronously (the DAP thread\'s path) while the worker serves the lane, each answered at once', async () => {
  const w = startWorker();
  try {
    // The first step brings the worker into the lane; the rest find it waiting there (a futex, not Atomics.wait).
    assert.equal(await w.step(0), RESULT_STEP);
    for (let i = 1; i <= 200; i++) {
      assert.equal(w.client.serving, true, `the worker left the lane before step ${i}`);
      assert.equal(w.client.waitDone(w.client.askStep(i), 2000), RESULT_STEP, `step ${i} was not answered within 2 s`);
    }
    assert.deepEqual(await w.order(), Array.from({ length: 201 }, (_, i) => `step${i}`));
  } finally {
    await w.worker.terminate();
  }
});
