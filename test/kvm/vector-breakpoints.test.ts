// kvm-needs: guest-exceptions
// (the vectors kernels take #UD, #GP, #PF and INT 0x80 through their IDT)
// KVM tier: exception-vector breakpoints through DAP (the 'vector' filter).
// The vectors64/vectors32 test kernels (test/guests/kernel/vectors.c) load
// their own IDT and raise #UD, #GP (error code 0x1230), #PF (64-bit: a read
// of 0x100000000000) and INT 0x80 on purpose; the adapter finds each
// handler in the guest's IDT and stops there with what the CPU pushed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { ElfFile } from '../../vmm/boot/elf';
import { BOOT_MS, GUEST_DIR, within } from './helpers/guests';
import { finishDap, frames, launchDap, nextStop, startDap, waitForText, type DapSession } from './helpers/dap-session';

const T = BOOT_MS;

function symbols(kernel: string): (name: string) => bigint {
  const path = join(GUEST_DIR, `${kernel}.elf`);
  const elf = new ElfFile(path, readFileSync(path));
  return (name) => {
    const s = elf.symbols().find((x) => x.name === name && x.shndx !== 0);
    if (!s) throw new Error(`${path} has no symbol ${name}`);
    return BigInt(s.value);
  };
}

async function continueTo(s: DapSession, what: string): Promise<DebugProtocol.StoppedEvent> {
  const stop = nextStop(s, what);
  await s.dc.continueRequest({ threadId: 1 });
  return stop;
}

/** The top frame's instruction pointer (the same in 32-bit and 64-bit guests). */
async function rip(s: DapSession): Promise<bigint> {
  const ref = (await frames(s))[0]?.instructionPointerReference;
  assert.ok(ref, 'the top frame has an instruction pointer');
  return BigInt(ref.replace(/^[vp]:/, ''));
}

async function exceptionInfo(s: DapSession): Promise<DebugProtocol.ExceptionInfoResponse['body']> {
  return (await s.dc.exceptionInfoRequest({ threadId: 1 })).body;
}

async function bytesAt(s: DapSession, address: string, count: number): Promise<number[]> {
  const r = await s.dc.customRequest('readMemory', { memoryReference: `v:${address}`, count }) as DebugProtocol.ReadMemoryResponse;
  return [...Buffer.from(r.body?.data ?? '', 'base64')];
}

