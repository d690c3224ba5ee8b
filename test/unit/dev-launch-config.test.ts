/**
 * F5 for a contributor, on a fresh clone: .vscode/launch.json's "Run
 * Extension" runs its preLaunchTask exactly as .vscode/tasks.json states it,
 * and that alone makes every file package.json points at. (code-server
 * cannot host an Extension Development Host, so the host itself is not
 * started here.) And "Debug Adapter Server" serves DAP on its port.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { ROOT, cloneWorkingTree, readJsonWithComments, userEnv } from './helpers/fresh-clone';
import { DapWire, INITIALIZE_ARGS } from './helpers/dap-wire';

let clone = '';
let launch: any;
let tasks: any;
before(() => {
  clone = cloneWorkingTree();
  // What npm ci would add, taken from this checkout: the packages and the addon.
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
  mkdirSync(join(clone, 'build/Release'), { recursive: true });
  copyFileSync(join(ROOT, 'build/Release/kvm.node'), join(clone, 'build/Release/kvm.node'));
  launch = readJsonWithComments(join(clone, '.vscode/launch.json'));
  tasks = readJsonWithComments(join(clone, '.vscode/tasks.json'));
});
after(() => { if (clone) rmSync(clone, { recursive: true, force: true }); });

const config = (name: string) => {
  const c = launch.configurations.find((x: { name: string }) => x.name === name);
  assert.ok(c, `launch.json has a "${name}" configuration`);
  return c;
};
const inClone = (s: string) => s.replaceAll('${workspaceFolder}', clone);

/** Every file package.json points at: main, the debugger's program, the CLI's bundle, and what the adapter loads beside it. */
function manifestFiles(): string[] {
  const pkg = JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8'));
  const program = pkg.contributes.debuggers[0].program;
  const cli = /require\('\.\.\/([^']+)'\)/.exec(readFileSync(join(clone, pkg.bin.kvmdbg), 'utf8'))?.[1];
  assert.ok(cli, `${pkg.bin.kvmdbg} requires its bundle`);
  // vcpu-thread.ts starts vcpu-worker.js from beside the bundle; iced-x86 reads its wasm from there.
  return [pkg.main, program, join(dirname(program), 'vcpu-worker.js'), join(dirname(program), 'iced_x86_bg.wasm'), pkg.bin.kvmdbg, cli, join(dirname(cli), 'vcpu-worker.js')]
    .map((f) => join(clone, f));
}

/** Collects a child's stdout lines and resolves when one matches. */
function lines(child: ChildProcess) {
  const seen: string[] = [];
  let partial = '';
  let wake = () => {};
  child.stdout!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    seen.push(...parts);
    wake();
  });
  const until = (re: RegExp, from: number, timeoutMs: number) => new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; output:\n${seen.join('\n')}`)), timeoutMs);
    wake = () => {
      const i = seen.findIndex((l, n) => n >= from && re.test(l));
      if (i >= 0) { clearTimeout(timer); resolve(i); }
    };
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited (${code}) before a line matching ${re}; output:\n${seen.join('\n')}`)); });
    wake();
  });
  return { seen, until };
}

/** A connection to the port; the adapter prints that it waits just before it listens. */
async function connectSoon(port: number): Promise<Socket> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => resolve(s)).on('error', reject);
      });
    } catch (e) {
      if (attempt === 50) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

test('"Run Extension" opens an Extension Development Host on this folder after its preLaunchTask; a compound adds the adapter server', () => {
  const ext = config('Run Extension');
  assert.equal(ext.type, 'extensionHost');
  assert.equal(ext.request, 'launch');
  assert.deepEqual(ext.args, ['--extensionDevelopmentPath=${workspaceFolder}']);
  assert.ok(tasks.tasks.some((t: { label: string }) => t.label === ext.preLaunchTask), `tasks.json has the task "${ext.preLaunchTask}"`);
  const compound = launch.compounds.find((c: { configurations: string[] }) => c.configurations.includes('Run Extension'));
  assert.deepEqual(compound.configurations, ['Run Extension', 'Debug Adapter Server']);
  const ignored = spawnSync('git', ['-C', clone, 'check-ignore', '.vscode/launch.json', '.vscode/tasks.json']);
  assert.equal(ignored.status, 1, '.gitignore must not hide .vscode/');
});

test('the preLaunchTask of "Run Extension", as tasks.json states it, builds every file package.json points at', { timeout: 120_000 }, async () => {
  const task = tasks.tasks.find((t: { label: string }) => t.label === config('Run Extension').preLaunchTask);
  const files = manifestFiles();
  assert.equal(existsSync(join(clone, 'dist')), false, 'a fresh clone has no dist/');
  const [cmd, args] = task.type === 'npm' ? ['npm', ['run', task.script]] : [task.command, task.args ?? []];
  const child = spawn(cmd, args, { cwd: clone, env: userEnv(), detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    assert.equal(task.isBackground, true, 'a watch task, so F5 rebuilds on save');
    const { seen, until } = lines(child);
    const { background, pattern } = task.problemMatcher;
    const first = await until(new RegExp(background.endsPattern), 0, 90_000);
    assert.match(seen[first], /with 0 errors$/);
    for (const f of files) assert.ok(existsSync(f), `${f} exists after the preLaunchTask`);

    // A syntax error on save reaches VS Code's Problems through the matcher's pattern.
    const source = join(clone, 'extension/extension.ts');
    const lineNo = readFileSync(source, 'utf8').split('\n').length;
    appendFileSync(source, 'const = ;\n');
    const second = await until(new RegExp(background.endsPattern), first + 1, 30_000);
    const problems = seen.slice(first + 1, second).map((l) => new RegExp(pattern.regexp).exec(l)).filter((m) => m !== null);
    assert.equal(problems.length, 1, seen.slice(first + 1, second).join('\n'));
    const m = problems[0]!;
    assert.deepEqual([m[pattern.severity], m[pattern.file], m[pattern.line]], ['error', 'extension/extension.ts', String(lineNo)]);
    // A failed rebuild keeps the last good bundles (esbuild's own watch would delete them all).
    for (const f of files) assert.ok(existsSync(f), `${f} still exists after a failed rebuild`);
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
  }
});

test('"Debug Adapter Server" runs the adapter as a DAP server that answers initialize on its port', { timeout: 60_000 }, async () => {
  const c = config('Debug Adapter Server');
  assert.equal(c.type, 'node');
  assert.deepEqual(c.args, ['--server=4711']);
  assert.equal(c.preLaunchTask, config('Run Extension').preLaunchTask, 'built by the same watch task');
  const program = inClone(c.program);
  assert.ok(existsSync(program), `${program} (built by the watch task in the test above)`);
  // Another free port than 4711, which something else on this host may hold.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
  const child = spawn(process.execPath, [program, `--server=${port}`], { cwd: inClone(c.cwd), stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      child.stderr.on('data', (d) => { stderr += d; if (stderr.includes(`waiting for debug protocol on port ${port}`)) resolve(); });
      child.on('exit', (code) => reject(new Error(`the adapter exited (${code}): ${stderr}`)));
    });
    const socket = await connectSoon(port);
    const init = await new DapWire(socket, socket).request('initialize', INITIALIZE_ARGS);
    assert.equal(init.success, true, init.message);
    assert.equal(init.body.supportsConfigurationDoneRequest, true);
    socket.destroy();
  } finally {
    child.kill();
  }
});
