// KVM tier: stepping over a line with an inlined call (issue 18: "inlined
// code counts as the line it is inlined at when stepping over"), through the
// real adapter, on the cdata test kernel (gcc -O0; mix() is always_inline
// into caller() at `r += mix(r, depth);`). gcc puts no instruction of that
// line before the inlined code (the arguments are set up in the line before),
// so a step from the line before stops at the inlined call's first
// instruction; a step over from there runs the whole inlined call as part of
// its line; a step in goes through it line by line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOOT_MS, GUEST_DIR, ROOT } from './helpers/guests';
import { evaluate, finishDap, frames, launchDap, nextStop, startDap, stopAfter, type DapSession } from './helpers/dap-session';

const SOURCE = join(ROOT, 'test', 'guests', 'kernel', 'cdata.c');
const KERNEL = join(GUEST_DIR, 'cdata-gcc-O0.elf');

function lineOf(text: string): number {
  const i = readFileSync(SOURCE, 'utf8').split('\n').findIndex((l) => l.includes(text));
  if (i < 0) throw new Error(`cdata.c has no line with ${JSON.stringify(text)}`);
  return i + 1;
}

const BEFORE = lineOf('int r = leaf(depth + 1, base, head);');
const CALL_LINE = lineOf('r += mix(r, depth);');
const AFTER = lineOf('int inner = r + depth;');
const MIX_FIRST = lineOf('int t = x ^ y;');
const MIX_SECOND = lineOf('int u = t + 0x100;');

/** Stopped at the first instruction of the inlined mix(): a line step over `int r = leaf(...)` from a breakpoint there. */
async function atInlinedCall(): Promise<DapSession> {
  const s = await startDap(BOOT_MS);
  const stop = nextStop(s, `the breakpoint at cdata.c:${BEFORE}`);
  await launchDap(s, { kernel: KERNEL, memory: '64M' }, () =>
    s.dc.setBreakpointsRequest({ source: { path: SOURCE }, breakpoints: [{ line: BEFORE }] }));
  assert.equal((await stop).body.reason, 'breakpoint', s.console());
  await s.dc.setBreakpointsRequest({ source: { path: SOURCE }, breakpoints: [] });
  await stopAfter(s, 'next over the call of leaf', () => s.dc.nextRequest({ threadId: 1 }));
  const f = await frames(s);
  assert.deepEqual([f[0].name, f[0].line, f[1].name, f[1].line], ['mix', MIX_FIRST, 'caller', CALL_LINE], 'at the inlined call, called from its line');
  return s;
}

test('step over a line with an inlined call runs the inlined code as part of the line', async () => {
  const s = await atInlinedCall();
  try {
    assert.equal((await evaluate(s, 'mix_hits', (await frames(s))[0].id)).result, '0');
    const step = await stopAfter(s, 'next over the inlined call', () => s.dc.nextRequest({ threadId: 1 }));
    assert.equal(step.body.reason, 'step');
    const top = (await frames(s))[0];
    assert.deepEqual([top.name, top.line], ['caller', AFTER], 'on the next line of caller, not inside mix');
    assert.equal((await evaluate(s, 'r', top.id)).result, '2994', 'r: 830 + mix(830, 4) = 830 + 2164');
    assert.equal((await evaluate(s, 'mix_hits', top.id)).result, '1', 'the inlined code ran');
  } finally {
    await finishDap(s);
  }
});

test('step in at an inlined call goes through it line by line', async () => {
  const s = await atInlinedCall();
  try {
    await stopAfter(s, 'step in inside the inlined call', () => s.dc.stepInRequest({ threadId: 1 }));
    const f = await frames(s);
    assert.deepEqual([f[0].name, f[0].line], ['mix', MIX_SECOND], 'the inlined frame, at its second line');
    assert.equal(f[1].name, 'caller');
  } finally {
    await finishDap(s);
  }
});
