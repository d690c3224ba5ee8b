/**
 * The Linux kernel's own ways of reaching its data, as the debugger's
 * helpers (the names kernel developers type into gdb's lx- scripts):
 *
 *   current                        the running task_struct (per-cpu current_task, or pcpu_hot.current_task)
 *   per_cpu(var, cpu)              another CPU's copy of a per-cpu variable
 *   per_cpu_ptr(ptr, cpu)          the same for a pointer to per-cpu data
 *   container_of(ptr, type, member)
 *   offsetof(type, member)
 *   $task(pid)                     the task_struct with that pid (walks init_task.tasks, bounded)
 *   $streq(a, b)                   C strings equal (char arrays, char pointers, literals)
 *
 * A per-cpu variable's "address" is an offset into a CPU's per-cpu area: on
 * x86-64 the area of the CPU running is at the GS base (frame.tlsBase), and
 * any CPU's at __per_cpu_offset[cpu]. A GS base outside the kernel half
 * (stopped in user mode, or before swapgs) is not the kernel's, so then
 * __per_cpu_offset[linux.cpu] is used.
 */
import type { CType } from '../dwarf/model';
import { arrayElement, BASE, findMember, isCharType, isIntegral, isRecord, pointerTo, sizeOf, strip, type FoundMember } from '../variables/ctype';
import { typeName } from '../variables/type-name';
import { readCString } from '../variables/c-string';
import { addressOf, intRvalue, intValue, memberValue, memoryValue, readBytes, ValueError, type Value } from '../variables/value';
import { isTypeSyntax, type Expr, type TypeSyntax } from './ast';
import { lookupVariable } from './context';
import { ExprError } from './errors';
import type { Evaluator } from './evaluate';
import { KERNEL_HALF } from '../linux/kernel-memory';


function global(ev: Evaluator, name: string): Value | undefined {
  const v = lookupVariable(ev.ctx, name);
  return v ? { type: v.type(), location: v.location(ev.ctx.frame), frame: ev.ctx.frame } : undefined;
}

function need(ev: Evaluator, name: string, helper: string): Value {
  const v = global(ev, name);
  if (!v) throw new ExprError(`${helper} needs the kernel's '${name}', which its DWARF does not describe`);
  return v;
}

/** Reads an integer, turning a reading problem into a sentence that names what was being read. */
function read(v: Value, what: string): bigint {
  try {
    return intValue(v);
  } catch (e) {
    if (e instanceof ValueError) throw new ExprError(`${what}: ${e.message}`);
    throw e;
  }
}

/** The per-cpu offset of `cpu` (undefined: the CPU this frame runs on). */
function perCpuBase(ev: Evaluator, cpu: bigint | undefined): bigint {
  if (cpu === undefined) {
    const gs = ev.ctx.frame.tlsBase?.();
    if (gs !== undefined && gs >= KERNEL_HALF) return gs;
    cpu = BigInt(ev.ctx.linux?.cpu ?? 0);
  }
  const offsets = global(ev, '__per_cpu_offset');
  // A kernel built without SMP has no per-cpu areas: its per-cpu variables are plain ones.
  if (!offsets) {
    if (cpu === 0n) return 0n;
    throw new ExprError(`per-cpu data of cpu ${cpu} needs the kernel's '__per_cpu_offset', which its DWARF does not describe`);
  }
  const t = strip(offsets.type);
  const count = t.kind === 'array' ? t.counts[0] : undefined;
  if (cpu < 0n || (count !== undefined && cpu >= BigInt(count))) throw new ExprError(`there is no cpu ${cpu} (this kernel has at most ${count})`);
  const address = addressOf(offsets);
  if (t.kind !== 'array' || address === undefined) throw new ExprError(`the kernel's '__per_cpu_offset' is not an array in memory`);
  const element = arrayElement(t);
  return read(memoryValue(element, address + cpu * BigInt(sizeOf(element)), ev.ctx.frame), `__per_cpu_offset[${cpu}]`);
}

function perCpuValue(ev: Evaluator, v: Value, what: string, cpu: bigint | undefined): Value {
  const address = addressOf(v);
  if (address === undefined) throw new ExprError(`'${what}' is not a variable in memory, so it has no per-cpu copies`);
  return memoryValue(v.type, BigInt.asUintN(64, address + perCpuBase(ev, cpu)), ev.ctx.frame);
}

/** `current`: undefined when the kernel's DWARF has neither current_task nor pcpu_hot. */
export function currentTask(ev: Evaluator): Value | undefined {
  const task = global(ev, 'current_task');
  if (task) return perCpuValue(ev, task, 'current_task', undefined);
  const hot = global(ev, 'pcpu_hot');
  const ht = hot && strip(hot.type);
  const m = ht && isRecord(ht) ? findMember(ht, 'current_task') : undefined;
  if (hot && m) return memberValue(perCpuValue(ev, hot, 'pcpu_hot', undefined), m);
  return undefined;
}

