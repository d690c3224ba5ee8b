/**
 * The flat lists the kvm views show (tasks, kernel log, modules): rows with
 * a label, a description, a tooltip and an icon, or a note in their place.
 */
import * as vscode from 'vscode';

interface Note { note: string }
/** A row, or a sentence in its place (nothing to show yet, or why not). */
export type Item<T> = T | Note;

/** A flat list of rows for a tree view, or one sentence when there are none. */
export class ListTree<T extends { label: string; description?: string; tooltip?: string; icon: string }> implements vscode.TreeDataProvider<Item<T>> {
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
