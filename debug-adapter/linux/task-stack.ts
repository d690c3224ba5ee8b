/**
 * Where a task that is not running stopped: on x86-64 its kernel stack
 * pointer is task->thread.sp, and there __switch_to_asm left a struct
 * inactive_task_frame (the callee-saved registers and the return address
 * into __schedule, or ret_from_fork for a task that never ran). Read
 * through DWARF, these are the registers its stack unwinds from; the
 * caller-saved ones are not kept anywhere and read as 0.
 */
import type { Regs } from '../../native/types';
import { sizeOf } from '../variables/ctype';
import { Kernel, LinuxError } from './kernel';
import { KERNEL_HALF } from './kernel-memory';

const FEATURE = 'a task\'s stack';

export function savedRegisters(k: Kernel, taskAddress: bigint): Regs {
  const taskType = k.type('struct task_struct');
  if (!taskType) throw new LinuxError("a task's stack needs the kernel's struct task_struct, which its DWARF does not describe");
  const task = k.at(taskType, taskAddress);
  const sp = k.int(k.field(k.field(task, 'thread', FEATURE), 'sp', FEATURE), `the saved stack pointer of the task at 0x${taskAddress.toString(16)}`);
  if (sp < KERNEL_HALF) throw new LinuxError(`the task at 0x${taskAddress.toString(16)} has no saved kernel stack (thread.sp is 0x${sp.toString(16)})`);
  const frameType = k.type('struct inactive_task_frame');
  if (!frameType) throw new LinuxError("a task's stack needs the kernel's struct inactive_task_frame (x86-64), which its DWARF does not describe");
  const frame = k.at(frameType, sp);
  const reg = (name: string): bigint => {
    const m = k.member(frame, name);
    return m ? k.int(m, `the saved ${name} of the task at 0x${taskAddress.toString(16)}`) : 0n;
  };
  const rip = k.int(k.field(frame, 'ret_addr', FEATURE), `the saved return address of the task at 0x${taskAddress.toString(16)}`);
  return {
    rax: 0n, rbx: reg('bx'), rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n,
    rsp: sp + BigInt(sizeOf(frameType)), rbp: reg('bp'),
    r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: reg('r12'), r13: reg('r13'), r14: reg('r14'), r15: reg('r15'),
    rip, rflags: 0x2n,
  };
}

/** The registers an exception entry saved in a struct pt_regs (the crashing context of an oops or a BUG). */
export function ptRegs(k: Kernel, address: bigint): Regs {
  const type = k.type('struct pt_regs');
  if (!type) throw new LinuxError("the crashing registers need the kernel's struct pt_regs, which its DWARF does not describe");
  const regs = k.at(type, address);
  const reg = (name: string): bigint => k.int(k.field(regs, name, 'the crashing registers'), `pt_regs.${name} at 0x${address.toString(16)}`);
  return {
    rax: reg('ax'), rbx: reg('bx'), rcx: reg('cx'), rdx: reg('dx'), rsi: reg('si'), rdi: reg('di'), rsp: reg('sp'), rbp: reg('bp'),
    r8: reg('r8'), r9: reg('r9'), r10: reg('r10'), r11: reg('r11'), r12: reg('r12'), r13: reg('r13'), r14: reg('r14'), r15: reg('r15'),
    rip: reg('ip'), rflags: reg('flags'),
  };
}