export function callHelper(ev: Evaluator, e: Expr & { k: 'call' }): Value {
  const frame = ev.ctx.frame;
  const args = e.args;
  const arity = (n: number, usage: string): void => {
    if (args.length !== n) throw new ExprError(`${e.callee} takes ${n} argument${n === 1 ? '' : 's'}: ${usage}`);
  };
  const expr = (i: number): Expr => {
    const a = args[i];
    if (isTypeSyntax(a)) throw new ExprError(`argument ${i + 1} of ${e.callee} is a type where a value belongs`);
    return a;
  };
  const type = (i: number): CType => {
    const a = args[i];
    if (isTypeSyntax(a)) return ev.type(a);
    // A struct name the parser could not know is a type (`container_of(p, task_struct, tasks)` is not C, but say so).
    throw new ExprError(`argument ${i + 1} of ${e.callee} must be a type, like 'struct task_struct'`);
  };
  const integer = (i: number): bigint => {
    const v = ev.eval(expr(i));
    if (!isIntegral(v.type)) throw new ExprError(`argument ${i + 1} of ${e.callee} must be an integer`);
    return ev.int(expr(i), v);
  };
  switch (e.callee) {
    case 'per_cpu': {
      arity(2, 'per_cpu(var, cpu)');
      return perCpuValue(ev, ev.eval(expr(0)), ev.text(expr(0)), integer(1));
    }
    case 'per_cpu_ptr': {
      arity(2, 'per_cpu_ptr(ptr, cpu)');
      const p = ev.decay(expr(0), ev.eval(expr(0)));
      if (strip(p.type).kind !== 'pointer') throw new ExprError(`'${ev.text(expr(0))}' is not a pointer`);
      return intRvalue(p.type, ev.int(expr(0), p) + perCpuBase(ev, integer(1)), frame);
    }
    case 'container_of': {
      arity(3, 'container_of(ptr, type, member)');
      const p = ev.decay(expr(0), ev.eval(expr(0)));
      if (strip(p.type).kind !== 'pointer' && !isIntegral(p.type)) throw new ExprError(`'${ev.text(expr(0))}' is not a pointer`);
      const t = type(1);
      const offset = offsetOf(ev, t, expr(2));
      return intRvalue(pointerTo(t, frame.addressSize), BigInt.asUintN(64, ev.int(expr(0), p) - BigInt(offset)), frame);
    }
    case 'offsetof': {
      arity(2, 'offsetof(type, member)');
      return intRvalue(BASE.unsignedLong, BigInt(offsetOf(ev, type(0), expr(1))), frame);
    }
    case '$task': {
      arity(1, '$task(pid)');
      return findTask(ev, integer(0));
    }
    case '$streq': {
      // gdb's $_streq: what breakpoint conditions on names need (`$streq(current->comm, "bash")`); C's == compares addresses.
      arity(2, '$streq(a, b)');
      return ev.boolResult(cString(ev, expr(0)) === cString(ev, expr(1)));
    }
  }
  throw new ExprError(`'${e.callee}' cannot be called: only the debugger's helpers can (per_cpu, per_cpu_ptr, container_of, offsetof, $task, $streq)`);
}

/** A C string argument (a char array, a char pointer or a literal) as text, up to 4096 bytes. */
function cString(ev: Evaluator, e: Expr): string {
  const v = ev.eval(e);
  const t = strip(v.type);
  if (t.kind === 'array' && isCharType(arrayElement(t)) && v.location.kind !== 'memory') {
    const bytes = ev.guard(e, () => readBytes(v));
    const nul = bytes.indexOf(0);
    return Buffer.from(nul >= 0 ? bytes.subarray(0, nul) : bytes).toString('latin1');
  }
  const p = ev.decay(e, v);
  const pt = strip(p.type);
  if (pt.kind !== 'pointer' || !isCharType(pt.target())) throw new ExprError(`'${ev.text(e)}' is not a string (a char array or char pointer)`);
  const address = ev.int(e, p);
  return ev.guard(e, () => Buffer.from(readCString(ev.ctx.frame, address, 4096).bytes).toString('latin1'));
}

