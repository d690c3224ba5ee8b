// Boots Debian's packaged kernel (apt linux-image-amd64, /boot/vmlinuz-*)
// through the CLI with a busybox initramfs built here, on one vCPU: the
// init prints a marker and the CPU count and powers off through ACPI
// (\_S5 -> PM1a_CNT at 0x604), which must end kvmdbg with status 0.
// -v makes kvmdbg name the protocol it booted and how the VM ended.
// Missing packages FAIL the test with the apt command, never skip it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT } from './helpers/guests';

const OUT = join(ROOT, 'test-output', 'linux-boot');
const MARKER = 'KVMDBG-LINUX-INIT-OK';
/**
 * console=ttyS0: the console is our COM1. panic=-1: a panic reboots at once
 * (the VM ends) instead of hanging until the test's timeout; the marker and
 * "guest powered off" checks keep a reboot from passing for success.
 */
const CMDLINE = 'console=ttyS0 panic=-1';
/** Emulated in the sandbox, a boot to init takes ~35 s there; this only catches hangs. */
const TIMEOUT_MS = 300_000;

/** The newest /boot/vmlinuz-* (by version), or a failure that says how to get one. */
function debianKernel(): string {
  const found = existsSync('/boot') ? readdirSync('/boot').filter((f) => /^vmlinuz-\d/.test(f)) : [];
  if (found.length === 0) {
    assert.fail('no /boot/vmlinuz-* is installed: install Debian\'s kernel for this test with `sudo apt-get install linux-image-amd64` (or run .ci/install-apt)');
  }
  const v = (f: string) => f.slice('vmlinuz-'.length).split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  found.sort((a, b) => { const x = v(a), y = v(b); for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0); return 0; });
  return join('/boot', found[found.length - 1]);
}

/** A newc cpio with a static busybox and an /init script, built with the `cpio` command. */
function buildInitramfs(): string {
  const busybox = '/bin/busybox';
  if (!existsSync(busybox)) assert.fail('no /bin/busybox: install it for this test with `sudo apt-get install busybox-static`');
  const ldd = spawnSync('file', [busybox], { encoding: 'utf8' });
  if (ldd.status === 0 && /dynamically linked/.test(ldd.stdout)) {
    assert.fail('/bin/busybox is dynamically linked, so it cannot run alone in an initramfs: `sudo apt-get install busybox-static`');
  }
  if (spawnSync('cpio', ['--version']).status !== 0) assert.fail('no `cpio` command: `sudo apt-get install cpio`');
  const root = join(OUT, 'root');
  rmSync(OUT, { recursive: true, force: true });
  for (const d of ['bin', 'proc', 'sys', 'dev']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(busybox, join(root, 'bin', 'busybox'));
  writeFileSync(join(root, 'init'), [
    '#!/bin/busybox sh',
    '/bin/busybox mount -t proc proc /proc',
    `echo ${MARKER}`,
    'echo "cpus: $(/bin/busybox grep -c ^processor /proc/cpuinfo)"',
    '/bin/busybox poweroff -f',
    '',
  ].join('\n'));
  chmodSync(join(root, 'init'), 0o755);
  const image = join(OUT, 'initramfs.cpio');
  const cpio = spawnSync('sh', ['-c', `find . | cpio -o -H newc > ${JSON.stringify(image)}`], { cwd: root, encoding: 'utf8' });
  assert.equal(cpio.status, 0, `building the initramfs with cpio failed: ${cpio.stderr}`);
  return image;
}

function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`kvmdbg did not end within ${TIMEOUT_MS / 1000} s (hung?); console so far:\n${stdout.slice(-4000)}\nstderr:\n${stderr}`));
    }, TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr, ms: Date.now() - started }); });
  });
}

test('Debian\'s kernel boots to a busybox init on one vCPU and powers off with status 0', { timeout: TIMEOUT_MS + 10_000 }, async () => {
  const kernel = debianKernel();
  const initrd = buildInitramfs();
  const r = await runCli(['run', '--kernel', kernel, '--initrd', initrd, '--cmdline', CMDLINE, '--memory', '256M', '--cpus', '1', '-v']);
  const context = `\n--- console (last 4000 chars) ---\n${r.stdout.slice(-4000)}\n--- stderr ---\n${r.stderr}`;
  assert.match(r.stderr, /booting Linux bzImage, boot protocol 2\.\d+, 64-bit entry/, context);
  assert.ok(r.stdout.includes(MARKER), `the init's marker never appeared${context}`);
  assert.match(r.stdout, /cpus: 1\r?\n/, `/proc/cpuinfo should list 1 processor${context}`);
  assert.match(r.stderr, /guest powered off/, `the VM should end by ACPI power-off${context}`);
  assert.equal(r.status, 0, `exit status${context}`);
  console.log(`# ${kernel}: start to power-off in ${(r.ms / 1000).toFixed(1)} s`);
});
