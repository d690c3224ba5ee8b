// KVM tier: data breakpoints on reads (VS Code's Break on Read and Break on
// Access), by page protection: the watched variables' page leaves the VM's
// RAM slots, every access to it is an MMIO exit the vCPU thread answers from
// guest RAM, and only the watched bytes, in the watched direction, stop.
// x86 debug registers cannot watch reads alone, so this is the only way,
// on every host; on PVM it is the only way for read/write watches too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { BOOT_MS, hex, kernelPath, symbol, within } from './helpers/guests';
import { finishDap, frames, launchDap, nextStop, startDap, type DapSession } from './helpers/dap-session';

async function word(s: DapSession, name: string): Promise<number> {
  const r = await s.dc.customRequest('readMemory', { memoryReference: `v:${hex(symbol('pvh64', name))}`, count: 4 }) as DebugProtocol.ReadMemoryResponse;
  return Buffer.from(r.body?.data ?? '', 'base64').readUInt32LE(0);
}

async function continueToStop(s: DapSession, what: string): Promise<DebugProtocol.StoppedEvent> {
  const stop = nextStop(s, what);
  await s.dc.continueRequest({ threadId: 1 });
  return stop;
}

test('pvh64 watch: a read watch on watch_c stops only at its read, a read/write watch on watch_d at its write and its read; the guest reads right values through the watched page', async () => {
  const s = await startDap(BOOT_MS);
  try {
    let ids: number[] = [];
    let info: DebugProtocol.DataBreakpointInfoResponse | undefined;
    await launchDap(s, { kernel: kernelPath('pvh64'), memory: '64M', cmdline: 'watch' }, async () => {
      info = await s.dc.dataBreakpointInfoRequest({ name: 'watch_c' });
      const d = await s.dc.dataBreakpointInfoRequest({ name: 'watch_d' });
      const set = await s.dc.setDataBreakpointsRequest({ breakpoints: [
        { dataId: info.body.dataId!, accessType: 'read' }, { dataId: d.body.dataId!, accessType: 'readWrite' },
      ] });
      assert.deepEqual(set.body.breakpoints.map((b) => [b.verified, b.message]), [[true, undefined], [true, undefined]]);
      ids = set.body.breakpoints.map((b) => b.id!);
    });
    assert.deepEqual(info!.body.accessTypes, ['write', 'read', 'readWrite']);
    // The boot code clears .bss first: writes, so only watch_d's watch stops there.
    let ev: DebugProtocol.StoppedEvent;
    for (let seen = 0; ; seen++) {
      ev = await continueToStop(s, 'a data breakpoint');
      assert.equal(ev.body.reason, 'data breakpoint');
      if ((await frames(s))[0].name === 'watch_writes') break;
      assert.deepEqual(ev.body.hitBreakpointIds, [ids[1]], 'before watch_writes only writes happen: the read/write watch');
      assert.ok(seen < 400, 'stops before watch_writes');
    }
    // The first stop in watch_writes: the write of watch_d (watch_c = 3 before it is a write: no stop).
    assert.deepEqual(ev.body.hitBreakpointIds, [ids[1]]);
    assert.deepEqual([await word(s, 'watch_c'), await word(s, 'watch_d'), await word(s, 'watch_e')], [3, 4, 0]);
    // Then kprintf's arguments read both, after every write (watch_e = 5 is done).
    const reads: number[] = [];
    for (let i = 0; i < 2; i++) {
      ev = await continueToStop(s, `read ${i + 1} of 2`);
      assert.equal(ev.body.reason, 'data breakpoint');
      assert.equal((await frames(s))[0].name, 'watch_writes');
      assert.equal(await word(s, 'watch_e'), 5, 'the reads come after the last write');
      reads.push(...(ev.body.hitBreakpointIds ?? []));
    }
    assert.deepEqual(reads.sort(), [...ids].sort(), 'each watch stopped once at its read');
    const done = within(s.dc.waitForEvent('terminated', BOOT_MS), BOOT_MS, 'the guest finishing');
    await s.dc.continueRequest({ threadId: 1 });
    await done;
    // What the guest read through the unmapped page (and the console's own variables on it) was right.
    assert.match(s.stdout(), /watch = 1 2 3 4 5 0x88\n/);
  } finally {
    await finishDap(s);
  }
});

test('pvh64: a read watch on a page the guest runs code from (KVM cannot emulate that) is lifted with a sentence at a stop, and the guest finishes unchanged', async () => {
  const s = await startDap(BOOT_MS);
  try {
    const inCode = symbol('pvh64', 'fib') + 8;
    await launchDap(s, { kernel: kernelPath('pvh64'), memory: '64M' }, async () => {
      const info = await s.dc.dataBreakpointInfoRequest({ name: `*(unsigned int *)${hex(inCode)}` });
      const set = await s.dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId!, accessType: 'read' }] });
      assert.equal(set.body.breakpoints[0].verified, true);
    });
    const ev = await continueToStop(s, 'the stop that lifts the read watch');
    assert.equal(ev.body.reason, 'exception');
    assert.equal(ev.body.text, 'KVM could not emulate the guest while kvmdbg kept a page unmapped to watch reads (code or page tables on the same page): '
      + `reads of 4 bytes at ${hex(inCode)} are no longer watched, writes still are; continue to go on`);
    const done = within(s.dc.waitForEvent('terminated', BOOT_MS), BOOT_MS, 'the guest finishing');
    await s.dc.continueRequest({ threadId: 1 });
    await done;
    assert.match(s.stdout(), /fib\(20\) = 6765\n[\s\S]*done\n/, `the guest's console; the adapter said:\n${s.console()}`);
  } finally {
    await finishDap(s);
  }
});
