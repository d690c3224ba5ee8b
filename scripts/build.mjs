// `npm run build` (and `prepare`, so every npm ci): transpiles every
// TypeScript file to out/ with the same layout (no bundling; the tests run
// from there), so worker scripts and the native loader find their neighbours
// by relative path; then the bundles in dist/ and our test kernels. Type
// checking is `npm run typecheck`.
import { build } from 'esbuild';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { buildBundles } from './bundles.mjs';

const roots = ['native', 'vmm', 'debug-adapter', 'extension', 'test', 'bench'];
const entryPoints = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'build') continue;
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) entryPoints.push(p);
  }
}
for (const r of roots) if (existsSync(r)) walk(r);
await build({
  entryPoints, outdir: 'out', outbase: '.', format: 'cjs', platform: 'node',
  target: 'node20', sourcemap: 'linked', logLevel: 'warning',
});
// Then every bundle in dist/ (the CLI and its vCPU worker, the extension, the
// debug adapter, iced-x86's wasm): loading one file instead of a hundred
// small ones is most of a VM's start-up time, and the .vsix packs these.
await buildBundles();
const make = spawnSync('make', ['-s', '-C', 'test/guests'], { stdio: 'inherit' });
if (make.status !== 0) {
  console.error('kvmdbg build: building the test kernels in test/guests failed (needs gcc and binutils: apt-get install build-essential; clang for build/cdata-clang-O2.elf)');
  process.exit(1);
}
