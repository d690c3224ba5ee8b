/**
 * The session's Linux-aware parts: the Debug Console's kernel commands
 * (ps, dmesg, cmdline, version, iomem, per-cpu, help; linux/commands.ts),
 * the kvm/dmesg, kvm/tasks and kvm/selectTask requests of the Tasks and
 * Kernel Log views, and the selected task as an extra thread whose stack is
 * unwound from its saved registers (linux/task-stack.ts).
 *
 * Everything reads guest RAM directly (linux/kernel-memory.ts), so it works
 * while the guest runs as well as at a stop; a kernel whose DWARF lacks what
 * a command needs answers one sentence, the rest of the session unaffected.
 */
import { StoppedEvent, ThreadEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { Regs } from '../../native/types';
import type { FrameContext } from '../dwarf/model';
import type { ExprContext } from '../expr';
import { linuxCommands, type CommandEnv, type ConsoleCommands } from '../linux/commands';
import { readKernelLog } from '../linux/dmesg';
import { Kernel, LinuxError } from '../linux/kernel';
import { kernelMemory } from '../linux/kernel-memory';
import { findTask, listTasks } from '../linux/tasks';
import { savedRegisters } from '../linux/task-stack';
import type { DmesgArgs, DmesgBody, SelectTaskArgs, SelectTaskBody, TasksBody } from '../protocol-extensions';
import { RequestError, type SessionState } from './state';

/** The selected task's thread: far above any vCPU's thread id. */
export const TASK_THREAD_ID = 10_000;
const NAME_INDEX_WAIT_MS = 20_000;

export type LinuxRequestName = 'kvm/dmesg' | 'kvm/tasks' | 'kvm/selectTask';
const LINUX_REQUESTS: readonly string[] = ['kvm/dmesg', 'kvm/tasks', 'kvm/selectTask'];

export class LinuxRequests {
  /** The console's kernel commands; others (lsmod) are added here. */
  readonly commands: ConsoleCommands = linuxCommands();
  /** The selected task's registers as of this stop (cleared at every stop and resume). */
  private taskRegs?: Promise<Regs>;
  private selected?: { pid: number; address: bigint; name: string };

  constructor(private readonly state: SessionState) {}

  /** The kernel's memory and DWARF, now (stopped or running). */
  async kernel(): Promise<Kernel> {
    const { symbols, machine, vcpu } = this.state;
    if (!machine || !vcpu) throw new LinuxError('no VM is running (launch one first)');
    if (machine.ended) throw new LinuxError(`the VM has ended: ${machine.ended.message}`);
    const debug = symbols?.debug;
    if (!symbols || !debug) throw new LinuxError('the kernel commands read the kernel through its DWARF: give launch.json "symbols" a vmlinux built with debug info');
    const names = symbols.names;
    if (names?.state === 'building') {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([names.ready, new Promise((r) => { timer = setTimeout(r, NAME_INDEX_WAIT_MS); })]);
      clearTimeout(timer);
    }
    const read = kernelMemory({ memory: machine.memory, paging: vcpu.paging, stopped: vcpu.state === 'stopped', initTopPgt: symbols.addressOf('init_top_pgt'), l5Enabled: symbols.addressOf('__pgtable_l5_enabled') });
    const frame: FrameContext = {
      pc: 0n, innermost: true, addressSize: 8,
      register: () => undefined,
      cfa: () => undefined,
      readMemory: read,
      relocate: (a) => symbols.toRuntime(a),
      // No GS base: per-cpu data is reached through __per_cpu_offset[cpu].
      tlsBase: () => undefined,
    };
    const ctx: ExprContext = { frame, scopes: [], debug, symbolAddress: (n) => symbols.addressOf(n), linux: { cpu: vcpu.id } };
    return new Kernel(ctx);
  }

  private env(): CommandEnv {
    return { kernel: () => this.kernel(), cpus: this.state.machine?.cpus ?? 1 };
  }

  /** Whether a Debug Console line is a kernel command (else it is a C expression). */
  isCommand(text: string): boolean {
    return this.commands.parse(text) !== undefined;
  }

  async evaluate(text: string): Promise<DebugProtocol.EvaluateResponse['body']> {
    const result = await this.commands.run(text, this.env());
    return { result: result ?? '', variablesReference: 0 };
  }

  handles(command: string): command is LinuxRequestName {
    return LINUX_REQUESTS.includes(command);
  }

  async handle(command: LinuxRequestName, args: Record<string, unknown>): Promise<unknown> {
    try {
      switch (command) {
        case 'kvm/dmesg': return await this.dmesg(args as DmesgArgs);
        case 'kvm/tasks': return await this.tasks();
        case 'kvm/selectTask': return await this.selectTask(args as unknown as SelectTaskArgs);
      }
    } catch (e) {
      if (e instanceof LinuxError) throw new RequestError(e.message);
      throw e;
    }
  }

  private async dmesg(args: DmesgArgs): Promise<DmesgBody> {
    const afterSeq = typeof args.afterSeq === 'number' ? args.afterSeq : undefined;
    const last = typeof args.last === 'number' ? args.last : undefined;
    const log = readKernelLog(await this.kernel(), { afterSeq, last });
    return {
      source: log.source,
      nextSeq: log.nextSeq,
      live: this.state.vcpu?.state !== 'stopped',
      records: log.records.map((r) => ({
        seq: r.seq, tsNsec: r.tsNsec.toString(), level: r.level, facility: r.facility, callerId: r.callerId, text: r.text,
      })),
    };
  }

  private async tasks(): Promise<TasksBody> {
    const list = listTasks(await this.kernel(), { cpus: this.state.machine?.cpus ?? 1 });
    return {
      tasks: list.tasks.map((t) => ({
        pid: t.pid, tgid: t.tgid, comm: t.comm, state: t.state, cpu: t.cpu, runningOn: t.runningOn, address: '0x' + t.address.toString(16),
        selected: this.selected?.address === t.address,
      })),
      problem: list.problem,
      live: this.state.vcpu?.state !== 'stopped',
    };
  }

  /**
   * Selects a task: a running one is its vCPU's thread; any other becomes
   * the extra thread "task PID NAME", its stack unwound from its saved
   * registers. At a stop the client is told to show it (a stopped event on it).
   */
  private async selectTask(args: SelectTaskArgs): Promise<SelectTaskBody> {
    if (typeof args.pid !== 'number' || !Number.isInteger(args.pid)) throw new RequestError('"pid" must be an integer (the task\'s pid)');
    const k = await this.kernel();
    const task = findTask(k, args.pid, { cpus: this.state.machine?.cpus ?? 1 });
    const stopped = this.state.vcpu?.state === 'stopped';
    if (task.runningOn !== undefined && this.state.vcpu?.hasThread(task.runningOn + 1)) {
      return { threadId: task.runningOn + 1, name: `vCPU ${task.runningOn}`, running: true };
    }
    const regs = savedRegisters(k, task.address);
    const name = `task ${task.pid} ${task.comm}`;
    this.selected = { pid: task.pid, address: task.address, name };
    this.taskRegs = Promise.resolve(regs);
    this.state.taskThread = { threadId: TASK_THREAD_ID, vcpu: TASK_THREAD_ID - 1, name, regs: () => this.currentRegs() };
    this.state.send(new ThreadEvent('started', TASK_THREAD_ID));
    if (stopped) {
      const ev = new StoppedEvent('pause', TASK_THREAD_ID, `${name} selected`) as DebugProtocol.StoppedEvent;
      ev.body.allThreadsStopped = true;
      ev.body.description = `Showing ${name}`;
      ev.body.preserveFocusHint = false;
      this.state.send(ev);
    }
    return { threadId: TASK_THREAD_ID, name, running: false };
  }

  /** The selected task's saved registers, read again after the guest ran. */
  private currentRegs(): Promise<Regs> {
    const sel = this.selected;
    if (!sel) return Promise.reject(new RequestError('no task is selected'));
    this.taskRegs ??= this.kernel().then((k) => savedRegisters(k, sel.address));
    return this.taskRegs;
  }

  /** The guest ran: the selected task's registers may have changed. */
  invalidate(): void {
    this.taskRegs = undefined;
  }
}
