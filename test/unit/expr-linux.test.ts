// The Linux helpers on a fake kernel memory image: current (GS base, the
// __per_cpu_offset fallback, pcpu_hot), per_cpu, per_cpu_ptr, container_of,
// offsetof, $task over leaders and threads, and hostile task lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completions, evaluateCondition, evaluateExpression, ExprError, type ExprContext } from '../../debug-adapter/expr';
import { formatValue } from '../../debug-adapter/variables/format';
import type { RecordType } from '../../debug-adapter/dwarf/model';
import { array, at, FakeMemory, fakeDebug, fakeFrame, ptr, struct, T, variable } from './helpers/c-fixtures';

const listHead: RecordType = struct('list_head', 16, () => [['next', ptr(listHead), 0], ['prev', ptr(listHead), 8]]);
const signal = struct('signal_struct', 16, [['thread_head', listHead, 0]]);
const task: RecordType = struct('task_struct', 72, () => [
  ['state', T.long, 0], ['pid', T.int, 8], ['tgid', T.int, 12], ['comm', array(T.char, 16), 16],
  ['tasks', listHead, 32], ['signal', ptr(signal), 48], ['thread_node', listHead, 56],
]);
const rq = struct('rq', 8, [['nr_running', T.uint, 0], ['cpu', T.int, 4]]);
const pcpuHot = struct('pcpu_hot', 16, [['current_task', ptr(task), 0], ['cpu_number', T.int, 8]]);

const INIT = 0xffffffff82000000n;
const OFFSETS = 0xffffffff82100000n;
const BASE0 = 0xffff88807fc00000n;
const BASE1 = 0xffff88807fd00000n;
const CURRENT = 0x1fdc0n; // per-cpu "addresses" are offsets into a CPU's area
const RUNQUEUES = 0x2a000n;
const HOT = 0x1f000n;
const taskAt = (n: number): bigint => 0xffff888000100000n * 1n + BigInt(n) * 0x1000n;

/** A kernel with init_task and tasks pid 1..3 on the tasks list; task 3 leads a thread group with thread 4. */
function kernel(): FakeMemory {
  const mem = new FakeMemory();
  const put = (addr: bigint, pid: number, comm: string): void => {
    mem.map(addr, 72).u32(addr + 8n, pid).u32(addr + 12n, pid).str(addr + 16n, comm);
  };
  put(INIT, 0, 'swapper/0');
  const leaders = [INIT, taskAt(1), taskAt(2), taskAt(3)];
  put(taskAt(1), 1, 'init');
  put(taskAt(2), 2, 'kthreadd');
  put(taskAt(3), 3, 'worker');
  put(taskAt(4), 4, 'worker-thread');
  mem.u32(taskAt(4) + 12n, 3);
  // The circular tasks list through every leader's `tasks` (offset 32).
  for (let i = 0; i < leaders.length; i++) {
    mem.u64(leaders[i] + 32n, leaders[(i + 1) % leaders.length] + 32n).u64(leaders[i] + 40n, leaders[(i + leaders.length - 1) % leaders.length] + 32n);
  }
  // Task 3's signal_struct: thread_head -> 3.thread_node -> 4.thread_node -> head.
  const sig = 0xffff888000200000n;
  mem.u64(sig, taskAt(3) + 56n).u64(taskAt(3) + 48n, sig).u64(taskAt(4) + 48n, sig);
  mem.u64(taskAt(3) + 56n, taskAt(4) + 56n).u64(taskAt(4) + 56n, sig);
  // Per-cpu areas: current_task and runqueues of CPUs 0 and 1.
  mem.u64(OFFSETS, BASE0).u64(OFFSETS + 8n, BASE1);
  mem.u64(BASE0 + CURRENT, taskAt(1)).u64(BASE1 + CURRENT, taskAt(2));
  mem.u32(BASE0 + RUNQUEUES, 3).u32(BASE1 + RUNQUEUES, 5).u32(BASE1 + RUNQUEUES + 4n, 1);
  mem.u64(BASE0 + HOT, taskAt(3)).u64(BASE1 + HOT, taskAt(4));
  return mem;
}

const globals = [
  variable('init_task', task, at(INIT)),
  variable('__per_cpu_offset', array(T.ulong, 2), at(OFFSETS)),
  variable('current_task', ptr(task), at(CURRENT)),
  variable('runqueues', rq, at(RUNQUEUES)),
];
const types = { 'struct task_struct': task, 'struct list_head': listHead, 'struct rq': rq };

function context(mem: FakeMemory, o: { tlsBase?: bigint; cpu?: number; hot?: boolean; maxTasks?: number } = {}): ExprContext {
  const vars = o.hot ? [...globals.filter((g) => g.name !== 'current_task'), variable('pcpu_hot', pcpuHot, at(HOT))] : globals;
  return { frame: fakeFrame(mem, { tlsBase: o.tlsBase }), scopes: [], debug: fakeDebug({ globals: vars, types }), linux: { cpu: o.cpu, maxTasks: o.maxTasks } };
}
const show = (text: string, ctx: ExprContext): string => formatValue(evaluateExpression(text, ctx));

test('current: this CPU\'s current_task through the GS base', () => {
  const ctx = context(kernel(), { tlsBase: BASE1 });
  assert.equal(show('current->pid', ctx), '2');
  assert.equal(show('current->comm', ctx), '"kthreadd"');
  assert.equal(show('current', ctx), '0xffff888000102000');
});

test('current: a user GS base (or none) falls back to __per_cpu_offset[linux.cpu]', () => {
  assert.equal(show('current->pid', context(kernel(), { tlsBase: 0x7f0000001000n, cpu: 0 })), '1');
  assert.equal(show('current->pid', context(kernel(), { cpu: 1 })), '2');
});

