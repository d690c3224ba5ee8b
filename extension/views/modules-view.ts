/**
 * The Modules view: what DAP's `modules` request lists (the kernel, and for
 * a Linux guest each loaded module with its address range and whether its
 * symbols are loaded). VS Code has no Modules view of its own (it sends no
 * `modules` request), so this one asks: at every stop, at the start, and
 * when a `module` event says one came or went, also while the guest runs.
 */
import * as vscode from 'vscode';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { SessionHub, SessionState } from '../session-hub';
import { modulesModel, type ModuleNode } from '../linux-models';

type Item = ModuleNode | { note: string };

export class ModulesView implements vscode.TreeDataProvider<Item>, vscode.Disposable {
  private items: Item[] = [{ note: 'Shown while a kvm session runs: the kernel and, for Linux, its loaded modules.' }];
  private readonly change = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.change.event;
  private readonly disposables: vscode.Disposable[] = [];
  private loading?: Promise<void>;
  private again = false;

  constructor(hub: SessionHub) {
    const view = vscode.window.createTreeView('kvmdbg.modules', { treeDataProvider: this });
    this.disposables.push(
      view, this.change,
      hub.onDidChange((st) => { if (st.state === 'paused' || st.state === 'running' && this.items.length <= 1) this.load(st); }),
      hub.onModule((session) => { const st = hub.current(); if (st && st.session.id === session.id) this.load(st); }),
    );
  }

  /** One request at a time; a change meanwhile asks once more after it. */
  private load(st: SessionState): void {
    if (this.loading) { this.again = true; return; }
    this.loading = this.read(st).finally(() => {
      this.loading = undefined;
      if (this.again) { this.again = false; this.load(st); }
    });
  }

  private async read(st: SessionState): Promise<void> {
    try {
      const body = (await st.session.customRequest('modules', {})) as DebugProtocol.ModulesResponse['body'];
      const nodes = modulesModel(body?.modules ?? []);
      this.items = nodes.length > 0 ? nodes : [{ note: 'The debug adapter lists no modules.' }];
    } catch (e) {
      this.items = [{ note: `Not available: ${e instanceof Error ? e.message : String(e)}` }];
    }
    this.change.fire();
  }

  getChildren(parent?: Item): Item[] {
    return parent ? [] : this.items;
  }

  getTreeItem(item: Item): vscode.TreeItem {
    if ('note' in item) {
      const t = new vscode.TreeItem(item.note);
      t.iconPath = new vscode.ThemeIcon('info');
      return t;
    }
    const t = new vscode.TreeItem(item.label);
    t.description = item.description;
    t.tooltip = item.tooltip;
    t.iconPath = new vscode.ThemeIcon(item.icon);
    return t;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
