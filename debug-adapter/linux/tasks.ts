/**
 * The kernel's tasks as `ps` lists them: init_task, every thread-group
 * leader on init_task.tasks, and each leader's threads (signal->thread_head
 * through thread_node, or the older thread_group ring), each with pid,
 * tgid, comm, state letter, CPU, and whether a vCPU is running it now
 * (per-cpu current_task, or pcpu_hot.current_task on 6.2+).
 *
 * Hostile lists: at most `maxTasks` tasks, each node visited once (a cycle
 * that does not come back to its head ends the walk), a node that cannot
 * be read ends that list; either way the tasks found so far are kept and
 * `problem` says what happened, in one sentence.
 */
import { evaluateExpression, ExprError } from '../expr';
import type { CType } from '../dwarf/model';
import { intValue, type Value } from '../variables/value';
import { strip } from '../variables/ctype';
import { Kernel, LinuxError, memberOf } from './kernel';

export interface TaskInfo {
  /** The task_struct's address. */
  address: bigint;
  pid: number;
  tgid: number;
  comm: string;
  /** ps's letter: R S D T t X Z P I. */
  state: string;
  cpu?: number;
  /** The vCPU running it now (its per-cpu current task), when one is. */
  runningOn?: number;
}

export interface TaskList {
  tasks: TaskInfo[];
  /** Why the walk ended early (a damaged list, the bound), when it did. */
  problem?: string;
}

export interface TaskOptions {
  maxTasks?: number;
  /** How many CPUs to look at for the running task (the machine's vCPUs). */
  cpus?: number;
}

const FEATURE = 'the task list';
const DEFAULT_MAX_TASKS = 10_000;

// include/linux/sched.h: the bits ps reports, TASK_REPORT, and TASK_IDLE's.
const TASK_REPORT = 0x7f;
const TASK_NOLOAD = 0x400;
const TASK_UNINTERRUPTIBLE = 0x2;
const TASK_RTLOCK_WAIT = 0x1000;
const STATE_LETTERS = 'RSDTtXZPI';

/** ps's state letter from a task's state and exit_state (the kernel's __task_state_index). */
export function stateLetter(state: number, exitState: number): string {
  let s = (state | exitState) & TASK_REPORT;
  if ((state & (TASK_UNINTERRUPTIBLE | TASK_NOLOAD)) === (TASK_UNINTERRUPTIBLE | TASK_NOLOAD)) s = TASK_REPORT + 1;
  if (state === TASK_RTLOCK_WAIT) s = TASK_UNINTERRUPTIBLE;
  const index = s === 0 ? 0 : 32 - Math.clz32(s);
  return STATE_LETTERS[index] ?? '?';
}

export function listTasks(k: Kernel, options: TaskOptions = {}): TaskList {
  const init = k.need('init_task', FEATURE);
  const initAddress = k.address(init, "the kernel's init_task");
  const taskType = init.type;
  const tasksMember = memberOf(taskType, 'tasks');
  if (!tasksMember) throw new LinuxError("the task list needs member 'tasks' of struct task_struct, which this kernel's DWARF does not have");
  const tasksOffset = BigInt(tasksMember.offset);
  const budget = { left: options.maxTasks ?? DEFAULT_MAX_TASKS, problem: undefined as string | undefined };
  const addresses: bigint[] = [initAddress];
  const leaders = walkList(k, initAddress + tasksOffset, tasksOffset, budget, 'init_task.tasks');
  addresses.push(...leaders);
  const seen = new Set(addresses);

  // Threads: signal->thread_head through thread_node (2014+), or the thread_group ring of older kernels.
  const signal = memberOf(taskType, 'signal');
  const signalTarget = signal && strip(signal.type).kind === 'pointer' ? (strip(signal.type) as { target: () => CType }).target() : undefined;
  const threadHead = signalTarget ? memberOf(signalTarget, 'thread_head') : undefined;
  const threadNode = memberOf(taskType, 'thread_node');
  const threadGroup = memberOf(taskType, 'thread_group');
  for (const leader of [initAddress, ...leaders]) {
    if (budget.left <= 0) break;
    let threads: bigint[] = [];
    if (signal && threadHead && threadNode) {
      const sig = k.bytes(leader + BigInt(signal.offset), k.frame.addressSize);
      if (!sig) { budget.problem ??= `the signal_struct pointer of the task at 0x${leader.toString(16)} is unreadable`; continue; }
      const sigAddress = littleEndian(sig);
      if (sigAddress === 0n) continue;
      threads = walkList(k, sigAddress + BigInt(threadHead.offset), BigInt(threadNode.offset), budget, `the thread list of the task at 0x${leader.toString(16)}`);
    } else if (threadGroup) {
      threads = walkList(k, leader + BigInt(threadGroup.offset), BigInt(threadGroup.offset), budget, `the thread list of the task at 0x${leader.toString(16)}`);
    }
    for (const t of threads) if (!seen.has(t)) { seen.add(t); addresses.push(t); }
  }

  const running = runningTasks(k, options.cpus ?? 1);
  const tasks: TaskInfo[] = [];
  for (const address of addresses) {
    try {
      tasks.push(taskInfo(k, k.at(taskType, address), running));
    } catch (e) {
      if (!(e instanceof LinuxError)) throw e;
      budget.problem ??= `the task at 0x${address.toString(16)} is unreadable (${e.message})`;
    }
  }
  tasks.sort((a, b) => a.pid - b.pid);
  return { tasks, problem: budget.problem };
}

