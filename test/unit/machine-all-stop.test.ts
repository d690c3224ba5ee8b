// All-stop run control (vmm/machine/all-stop.ts) over a fake per-vCPU machine:
// the first stop pauses the others and is reported once, naming its vCPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { AllStop } from '../../vmm/machine/all-stop';
import type { Machine } from '../../vmm/machine/machine';
import type { StopReason } from '../../vmm/machine/protocol';

/** Per-vCPU states; pause() of a running vCPU emits its 'stopped' (reason pause) on the next tick, as the real one does. */
class FakeMachine extends EventEmitter {
  states: ('stopped' | 'running')[];
  ended = undefined;
  log: string[] = [];
  constructor(readonly cpus: number) { super(); this.states = Array(cpus).fill('stopped'); this.rips = Array(cpus).fill(0n); }
  get running(): boolean { return this.states.includes('running'); }
  resume(v: number): void { this.log.push(`resume ${v}`); this.states[v] = 'running'; }
  rips: bigint[];
  stopVcpu(v: number, stop: StopReason): void { this.states[v] = 'stopped'; this.emit('stopped', stop, this.rips[v], v); }
  async getRegs(v: number) { return { rip: this.rips[v] }; }
  async pause(v?: number): Promise<StopReason> {
    const which = v === undefined ? this.states.map((_, i) => i) : [v];
    await Promise.all(which.filter((i) => this.states[i] === 'running').map((i) => new Promise<void>((r) => setImmediate(() => { this.stopVcpu(i, { reason: 'pause' }); r(); }))));
    return { reason: 'pause' };
  }
  async step(v: number): Promise<StopReason> { this.log.push(`step ${v}`); return { reason: 'step' }; }
}

function setup(cpus: number) {
  const m = new FakeMachine(cpus);
  const all = new AllStop(m as unknown as Machine);
  const stops: [number, string][] = [];
  all.on('stop', (v: number, s: StopReason) => stops.push([v, s.reason]));
  return { m, all, stops };
}
/** Lets the fake's setImmediate chains run (event-loop turns, not wall time: a loaded host must not matter). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

test('a breakpoint on vCPU 2 stops vCPUs 0, 1 and 3 too, reported once as vCPU 2\'s', async () => {
  const { m, all, stops } = setup(4);
  all.resume();
  assert.deepEqual(m.states, ['running', 'running', 'running', 'running']);
  assert.equal(all.running, true);
  m.stopVcpu(2, { reason: 'breakpoint', address: 0x1000n });
  assert.equal(all.running, true, 'still collecting the others');
  await settle();
  assert.deepEqual(m.states, ['stopped', 'stopped', 'stopped', 'stopped']);
  assert.deepEqual(stops, [[2, 'breakpoint']]);
  assert.equal(all.running, false);
});

test('interrupt pauses everything: one stop, reason pause', async () => {
  const { all, stops } = setup(2);
  all.resume();
  all.interrupt();
  await settle();
  assert.equal(stops.length, 1);
  assert.equal(stops[0][1], 'pause');
});

test('vCont-style actions: step vCPU 1, vCPU 0 stays stopped; the step is the stop', async () => {
  const { m, all, stops } = setup(2);
  all.resume(new Map([[1, 'step']]));
  await settle();
  assert.deepEqual(m.log, ['step 1']);
  assert.deepEqual(stops, [[1, 'step']]);
});

test('a step of an older run does not report into a newer one', async () => {
  const { m, all, stops } = setup(2);
  let release!: (s: StopReason) => void;
  m.step = (v: number) => { m.log.push(`step ${v}`); return new Promise((r) => { release = r; }); };
  all.resume(new Map([[0, 'step']]));
  all.resume(new Map([[1, 'continue']]));
  release({ reason: 'step' });
  await settle();
  assert.deepEqual(stops, [], 'the stale step is ignored');
  m.stopVcpu(1, { reason: 'pause' });
  await settle();
  assert.deepEqual(stops, [[1, 'pause']]);
});

/** Two vCPUs hit breakpoints at the same moment: vCPU 1's stop comes while vCPU 0's is being collected. */
async function twoHits(rips: [bigint, bigint]) {
  const t = setup(2);
  t.m.rips = [...rips];
  t.all.resume();
  t.m.stopVcpu(0, { reason: 'breakpoint', address: rips[0] });
  t.m.stopVcpu(1, { reason: 'breakpoint', address: rips[1] });
  await settle();
  t.m.log.length = 0;
  return t;
}

test('a second breakpoint hit at the same moment is not lost: the next resume reports it without running anything', async () => {
  const { m, all, stops } = await twoHits([0x1000n, 0x2000n]);
  assert.deepEqual(stops, [[0, 'breakpoint']], 'one stop, the first');
  all.resume();
  assert.equal(all.running, true, 'the pending stop is on its way');
  await settle();
  assert.deepEqual(stops, [[0, 'breakpoint'], [1, 'breakpoint']]);
  assert.deepEqual(m.log, [], 'nothing was resumed to report it');
  assert.equal(all.running, false);
  all.resume();
  await settle();
  assert.deepEqual(m.log, ['resume 0', 'resume 1'], 'with nothing pending, the machine runs');
});

test('a pending stop is dropped when its vCPU moved (registers set, or stepped) or the debugger no longer wants it', async () => {
  let t = await twoHits([0x1000n, 0x2000n]);
  t.m.rips[1] = 0x3000n;   // the user set vCPU 1's RIP meanwhile
  t.all.resume();
  await settle();
  assert.deepEqual(t.stops, [[0, 'breakpoint']]);
  assert.deepEqual(t.m.log, ['resume 0', 'resume 1']);

  t = await twoHits([0x1000n, 0x2000n]);
  t.all.resume(new Map([[1, 'step']]));
  await settle();
  t.m.log.length = 0;
  t.all.resume();
  await settle();
  assert.deepEqual(t.m.log, ['resume 0', 'resume 1'], 'after a step of vCPU 1 its old stop is gone');

  t = await twoHits([0x1000n, 0x2000n]);
  t.all.stillWanted = (v, s) => !(v === 1 && s.reason === 'breakpoint' && s.address === 0x2000n);
  t.all.resume();
  await settle();
  assert.deepEqual(t.stops, [[0, 'breakpoint']], 'the breakpoint at 0x2000 was removed');
  assert.deepEqual(t.m.log, ['resume 0', 'resume 1']);
});

test('pauses caused by the all-stop are not pending stops', async () => {
  const { m, all, stops } = setup(3);
  all.resume();
  m.stopVcpu(1, { reason: 'watchpoint', address: 0x10n, length: 4, access: 'write' });
  await settle();
  assert.deepEqual(stops, [[1, 'watchpoint']]);
  m.log.length = 0;
  all.resume();
  await settle();
  assert.deepEqual(m.log, ['resume 0', 'resume 1', 'resume 2']);
});
