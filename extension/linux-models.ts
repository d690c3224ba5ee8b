/**
 * The data models of the Linux views (Tasks, Kernel Log, Modules): plain nodes
 * built from the kvm/tasks, kvm/dmesg and modules bodies, and the log kept across
 * incremental reads. No VS Code here, so they are unit-tested directly.
 */
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { DmesgBody, DmesgRecord, TasksBody } from '../debug-adapter/protocol-extensions';

export interface TaskNode {
  pid: number;
  label: string;
  description: string;
  tooltip: string;
  icon: string;
}

export function tasksModel(b: TasksBody): TaskNode[] {
  return b.tasks.map((t) => {
    const running = t.runningOn !== undefined;
    const cpu = t.cpu !== undefined ? `CPU ${t.cpu}` : 'CPU ?';
    return {
      pid: t.pid,
      label: `${t.pid}  ${t.comm}`,
      description: `${t.state}  ${cpu}${running ? `  ▶ running on vCPU ${t.runningOn}` : ''}${t.pid !== t.tgid ? `  (thread of ${t.tgid})` : ''}`,
      tooltip: `pid ${t.pid}, tgid ${t.tgid}, ${t.comm}, state ${t.state}, ${cpu}${running ? `, running on vCPU ${t.runningOn}` : ''}; task_struct at ${t.address}. Click: show its stack.`,
      icon: running ? 'debug-start' : t.selected ? 'debug-stackframe-focused' : t.state === 'R' ? 'circle-filled' : 'circle-outline',
    };
  });
}

export const LEVEL_NAMES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

export function levelIcon(level: number): string {
  return level <= 3 ? 'error' : level === 4 ? 'warning' : level <= 6 ? 'info' : 'debug';
}

export function timestamp(tsNsec: string): string {
  const ns = BigInt(tsNsec);
  return `[${(ns / 1_000_000_000n).toString().padStart(5, ' ')}.${((ns % 1_000_000_000n) / 1000n).toString().padStart(6, '0')}]`;
}

export interface LogNode { seq: number; label: string; description: string; tooltip: string; icon: string }

export function logNode(r: DmesgRecord): LogNode {
  const text = r.text.replace(/\n+$/, '');
  const level = LEVEL_NAMES[r.level] ?? `level ${r.level}`;
  return {
    seq: r.seq,
    label: `${timestamp(r.tsNsec)} ${text.split('\n')[0]}`,
    description: level,
    tooltip: `${timestamp(r.tsNsec)} <${r.level}> ${level}, facility ${r.facility}${r.callerId !== undefined ? `, caller ${callerText(r.callerId)}` : ''}, record ${r.seq}\n${text}`,
    icon: levelIcon(r.level),
  };
}

/** The kernel's caller_id: a task's pid, or a CPU (bit 31 set) for a message from interrupt context. */
function callerText(id: number): string {
  return id & 0x8000_0000 ? `CPU ${id & 0x7fff_ffff}` : `T${id}`;
}

/** The kernel log as the view keeps it: records by sequence number, the newest `max`. */
export class KernelLog {
  private records: DmesgRecord[] = [];

  constructor(private readonly max = 10_000) {}

  /** The afterSeq of the next incremental read (undefined: read it all). */
  get lastSeq(): number | undefined {
    return this.records.at(-1)?.seq;
  }

  /** A full read replaces what is kept; an incremental one appends what is new. */
  apply(body: DmesgBody, incremental: boolean): void {
    if (!incremental) this.records = [...body.records];
    else {
      const last = this.lastSeq ?? -1;
      this.records.push(...body.records.filter((r) => r.seq > last));
    }
    if (this.records.length > this.max) this.records = this.records.slice(this.records.length - this.max);
  }

  clear(): void {
    this.records = [];
  }

  nodes(): LogNode[] {
    return this.records.map(logNode);
  }
}

export interface ModuleNode {
  label: string;
  description: string;
  tooltip: string;
  icon: string;
}

/** The Modules view's rows from DAP's modules response: the kernel first, then each module with its addresses and whether its symbols are loaded. */
export function modulesModel(modules: readonly DebugProtocol.Module[]): ModuleNode[] {
  return modules.map((m) => {
    const loaded = (m.symbolStatus ?? '').startsWith('Symbols loaded');
    return {
      label: m.name,
      description: [m.addressRange, m.symbolStatus].filter(Boolean).join('  '),
      tooltip: [`${m.name}${m.addressRange ? ` at ${m.addressRange}` : ''}`, m.symbolStatus, m.symbolFilePath ?? m.path].filter(Boolean).join('\n'),
      icon: loaded ? 'symbol-module' : 'warning',
    };
  });
}
