// Builds kvmdbg's small Linux from Debian's linux-source-6.1 (apt): tinyconfig
// plus test/guests/linux/kvmdbg.config (64-bit, serial, PVH, virtio, SMP,
// DWARF, frame pointers, modules), and the test module of
// test/guests/linux/module built against it. A build takes ~10 minutes on 2
// cores, so it lives in a cache outside the tree, keyed by the source
// tarball, the config and the module's source: it is rebuilt only when one
// changes. Prints the cache directory (bzImage, vmlinux, System.map,
// kvmdbg_mod.ko, the module's source as module/) on its last line.
//
//   node scripts/build-linux.mjs [--print-dir]   (--print-dir: no build, just the path)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { homedir, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TARBALL = '/usr/src/linux-source-6.1.tar.xz';
const fragmentPath = join(root, 'test/guests/linux/kvmdbg.config');
const moduleDir = join(root, 'test/guests/linux/module');
const MODULE = 'kvmdbg_mod';

function fail(msg) {
  console.error(`build-linux: ${msg}`);
  process.exit(1);
}

export function smallLinuxDir() {
  const fragment = readFileSync(fragmentPath);
  const tar = existsSync(TARBALL) ? statSync(TARBALL) : null;
  const hash = createHash('sha256').update(fragment).update(`${tar?.size}:${tar?.mtimeMs}`);
  for (const f of readdirSync(moduleDir).sort()) hash.update(f).update(readFileSync(join(moduleDir, f)));
  const key = hash.digest('hex').slice(0, 12);
  const cache = process.env.KVMDBG_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kvmdbg');
  return join(cache, `linux-6.1-${key}`);
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

function build(out) {
  if (!existsSync(TARBALL)) fail(`${TARBALL} is missing: install the test dependencies (sudo .ci/install-apt)`);
  const work = `${out}.work`;
  const src = join(work, 'src');
  const obj = join(work, 'obj');
  if (!existsSync(join(src, 'Makefile'))) {
    rmSync(work, { recursive: true, force: true });
    mkdirSync(src, { recursive: true });
    console.log(`build-linux: unpacking ${TARBALL}`);
    sh('tar', ['-xf', TARBALL, '-C', src, '--strip-components=1']);
  }
  mkdirSync(obj, { recursive: true });
  const make = (...args) => sh('make', ['-C', src, `O=${obj}`, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  make('tinyconfig');
  sh(join(src, 'scripts/kconfig/merge_config.sh'), ['-m', '-O', obj, join(obj, '.config'), fragmentPath],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  make('olddefconfig');
  const config = readFileSync(join(obj, '.config'), 'utf8');
  const dropped = readFileSync(fragmentPath, 'utf8').split('\n')
    .filter((l) => /^CONFIG_\w+=/.test(l) && !config.split('\n').includes(l));
  if (dropped.length) fail(`Kconfig did not keep ${dropped.join(', ')} (a missing dependency); fix test/guests/linux/kvmdbg.config`);
  console.log(`build-linux: building bzImage and vmlinux with -j${cpus().length + 1} (about 10 minutes on 2 cores)`);
  make(`-j${cpus().length + 1}`, 'bzImage', 'vmlinux', 'modules', 'scripts_gdb');
  // The test module is built where the debugger will find its source (the
  // compile directory its DWARF names): the work directory, kept with the source.
  const mod = join(work, 'module');
  rmSync(mod, { recursive: true, force: true });
  cpSync(moduleDir, mod, { recursive: true });
  sh('make', ['-C', obj, `M=${mod}`, 'modules'], { stdio: ['ignore', 'inherit', 'inherit'] });
  // Publish atomically: a half-built cache directory is never taken for a good one.
  const stage = `${out}.stage`;
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  copyFileSync(join(obj, 'arch/x86/boot/bzImage'), join(stage, 'bzImage'));
  copyFileSync(join(obj, 'vmlinux'), join(stage, 'vmlinux'));
  copyFileSync(join(obj, 'System.map'), join(stage, 'System.map'));
  copyFileSync(join(obj, '.config'), join(stage, 'config'));
  copyFileSync(join(mod, `${MODULE}.ko`), join(stage, `${MODULE}.ko`));
  cpSync(moduleDir, join(stage, 'module'), { recursive: true });
  writeFileSync(join(stage, 'source-dir'), `${src}\n${obj}\n`);
  renameSync(stage, out);
}

const out = smallLinuxDir();
if (!process.argv.includes('--print-dir') && !existsSync(join(out, 'vmlinux'))) build(out);
console.log(out);
