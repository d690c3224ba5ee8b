// Debian's own kernel as the KVM tier and the DWARF benchmark debug it: the
// newest /boot/vmlinuz-<release> (the one the sandbox boots too), its debug
// vmlinux and binfmt_misc's debug module from linux-image-<release>-dbg
// (apt-get download, ~860 MB, unpacked once: ~1 min), and kvmdbg's test
// modules (test/guests/linux/module and fault-module) built against
// linux-headers-<release> with the kernel's own flags. It lives in a cache outside the tree, keyed by
// the release and the module's source.
//
//   node scripts/debian-kernel.mjs [--print-dir] [--vmlinux-only]
//
// Prints the cache directory on its last line: vmlinuz, vmlinux, release,
// kvmdbg_mod.ko and kvmdbg_fault.ko with module/ (their sources), and
// usr/lib/debug/lib/modules/<release>/ as the -dbg package lays it out.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The test modules' sources, built as one out-of-tree module directory. */
const moduleDirs = [join(root, 'test/guests/linux/module'), join(root, 'test/guests/linux/fault-module')];
const MODULES = ['kvmdbg_mod', 'kvmdbg_fault'];
/** The Debian module whose -dbg debug file the tests use (no dependencies, loads on any machine). */
export const DEBIAN_MODULE = 'kernel/fs/binfmt_misc.ko';

function fail(msg) {
  console.error(`debian-kernel: ${msg}`);
  process.exit(1);
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

/** The newest installed Debian kernel's release ("6.1.0-57-amd64"), as debianKernel() and the sandbox pick it. */
export function debianRelease() {
  const found = existsSync('/boot') ? readdirSync('/boot').filter((f) => /^vmlinuz-\d/.test(f)).map((f) => f.slice('vmlinuz-'.length)) : [];
  if (found.length === 0) fail('no /boot/vmlinuz-* is installed: install Debian\'s kernel with `sudo apt-get install linux-image-amd64` (or run .ci/install-apt)');
  const v = (r) => r.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  found.sort((a, b) => { const x = v(a), y = v(b); for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0); return 0; });
  return found[found.length - 1];
}

function cacheRoot() {
  return process.env.KVMDBG_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kvmdbg');
}

export function debianKernelDir(release = debianRelease()) {
  const hash = createHash('sha256').update(release);
  for (const d of moduleDirs) for (const f of readdirSync(d).sort()) hash.update(f).update(readFileSync(join(d, f)));
  return join(cacheRoot(), `debian-${release}-${hash.digest('hex').slice(0, 12)}`);
}

/** The debug vmlinux and binfmt_misc's debug file, from the -dbg package (downloaded into the cache, kept for the next release check). */
function unpackDebug(release, out) {
  const pkg = `linux-image-${release}-dbg`;
  const debs = join(cacheRoot(), 'debian-dbg');
  mkdirSync(debs, { recursive: true });
  const findDeb = () => readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!findDeb()) {
    console.log(`debian-kernel: downloading ${pkg} (about 860 MB) with apt-get download (once)`);
    const r = spawnSync('apt-get', ['download', pkg], { cwd: debs, stdio: 'inherit' });
    if (r.status !== 0 || !findDeb()) fail(`apt-get download ${pkg} failed: it needs Debian bookworm's apt sources with security updates, and \`apt-get update\` (.ci/install-apt does both)`);
  }
  const vmlinux = `./usr/lib/debug/boot/vmlinux-${release}`;
  const mod = `./usr/lib/debug/lib/modules/${release}/${DEBIAN_MODULE}`;
  console.log(`debian-kernel: unpacking the debug vmlinux and ${DEBIAN_MODULE} from ${findDeb()} (once, about a minute)`);
  sh('sh', ['-c', `dpkg-deb --fsys-tarfile '${join(debs, findDeb())}' | tar -x '${vmlinux}' '${mod}'`], { cwd: out });
  renameSync(join(out, vmlinux), join(out, 'vmlinux'));
}

/** The test modules against Debian's headers, as one out-of-tree module directory (M=). */
function buildModules(release, out) {
  const headers = `/usr/src/linux-headers-${release}`;
  if (!existsSync(join(headers, 'Makefile'))) fail(`${headers} is missing: install linux-headers-${release} (\`sudo apt-get install linux-headers-amd64\`, or run .ci/install-apt)`);
  const src = join(out, 'module');
  rmSync(src, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  for (const d of moduleDirs) for (const f of readdirSync(d).filter((f) => f.endsWith('.c'))) copyFileSync(join(d, f), join(src, f));
  writeFileSync(join(src, 'Kbuild'), `obj-m := ${MODULES.map((m) => `${m}.o`).join(' ')}\n`);
  sh('make', ['-C', headers, `M=${src}`, 'modules']);
  for (const m of MODULES) copyFileSync(join(src, `${m}.ko`), join(out, `${m}.ko`));
}

function prepare(vmlinuxOnly) {
  const release = debianRelease();
  const out = debianKernelDir(release);
  if (existsSync(join(out, 'done'))) return out;
  if (!existsSync(join(out, 'vmlinux'))) {
    const work = `${out}.work`;
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    unpackDebug(release, work);
    rmSync(out, { recursive: true, force: true });
    renameSync(work, out);
  }
  if (vmlinuxOnly) return out;
  // Built where it stays: its DWARF names its source by this path, and a breakpoint is set there.
  buildModules(release, out);
  copyFileSync(`/boot/vmlinuz-${release}`, join(out, 'vmlinuz'));
  writeFileSync(join(out, 'release'), `${release}\n`);
  writeFileSync(join(out, 'done'), '');
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  console.log(args.includes('--print-dir') ? debianKernelDir() : prepare(args.includes('--vmlinux-only')));
}