test('vectors64: #UD, #GP, #PF and INT 0x80 each stop at their IDT handler with CR2, error code and the faulting address; the guest finishes', async () => {
  const sym = symbols('vectors64');
  const s = await startDap(T);
  try {
    let filter: DebugProtocol.Breakpoint[] = [];
    const ready = nextStop(s, 'function breakpoint on vectors_ready');
    await launchDap(s, { kernel: join(GUEST_DIR, 'vectors64.elf'), memory: '64M' }, async () => {
      await s.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'vectors_ready' }] });
      filter = (await s.dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'vector', condition: '#UD, #GP, PF, 0x80' }] })).body?.breakpoints ?? [];
    });
    // Before the guest runs its IDT is the boot's (none): the filter is accepted and says so.
    assert.equal(filter[0]?.verified, true);
    assert.match(filter[0]?.message ?? '', /#UD \(vector 6\).*(IDT limit|not present|not readable)/);
    assert.equal((await ready).body.reason, 'function breakpoint');
    // The IDT is loaded now; give the debug registers to the four handlers.
    await s.dc.setFunctionBreakpointsRequest({ breakpoints: [] });

    const ud = await continueTo(s, '#UD');
    assert.equal(ud.body.reason, 'exception');
    assert.match(ud.body.text ?? '', /^#UD \(vector 6\) handler 0x[0-9a-f]+ <ud_handler>: from (0x[0-9a-f]+)$/);
    assert.equal(await rip(s), sym('ud_handler'));
    const udFrom = /from (0x[0-9a-f]+)/.exec(ud.body.text!)![1];
    assert.deepEqual(await bytesAt(s, udFrom, 2), [0x0f, 0x0b], `the #UD came from a ud2 at ${udFrom}`);
    const udInfo = await exceptionInfo(s);
    assert.equal(udInfo.exceptionId, 'vector');
    assert.match(udInfo.details?.message ?? '', /vector: #UD \(vector 6\)\nhandler: 0x[0-9a-f]+ <ud_handler> \(64-bit IDT at/);

    const gp = await continueTo(s, '#GP');
    assert.match(gp.body.text ?? '', /^#GP \(vector 13\) handler 0x[0-9a-f]+ <gp_handler>: from (0x[0-9a-f]+), error code 0x1230 \(GDT index 582\)$/);
    assert.deepEqual(await bytesAt(s, /from (0x[0-9a-f]+)/.exec(gp.body.text!)![1], 2), [0x8e, 0xd8], 'the #GP came from mov %eax,%ds');

    const pf = await continueTo(s, '#PF');
    assert.match(pf.body.text ?? '', /^#PF \(vector 14\) handler 0x[0-9a-f]+ <pf_handler>: from 0x[0-9a-f]+, CR2 0x100000000000, error code 0x0 \(not present, read, supervisor\)$/);
    assert.match((await exceptionInfo(s)).details?.message ?? '', /cr2: 0x100000000000 \(the faulting address\)/);

    const int80 = await continueTo(s, 'INT 0x80');
    assert.match(int80.body.text ?? '', /^vector 0x80 handler 0x[0-9a-f]+ <int80_handler>: return to 0x[0-9a-f]+$/);
    assert.equal(await rip(s), sym('int80_handler'));

    // Every handler ran as if no debugger were there.
    const done = within(s.dc.waitForEvent('terminated', T), T, 'the guest finishing');
    await s.dc.continueRequest({ threadId: 1 });
    await done;
    assert.match(s.stdout(), /ud=1 gp=1 gp_error=0x1230 pf=1 pf_error=0x0 int80=1\n/);
    assert.match(s.stdout(), /vectors ok/);
  } finally {
    await finishDap(s);
  }
});

test('vectors32 (multiboot, 32-bit gates, handler base from the GDT): #GP stops at gp_handler with error code 0x1230', async () => {
  const sym = symbols('vectors32');
  const s = await startDap(T);
  try {
    const ready = nextStop(s, 'function breakpoint on vectors_ready');
    await launchDap(s, { kernel: join(GUEST_DIR, 'vectors32.elf'), memory: '64M' }, async () => {
      await s.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'vectors_ready' }] });
      await s.dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'vector', condition: '13' }] });
    });
    await ready;
    const gp = await continueTo(s, '#GP');
    assert.equal(gp.body.reason, 'exception');
    assert.match(gp.body.text ?? '', /^#GP \(vector 13\) handler 0x[0-9a-f]+ <gp_handler>: from 0x[0-9a-f]+, error code 0x1230 \(GDT index 582\)$/);
    assert.equal(await rip(s), sym('gp_handler'));
    assert.match((await exceptionInfo(s)).details?.message ?? '', /32-bit IDT at/);
  } finally {
    await finishDap(s);
  }
});

test('vectors64 "wait": an IDT the guest loads while running is found by the periodic look (no stop in between); #UD stops', async () => {
  const sym = symbols('vectors64');
  const s = await startDap(T);
  try {
    await launchDap(s, { kernel: join(GUEST_DIR, 'vectors64.elf'), memory: '64M', cmdline: 'wait' }, async () => {
      await s.dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'vector', condition: '#UD' }] });
    });
    await waitForText(s.stdout, 'waiting for a key', T, 'the guest loading its IDT');
    // Longer than IDT_POLL_MS * IDT_PAUSE_EVERY (one pausing look, which reads the new IDTR).
    await new Promise((r) => setTimeout(r, 3000));
    const ud = nextStop(s, '#UD after the key');
    await s.dc.customRequest('kvm/consoleInput', { data: 'k' });
    const stop = await ud;
    assert.match(stop.body.text ?? '', /^#UD \(vector 6\) handler 0x[0-9a-f]+ <ud_handler>/);
    assert.equal(await rip(s), sym('ud_handler'));
  } finally {
    await finishDap(s);
  }
});
