/**
 * The "KVM" container's views: VM exits, devices, page tables, descriptor
 * tables. Each asks the adapter with a typed kvm/* request on stop (and the
 * exits view once a second while running and visible), and renders the
 * models of ../models.ts.
 */
import * as vscode from 'vscode';
import type { SessionHub, SessionState } from '../session-hub';
import { WhileRunning } from './while-running';
import { descriptorTablesModel, devicesModel, exitsModel, pageWalkModel, parseAddress, type ViewNode } from '../models';

class NodeTree implements vscode.TreeDataProvider<ViewNode> {
  private nodes: ViewNode[] = [];
  private readonly change = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.change.event;

  constructor(private readonly empty: string) {
    this.nodes = [{ label: empty, icon: 'info' }];
  }

  set(nodes: ViewNode[] | undefined, message?: string): void {
    this.nodes = nodes && nodes.length ? nodes : [{ label: message ?? this.empty, icon: 'info' }];
    this.change.fire();
  }

  getChildren(n?: ViewNode): ViewNode[] {
    return n ? n.children ?? [] : this.nodes;
  }

  getTreeItem(n: ViewNode): vscode.TreeItem {
    const item = new vscode.TreeItem(n.label, n.children?.length ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
    item.description = n.description;
    item.tooltip = n.tooltip;
    if (n.icon) item.iconPath = new vscode.ThemeIcon(n.icon);
    if (n.memoryReference) {
      item.command = { command: 'kvmdbg.openReference', title: 'Open', arguments: [n.memoryReference, n.label] };
    }
    return item;
  }
}

type Loader = (st: SessionState) => Promise<ViewNode[] | undefined>;

export class KvmViews implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly exits = new NodeTree('No VM running: start a kvm debug session (F5).');
  private readonly devices = new NodeTree('Shown when the VM is paused.');
  private readonly pages = new NodeTree('Shown when the VM is paused: walks RIP, or use "Walk Address...".');
  private readonly tables = new NodeTree('Shown when the VM is paused.');
  private exitsView: vscode.TreeView<ViewNode>;
  private readonly poller: WhileRunning;
  private walkAddress?: string;

  constructor(private readonly hub: SessionHub) {
    this.exitsView = vscode.window.createTreeView('kvmdbg.exits', { treeDataProvider: this.exits });
    // The VM Exits view follows a running guest; the others show a stopped guest's state.
    this.poller = new WhileRunning(hub, 1000, (st) => { if (this.exitsView.visible) void this.load(this.exits, st, this.loadExits); });
    this.disposables.push(
      this.exitsView,
      vscode.window.createTreeView('kvmdbg.devices', { treeDataProvider: this.devices }),
      vscode.window.createTreeView('kvmdbg.pageTables', { treeDataProvider: this.pages }),
      vscode.window.createTreeView('kvmdbg.descriptorTables', { treeDataProvider: this.tables }),
      hub.onDidChange((st) => this.onState(st)),
      vscode.commands.registerCommand('kvmdbg.refreshViews', () => { const st = hub.current(); if (st) void this.refreshAll(st); }),
      vscode.commands.registerCommand('kvmdbg.walkAddress', () => this.askWalk()),
    );
  }

  private onState(st: SessionState): void {
    this.poller.follow(st);
    if (st.state === 'paused') void this.refreshAll(st);
  }

  async refreshAll(st: SessionState): Promise<void> {
    await Promise.all([
      this.load(this.exits, st, this.loadExits),
      this.load(this.devices, st, async (s) => { const b = await this.hub.request(s, 'kvm/devices', {}); return b && devicesModel(b); }),
      this.load(this.pages, st, (s) => this.loadWalk(s)),
      this.load(this.tables, st, async (s) => { const b = await this.hub.request(s, 'kvm/descriptorTables', { threadId: s.stoppedThreadId }); return b && descriptorTablesModel(b); }),
    ]);
  }

  private readonly loadExits: Loader = async (s) => {
    const b = await this.hub.request(s, 'kvm/exitStats', { last: 20 });
    return b && exitsModel(b);
  };

  private async loadWalk(s: SessionState): Promise<ViewNode[] | undefined> {
    let address = this.walkAddress;
    if (!address && s.stoppedThreadId !== undefined) {
      const st = await s.session.customRequest('stackTrace', { threadId: s.stoppedThreadId, startFrame: 0, levels: 1 });
      const ip: string | undefined = st?.stackFrames?.[0]?.instructionPointerReference;
      address = ip?.replace(/^[vp]:/, '');
    }
    if (!address) return undefined;
    const b = await this.hub.request(s, 'kvm/pageWalk', { address, threadId: s.stoppedThreadId });
    return b && pageWalkModel(b);
  }

  private async load(tree: NodeTree, st: SessionState, loader: Loader): Promise<void> {
    try {
      const nodes = await loader(st);
      tree.set(nodes, nodes ? undefined : 'The debug adapter does not provide this view yet.');
    } catch (e) {
      tree.set(undefined, `Not available: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async askWalk(): Promise<void> {
    const text = await vscode.window.showInputBox({ title: 'kvmdbg: walk the page tables for a virtual address', placeHolder: '0xffffffff81000000', validateInput: (t) => (parseAddress(t) === undefined ? 'an address: 0x... (hex) or decimal' : undefined) });
    if (!text) return;
    this.walkAddress = '0x' + parseAddress(text)!.toString(16);
    const st = this.hub.current();
    if (!st) return void vscode.window.showInformationMessage('kvmdbg: start a kvm debug session and pause it to walk page tables.');
    await this.load(this.pages, st, (s) => this.loadWalk(s));
  }

  dispose(): void {
    this.poller.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
