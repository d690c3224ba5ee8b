// Unit tier (no KVM): the addon's raw futex on SharedArrayBuffer words
// (native/futex.ts), which the step lane's two threads wait on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { FutexWords } from '../../native';

test('futex: a wait on a word that already differs returns at once; one that stays equal times out after its timeout', () => {
  const buffer = new SharedArrayBuffer(16);
  const words = new Int32Array(buffer);
  const futex = new FutexWords(buffer);
  words[2] = 7;
  assert.equal(futex.wait(2, 6, 1000), 'changed');
  const t = performance.now();
  assert.equal(futex.wait(2, 7, 30), 'timed-out');
  const waited = performance.now() - t;
  assert.ok(waited >= 29 && waited < 1000, `waited ${waited} ms for a 30 ms timeout`);
  assert.equal(futex.wake(2), 0, 'no one waited');
});

test('futex: a thread waiting on a word is woken by wake() after the word changes, and sees the new value', async () => {
  const buffer = new SharedArrayBuffer(8);
  const words = new Int32Array(buffer);
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads');
    const { FutexWords } = require(workerData.native);
    const words = new Int32Array(workerData.buffer);
    Atomics.store(words, 0, 1);
    const how = new FutexWords(workerData.buffer).wait(1, 0, 10000);
    parentPort.postMessage({ how, value: Atomics.load(words, 1) });
  `, { eval: true, workerData: { buffer, native: join(__dirname, '..', '..', 'native', 'index.js') } });
  try {
    const answer = new Promise<{ how: string; value: number }>((resolve) => worker.once('message', resolve));
    while (Atomics.load(words, 0) === 0) await new Promise((r) => setTimeout(r, 1));
    const futex = new FutexWords(buffer);
    // The worker may not sleep yet: wake until it is woken (it returns once the word differs either way).
    Atomics.store(words, 1, 42);
    const woke = futex.wake(1);
    assert.ok(woke === 0 || woke === 1);
    assert.deepEqual(await answer, { how: 'changed', value: 42 });
  } finally {
    await worker.terminate();
  }
});

test('futex: a word outside the buffer, a misaligned one and a plain ArrayBuffer are refused with a sentence', () => {
  const futex = new FutexWords(new SharedArrayBuffer(8));
  assert.throws(() => futex.wait(2, 0, 1), { name: 'RangeError', message: 'futex word offset 8 is not an aligned word inside the 8-byte buffer' });
  assert.throws(() => futex.wake(-1), /futex word offset/);
  assert.throws(() => new FutexWords(new ArrayBuffer(8) as unknown as SharedArrayBuffer).wake(0), /must be a SharedArrayBuffer, not an ArrayBuffer/);
});
