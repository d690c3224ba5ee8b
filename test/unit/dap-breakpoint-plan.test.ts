// Where code breakpoints go: the 4 debug registers, then int3s when the host
// delivers #BP exits; unmapped code keeps the debug registers. No KVM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BreakpointTable } from '../../debug-adapter/breakpoints';
import { VcpuDebug } from '../../vmm/debug/vcpu-debug';

const fn = (name: string, address: bigint) => ({ key: `fn:${name}`, kind: 'function' as const, addresses: [address] });

/** Arms the plan as the vCPU thread does (vcpu-debug.ts), without KVM. */
function arm(table: BreakpointTable, options: Parameters<BreakpointTable['hardwarePlan']>[0]) {
  const plan = table.hardwarePlan(options);
  const result = new VcpuDebug(() => {}).arm(plan.requests);
  table.applyArmResult(plan, result);
  return { plan, result };
}

test('without software breakpoints a fifth code breakpoint is unverified and says the host cannot deliver int3s', () => {
  const t = new BreakpointTable();
  const list = t.replace('function', ['a', 'b', 'c', 'd', 'e'].map((n, i) => fn(n, 0x1000n + BigInt(i))));
  arm(t, { software: false });
  assert.deepEqual(list.map((b) => b.verified), [true, true, true, true, false]);
  assert.deepEqual(list.map((b) => b.backend), ['hardware', 'hardware', 'hardware', 'hardware', undefined]);
  assert.match(list[4].message!, /all 4 hardware debug registers.*needs a software \(int3\) breakpoint, which this host cannot deliver/);
});

test('with software breakpoints the fifth and later code breakpoints become int3s and are verified', () => {
  const t = new BreakpointTable();
  const list = t.replace('function', ['a', 'b', 'c', 'd', 'e', 'f'].map((n, i) => fn(n, 0x1000n + BigInt(i))));
  const { plan, result } = arm(t, { software: true, mapped: () => true });
  assert.deepEqual(list.map((b) => b.verified), [true, true, true, true, true, true]);
  assert.deepEqual(list.map((b) => b.backend), ['hardware', 'hardware', 'hardware', 'hardware', 'software', 'software']);
  assert.deepEqual(plan.requests.filter((_, i) => result.software[i]).map((r) => r.address), [0x1004n, 0x1005n]);
});

test('watchpoints and unmapped code take the debug registers before mapped code, which an int3 can hold', () => {
  const t = new BreakpointTable();
  const code = t.replace('function', ['a', 'b', 'c', 'd'].map((n, i) => fn(n, 0x1000n + BigInt(i))));
  // Set later, but not mapped yet (a kernel not decompressed): hardware, or it would wait for its page.
  const late = t.replace('instruction', [{ key: 'insn:late', kind: 'instruction', addresses: [0xffffffff81000000n] }]);
  const watch = t.replace('data', [{ key: 'data:x', kind: 'data', watch: { address: 0x2000n, length: 4, access: 'write' } }]);
  arm(t, { software: true, mapped: (a) => a < 0x10000n });
  assert.equal(watch[0].backend, 'hardware');
  assert.equal(late[0].backend, 'hardware');
  assert.deepEqual(code.map((b) => b.backend), ['hardware', 'hardware', 'software', 'software']);
  assert.ok([...code, ...late, ...watch].every((b) => b.verified));
});

test('the temporary step address always gets a debug register', () => {
  const t = new BreakpointTable();
  t.replace('function', ['a', 'b', 'c', 'd'].map((n, i) => fn(n, 0x1000n + BigInt(i))));
  t.setTemporary(0x5000n);
  const { plan, result } = arm(t, { software: true, mapped: () => true });
  assert.equal(plan.requests[0].address, 0x5000n);
  assert.equal(result.software[0], false);
  assert.equal(result.armed[0], true);
});
