// The task list from a fake kernel: leaders and threads, ps's state
// letters, CPUs, the tasks running on each CPU, saved registers for a
// task's stack, and hostile lists (a cycle, a wild pointer, the bound) that
// end with the tasks found so far and one sentence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTask, listTasks, stateLetter, TASK_HEADER } from '../../debug-adapter/linux/tasks';
import { savedRegisters } from '../../debug-adapter/linux/task-stack';
import { FakeMemory } from './helpers/c-fixtures';
import { kernelOf, taskAt, taskGlobals, writeTasks, INIT_TASK } from './helpers/linux-fixtures';

function kernel(): { mem: FakeMemory; byPid: Map<number, bigint> } {
  const mem = new FakeMemory();
  const byPid = writeTasks(mem, [
    { pid: 1, comm: 'init', state: 1, cpu: 1 },
    { pid: 2, comm: 'kthreadd', state: 1 },
    { pid: 7, comm: 'kworker/0:1', state: 0x402 },
    { pid: 9, comm: 'app', state: 0, cpu: 1, threads: [{ pid: 10, comm: 'app-worker', state: 2 }, { pid: 11, comm: 'app-gone', state: 0, exitState: 0x20 }] },
  ], [0, 9]);
  return { mem, byPid };
}

test('ps lists init_task, the leaders and their threads, with state, CPU and the running ones', () => {
  const { mem } = kernel();
  const list = listTasks(kernelOf(mem, taskGlobals()), { cpus: 2 });
  assert.equal(list.problem, undefined);
  assert.deepEqual(list.tasks.map((t) => [t.pid, t.tgid, t.comm, t.state, t.cpu, t.runningOn]), [
    [0, 0, 'swapper/0', 'R', 0, 0],
    [1, 1, 'init', 'S', 1, undefined],
    [2, 2, 'kthreadd', 'S', 0, undefined],
    [7, 7, 'kworker/0:1', 'I', 0, undefined],
    [9, 9, 'app', 'R', 1, 1],
    [10, 9, 'app-worker', 'D', 0, undefined],
    [11, 9, 'app-gone', 'Z', 0, undefined],
  ]);
  assert.equal(TASK_HEADER, '    PID    TGID CPU  ST COMM             TASK');
  assert.equal(formatTask(list.tasks[4]), '      9       9   1  R  app              0xffff888001009000  <- running on CPU 1');
  assert.equal(formatTask(list.tasks[1]), '      1       1   1  S  init             0xffff888001001000');
});

test('ps state letters as the kernel reports them', () => {
  assert.deepEqual([0, 1, 2, 4, 8, 0x10, 0x20, 0x40, 0x402, 0x1000].map((s) => stateLetter(s, 0)), ['R', 'S', 'D', 'T', 't', 'X', 'Z', 'P', 'I', 'D']);
  assert.equal(stateLetter(0, 0x10), 'X');
});

test('a cycle in the task list that does not come back to init_task ends the walk with a sentence', () => {
  const { mem } = kernel();
  mem.u64(taskAt(2) + 40n, taskAt(1) + 40n); // init -> 1 -> 2 -> 1 -> ...
  const list = listTasks(kernelOf(mem, taskGlobals()), { cpus: 2 });
  assert.deepEqual(list.tasks.map((t) => t.pid), [0, 1, 2]);
  assert.equal(list.problem, 'init_task.tasks loops back to 0xffff888001001028 after 2 entries without reaching its head');
});

test('a wild pointer in the task list keeps the tasks before it', () => {
  const { mem } = kernel();
  mem.u64(taskAt(2) + 40n, 0xdead000000000040n);
  const list = listTasks(kernelOf(mem, taskGlobals()), { cpus: 2 });
  assert.deepEqual(list.tasks.map((t) => t.pid), [0, 1, 2]);
  assert.equal(list.problem, 'init_task.tasks points at 0xdead000000000040, which is unreadable, after 2 entries');
  const nulled = kernel().mem;
  nulled.u64(taskAt(1) + 40n, 0n);
  assert.equal(listTasks(kernelOf(nulled, taskGlobals())).problem, 'init_task.tasks has a null link after 1 entries');
});

test('a broken thread list and the walk\'s bound', () => {
  const { mem } = kernel();
  mem.u64(taskAt(10) + 72n, 0xffff888077770000n);
  const list = listTasks(kernelOf(mem, taskGlobals()), { cpus: 2 });
  assert.deepEqual(list.tasks.map((t) => t.pid), [0, 1, 2, 7, 9, 10]);
  assert.equal(list.problem, 'the thread list of the task at 0xffff888001009000 points at 0xffff888077770000, which is unreadable, after 2 entries');
  const bounded = listTasks(kernelOf(kernel().mem, taskGlobals()), { maxTasks: 3 });
  assert.deepEqual(bounded.tasks.map((t) => t.pid), [0, 1, 2, 7]);
  assert.equal(bounded.problem, 'the walk stopped after 3 entries of init_task.tasks (the limit)');
});

test('a kernel without init_task says so', () => {
  assert.throws(() => listTasks(kernelOf(new FakeMemory(), [])), { message: "the task list needs the kernel's 'init_task', which its DWARF does not describe" });
});

test('a sleeping task\'s registers come from its inactive_task_frame at thread.sp', () => {
  const { mem } = kernel();
  const task = taskAt(1);
  const sp = 0xffffc90000013e48n;
  mem.u64(task + 128n + 24n, sp);
  [0xf15n, 0xf14n, 0xf13n, 0xf12n, 0xbbn, 0xffffc90000013e90n, 0xffffffff81a2b3c4n].forEach((v, i) => mem.u64(sp + BigInt(i) * 8n, v));
  const regs = savedRegisters(kernelOf(mem, taskGlobals()), task);
  assert.deepEqual([regs.rip, regs.rsp, regs.rbp, regs.rbx, regs.r12, regs.r15, regs.rax], [0xffffffff81a2b3c4n, sp + 56n, 0xffffc90000013e90n, 0xbbn, 0xf12n, 0xf15n, 0n]);
  assert.throws(() => savedRegisters(kernelOf(mem, taskGlobals()), INIT_TASK), { message: 'the task at 0xffffffff82c00000 has no saved kernel stack (thread.sp is 0x0)' });
});
