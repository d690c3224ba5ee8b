/**
 * A fresh clone, as the README tells a user: `npm ci`, `npm run package`,
 * `kvmdbg demo`; then `npm run build` and `npm run package` again. No
 * command may undo another (issue 17: `npm run package` deleted the CLI's
 * bundle), so after each the CLI, the .vsix and the adapter package.json
 * names all work. And `npm ci` prints no install-scripts warning:
 * package.json's allowScripts covers every dependency's install script.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cloneWorkingTree, run, tail } from './helpers/fresh-clone';
import { DapWire, INITIALIZE_ARGS } from './helpers/dap-wire';
import { kvmProblem, sandboxProblem } from '../../vmm/host/kvm-host';

const VSIX = 'kvmdbg-0.1.0-linux-x64.vsix';
/** Everything the installed extension runs, and nothing else (.vscodeignore). */
const VSIX_FILES = [
  '[Content_Types].xml', 'extension.vsixmanifest',
  'extension/build/Release/kvm.node',
  'extension/dist/debug-adapter.js', 'extension/dist/extension.js', 'extension/dist/iced_x86_bg.wasm', 'extension/dist/name-index-worker.js', 'extension/dist/vcpu-worker.js',
  'extension/package.json', 'extension/readme.md',
];

let clone = '';
let installed = false;
before(() => { clone = cloneWorkingTree(); });
after(() => { if (clone) rmSync(clone, { recursive: true, force: true }); });

function npm(args: string[], timeoutMs = 120_000): string {
  const r = run(clone, 'npm', args, timeoutMs);
  assert.equal(r.status, 0, `npm ${args.join(' ')} failed (exit ${r.status}):\n${tail(r.output)}`);
  return r.output;
}

/** The names in a .vsix (a zip): its central directory, from the end-of-directory record. */
function zipEntries(zip: Buffer): string[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(eocd >= 0, 'not a zip file');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    assert.equal(zip.readUInt32LE(at), 0x02014b50, `central directory entry ${i}`);
    const nameLength = zip.readUInt16LE(at + 28);
    names.push(zip.toString('utf8', at + 46, at + 46 + nameLength));
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return names.sort();
}

/** The debugger's `program` from package.json answers DAP initialize on stdio, then disconnects and exits 0. */
async function adapterAnswersInitialize(): Promise<void> {
  const pkg = JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8'));
  const program = join(clone, pkg.contributes.debuggers[0].program);
  const child = spawn(process.execPath, [program], { cwd: clone, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const wire = new DapWire(child.stdin, child.stdout);
    const init = await Promise.race([wire.request('initialize', INITIALIZE_ARGS),
      exited.then((code) => { throw new Error(`the adapter exited (${code}) before answering: ${stderr}`); })]);
    assert.equal(init.success, true, init.message);
    assert.equal(init.body.supportsConfigurationDoneRequest, true);
    assert.equal(init.body.supportsDisassembleRequest, true);
    assert.equal(init.body.supportsReadMemoryRequest, true);
    assert.ok(init.body.exceptionBreakpointFilters.length > 0, 'the VM-exit filters');
    assert.equal((await wire.request('disconnect', {})).success, true);
    assert.equal(await exited, 0, stderr);
  } finally {
    child.kill();
  }
}

/**
 * `kvmdbg --help` everywhere; `kvmdbg demo` where a VM can run (else this
 * subtest says why it did not). Through package.json's bin, as npx would run
 * it, but not through npx: its first run in a folder installs the project
 * into npx's cache, running our install and prepare scripts, which would
 * rebuild a missing bundle and hide the bug.
 */
async function kvmdbgWorks(t: TestContext): Promise<void> {
  const bin = join(clone, JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8')).bin.kvmdbg);
  const help = run(clone, process.execPath, [bin, '--help'], 60_000);
  assert.equal(help.status, 0, help.output);
  assert.match(help.output, /^usage:\n {2}kvmdbg run --kernel FILE/);
  const noKvm = kvmProblem();
  const noVm = noKvm && sandboxProblem();
  await t.test('kvmdbg demo boots the demo kernel', { skip: noVm ? `no VM can run on this host: ${noKvm}, and ${noVm}` : false }, () => {
    // Without /dev/kvm the CLI itself runs the VM in the sandbox (~40 s).
    const demo = run(clone, process.execPath, [bin, 'demo'], 170_000);
    assert.equal(demo.status, 0, tail(demo.output));
    assert.match(demo.output, /Goodbye from the demo kernel\./);
  });
}

async function packageWorks(t: TestContext): Promise<void> {
  rmSync(join(clone, VSIX), { force: true });
  npm(['run', 'package']);
  assert.deepEqual(zipEntries(readFileSync(join(clone, VSIX))), VSIX_FILES);
  await kvmdbgWorks(t);
  await adapterAnswersInitialize();
}

test('npm ci on a fresh clone: no install-scripts warning; our install and prepare ran, the denied scripts did not', { timeout: 240_000 }, () => {
  const output = npm(['ci', '--prefer-offline', '--no-audit', '--no-fund'], 230_000);
  assert.doesNotMatch(output, /install-scripts|allowScripts/, 'npm ci warned about install scripts');
  assert.ok(existsSync(join(clone, 'build/Release/kvm.node')), 'our install script (node-gyp rebuild) built the addon');
  for (const f of ['dist/kvmdbg.js', 'dist/extension.js', 'dist/debug-adapter.js', 'out/vmm/cli/kvmdbg.js', 'test/guests/build/demo.elf', 'test/guests/build/fbdemo.elf']) {
    assert.ok(existsSync(join(clone, f)), `prepare (npm run build) made ${f}`);
  }
  // Denied in allowScripts (see README): vsce-sign's postinstall copies its
  // signing binary to bin/, esbuild's swaps its JS launcher for the binary,
  // keytar's fetches or compiles its addon into build/.
  assert.equal(existsSync(join(clone, 'node_modules/@vscode/vsce-sign/bin')), false);
  assert.equal(readFileSync(join(clone, 'node_modules/esbuild/bin/esbuild'), 'utf8').slice(0, 19), '#!/usr/bin/env node');
  assert.equal(existsSync(join(clone, 'node_modules/keytar/build')), false);
  installed = true;
});

test('then npm run package: the .vsix holds exactly the extension\'s files; kvmdbg and the adapter work', { timeout: 240_000 }, async (t) => {
  assert.ok(installed, 'npm ci failed above');
  await packageWorks(t);
});

test('then npm run build: kvmdbg and the adapter still work', { timeout: 240_000 }, async (t) => {
  assert.ok(installed, 'npm ci failed above');
  npm(['run', 'build']);
  await kvmdbgWorks(t);
  await adapterAnswersInitialize();
});

test('then npm run package again: the same .vsix; kvmdbg and the adapter still work', { timeout: 240_000 }, async (t) => {
  assert.ok(installed, 'npm ci failed above');
  await packageWorks(t);
});
