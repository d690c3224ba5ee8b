// The MSRs scope (debug-adapter/msr-scope.ts): names, pointer MSRs with
// memory references and symbols, and reading past MSRs KVM refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INTERESTING_MSRS, msrNodes, readMsrs } from '../../debug-adapter/msr-scope';

test('pointer MSRs carry a memoryReference and the symbol they point at; the others do not', () => {
  const nodes = msrNodes([{ index: 0xc000_0082, value: 0xffff_ffff_81a0_0000n }, { index: 0x277, value: 0x0007_0406_0007_0406n }],
    (a) => (a === 0xffff_ffff_81a0_0000n ? 'entry_SYSCALL_64' : undefined));
  assert.deepEqual(nodes.map((n) => n.name), ['LSTAR', 'PAT']);
  assert.equal(nodes[0].value, '0xffffffff81a00000 <entry_SYSCALL_64>');
  assert.equal(nodes[0].memoryReference, 'v:0xffffffff81a00000');
  assert.equal(nodes[1].value, '0x0007040600070406');
  assert.equal(nodes[1].memoryReference, undefined);
});

test('readMsrs skips each MSR KVM refuses (KVM_GET_MSRS stops at the first) and reads on', async () => {
  const refused = new Set([0xc000_0083, 0x175]);
  const calls: number[][] = [];
  const read = async (ix: number[]) => {
    calls.push(ix);
    const out = [];
    for (const i of ix) { if (refused.has(i)) break; out.push({ index: i, value: BigInt(i) }); }
    return out;
  };
  const all = INTERESTING_MSRS.map((m) => m.index);
  const got = await readMsrs(all, read);
  assert.deepEqual(got.map((e) => e.index), all.filter((i) => !refused.has(i)));
  assert.equal(calls.length, 3, 'one call, then one after each refusal');
  assert.deepEqual(await readMsrs(all, async () => []), [], 'a vCPU that refuses everything: nothing, and no endless loop');
});
