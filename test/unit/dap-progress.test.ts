// The adapter reports symbol loading as DAP progress (progressStart ... progressEnd)
// when the client says it can show progress, and stays silent when it cannot.
// The kernel named is not a kernel, so the launch fails right after the symbols
// are read, on any host (no KVM needed); the symbols are the real pvh64.elf.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';

const ROOT = join(__dirname, '..', '..', '..');
const ADAPTER = join(ROOT, 'out', 'debug-adapter', 'main.js');
const SYMBOLS = join(ROOT, 'test', 'guests', 'build', 'pvh64.elf');
const NOT_A_KERNEL = join(ROOT, 'test', 'guests', 'kernel', 'main.c');

async function launchAndCollect(supportsProgressReporting: boolean): Promise<{ events: DebugProtocol.Event[]; launch: DebugProtocol.Response | Error }> {
  statSync(SYMBOLS); // fails the test with ENOENT if the guests are not built
  const dc = new DebugClient('node', ADAPTER, 'kvm');
  dc.defaultTimeout = 20_000;
  await dc.start();
  const events: DebugProtocol.Event[] = [];
  for (const e of ['progressStart', 'progressUpdate', 'progressEnd', 'output']) dc.on(e, (ev: DebugProtocol.Event) => events.push(ev));
  try {
    await dc.initializeRequest({ adapterID: 'kvm', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path', supportsProgressReporting });
    const launch = await dc.launchRequest({ kernel: NOT_A_KERNEL, symbols: SYMBOLS, memory: '64M' } as DebugProtocol.LaunchRequestArguments)
      .then((r) => r as DebugProtocol.Response, (e: Error) => e);
    return { events, launch };
  } finally {
    await dc.stop();
  }
}

test('symbol loading is reported as one progressStart/progressEnd pair, before the summary', async () => {
  const { events, launch } = await launchAndCollect(true);
  assert.ok(launch instanceof Error, 'a launch of main.c as a kernel must fail');
  const start = events.filter((e) => e.event === 'progressStart') as DebugProtocol.ProgressStartEvent[];
  const end = events.filter((e) => e.event === 'progressEnd') as DebugProtocol.ProgressEndEvent[];
  assert.equal(start.length, 1, JSON.stringify(events.map((e) => e.event)));
  assert.equal(end.length, 1);
  assert.equal(end[0].body.progressId, start[0].body.progressId);
  assert.match(start[0].body.title, /^Loading symbols from pvh64\.elf \(\d+\.\d MiB\)$/);
  assert.match(end[0].body.message ?? '', /pvh64\.elf/, 'the end message is the symbols summary');
  assert.ok(events.indexOf(start[0]) < events.indexOf(end[0]));
});

test('no progress events when the client does not advertise supportsProgressReporting', async () => {
  const { events } = await launchAndCollect(false);
  assert.deepEqual(events.filter((e) => e.event.startsWith('progress')), []);
  assert.ok(events.some((e) => e.event === 'output' && /pvh64\.elf/.test((e as DebugProtocol.OutputEvent).body.output)), 'the symbols were still loaded');
});
