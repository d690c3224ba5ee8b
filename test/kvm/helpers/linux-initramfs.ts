// Shared by the KVM-tier tests that boot Debian's packaged kernel: find the
// kernel, build a busybox initramfs (optionally with that kernel's virtio
// modules) at test time under test-output/, and run `kvmdbg run` with a
// timeout that only catches hangs. Missing packages FAIL with the apt
// command, never skip.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CLI, ROOT } from './guests';
import { hangReport } from './cli';
import { finishDap, launchDap, startDap, waitForText, type DapSession } from './dap-session';

/**
 * Emulated in the sandbox, a boot to init takes ~35-60 s there, over 300 s
 * when the host is busy (a hidden-KVM run's gdb-smp); this only catches
 * hangs (SILENT_MS catches a silent one sooner).
 */
export const LINUX_TIMEOUT_MS = process.env.KVM_SANDBOX === '1' ? 600_000 : 300_000;
/** The longest a booting Linux's console stays silent before the boot counts as hung (interactive runs wait for their input). */
export const SILENT_MS = 120_000;

/** The modules the virtio tests load, in dependency order (all `=m` in Debian's 6.1 kernel). */
export const VIRTIO_MODULES = ['virtio_ring', 'virtio', 'virtio_mmio', 'virtio_blk', 'virtio-rng'];

export function testOutput(name: string): string {
  return join(ROOT, 'test-output', name);
}

/** The newest /boot/vmlinuz-* (by version), or a failure that says how to get one. */
export function debianKernel(): string {
  const found = existsSync('/boot') ? readdirSync('/boot').filter((f) => /^vmlinuz-\d/.test(f)) : [];
  if (found.length === 0) {
    assert.fail('no /boot/vmlinuz-* is installed: install Debian\'s kernel for this test with `sudo apt-get install linux-image-amd64` (or run .ci/install-apt)');
  }
  const v = (f: string) => f.slice('vmlinuz-'.length).split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  found.sort((a, b) => { const x = v(a), y = v(b); for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0); return 0; });
  return join('/boot', found[found.length - 1]);
}

/** The module file of `name` for `kernel` (/lib/modules/<its version>/...), decompressed when it is .ko.xz. */
function moduleFile(kernel: string, name: string, outDir: string): string {
  const release = basename(kernel).slice('vmlinuz-'.length);
  const dir = join('/lib/modules', release, 'kernel');
  if (!existsSync(dir)) assert.fail(`no ${dir}: the modules of ${kernel} are not installed (\`sudo apt-get install linux-image-${release}\`)`);
  const find = spawnSync('find', [dir, '-name', `${name}.ko`, '-o', '-name', `${name}.ko.xz`], { encoding: 'utf8' });
  const path = find.stdout.split('\n').filter(Boolean)[0];
  if (!path) assert.fail(`module ${name} not found under ${dir}`);
  const out = join(outDir, `${name}.ko`);
  if (path.endsWith('.xz')) {
    const xz = spawnSync('sh', ['-c', `xz -dc ${JSON.stringify(path)} > ${JSON.stringify(out)}`]);
    assert.equal(xz.status, 0, `xz -d ${path} failed (apt-get install xz-utils)`);
  } else {
    copyFileSync(path, out);
  }
  return out;
}

export interface InitramfsOptions {
  /** A directory under test-output/ (wiped first). */
  dir: string;
  /** The /init script's lines after the common preamble (busybox applets installed, /proc /sys /dev mounted). */
  init: string[];
  /** Kernel whose modules go into /lib/modules (for VIRTIO_MODULES); none by default. */
  modulesFor?: string;
  modules?: readonly string[];
  /** Host files to put into the image: path inside it (e.g. "kvmdbg_mod.ko") -> host path. */
  files?: Record<string, string>;
}

