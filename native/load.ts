/**
 * The one place the native addon is loaded: explicit paths relative to the
 * kvmdbg package root, and an error naming every path tried.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RawBinding } from './binding';

/** The directory of the package.json whose name is "kvmdbg", walking up from `from`. */
export function findPackageRoot(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'kvmdbg') return dir;
      } catch { /* not ours: keep walking */ }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

export function addonCandidates(root: string): string[] {
  return [
    join(root, 'build', 'Release', 'kvm.node'),
    join(root, 'build', 'Debug', 'kvm.node'),
    join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'kvm.node'),
  ];
}

export function loadBinding(from = __dirname): RawBinding {
  const root = findPackageRoot(from);
  if (!root) {
    throw new Error(`kvmdbg's native addon could not be loaded: no package.json named "kvmdbg" above ${from}`);
  }
  const tried: string[] = [];
  for (const path of addonCandidates(root)) {
    if (!existsSync(path)) {
      tried.push(`${path} (not found)`);
      continue;
    }
    try {
      return require(path) as RawBinding;
    } catch (e) {
      tried.push(`${path} (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  throw new Error(
    `kvmdbg's native addon could not be loaded; tried:\n  ${tried.join('\n  ')}\n` +
      `Build it with \`npm install\` (runs node-gyp rebuild; needs python3, make and g++).`,
  );
}
