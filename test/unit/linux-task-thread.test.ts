// The selected task as one more thread (session/state.ts): its id maps to
// a made-up vCPU whose snapshot is the task's saved registers with vCPU 0's
// paging; an oops's crashing registers replace a vCPU's own for its stack
// until the guest runs; the vCPUs' threads are unaffected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Regs, Sregs } from '../../native/types';
import { SessionState } from '../../debug-adapter/session/state';
import type { VcpuControl } from '../../debug-adapter/vcpu';

const regsOf = (rip: bigint): Regs => ({ rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n, rsp: 0x1000n, rbp: 0n, r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n, rip, rflags: 2n });

test('the task thread: its own registers, vCPU 0\'s paging; vCPU threads as before; the oops override', async () => {
  const state = new SessionState(() => {});
  const sregs = (n: number) => ({ cr3: BigInt(0x1000 * (n + 1)) }) as unknown as Sregs;
  state.vcpu = {
    id: 1, hasThread: (t: number) => t === 1 || t === 2,
    regs: async (v: number) => regsOf(BigInt(0x100 + v)), sregs: async (v: number) => sregs(v),
  } as unknown as VcpuControl;
  state.taskThread = { threadId: 10_000, vcpu: 9_999, name: 'task 1 init', regs: async () => regsOf(0xffffffff81a2b3c4n) };
  assert.equal(state.vcpuOfThread(10_000), 9_999);
  assert.equal(state.vcpuOfThread(2), 1);
  assert.equal(state.hasThread(10_000), true);
  assert.equal(state.hasThread(3), false);
  const task = await state.snapshot(9_999);
  assert.equal(task.regs.rip, 0xffffffff81a2b3c4n);
  assert.equal(task.sregs.cr3, 0x1000n, "vCPU 0's paging");
  assert.equal((await state.snapshot(1)).regs.rip, 0x101n);
  state.shownRegs = { vcpu: 1, regs: regsOf(0xffffffff81400010n) };
  assert.equal((await state.snapshot(1)).regs.rip, 0xffffffff81400010n, 'the crashing pt_regs');
  assert.equal((await state.snapshot(0)).regs.rip, 0x100n);
});