/** One task's pid, tgid, comm, state and CPU. */
export function taskInfo(k: Kernel, task: Value, running: Map<bigint, number> = new Map()): TaskInfo {
  const address = k.address(task, 'a task');
  const at = `the task at 0x${address.toString(16)}`;
  const state = Number(k.int(k.firstField(task, ['__state', 'state'], FEATURE), `the state of ${at}`) & 0xffff_ffffn);
  const exitMember = k.member(task, 'exit_state');
  const exitState = exitMember ? Number(k.int(exitMember, `the exit state of ${at}`)) : 0;
  let cpu: number | undefined;
  const cpuMember = k.member(task, 'cpu') ?? (k.member(task, 'thread_info') && k.member(k.member(task, 'thread_info')!, 'cpu'));
  if (cpuMember) cpu = Number(k.int(cpuMember, `the CPU of ${at}`));
  const info: TaskInfo = {
    address,
    pid: Number(k.int(k.field(task, 'pid', FEATURE), `the pid of ${at}`)),
    tgid: Number(k.int(k.field(task, 'tgid', FEATURE), `the tgid of ${at}`)),
    comm: k.text(k.field(task, 'comm', FEATURE), `the name of ${at}`, 16),
    state: stateLetter(state, exitState),
  };
  if (cpu !== undefined) info.cpu = cpu;
  const on = running.get(address);
  if (on !== undefined) info.runningOn = on;
  return info;
}

/**
 * The task each CPU runs now: per_cpu(current_task, N), or
 * per_cpu(pcpu_hot, N).current_task, through the expression helpers.
 */
export function runningTasks(k: Kernel, cpus: number): Map<bigint, number> {
  const out = new Map<bigint, number>();
  const hasCurrentTask = k.global('current_task') !== undefined;
  const expr = hasCurrentTask ? (n: number) => `per_cpu(current_task, ${n})` : (n: number) => `per_cpu(pcpu_hot, ${n}).current_task`;
  if (!hasCurrentTask && !k.global('pcpu_hot')) return out;
  for (let n = 0; n < Math.min(cpus, 4096); n++) {
    try {
      const task = intValue(evaluateExpression(expr(n), k.ctx));
      if (task !== 0n && !out.has(task)) out.set(task, n);
    } catch (e) {
      if (e instanceof ExprError) break;
      throw e;
    }
  }
  return out;
}

/** The task with `pid`, or a LinuxError. */
export function findTask(k: Kernel, pid: number, options: TaskOptions = {}): TaskInfo {
  const list = listTasks(k, options);
  const t = list.tasks.find((x) => x.pid === pid);
  if (!t) throw new LinuxError(`no task has pid ${pid}${list.problem ? ` (${list.problem})` : ''}`);
  return t;
}

function littleEndian(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}

/**
 * The structs on a circular list_head list from `head`, each `offset` bytes
 * before its node: bounded by the budget, each node once.
 */
export function walkList(k: Kernel, head: bigint, offset: bigint, budget: { left: number; problem?: string }, what: string): bigint[] {
  const out: bigint[] = [];
  const seen = new Set<bigint>([head]);
  const word = k.frame.addressSize;
  const next = (node: bigint): bigint | undefined => {
    const b = k.bytes(node, word);
    return b && b.length === word ? littleEndian(b) : undefined;
  };
  let node = next(head);
  if (node === undefined) { budget.problem ??= `${what}: its head at 0x${head.toString(16)} is unreadable`; return out; }
  while (node !== head) {
    if (budget.left <= 0) { budget.problem ??= `the walk stopped after ${out.length} entries of ${what} (the limit)`; break; }
    if (node === 0n) { budget.problem ??= `${what} has a null link after ${out.length} entries`; break; }
    if (seen.has(node)) { budget.problem ??= `${what} loops back to 0x${node.toString(16)} after ${out.length} entries without reaching its head`; break; }
    seen.add(node);
    const after: bigint | undefined = next(node);
    if (after === undefined) { budget.problem ??= `${what} points at 0x${node.toString(16)}, which is unreadable, after ${out.length} entries`; break; }
    budget.left--;
    out.push(BigInt.asUintN(64, node - offset));
    node = after;
  }
  return out;
}

/** One line of `ps`. */
export function formatTask(t: TaskInfo): string {
  const running = t.runningOn !== undefined ? `  <- running on CPU ${t.runningOn}` : '';
  return `${String(t.pid).padStart(7)} ${String(t.tgid).padStart(7)} ${(t.cpu ?? '-').toString().padStart(3)}  ${t.state}  ${t.comm.padEnd(16)} 0x${t.address.toString(16)}${running}`;
}

export const TASK_HEADER = `${'PID'.padStart(7)} ${'TGID'.padStart(7)} ${'CPU'.padStart(3)}  ST ${'COMM'.padEnd(16)} TASK`;