/** The offset of a member designator (`tasks`, `se.group_node`, `pids[1]`) in `type`. */
function offsetOf(ev: Evaluator, type: CType, designator: Expr | TypeSyntax): number {
  if (isTypeSyntax(designator)) throw new ExprError(`'${designator.k}' is not a member name`);
  const path = (d: Expr): { type: CType; offset: number } => {
    if (d.k === 'id') return step(ev, { type, offset: 0 }, d.name);
    if (d.k === 'member' && !d.arrow) return step(ev, path(d.object), d.member);
    if (d.k === 'index' && d.index.k === 'int') {
      const outer = path(d.object);
      const t = strip(outer.type);
      if (t.kind !== 'array') throw new ExprError(`'${ev.text(d.object)}' is not an array`);
      const element = arrayElement(t);
      return { type: element, offset: outer.offset + Number(d.index.value) * sizeOf(element) };
    }
    throw new ExprError(`'${ev.text(d)}' is not a member of ${typeName(type)}`);
  };
  return path(designator).offset;
}

function step(_ev: Evaluator, from: { type: CType; offset: number }, name: string): { type: CType; offset: number } {
  const t = strip(from.type);
  if (!isRecord(t)) throw new ExprError(`${typeName(from.type)} is not a struct or union, so it has no member '${name}'`);
  const m: FoundMember | undefined = findMember(t, name);
  if (!m) throw new ExprError(`no member '${name}' in ${typeName(t)}`);
  if (m.bitSize !== undefined) throw new ExprError(`'${name}' is a bitfield, which has no offset in bytes`);
  return { type: m.type, offset: from.offset + m.offset };
}

/**
 * `$task(pid)`: init_task, then the tasks on its `tasks` list (thread-group
 * leaders), then each leader's threads (`signal->thread_head`, when the
 * kernel has it). Bounded by linux.maxTasks, and a list that loops back
 * anywhere but its head ends the walk: a stop in the middle of fork, or
 * damaged memory, never hangs the debugger.
 */
function findTask(ev: Evaluator, pid: bigint): Value {
  const frame = ev.ctx.frame;
  const init = need(ev, 'init_task', '$task');
  const tt = strip(init.type);
  const base = addressOf(init);
  if (!isRecord(tt) || base === undefined) throw new ExprError(`the kernel's 'init_task' is not a struct in memory`);
  const tasks = member(tt, 'tasks', '$task');
  const pidMember = member(tt, 'pid', '$task');
  const taskPtr = pointerTo(init.type, frame.addressSize);
  const budget = { left: ev.ctx.linux?.maxTasks ?? 10_000, walked: 0 };
  const pidOf = (task: bigint): bigint => read(memberValue(memoryValue(init.type, task, frame), pidMember), `the pid of the task at 0x${task.toString(16)}`);
  const found = (task: bigint): Value => intRvalue(taskPtr, task, frame);

  if (pidOf(base) === pid) return found(base);
  const leaders = walkList(ev, base + BigInt(tasks.offset), tasks.offset, budget);
  for (const t of leaders) if (pidOf(t) === pid) return found(t);
  const signal = findMember(tt, 'signal');
  const threadNode = findMember(tt, 'thread_node');
  const signalType = signal && strip(signal.type).kind === 'pointer' ? strip((strip(signal.type) as { target: () => CType }).target()) : undefined;
  const threadHead = signalType && isRecord(signalType) ? findMember(signalType, 'thread_head') : undefined;
  if (signal && threadNode && threadHead) {
    for (const leader of [base, ...leaders]) {
      const sig = read(memberValue(memoryValue(init.type, leader, frame), signal), `the signal_struct of the task at 0x${leader.toString(16)}`);
      if (sig === 0n) continue;
      for (const t of walkList(ev, sig + BigInt(threadHead.offset), threadNode.offset, budget)) if (pidOf(t) === pid) return found(t);
    }
  }
  if (budget.left <= 0) throw new ExprError(`no task has pid ${pid} among the first ${budget.walked} tasks (the walk stops there)`);
  throw new ExprError(`no task has pid ${pid}`);
}

function member(t: CType, name: string, helper: string): FoundMember {
  const m = isRecord(t) ? findMember(t, name) : undefined;
  if (!m) throw new ExprError(`${helper} needs member '${name}' of ${typeName(t)}, which this kernel's DWARF does not have`);
  return m;
}

/** The structs on a list_head list from `head`, each found `offset` bytes before its list node. */
function walkList(ev: Evaluator, head: bigint, offset: number, budget: { left: number; walked: number }): bigint[] {
  const frame = ev.ctx.frame;
  const out: bigint[] = [];
  const seen = new Set<bigint>([head]);
  const next = (node: bigint): bigint => read(memoryValue(pointerTo(BASE.unsignedLong, frame.addressSize), node, frame), `the task list at 0x${node.toString(16)}`);
  for (let node = next(head); node !== head && budget.left > 0; node = next(node)) {
    if (seen.has(node) || node === 0n) break;
    seen.add(node);
    budget.left--;
    budget.walked++;
    out.push(BigInt.asUintN(64, node - BigInt(offset)));
  }
  return out;
}
