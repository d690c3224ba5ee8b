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

const POLL_MS = 2000;

interface Note { note: string }
type Item<T> = T | Note;

class ListTree<T extends { label: string; description?: string; tooltip?: string; icon: string }> implements vscode.TreeDataProvider<Item<T>> {
  private items: Item<T>[];
  private readonly change = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.change.event;

  constructor(private readonly empty: string, private readonly command?: (item: T) => vscode.Command) {
    this.items = [{ note: empty }];
  }

  set(items: T[], note?: string): void {
    this.items = [...(note ? [{ note }] : []), ...items];
    if (this.items.length === 0) this.items = [{ note: this.empty }];
    this.change.fire();
  }

  message(text: string): void {
    this.items = [{ note: text }];
    this.change.fire();
  }

  last(): Item<T> | undefined {
    return this.items.at(-1);
  }

  getParent(): undefined {
    return undefined;
  }

  getChildren(parent?: Item<T>): Item<T>[] {
    return parent ? [] : this.items;
  }

  getTreeItem(item: Item<T>): vscode.TreeItem {
    if ('note' in item) {
      const t = new vscode.TreeItem(item.note);
      t.iconPath = new vscode.ThemeIcon('info');
      return t;
    }
    const t = new vscode.TreeItem(item.label);
    t.description = item.description;
    t.tooltip = item.tooltip;
    t.iconPath = new vscode.ThemeIcon(item.icon);
    if (this.command) t.command = this.command(item);
    return t;
  }
}

export class LinuxViews implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly tasks = new ListTree<TaskNode>('Shown for a Linux guest with DWARF (launch.json "symbols": its vmlinux).',
    (t) => ({ command: 'kvmdbg.selectTask', title: 'Show Stack', arguments: [t.pid] }));
  private readonly log = new ListTree<LogNode>('Shown for a Linux guest with DWARF (launch.json "symbols": its vmlinux).');
  private readonly kernelLog = new KernelLog();
  private readonly tasksView: vscode.TreeView<Item<TaskNode>>;
  private readonly logView: vscode.TreeView<Item<LogNode>>;
  private timer?: NodeJS.Timeout;
  private session?: string;
  private polling = false;

  constructor(private readonly hub: SessionHub) {
    this.tasksView = vscode.window.createTreeView('kvmdbg.tasks', { treeDataProvider: this.tasks });
    this.logView = vscode.window.createTreeView('kvmdbg.kernelLog', { treeDataProvider: this.log });
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
    if (st.state === 'paused') {
      this.stopPolling();
      void this.refresh(st);
    } else if (st.state === 'running') {
      this.startPolling();
    } else if (st.state === 'exited') {
      this.stopPolling();
    }
  }

  private startPolling(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      const st = this.hub.current();
      if (!st || st.state !== 'running') return this.stopPolling();
      void this.refresh(st);
    }, POLL_MS);
  }

  private stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
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
    this.stopPolling();
    for (const d of this.disposables) d.dispose();
  }
}