test('current: newer kernels keep it in pcpu_hot', () => {
  assert.equal(show('current->comm', context(kernel(), { tlsBase: BASE0, hot: true })), '"worker"');
  assert.equal(show('current->pid', context(kernel(), { tlsBase: BASE1, hot: true })), '4');
});

test('per_cpu and per_cpu_ptr: another CPU\'s copy', () => {
  const ctx = context(kernel(), { tlsBase: BASE0 });
  assert.equal(show('per_cpu(runqueues, 0).nr_running', ctx), '3');
  assert.equal(show('per_cpu(runqueues, 1).nr_running + per_cpu(runqueues, 1).cpu', ctx), '6');
  assert.equal(show('per_cpu(current_task, 1)->comm', ctx), '"kthreadd"');
  assert.equal(show('per_cpu_ptr(&runqueues, 1)->nr_running', ctx), '5');
  assert.throws(() => evaluateExpression('per_cpu(runqueues, 2)', ctx), { message: 'there is no cpu 2 (this kernel has at most 2)' });
  assert.throws(() => evaluateExpression('per_cpu(runqueues)', ctx), { message: 'per_cpu takes 2 arguments: per_cpu(var, cpu)' });
  assert.throws(() => evaluateExpression('per_cpu(1 + 2, 0)', ctx), { message: "'1 + 2' is not a variable in memory, so it has no per-cpu copies" });
});

test('container_of and offsetof', () => {
  const ctx = context(kernel(), { tlsBase: BASE0 });
  assert.equal(show('offsetof(struct task_struct, tasks)', ctx), '32');
  assert.equal(show('offsetof(struct task_struct, tasks.prev)', ctx), '40');
  assert.equal(show('container_of(init_task.tasks.next, struct task_struct, tasks)->pid', ctx), '1');
  assert.equal(show('container_of(current->tasks.next->next, struct task_struct, tasks)->comm', ctx), '"worker"');
  assert.throws(() => evaluateExpression('container_of(current, struct task_struct, nosuch)', ctx), { message: "no member 'nosuch' in struct task_struct" });
  assert.throws(() => evaluateExpression('container_of(current, task_struct, tasks)', ctx), { message: "argument 2 of container_of must be a type, like 'struct task_struct'" });
});

test('$task(pid): init_task, leaders, threads; a missing pid is one sentence', () => {
  const ctx = context(kernel());
  assert.equal(show('$task(0)->comm', ctx), '"swapper/0"');
  assert.equal(show('$task(2)->comm', ctx), '"kthreadd"');
  assert.equal(show('$task(4)->comm', ctx), '"worker-thread"');
  assert.equal(show('$task(4)->tgid', ctx), '3');
  assert.throws(() => evaluateExpression('$task(99)', ctx), (e: Error) => e instanceof ExprError && e.message === 'no task has pid 99');
});

test('$streq for conditions on names; completions through the helpers', () => {
  const ctx = context(kernel(), { tlsBase: BASE1 });
  assert.equal(evaluateCondition('$streq(current->comm, "kthreadd")', ctx), true);
  assert.equal(evaluateCondition('$streq(current->comm, "kthread")', ctx), false);
  assert.equal(evaluateCondition('$streq($task(3)->comm, $task(4)->comm)', ctx), false);
  assert.equal(evaluateCondition('!$streq("a", "a") == 0', ctx), true);
  assert.throws(() => evaluateExpression('$streq(current->pid, "x")', ctx), { message: "'current->pid' is not a string (a char array or char pointer)" });
  assert.deepEqual(completions('$task(1)->co', ctx).map((c) => c.label), ['comm']);
  assert.deepEqual(completions('current->ta', ctx).map((c) => c.label), ['tasks']);
  assert.deepEqual(completions('per_cpu(runqueues, 1).', ctx).map((c) => c.label), ['nr_running', 'cpu']);
});

test('hostile task lists end: a cycle not through the head, a bound, a broken pointer', () => {
  const cyclic = kernel();
  cyclic.u64(taskAt(2) + 32n, taskAt(1) + 32n); // 1 -> 2 -> 1 -> ...
  assert.throws(() => evaluateExpression('$task(77)', context(cyclic)), { message: 'no task has pid 77' });
  assert.equal(show('$task(2)->pid', context(cyclic)), '2');
  assert.throws(() => evaluateExpression('$task(3)', context(kernel(), { maxTasks: 2 })), { message: 'no task has pid 3 among the first 2 tasks (the walk stops there)' });
  const broken = kernel();
  broken.u64(taskAt(1) + 32n, 0xdead000000n);
  assert.throws(() => evaluateExpression('$task(3)', context(broken)), { message: 'the task list at 0xdead000000: cannot read 8 bytes at 0xdead000000 (not mapped)' });
  const self = kernel();
  self.u64(INIT + 32n, taskAt(1) + 32n).u64(taskAt(1) + 32n, taskAt(1) + 32n);
  assert.throws(() => evaluateExpression('$task(9)', context(self)), { message: 'no task has pid 9' });
});

test('without the kernel\'s variables the helpers say what is missing', () => {
  const ctx: ExprContext = { frame: fakeFrame(new FakeMemory()), scopes: [], debug: fakeDebug({}) };
  assert.throws(() => evaluateExpression('$task(1)', ctx), { message: "$task needs the kernel's 'init_task', which its DWARF does not describe" });
  assert.throws(() => evaluateExpression('current', ctx), { message: "no symbol 'current' here" });
});
