/** Status bar item: VM state, vCPU count, exits/s while running. Hidden when no kvm session runs. */
import * as vscode from 'vscode';
import type { SessionHub } from './session-hub';
import { statusText } from './models';

export function createStatusBar(hub: SessionHub): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('kvmdbg.status', vscode.StatusBarAlignment.Left, 50);
  item.name = 'kvmdbg VM';
  item.command = 'workbench.view.debug';
  const sub = hub.onDidChange((st) => {
    item.text = statusText(st);
    item.tooltip = `kvmdbg: ${st.session.name}`;
    if (st.state === 'exited') setTimeout(() => { if (!hub.current()) item.hide(); }, 5000);
    else item.show();
  });
  return vscode.Disposable.from(item, sub);
}
