/**
 * Starts the debug adapter as its own process, DAP on stdio. Under Electron
 * (desktop VS Code) process.execPath is the Electron binary: run it as Node
 * (ELECTRON_RUN_AS_NODE). The addon is Node-API with JS-allocated guest RAM
 * (ARCHITECTURE rule 1), so the same build loads in either.
 */
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The adapter script: the bundle in a packaged extension, out/ in a development checkout. */
export function adapterScript(extensionPath: string): string {
  const candidates = [join(extensionPath, 'dist', 'debug-adapter.js'), join(extensionPath, 'out', 'debug-adapter', 'main.js')];
  return candidates.find((p) => existsSync(p)) ?? candidates[0];
}

export class KvmAdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  constructor(private readonly extensionPath: string) {}

  createDebugAdapterDescriptor(): vscode.ProviderResult<vscode.DebugAdapterDescriptor> {
    const script = adapterScript(this.extensionPath);
    if (!existsSync(script)) {
      throw new Error(`kvmdbg's debug adapter is missing (${script}): reinstall the extension, or run "npm run build" in a development checkout.`);
    }
    const runtime = process.versions.electron ? process.execPath : process.execPath || 'node';
    return new vscode.DebugAdapterExecutable(runtime, [script], {
      env: { ...process.env as Record<string, string>, ELECTRON_RUN_AS_NODE: '1' },
      cwd: this.extensionPath,
    });
  }
}
