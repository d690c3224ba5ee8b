/**
 * The Linux views of a kvm session: "Tasks" (the kernel's task list,
 * running ones marked; clicking a task shows its stack as an extra thread
 * in the Call Stack) and "Kernel Log" (dmesg with levels and timestamps).
 * A visible view is read at every stop (exact: the guest is stopped) and
 * polled every POLL_MS while the guest runs; the log incrementally, so a
 * poll or a step's stop costs only the new records. A view opened later
 * reads then. A kernel the adapter cannot read shows the adapter's sentence.
 */
import * as vscode from 'vscode';
import type { SessionHub, SessionState } from '../session-hub';
import { KernelLog, tasksModel, type LogNode, type TaskNode } from '../linux-models';
import { ListTree, type Item } from './list-tree';
import { WhileRunning } from './while-running';

const POLL_MS = 2000;

export class LinuxViews implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly tasks = new ListTree<TaskNode>('Shown for a Linux guest with DWARF (launch.json "symbols": its vmlinux).',
    (t) => ({ command: 'kvmdbg.selectTask', title: 'Show Stack', arguments: [t.pid] }));
  private readonly log = new ListTree<LogNode>('Shown for a Linux guest with DWARF (launch.json "symbols": its vmlinux).');
  private readonly kernelLog = new KernelLog();
  private readonly tasksView: vscode.TreeView<Item<TaskNode>>;
  private readonly logView: vscode.TreeView<Item<LogNode>>;
  private readonly poller: WhileRunning;
  private session?: string;
  private polling = false;

  constructor(private readonly hub: SessionHub) {
    this.tasksView = vscode.window.createTreeView('kvmdbg.tasks', { treeDataProvider: this.tasks });
    this.logView = vscode.window.createTreeView('kvmdbg.kernelLog', { treeDataProvider: this.log });
    this.poller = new WhileRunning(hub, POLL_MS, (st) => void this.refresh(st));
    this.disposables.push(
      this.tasksView, this.logView,
      hub.onDidChange((st) => this.onState(st)),
      // A view opened while the guest is stopped reads then (a stop refreshes only what is visible: steps stay quick).
      this.tasksView.onDidChangeVisibility((e) => { const st = hub.current(); if (e.visible && st?.state === 'paused') void this.loadTasks(st); }),
      this.logView.onDidChangeVisibility((e) => { const st = hub.current(); if (e.visible && st?.state === 'paused') void this.loadLog(st, true); }),
      vscode.commands.registerCommand('kvmdbg.selectTask', (pid: number) => this.selectTask(pid)),
      vscode.commands.registerCommand('kvmdbg.refreshLinuxViews', () => { const st = hub.current(); if (st) void Promise.all([this.loadLog(st, false), this.loadTasks(st)]); }),
    );
  }

  private onState(st: SessionState): void {
    if (this.session !== st.session.id) {
      this.session = st.session.id;
      this.kernelLog.clear();
    }
    this.poller.follow(st);
    if (st.state === 'paused') void this.refresh(st);
  }

  /** Reads what the visible views show (the log incrementally: only records newer than those it has). */
  private async refresh(st: SessionState): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await Promise.all([
        this.logView.visible && this.loadLog(st, true),
        this.tasksView.visible && this.loadTasks(st),
      ]);
    } finally {
      this.polling = false;
    }
  }

  private async loadLog(st: SessionState, incremental: boolean): Promise<void> {
    try {
      const after = incremental ? this.kernelLog.lastSeq : undefined;
      const body = await this.hub.request(st, 'kvm/dmesg', after !== undefined ? { afterSeq: after } : {});
      if (!body) return this.log.message('The debug adapter does not provide the kernel log.');
      this.kernelLog.apply(body, after !== undefined);
      this.log.set(this.kernelLog.nodes());
      // The newest record in sight, as a terminal's dmesg -w would scroll.
      const newest = this.log.last();
      if (newest && this.logView.visible) void this.logView.reveal(newest, { select: false, focus: false });
    } catch (e) {
      this.log.message(`Not available: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async loadTasks(st: SessionState): Promise<void> {
    try {
      const body = await this.hub.request(st, 'kvm/tasks', {});
      if (!body) return this.tasks.message('The debug adapter does not provide the task list.');
      this.tasks.set(tasksModel(body), body.problem ? `The list is incomplete: ${body.problem}` : undefined);
    } catch (e) {
      this.tasks.message(`Not available: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async selectTask(pid: number): Promise<void> {
    const st = this.hub.current();
    if (!st) return;
    try {
      const body = await this.hub.request(st, 'kvm/selectTask', { pid });
      if (body && st.state !== 'paused') {
        void vscode.window.setStatusBarMessage(`kvmdbg: ${body.name} will show in the Call Stack when the VM is paused`, 4000);
      }
      if (st.state === 'paused') void this.loadTasks(st);
    } catch (e) {
      void vscode.window.showWarningMessage(`kvmdbg: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  dispose(): void {
    this.poller.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