/** A newc cpio with a static busybox, optional modules and an /init script, built with the `cpio` command. */
export function buildInitramfs(o: InitramfsOptions): string {
  const busybox = '/bin/busybox';
  if (!existsSync(busybox)) assert.fail('no /bin/busybox: install it for this test with `sudo apt-get install busybox-static`');
  const ldd = spawnSync('file', [busybox], { encoding: 'utf8' });
  if (ldd.status === 0 && /dynamically linked/.test(ldd.stdout)) {
    assert.fail('/bin/busybox is dynamically linked, so it cannot run alone in an initramfs: `sudo apt-get install busybox-static`');
  }
  if (spawnSync('cpio', ['--version']).status !== 0) assert.fail('no `cpio` command: `sudo apt-get install cpio`');
  const root = join(o.dir, 'root');
  rmSync(o.dir, { recursive: true, force: true });
  for (const d of ['bin', 'proc', 'sys', 'dev', 'lib/modules', 'tmp']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(busybox, join(root, 'bin', 'busybox'));
  for (const m of o.modules ?? []) moduleFile(o.modulesFor!, m, join(root, 'lib', 'modules'));
  for (const [inside, host] of Object.entries(o.files ?? {})) copyFileSync(host, join(root, inside));
  writeFileSync(join(root, 'init'), [
    '#!/bin/busybox sh',
    '/bin/busybox --install -s /bin',
    'export PATH=/bin',
    'mount -t proc proc /proc',
    'mount -t sysfs sysfs /sys',
    'mount -t devtmpfs devtmpfs /dev',
    ...o.init,
    '',
  ].join('\n'));
  chmodSync(join(root, 'init'), 0o755);
  const image = join(o.dir, 'initramfs.cpio');
  const cpio = spawnSync('sh', ['-c', `find . | cpio -o -H newc > ${JSON.stringify(image)}`], { cwd: root, encoding: 'utf8' });
  assert.equal(cpio.status, 0, `building the initramfs with cpio failed: ${cpio.stderr}`);
  return image;
}

/** /init lines that load `modules` from /lib/modules, failing loudly (a marker) on the first that does not load. */
export function insmodLines(modules: readonly string[] = VIRTIO_MODULES): string[] {
  return modules.map((m) => `insmod /lib/modules/${m}.ko || echo "KVMDBG-INSMOD-FAILED ${m}"`);
}

export interface CliRun { status: number | null; stdout: string; stderr: string; ms: number }

/**
 * Runs `kvmdbg ARGS`. `interact`, if given, is called with every chunk of
 * console output so far and may return text to type (once per returned string).
 */
export async function runCli(args: string[], interact?: (stdoutSoFar: string) => string | undefined): Promise<CliRun> {
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await runCliOnce(args, interact);
      if (!(retriable(r.stderr) && attempt < SANDBOX_BOOTS)) return r;
      console.log(`linux boot: attempt ${attempt} ended with the sandbox's emulation fault (${r.stderr.trim().split('\n').pop()}); booting again`);
    } catch (e) {
      if (!(retriable((e as Error).message) && attempt < SANDBOX_BOOTS)) throw e;
      console.log(`linux boot: attempt ${attempt} stalled in the sandbox's emulation (${(e as Error).message.split('\n')[0]}); booting again`);
    }
  }
}

/**
 * Inside the KVM sandbox a Linux guest now and then triple-faults early or
 * stalls under QEMU's emulated nested SVM, with this session's code and the
 * last landed one alike (README, Reliability): there, and only there, such a
 * boot is tried again, at most SANDBOX_BOOTS times, and says so.
 */
const SANDBOX_BOOTS = process.env.KVM_SANDBOX === '1' ? 3 : 1;
const retriable = (text: string) => /the guest triple-faulted: the CPU shut down|printed nothing for \d+ s/.test(text);

function runCliOnce(args: string[], interact?: (stdoutSoFar: string) => string | undefined): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: [interact ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let typed = false;
    child.stdout!.on('data', (d) => {
      stdout += d;
      const text = interact?.(stdout);
      if (text !== undefined) { typed = true; child.stdin!.write(text); }
    });
    child.stderr!.on('data', (d) => { stderr += d; });
    child.stdin?.on('error', () => {});
    const hung = async (why: string) => {
      clearTimeout(timer);
      clearInterval(silence);
      const report = await hangReport(child.pid);
      child.kill('SIGTERM');
      reject(new Error(`kvmdbg ${why} (hung?); console so far:\n${stdout.slice(-4000)}\nstderr:\n${stderr}\n${report}`));
    };
    const timer = setTimeout(() => void hung(`did not end within ${LINUX_TIMEOUT_MS / 1000} s`), LINUX_TIMEOUT_MS);
    // A booting Linux prints all the time; a console silent this long is the emulation's stall
    // (README, Reliability), reported at once rather than at the overall limit. An interactive
    // run is watched until it first types (its boot): a shell may then be quiet. The hidden-KVM
    // run of session 12 waited the whole 600 s for linux-shell's boot that had stalled at 6.7 s.
    let lastOutput = Date.now();
    child.stdout!.on('data', () => { lastOutput = Date.now(); });
    const silence = setInterval(() => {
      if (Date.now() - lastOutput > SILENT_MS && !typed) void hung(`printed nothing for ${SILENT_MS / 1000} s`);
    }, 5000);
    child.on('error', reject);
    child.on('close', (status) => { clearTimeout(timer); clearInterval(silence); resolve({ status, stdout, stderr, ms: Date.now() - started }); });
  });
}

export function consoleContext(r: CliRun): string {
  return `\n--- console (last 4000 chars) ---\n${r.stdout.slice(-4000)}\n--- stderr ---\n${r.stderr}`;
}

/**
 * A DAP session booted to `pattern` on the guest console: the adapter started, `args`
 * launched, the text waited for. Inside the sandbox a boot whose console falls silent for
 * SILENT_MS (the emulation's stall, as for runCli above) is tried again in a new session,
 * at most SANDBOX_BOOTS times, and says so.
 */
export async function bootLinuxDap(timeout: number, args: Record<string, unknown>, pattern: RegExp, what: string): Promise<DapSession> {
  for (let attempt = 1; ; attempt++) {
    const s = await startDap(timeout);
    try {
      await launchDap(s, args);
      await waitForText(s.stdout, pattern, LINUX_TIMEOUT_MS, what, SILENT_MS);
      return s;
    } catch (e) {
      await finishDap(s);
      const stalled = /printed nothing for \d+ s/.test((e as Error).message);
      if (!(stalled && attempt < SANDBOX_BOOTS)) throw e;
      console.log(`linux boot: attempt ${attempt} stalled in the sandbox's emulation (${(e as Error).message.split('\n')[0]}); booting again`);
    }
  }
}
