/**
 * npm 11 warns at every install about dependencies whose install scripts
 * package.json's `allowScripts` does not cover. It names exactly the
 * packages in package-lock.json that have one, each with its verdict (the
 * README says why); fresh-clone-package.test.ts runs the real npm ci.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));

/** The package names in package-lock.json with an install script; "" is this project (npm always runs its own). */
function withInstallScripts(): string[] {
  const names = Object.entries(lock.packages as Record<string, { hasInstallScript?: boolean }>)
    .filter(([path, p]) => path !== '' && p.hasInstallScript)
    .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
  return [...new Set(names)].sort();
}

test('allowScripts names every dependency with an install script, and nothing else', () => {
  assert.deepEqual(Object.keys(pkg.allowScripts).sort(), withInstallScripts());
});

test('each install script is denied: none is needed to build, package or run', () => {
  assert.deepEqual(pkg.allowScripts, {
    esbuild: false, // its JS API finds @esbuild/linux-x64's binary itself; the script only checks it and swaps the CLI launcher
    '@vscode/vsce-sign': false, // copies a signing binary for `vsce sign`; `vsce package` never calls it
    keytar: false, // vsce's optional token store for `vsce publish`
  });
});

// A name@version pin would need the lockfile's resolved URLs to be verified,
// and ours has none (omit-lockfile-registry-resolved); a bare name covers every version.
test('entries are bare package names', () => {
  for (const key of Object.keys(pkg.allowScripts)) assert.match(key, /^(@[a-z0-9-]+\/)?[a-z0-9.-]+$/);
});

test('this project\'s own install scripts: the addon, then the build', () => {
  assert.equal(pkg.scripts.install, 'node-gyp rebuild');
  assert.equal(pkg.scripts.prepare, 'npm run build');
});
