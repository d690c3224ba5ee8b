// Every file in dist/, from one list: what bin/kvmdbg.js, package.json's
// `main` and the debugger's `program` load. scripts/build.mjs (npm run build,
// prepare), scripts/package.mjs and `npm run watch` all write these same
// files and nothing deletes dist/, so no command undoes another.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, watch } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';

const require = createRequire(import.meta.url);

export const bundleOptions = {
  entryPoints: {
    kvmdbg: 'vmm/cli/kvmdbg.ts', // bin/kvmdbg.js
    extension: 'extension/extension.ts', // package.json main
    'debug-adapter': 'debug-adapter/main.ts', // contributes.debuggers[0].program
    'vcpu-worker': 'vmm/machine/vcpu-worker.ts', // vcpu-thread.ts starts it from beside the CLI or the adapter
    'name-index-worker': 'debug-adapter/dwarf/name-index-worker.ts', // name-index-service.ts starts it from beside the adapter
  },
  outdir: 'dist', bundle: true, format: 'cjs', platform: 'node', target: 'node20', external: ['vscode'],
  // Minified as the .vsix always was (half the adapter's bytes to parse);
  // keepNames keeps class and function names in stack traces. Legal
  // comments (/*! ... */) stay, at the end: the licences of what a bundle
  // carries (the VGA font's BSD notice, vmm/screen/font-8x16.ts) ship with it.
  minify: true, keepNames: true, legalComments: 'eof', sourcemap: 'linked', logLevel: 'warning',
};

// iced-x86 reads its wasm from __dirname: beside the bundles that disassemble.
function copyWasm() {
  mkdirSync('dist', { recursive: true });
  copyFileSync(require.resolve('iced-x86/iced_x86_bg.wasm'), 'dist/iced_x86_bg.wasm');
}

export async function buildBundles() {
  copyWasm();
  await build(bundleOptions);
}

// Watch mode reruns this same build() on each change rather than using
// esbuild's own watch, which deletes every output when a rebuild fails (since
// esbuild 0.25): a typo in the extension would take the CLI away too. As after
// a failed `npm run build`, the last good bundles stay. Each message is one
// line, path:line:col from the workspace, for the problem matcher in
// .vscode/tasks.json; the begin/end lines are its background pattern (F5
// waits for the first "build finished", printed once the files are written).
const SOURCES = ['vmm', 'native', 'debug-adapter', 'extension']; // what the bundles import, besides node_modules
const say = (kind, m) => {
  const at = m.location ? `${relative(process.cwd(), m.location.file)}:${m.location.line}:${m.location.column + 1}: ` : '';
  console.log(`kvmdbg watch: ${kind}: ${at}${m.text}`);
};

export async function watchBundles() {
  copyWasm();
  let running = false;
  let again = false;
  const rebuild = async () => {
    if (running) { again = true; return; }
    running = true;
    console.log('kvmdbg watch: build started');
    let result;
    try {
      result = await build({ ...bundleOptions, logLevel: 'silent' });
    } catch (e) {
      if (!e.errors) throw e;
      result = e;
    }
    for (const m of result.errors) say('error', m);
    for (const m of result.warnings) say('warning', m);
    console.log(`kvmdbg watch: build finished with ${result.errors.length} errors`);
    running = false;
    if (again) { again = false; await rebuild(); }
  };
  // One watch per directory, set up before the first build: every change
  // after "build finished" is seen (Node's recursive watch on Linux walks the
  // tree asynchronously). A directory added later needs a restart.
  let timer;
  const onChange = (_event, file) => {
    if (!file?.endsWith('.ts')) return;
    clearTimeout(timer);
    timer = setTimeout(rebuild, 50); // an editor's save is often several events
  };
  const watchTree = (dir) => {
    watch(dir, onChange);
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) watchTree(join(dir, e.name));
  };
  SOURCES.forEach(watchTree);
  await rebuild();
}
