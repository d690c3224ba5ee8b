/**
 * kvmdbg's VS Code side: the "kvm" debug type (configuration provider and
 * adapter factory), the guest console terminal, the KVM views, the status
 * bar and the memory commands. No KVM code: everything goes through DAP.
 */
import * as vscode from 'vscode';
import { KvmAdapterFactory } from './adapter-factory';
import { KvmConfigurationProvider } from './config-provider';
import { ConsoleTerminals } from './console-terminal';
import { registerCLanguage } from './c-language';
import { registerHexDisplay } from './hex-display';
import { registerMemoryCommands } from './memory-commands';
import { SessionHub } from './session-hub';
import { createStatusBar } from './status-bar';
import { KvmViews } from './views/kvm-views';
import { GuestScreenView } from './views/guest-screen';
import { LinuxViews } from './views/linux-views';
import { ModulesView } from './views/modules-view';

export function activate(context: vscode.ExtensionContext): void {
  const started = Date.now();
  const log = vscode.window.createOutputChannel('kvmdbg');
  const provider = new KvmConfigurationProvider(log);
  const hub = new SessionHub();
  context.subscriptions.push(
    log,
    vscode.debug.registerDebugConfigurationProvider('kvm', provider, vscode.DebugConfigurationProviderTriggerKind.Initial),
    vscode.debug.registerDebugConfigurationProvider('kvm', provider, vscode.DebugConfigurationProviderTriggerKind.Dynamic),
    vscode.debug.registerDebugAdapterDescriptorFactory('kvm', new KvmAdapterFactory(context.extensionPath)),
    hub,
    new ConsoleTerminals(hub),
    new KvmViews(hub),
    new GuestScreenView(hub),
    new LinuxViews(hub),
    new ModulesView(hub),
    createStatusBar(hub),
    ...registerMemoryCommands(hub),
    ...registerCLanguage(),
    ...registerHexDisplay(hub),
  );
  log.appendLine(`kvmdbg activated in ${Date.now() - started} ms`);
}

export function deactivate(): void {}
