/**
 * Where can a VM run on this host? Directly on /dev/kvm, or inside the
 * project's KVM sandbox (test/sandbox/run: QEMU's software CPU with nested
 * SVM) when the host has none. Shared by the CLI and the test runner so both
 * say the same sentence for the same host.
 */
import { accessSync, constants, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** The KVM device; KVMDBG_KVM_DEVICE overrides it (tests of a host without KVM: /nonexistent). */
export const KVM_DEVICE = process.env.KVMDBG_KVM_DEVICE || '/dev/kvm';

/** undefined when /dev/kvm is usable by this process, else why not (one sentence). */
export function kvmProblem(device = KVM_DEVICE): string | undefined {
  if (!existsSync(device)) {
    return `KVM is not available on this host: ${device} does not exist (enable virtualization in the firmware and load kvm-intel or kvm-amd)`;
  }
  try {
    accessSync(device, constants.R_OK | constants.W_OK);
  } catch {
    return `permission denied opening ${device}: add your user to the kvm group (sudo usermod -aG kvm $USER), then log in again`;
  }
  return undefined;
}

/** The package root (the directory holding kvmdbg's package.json). */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && /"name"\s*:\s*"kvmdbg"/.test(readFileSync(pkg, 'utf8'))) return dir;
    const up = join(dir, '..');
    if (up === dir) throw new Error(`kvmdbg: cannot find the package root above ${__dirname}`);
    dir = up;
  }
}

let version: string | undefined;
/** kvmdbg's version, from its package.json ('unknown' when it cannot be read). */
export function kvmdbgVersion(): string {
  if (version === undefined) {
    try { version = String(JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version); } catch { version = 'unknown'; }
  }
  return version;
}

export function sandboxScript(): string {
  return join(packageRoot(), 'test', 'sandbox', 'run');
}

/** True when this process already runs inside the sandbox VM. */
export function insideSandbox(): boolean {
  return process.env.KVM_SANDBOX === '1';
}

/** undefined when the sandbox can run here, else what is missing (one sentence). */
export function sandboxProblem(): string | undefined {
  const missing: string[] = [];
  const qemu = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' });
  if (qemu.error || qemu.status !== 0) {
    missing.push('qemu-system-x86_64');
  } else {
    const major = Number(/version (\d+)\./.exec(qemu.stdout)?.[1] ?? 0);
    if (major < 10) missing.push(`QEMU >= 10 (found ${major}; nested hardware breakpoints need bookworm-backports' QEMU)`);
  }
  const kernels = existsSync('/lib/modules') ? readdirSync('/lib/modules') : [];
  if (!kernels.some((k) => existsSync(`/boot/vmlinuz-${k}`))) missing.push('a host kernel in /boot with its modules (linux-image-amd64)');
  if (!isFile('/bin/busybox')) missing.push('busybox (busybox-static)');
  if (spawnSync('cpio', ['--version']).error) missing.push('cpio');
  if (missing.length === 0) return undefined;
  return `the KVM sandbox cannot start: missing ${missing.join(', ')}; install them with: sudo .ci/install-apt`;
}

function isFile(p: string): boolean {
  try { return statSync(p).isFile(); } catch { return false; }
}
