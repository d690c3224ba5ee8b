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
  constructor(readonly cpus: number) { super(); this.states = Array(cpus).fill('stopped'); }
  get running(): boolean { return this.states.includes('running'); }
  resume(v: number): void { this.log.push(`resume ${v}`); this.states[v] = 'running'; }
  stopVcpu(v: number, stop: StopReason): void { this.states[v] = 'stopped'; this.emit('stopped', stop, 0n, v); }
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
