// kvm-needs: software-breakpoints
// (a planted trap must stop the vCPU: an int3, or where int3 goes to the guest the port trap)
// KVM tier: software (int3) breakpoints through DAP. Four instruction
// breakpoints the guest never reaches take DR0-DR3; a fifth, on
// step_sequence, is an int3 where the host delivers #BP exits: planted on
// resume, hit, lifted, stepped off, and the guest computes what it always
// does. Where the host does not (inside the KVM sandbox: nested SVM hands
// int3 to the guest), the fifth says so and the software path is a todo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { BOOT_MS, hex, kernelPath, symbol, within } from './helpers/guests';
import { finishDap, frames, launchDap, nextStop, startDap, type DapSession } from './helpers/dap-session';
import { instructionsAt } from './helpers/instructions';

/** Lets the guest run to its end and checks it computed what it always does. */
async function finishesUnchanged(s: DapSession): Promise<void> {
  const done = within(s.dc.waitForEvent('terminated', BOOT_MS), BOOT_MS, 'the guest finishing');
  await s.dc.continueRequest({ threadId: 1 });
  await done;
  assert.match(s.stdout(), /step result = 0x1234abcd/);
}

test('pvh64: a fifth code breakpoint is an int3 where #BP exits arrive (hit, then the guest finishes unchanged), else unverified with the reason', async (t) => {
  const s = await startDap(BOOT_MS);
  try {
    let bps: DebugProtocol.Breakpoint[] = [];
    await launchDap(s, { kernel: kernelPath('pvh64'), memory: '64M' }, async () => {
      const never = [0x7000, 0x7001, 0x7002, 0x7003].map((a) => ({ instructionReference: `v:${hex(a)}` }));
      const first = await s.dc.customRequest('setInstructionBreakpoints', { breakpoints: never }) as DebugProtocol.SetInstructionBreakpointsResponse;
      assert.deepEqual(first.body.breakpoints.map((b) => b.verified), [true, true, true, true]);
      bps = (await s.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'step_sequence' }] })).body.breakpoints;
    });
    const delivered = /software breakpoints are available beyond the 4 hardware ones/.test(s.console());
    if (!delivered) {
      assert.equal(bps[0].verified, false);
      assert.match(bps[0].message ?? '', /all 4 hardware debug registers .* needs a software \(int3\) breakpoint, which this host cannot deliver/);
      t.todo('the int3 path is not verifiable on this host: its KVM hands int3 to the guest instead of exiting (the probe said so)');
      return;
    }
    assert.equal(bps[0].verified, true, bps[0].message);
    const hit = await nextStop(s, 'the int3 on step_sequence');
    assert.equal(hit.body.reason, 'function breakpoint');
    const top = (await frames(s))[0];
    assert.equal(top.instructionPointerReference, `v:${hex(symbol('pvh64', 'step_sequence'))}`);
    // Lifted while stopped: memory shows the guest's own first byte, not 0xCC.
    const mem = await s.dc.customRequest('readMemory', { memoryReference: top.instructionPointerReference, count: 1 }) as DebugProtocol.ReadMemoryResponse;
    assert.notEqual(Buffer.from(mem.body!.data!, 'base64')[0], 0xcc);
    // Still set: resuming steps the guest's instruction off the int3's address, then plants it again.
    await finishesUnchanged(s);
  } finally {
    await finishDap(s);
  }
});

test('pvh64: ten instruction breakpoints, six of them software traps, each stop in turn at its instruction; the guest then computes what it always does', async () => {
  const s = await startDap(BOOT_MS);
  try {
    const start = symbol('pvh64', 'step_sequence');
    let addresses: string[] = [];
    let bps: DebugProtocol.Breakpoint[] = [];
    await launchDap(s, { kernel: kernelPath('pvh64'), memory: '64M' }, async () => {
      addresses = instructionsAt('pvh64', start, 10);
      assert.equal(BigInt(addresses[0]), BigInt(start));
      bps = (await s.dc.customRequest('setInstructionBreakpoints', { breakpoints: addresses.map((a) => ({ instructionReference: `v:${a}` })) }) as DebugProtocol.SetInstructionBreakpointsResponse).body.breakpoints;
    });
    assert.deepEqual(bps.map((b) => b.verified), Array(10).fill(true), bps.map((b) => b.message).join('; '));
    for (const [i, address] of addresses.entries()) {
      const hit = nextStop(s, `breakpoint ${i + 1} at ${address}`);
      await s.dc.continueRequest({ threadId: 1 });
      assert.equal((await hit).body.reason, 'instruction breakpoint');
      const top = (await frames(s))[0];
      assert.equal(BigInt(top.instructionPointerReference!.replace(/^v:/, '')), BigInt(address), `stop ${i + 1}`);
    }
    await finishesUnchanged(s);
  } finally {
    await finishDap(s);
  }
});
