/**
 * `kvmdbg`: a VM is a process. The guest's serial console is this terminal,
 * Ctrl-C or a signal ends the VM, and the exit status is the guest's.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readUserFile } from '../machine/user-files';
import { checkBootDiskFits, checkLinuxFits, HostCannotRunError, isBiosBootDisk, isLinuxKernel } from '../host/guest-fit';
import { join } from 'node:path';
import { parseCli, USAGE, UsageError, type RunArgs } from './args';
import { runVm } from './run-vm';
import { probeHost } from '../machine/host-probe';
import { formatReport, mainJobWorks } from '../host/probe/capabilities';
import { insideSandbox, kvmProblem, packageRoot, sandboxProblem, sandboxScript } from '../host/kvm-host';

const say = (msg: string) => process.stderr.write(`kvmdbg: ${msg}\n`);

export function demoKernelPath(): string {
  return join(packageRoot(), 'test', 'guests', 'build', 'demo.elf');
}

/** The framebuffer demo (test/guests/demo/fbdemo.c), a multiboot2 kernel. */
export function fbDemoKernelPath(): string {
  return join(packageRoot(), 'test', 'guests', 'build', 'fbdemo.elf');
}

export const FB_DEMO_SCREENSHOT = 'kvmdbg-fbdemo.png';

async function main(argv: string[]): Promise<number> {
  let args: RunArgs | 'help';
  try {
    args = parseCli(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    say(`${e.message}\n${USAGE}`);
    return 2;
  }
  if (args === 'help') { process.stdout.write(USAGE + '\n'); return 0; }

  if (args.command === 'doctor') return doctor();
  if (args.command === 'demo') {
    args.kernel = args.demo === 'fb' ? fbDemoKernelPath() : demoKernelPath();
    if (!existsSync(args.kernel)) { say(`the demo kernel is not built (${args.kernel}): run npm run build`); return 1; }
    // The framebuffer demo draws once and powers off; the picture is the point, so it is always saved.
    // The serial demo computes in ring 3 (user-mode): PVM emulates ring 0 instruction by instruction.
    args.cmdline ??= args.demo === 'fb' ? 'once' : 'demo user-mode';
    if (args.demo === 'fb') args.screenshot ??= FB_DEMO_SCREENSHOT;
  }

  const noKvm = kvmProblem() ?? await cannotRunHere(args.kernel!);
  if (noKvm) {
    if (insideSandbox() || !args.sandbox) { say(noKvm); return 1; }
    const noSandbox = sandboxProblem();
    if (noSandbox) { say(`${noKvm}; ${noSandbox}`); return 1; }
    say(`${noKvm}.\nkvmdbg: running this VM inside the project's KVM sandbox instead (QEMU software CPU with nested SVM: `
      + 'slower, and console input does not reach the guest there).');
    const r = spawnSync(sandboxScript(), ['--', process.execPath, join(packageRoot(), 'bin', 'kvmdbg.js'), ...argv],
      { stdio: ['ignore', 'inherit', 'inherit'] });
    return r.status ?? 1;
  }
  const status = await runVm(args, say);
  if (args.demo === 'fb' && status === 0) {
    say(`the demo's screen is in ${args.screenshot}; to watch it draw and type into it, open ${join(packageRoot(), 'test', 'guests', 'demo')} in VS Code with kvmdbg installed and press F5`);
  }
  return status;
}

/** Why this host cannot run the kernel (a Linux on PVM, a boot disk without real mode), or undefined; unreadable files are runVm's to report. */
async function cannotRunHere(kernel: string): Promise<string | undefined> {
  let data: Uint8Array;
  try { data = readUserFile(kernel, 'kernel'); } catch { return undefined; }
  const linux = isLinuxKernel(data);
  if (!linux && !isBiosBootDisk(data)) return undefined;
  try {
    (linux ? checkLinuxFits : checkBootDiskFits)(kernel, await probeHost());
    return undefined;
  } catch (e) {
    if (e instanceof HostCannotRunError) return e.message;
    throw e;
  }
}

/** Prints the measured capability table; 0 when kernels boot and step here. */
async function doctor(): Promise<number> {
  const report = await probeHost();
  process.stdout.write(formatReport(report) + '\n');
  if (report.flavour === 'none' && !insideSandbox() && !sandboxProblem()) {
    process.stdout.write('the KVM sandbox (test/sandbox/run) can run kvmdbg here: kvmdbg run uses it when /dev/kvm is missing\n');
  }
  return mainJobWorks(report) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (status) => { process.exitCode = status; },
  (e: Error) => { say(e.message); process.exitCode = 1; },
);
