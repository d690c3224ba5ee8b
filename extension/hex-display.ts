/**
 * "kvmdbg: Toggle Hexadecimal Values": flips the `kvmdbg.hexValues`
 * setting, and every kvm session (now and when one starts) is told through
 * `kvm/displayFormat`; the adapter re-renders the Variables, Watch and
 * hover values (an `invalidated` event), as DAP's `format.hex` would if
 * VS Code offered it there.
 */
import * as vscode from 'vscode';
import type { SessionHub, SessionState } from './session-hub';

const hexSetting = (): boolean => vscode.workspace.getConfiguration('kvmdbg').get<boolean>('hexValues', false);

export function registerHexDisplay(hub: SessionHub): vscode.Disposable[] {
  const told = new WeakSet<vscode.DebugSession>();
  const tell = (st: SessionState): void => {
    void hub.request(st, 'kvm/displayFormat', { hex: hexSetting() }).catch(() => undefined);
  };
  return [
    vscode.commands.registerCommand('kvmdbg.toggleHex', async () => {
      await vscode.workspace.getConfiguration('kvmdbg').update('hexValues', !hexSetting(), vscode.ConfigurationTarget.Global);
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('kvmdbg.hexValues')) return;
      for (const st of hub.all()) tell(st);
    }),
    hub.onDidChange((st) => {
      if (st.state === 'exited' || told.has(st.session)) return;
      told.add(st.session);
      if (hexSetting()) tell(st);
    }),
  ];
}
