// Debian's own kernel with its -dbg package (scripts/debian-kernel.mjs): the
// debug vmlinux, binfmt_misc's debug module, and kvmdbg's test modules built
// against Debian's headers. `npm test` prepares it before the KVM tier and
// passes its directory in KVMDBG_DEBIAN_KERNEL (the sandbox has another HOME).
// Missing: the test FAILS and says how to prepare it, never skips.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './guests';

export interface DebianKernel {
  dir: string;
  release: string;
  /** The bzImage (/boot/vmlinuz-<release>, copied). */
  vmlinuz: string;
  /** The -dbg package's vmlinux: symbols and DWARF. */
  vmlinux: string;
  /** kvmdbg_mod.ko built against linux-headers-<release>, and its source. */
  testModule: string;
  testModuleSource: string;
  /** kvmdbg_fault.ko (fault=1: WARN, fault=2: BUG in its init), and its source. */
  faultModule: string;
  faultModuleSource: string;
  /** The -dbg package's /usr/lib/debug/lib/modules/<release>, holding binfmt_misc.ko's debug file. */
  debugModules: string;
}

export function debianKernel(): DebianKernel {
  let dir = process.env.KVMDBG_DEBIAN_KERNEL;
  if (!dir) {
    const r = spawnSync('node', [join(ROOT, 'scripts/debian-kernel.mjs'), '--print-dir'], { encoding: 'utf8' });
    dir = r.stdout.trim().split('\n').pop() ?? '';
  }
  const how = 'prepare it with `node scripts/debian-kernel.mjs` (npm test does it: the -dbg download, ~1 minute, once)';
  if (!existsSync(join(dir, 'done'))) assert.fail(`${dir} is not prepared: ${how}`);
  const release = readFileSync(join(dir, 'release'), 'utf8').trim();
  return {
    dir, release,
    vmlinuz: join(dir, 'vmlinuz'),
    vmlinux: join(dir, 'vmlinux'),
    testModule: join(dir, 'kvmdbg_mod.ko'),
    testModuleSource: join(dir, 'module', 'kvmdbg_mod.c'),
    faultModule: join(dir, 'kvmdbg_fault.ko'),
    faultModuleSource: join(dir, 'module', 'kvmdbg_fault.c'),
    debugModules: join(dir, 'usr/lib/debug/lib/modules', release),
  };
}
