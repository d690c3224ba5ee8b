/**
 * "Show guest physical/virtual memory at...": opens VS Code's own binary
 * memory view (the debug memory file system, served by the adapter's
 * readMemory/writeMemory) at a reference of the adapter's scheme,
 * "p:0xADDR" or "v:0xADDR"; a reference from the views opens the same way.
 */
import * as vscode from 'vscode';
import { memoryReference } from '../debug-adapter/protocol-extensions';
import { parseAddress } from './models';
import type { SessionHub } from './session-hub';

/** VS Code's URI for the debug memory of a session (vscode-debug-memory://SESSION/REF/NAME.bin). */
export function debugMemoryUri(sessionId: string, reference: string, displayName = 'memory'): vscode.Uri {
  return vscode.Uri.from({ scheme: 'vscode-debug-memory', authority: sessionId, path: `/${encodeURIComponent(reference)}/${encodeURIComponent(displayName)}.bin` });
}

export function registerMemoryCommands(hub: SessionHub): vscode.Disposable[] {
  const open = async (reference: string, name: string): Promise<void> => {
    const st = hub.current();
    if (!st) return void vscode.window.showInformationMessage('kvmdbg: start a kvm debug session first (F5), then pause it.');
    await vscode.commands.executeCommand('vscode.openWith', debugMemoryUri(st.session.id, reference, name), 'hexEditor.hexedit')
      .then(undefined, () => vscode.window.showWarningMessage('kvmdbg: the binary memory view needs the Hex Editor extension (ms-vscode.hexeditor).'));
  };
  const ask = async (space: 'p' | 'v'): Promise<void> => {
    const what = space === 'p' ? 'physical' : 'virtual';
    const text = await vscode.window.showInputBox({
      title: `kvmdbg: show guest ${what} memory at...`, placeHolder: space === 'p' ? '0x100000' : '0xffffffff81000000',
      validateInput: (t) => (parseAddress(t) === undefined ? 'an address: 0x... (hex) or decimal' : undefined),
    });
    if (!text) return;
    const ref = memoryReference(space, parseAddress(text)!);
    await open(ref, `${what}-${ref.slice(2)}`);
  };
  return [
    vscode.commands.registerCommand('kvmdbg.showPhysicalMemory', () => ask('p')),
    vscode.commands.registerCommand('kvmdbg.showVirtualMemory', () => ask('v')),
    vscode.commands.registerCommand('kvmdbg.openReference', (reference: string, name?: string) => open(reference, (name ?? 'memory').replace(/[^\w.-]+/g, '_'))),
  ];
}
