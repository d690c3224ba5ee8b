/**
 * "Run Build Task" from kvmdbg's notifications: runs the workspace's build
 * task (the default one of the Build group, else the only one) with a
 * progress notification that can cancel it, and says whether it succeeded,
 * so F5 can go on to boot what was just built. Without a build task it hands
 * over to VS Code's own command, which offers to configure one.
 */
import * as vscode from 'vscode';

export async function runBuildTask(log: vscode.OutputChannel): Promise<boolean> {
  const builds = (await vscode.tasks.fetchTasks()).filter((t) => t.group?.id === vscode.TaskGroup.Build.id);
  const task = builds.find((t) => t.group?.isDefault) ?? (builds.length === 1 ? builds[0] : undefined);
  if (!task) {
    await vscode.commands.executeCommand('workbench.action.tasks.build');
    return false;
  }
  const started = Date.now();
  const ok = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `kvmdbg: building the kernel (task "${task.name}")`, cancellable: true },
    async (progress, token) => {
      const execution = await vscode.tasks.executeTask(task);
      return new Promise<boolean>((resolve) => {
        const tick = setInterval(() => progress.report({ message: `${Math.round((Date.now() - started) / 1000)} s` }), 1000);
        const done = (result: boolean): void => { clearInterval(tick); ended.dispose(); cancelled.dispose(); resolve(result); };
        const ended = vscode.tasks.onDidEndTaskProcess((e) => {
          if (e.execution === execution || e.execution.task.name === task.name) done(e.exitCode === 0);
        });
        const cancelled = token.onCancellationRequested(() => { execution.terminate(); done(false); });
      });
    },
  );
  log.appendLine(`build task "${task.name}" ${ok ? 'succeeded' : 'failed or was cancelled'} after ${Math.round((Date.now() - started) / 1000)} s`);
  if (!ok) void vscode.window.showWarningMessage(`kvmdbg: the build task "${task.name}" did not succeed: the kernel was not booted.`);
  return ok;
}
