// `npm run package`: bundles the extension, the debug adapter and the vCPU
// worker with esbuild into dist/, checks that package.json's launch schema
// is the adapter's LAUNCH_SCHEMA (`--sync` rewrites it), and makes the .vsix
// with @vscode/vsce (offline, --no-dependencies: everything is bundled; the
// addon build/Release/kvm.node and iced-x86's wasm ship as files).
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const sync = process.argv.includes('--sync');
const bundleOnly = process.argv.includes('--bundle-only');
const fail = (msg) => { console.error(`kvmdbg package: ${msg}`); process.exit(1); };

rmSync('dist', { recursive: true, force: true });
mkdirSync('dist');
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: 'linked', minify: true, keepNames: true, logLevel: 'warning', legalComments: 'none' };
await build({ ...common, entryPoints: { extension: 'extension/extension.ts' }, outdir: 'dist', external: ['vscode'] });
await build({ ...common, entryPoints: { 'debug-adapter': 'debug-adapter/main.ts', 'vcpu-worker': 'vmm/machine/vcpu-worker.ts' }, outdir: 'dist' });
// iced-x86 reads its wasm from __dirname: next to the adapter bundle.
copyFileSync(require.resolve('iced-x86/iced_x86_bg.wasm'), 'dist/iced_x86_bg.wasm');
await build({ entryPoints: ['extension/manifest-schema.ts'], bundle: true, platform: 'node', format: 'cjs', outfile: 'dist/.manifest-schema.cjs', logLevel: 'warning' });

// One source of truth for the launch attributes.
const { launchAttributes } = require(join(process.cwd(), 'dist/.manifest-schema.cjs'));
rmSync('dist/.manifest-schema.cjs');
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
