// kvmdbg's small Linux (scripts/build-linux.mjs: linux-source-6.1, tinyconfig
// + test/guests/linux/kvmdbg.config, DWARF 5 and frame pointers), built once
// into a cache outside the tree. `npm test` builds it before the KVM tier and
// passes its directory in KVMDBG_SMALL_LINUX (the sandbox has another HOME).
// Missing: the test FAILS and says how to build it, never skips.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './guests';

export interface SmallLinux {
  dir: string;
  bzImage: string;
  /** The uncompressed ELF: symbols + DWARF, and the PVH entry note. */
  vmlinux: string;
  systemMap: string;
}

export function smallLinux(): SmallLinux {
  let dir = process.env.KVMDBG_SMALL_LINUX;
  if (!dir) {
    const r = spawnSync('node', [join(ROOT, 'scripts/build-linux.mjs'), '--print-dir'], { encoding: 'utf8' });
    dir = r.stdout.trim().split('\n').pop() ?? '';
  }
  const k: SmallLinux = { dir, bzImage: join(dir, 'bzImage'), vmlinux: join(dir, 'vmlinux'), systemMap: join(dir, 'System.map') };
  for (const f of [k.bzImage, k.vmlinux, k.systemMap]) {
    if (!existsSync(f)) assert.fail(`${f} is missing: build kvmdbg's small Linux first with \`node scripts/build-linux.mjs\` (npm test does it; ~10 minutes once, then cached)`);
  }
  return k;
}
