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
import { ListTree } from './list-tree';

export class ModulesView implements vscode.Disposable {
  private readonly list = new ListTree<ModuleNode>('Shown while a kvm session runs: the kernel and, for Linux, its loaded modules.');
  private readonly disposables: vscode.Disposable[] = [];
  private loading?: Promise<void>;
  private again = false;
  /** The session whose modules the view shows (a new one is read once as soon as it runs). */
  private shown?: string;

  constructor(hub: SessionHub) {
    this.disposables.push(
      vscode.window.createTreeView('kvmdbg.modules', { treeDataProvider: this.list }),
      hub.onDidChange((st) => { if (st.state === 'paused' || st.state === 'running' && this.shown !== st.session.id) this.load(st); }),
      hub.onModule((session) => { const st = hub.current(); if (st && st.session.id === session.id) this.load(st); }),
    );
  }

  /** One request at a time; a change meanwhile asks once more after it. */
  private load(st: SessionState): void {
    this.shown = st.session.id;
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
      if (nodes.length > 0) this.list.set(nodes); else this.list.message('The debug adapter lists no modules.');
    } catch (e) {
      this.list.message(`Not available: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
