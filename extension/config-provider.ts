/**
 * F5 without a launch.json: find what to boot in the workspace (a Linux
 * tree, a PVH / multiboot / ELF kernel, a bzImage), say in one sentence what
 * was picked, or ask with a quick pick. Problems (no /dev/kvm, no kernel, a
 * stale build) become notifications with an action, never stack traces.
 */
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { configurationFor, describeCandidate, detectKernels, obviousChoice, staleBuild, type KernelCandidate } from './detect';
import { kvmProblem } from './host';
import { runBuildTask } from './build-task';

export class KvmConfigurationProvider implements vscode.DebugConfigurationProvider {
  constructor(private readonly log: vscode.OutputChannel) {}

  async provideDebugConfigurations(folder: vscode.WorkspaceFolder | undefined): Promise<vscode.DebugConfiguration[]> {
    const root = folder?.uri.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (!root) return [];
    const d = detectKernels(root);
    return d.candidates.slice(0, 8).map((c) => configurationFor(c, root) as vscode.DebugConfiguration);
  }

  async resolveDebugConfiguration(folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): Promise<vscode.DebugConfiguration | null | undefined> {
    if (config.type && config.type !== 'kvm') return config;
    if (!config.type && !config.request && !config.name) {
      // F5 with no launch.json (or an empty one).
      const picked = await this.pickKernel(folder);
      if (!picked) return undefined;
      return picked;
    }
    return config;
  }

  async resolveDebugConfigurationWithSubstitutedVariables(_folder: vscode.WorkspaceFolder | undefined, config: vscode.DebugConfiguration): Promise<vscode.DebugConfiguration | null | undefined> {
    const problem = kvmProblem();
    if (problem) {
      void showKvmProblem(problem);
      return undefined;
    }
    if (typeof config.kernel === 'string' && config.kernel && !existsSync(config.kernel)) {
      const choice = await vscode.window.showErrorMessage(`kvmdbg: the kernel ${config.kernel} does not exist: build it first or fix "kernel" in launch.json.`, 'Open launch.json');
      if (choice === 'Open launch.json') return null; // VS Code opens launch.json
      return undefined;
    }
    return config;
  }

  private async pickKernel(folder: vscode.WorkspaceFolder | undefined, rebuilt = false): Promise<vscode.DebugConfiguration | undefined> {
    const root = folder?.uri.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (!root) {
      void vscode.window.showErrorMessage('kvmdbg: open the folder of your kernel (a Linux tree or your kernel project) and press F5 again.', 'Open Folder')
        .then((c) => c && vscode.commands.executeCommand('vscode.openFolder'));
      return undefined;
    }
    const d = detectKernels(root);
    let chosen: KernelCandidate | undefined = obviousChoice(d);
    if (!chosen && d.candidates.length > 0) {
      const items = d.candidates.slice(0, 30).map((c) => ({ label: vscode.workspace.asRelativePath(c.kernel), description: describeCandidate(c, root).split(':')[0], c }));
      const pick = await vscode.window.showQuickPick(items, { title: 'kvmdbg: which kernel should F5 boot?', placeHolder: 'Several kernels were found in the workspace' });
      chosen = pick?.c;
      if (!chosen) return undefined;
    }
    if (!chosen) {
      const choice = await vscode.window.showErrorMessage(
        `kvmdbg: no kernel found in ${root} (looked at ${d.scanned} files for vmlinux + arch/x86/boot/bzImage, PVH, multiboot or x86-64 ELF kernels): build it, or pick the file.`,
        'Pick a kernel file...', 'Run Build Task');
      // Built: look again (once), and boot what the build made.
      if (choice === 'Run Build Task') return (await runBuildTask(this.log)) && !rebuilt ? this.pickKernel(folder, true) : undefined;
      if (choice !== 'Pick a kernel file...') return undefined;
      const uris = await vscode.window.showOpenDialog({ canSelectMany: false, defaultUri: vscode.Uri.file(root), title: 'The kernel to boot' });
      if (!uris?.[0]) return undefined;
      return { type: 'kvm', request: 'launch', name: 'Boot kernel (KVM)', kernel: uris[0].fsPath };
    }
    const sentence = describeCandidate(chosen, root);
    this.log.appendLine(`F5 without launch.json: ${sentence}`);
    const stale = staleBuild(chosen, d, root);
    if (stale) {
      const c = await vscode.window.showWarningMessage(`kvmdbg: ${stale}.`, 'Run Build Task', 'Boot Anyway');
      if (c === 'Run Build Task') {
        if (!await runBuildTask(this.log)) return undefined;
      } else if (c !== 'Boot Anyway') return undefined;
    }
    void vscode.window.showInformationMessage(`kvmdbg found ${sentence}.`);
    const cfg = configurationFor(chosen, root);
    const base = folder?.uri.fsPath ?? root;
    const subst = (v: unknown): unknown => (typeof v === 'string' ? v.replace('${workspaceFolder}', base) : v);
    return Object.fromEntries(Object.entries(cfg).map(([k, v]) => [k, subst(v)])) as vscode.DebugConfiguration;
  }
}

export async function showKvmProblem(problem: string): Promise<void> {
  const permission = /permission denied/.test(problem);
  const actions = permission ? ['Copy Command'] : ['How to enable KVM'];
  const c = await vscode.window.showErrorMessage(`kvmdbg cannot start the VM: ${problem}.`, ...actions);
  if (c === 'Copy Command') await vscode.env.clipboard.writeText('sudo usermod -aG kvm $USER');
  if (c === 'How to enable KVM') void vscode.env.openExternal(vscode.Uri.parse('https://www.linux-kvm.org/page/FAQ'));
}
