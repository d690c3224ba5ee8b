// KVM tier: readMemory as the adapter writes it (raw protocol bytes, straight
// from guest RAM through the page tables: memory-requests.ts sendRead),
// through the real adapter: a range that runs off the end of guest RAM says
// which part could be read; one that starts there says none could; a 4 MiB
// read in one response comes back whole and equals the same bytes read
// physically in 64 KiB pieces; errors stay error responses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { BOOT_MS, kernelPath } from './helpers/guests';
import { finishDap, launchDap, nextStop, startDap, type DapSession } from './helpers/dap-session';

const KERNEL = kernelPath('pvh64');
/** The VM's RAM: 64 MiB from physical 0, identity-mapped by the test kernel's boot page tables. */
const RAM_END = 64 * 1024 * 1024;

async function read(s: DapSession, memoryReference: string, count: number): Promise<{ address?: string; data: Buffer; unreadable: number }> {
  const r = await s.dc.customRequest('readMemory', { memoryReference, count }) as unknown as DebugProtocol.ReadMemoryResponse;
  assert.ok(r.success, `readMemory ${memoryReference}: ${r.message}`);
  return { address: r.body?.address, data: Buffer.from(r.body?.data ?? '', 'base64'), unreadable: r.body?.unreadableBytes ?? 0 };
}

test('readMemory: a range across the end of RAM, one past it, 4 MiB at once, a bad reference', async () => {
  const s = await startDap(BOOT_MS);
  try {
    const stop = nextStop(s, 'the entry');
    await launchDap(s, { kernel: KERNEL, memory: '64M', stopOnEntry: true });
    await stop;
    // The last page of RAM, then one that is no RAM: 4096 bytes, then 4096 unreadable ones.
    const across = await read(s, `v:0x${(RAM_END - 4096).toString(16)}`, 8192);
    assert.deepEqual([across.address, across.data.length, across.unreadable], [`0x${(RAM_END - 4096).toString(16)}`, 4096, 4096]);
    const physical = await read(s, `p:0x${(RAM_END - 4096).toString(16)}`, 4096);
    assert.deepEqual(across.data, physical.data, 'the readable part is the RAM page');
    const past = await read(s, `v:0x${RAM_END.toString(16)}`, 300);
    assert.deepEqual([past.data.length, past.unreadable], [0, 300]);
    // Offsets add to the reference.
    const offset = await s.dc.customRequest('readMemory', { memoryReference: `v:0x${(RAM_END - 8192).toString(16)}`, offset: 4096, count: 8192 }) as unknown as DebugProtocol.ReadMemoryResponse;
    assert.deepEqual([offset.body?.address, Buffer.from(offset.body?.data ?? '', 'base64').length, offset.body?.unreadableBytes], [`0x${(RAM_END - 4096).toString(16)}`, 4096, 4096]);

    const big = await read(s, 'v:0x100000', 4 * 1024 * 1024);
    assert.deepEqual([big.data.length, big.unreadable], [4 * 1024 * 1024, 0]);
    for (let at = 0; at < big.data.length; at += 65536) {
      const piece = await read(s, `p:0x${(0x100000 + at).toString(16)}`, 65536);
      assert.ok(piece.data.equals(big.data.subarray(at, at + 65536)), `the bytes at +0x${at.toString(16)}`);
    }
    assert.ok(big.data.some((b) => b !== 0), 'the kernel is in there');

    const bad = await s.dc.customRequest('readMemory', { memoryReference: 'nowhere', count: 4 }).then(() => undefined, (e: Error) => e.message);
    assert.match(bad ?? '', /"nowhere" is not a memory reference/);
    // The session goes on after all of it (the protocol stream intact).
    assert.equal((await s.dc.threadsRequest()).body.threads.length, 1);
  } finally {
    await finishDap(s);
  }
});
