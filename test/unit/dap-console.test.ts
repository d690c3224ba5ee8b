import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsoleBatcher } from '../../debug-adapter/console-output';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('bytes are batched by time: 100 single bytes make one event', async () => {
  const events: string[] = [];
  const b = new ConsoleBatcher((t) => events.push(t), { delayMs: 20 });
  for (let i = 0; i < 100; i++) b.push(new Uint8Array([0x61 + (i % 26)]));
  assert.equal(events.length, 0);
  await wait(60);
  assert.equal(events.length, 1);
  assert.equal(events[0].length, 100);
});

test('a full batch goes at once; flush sends what is pending', () => {
  const events: string[] = [];
  const b = new ConsoleBatcher((t) => events.push(t), { delayMs: 1000, maxBytes: 8 });
  b.push(new TextEncoder().encode('abcdefghij'));
  assert.deepEqual(events, ['abcdefghij']);
  b.push(new TextEncoder().encode('xy'));
  b.flush();
  assert.deepEqual(events, ['abcdefghij', 'xy']);
  b.dispose();
});

test('UTF-8 split across batches stays whole', () => {
  const events: string[] = [];
  const b = new ConsoleBatcher((t) => events.push(t), { delayMs: 1000 });
  const bytes = new TextEncoder().encode('▀x');
  b.push(bytes.subarray(0, 2));
  b.flush();
  b.push(bytes.subarray(2));
  b.flush();
  assert.equal(events.join(''), '▀x');
  b.dispose();
});
