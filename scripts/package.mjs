// `npm run package`: rebuilds the bundles in dist/ with the build's own step
// (scripts/bundles.mjs: the same files `npm run build` writes, nothing
// deleted, so the CLI keeps working and the .vsix matches the sources),
// checks that package.json's launch schema is the adapter's LAUNCH_SCHEMA
// (`--sync` rewrites it), and makes the .vsix with @vscode/vsce (offline,
// --no-dependencies: everything is bundled; .vscodeignore picks the files).
// `--bundle-only` stops before vsce.
import { build } from 'esbuild';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { buildBundles } from './bundles.mjs';

const require = createRequire(import.meta.url);
const sync = process.argv.includes('--sync');
const bundleOnly = process.argv.includes('--bundle-only');
const fail = (msg) => { console.error(`kvmdbg package: ${msg}`); process.exit(1); };

await buildBundles();

// One source of truth for the launch attributes. Bundled to a temporary file,
// not into dist/ (which only builds write); its imports load the addon, which
// is found from __dirname: that is the package root here.
const tmp = mkdtempSync(join(tmpdir(), 'kvmdbg-schema-'));
let launchAttributes;
try {
  await build({ entryPoints: ['extension/manifest-schema.ts'], bundle: true, platform: 'node', format: 'cjs', outfile: join(tmp, 'schema.cjs'),
    define: { __dirname: JSON.stringify(process.cwd()) }, logLevel: 'warning' });
  ({ launchAttributes } = require(join(tmp, 'schema.cjs')));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const dbg = pkg.contributes.debuggers.find((d) => d.type === 'kvm');
const want = launchAttributes();
if (JSON.stringify(dbg.configurationAttributes.launch) !== JSON.stringify(want)) {
  if (!sync) fail('package.json\'s configurationAttributes.launch differs from debug-adapter/launch-config.ts LAUNCH_SCHEMA: run `node scripts/package.mjs --sync`');
  dbg.configurationAttributes.launch = want;
  writeFileSync('package.json', JSON.stringify(pkg, null, 2) + '\n');
  console.log('kvmdbg package: package.json launch attributes updated from LAUNCH_SCHEMA');
}
if (bundleOnly) process.exit(0);

const addon = 'build/Release/kvm.node';
if (!existsSync(addon)) fail(`${addon} is missing: build the addon first (npm install runs node-gyp rebuild)`);

const out = `kvmdbg-${pkg.version}-linux-x64.vsix`;
const vsce = spawnSync(process.execPath, [require.resolve('@vscode/vsce/vsce'), 'package', '--no-dependencies', '--target', 'linux-x64',
  '--allow-missing-repository', '--skip-license', '--no-rewrite-relative-links', '-o', out], { stdio: 'inherit', env: { ...process.env, VSCE_STORE: 'none' } });
if (vsce.status !== 0) fail(`vsce failed (exit ${vsce.status ?? vsce.signal})`);
const size = statSync(out).size;
console.log(`kvmdbg package: ${out} ${(size / 1024 / 1024).toFixed(2)} MiB (${size} bytes)`);
