// kvm-needs: user-mode-debug
// (a single step at CPL 3 must exit to the debugger: on PVM ring 3 runs natively, unseen)
// KVM tier: debugging ring-3 code. The demo kernel with `user-mode` on its
// command line computes its picture at CPL 3 (its own GDT, TSS and U-bit page
// tables). A function breakpoint on mandelbrot stops there in ring 3 (CS with
// RPL 3) with the first pixel's arguments and the stack mandelbrot <- draw; a
// step goes on in ring 3; the demo then finishes its picture, said "in ring 3".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BOOT_MS, kernelPath, within } from './helpers/guests';
import { finishDap, frames, launchDap, nextStop, register, startDap, stopAfter } from './helpers/dap-session';

const FIX = (x: number) => BigInt(Math.trunc(x * 2 ** 24));
const u64 = (v: bigint) => BigInt.asUintN(64, v);

test('the demo in user mode: a breakpoint in ring-3 code stops there (CS RPL 3, the first pixel\'s arguments, mandelbrot <- draw), a step stays in ring 3, and the picture is finished', async () => {
  const s = await startDap(BOOT_MS * 4);
  try {
    await launchDap(s, { kernel: kernelPath('demo'), cmdline: 'demo user-mode', memory: '64M' }, () =>
      s.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'mandelbrot' }] }));
    const hit = await nextStop(s, 'the breakpoint on mandelbrot');
    assert.equal(hit.body.reason, 'function breakpoint');
    assert.equal((await register(s, 'cs')) & 3n, 3n, 'CS has RPL 3: the vCPU is in ring 3');
    // The top-left pixel: cr = -2.25, ci = y0 (demo.c's draw()), in fixed point.
    const dx = FIX(3.0) / 78n;
    assert.equal(await register(s, 'rdi'), u64(FIX(-2.25)));
    assert.equal(await register(s, 'rsi'), u64(-(dx * 56n) / 2n + dx / 2n));
    const names = (await frames(s)).map((f) => f.name);
    assert.deepEqual(names.slice(0, 2), ['mandelbrot', 'draw'], `the stack: ${names.join(' <- ')}`);
    await stopAfter(s, 'a step in mandelbrot', () => s.dc.nextRequest({ threadId: 1 }));
    assert.equal((await register(s, 'cs')) & 3n, 3n, 'still in ring 3 after the step');
    // The next line may be code inlined into mandelbrot (in_cardioid_or_bulb): its frame on top, mandelbrot under it.
    const after = (await frames(s)).map((f) => f.name);
    assert.ok(after.slice(0, 2).includes('mandelbrot'), `still in mandelbrot: ${after.join(' <- ')}`);
    await s.dc.setFunctionBreakpointsRequest({ breakpoints: [] });
    const done = within(s.dc.waitForEvent('terminated', s.timeout), s.timeout, 'the demo finishing');
    await s.dc.continueRequest({ threadId: 1 });
    await done;
    assert.match(s.stdout().replace(/\x1b\[[0-9;]*m/g, ''), /34484 iterations of fixed-point integer math in ring 3\.[\s\S]*Goodbye from the demo kernel\./);
  } finally {
    await finishDap(s);
  }
});
