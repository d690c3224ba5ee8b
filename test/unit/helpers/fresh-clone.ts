/**
 * A fresh clone of this checkout, for the tests that install, build and
 * package as a new user or contributor would: `git clone` of HEAD plus the
 * working tree's uncommitted changes (none in CI, which tests a clean clone),
 * so a local run tests what a commit would hold. The checkout is only read.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const ROOT = join(__dirname, '..', '..', '..', '..');

export function cloneWorkingTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-clone-'));
  execFileSync('git', ['clone', '--quiet', ROOT, dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  // --no-optional-locks: read the checkout's index without refreshing it.
  const git = (...args: string[]) => execFileSync('git', ['--no-optional-locks', '-C', ROOT, ...args], { encoding: 'utf8' })
    .split('\0').filter(Boolean);
  const changed = [...git('diff', '--name-only', '--no-renames', '-z', 'HEAD'), ...git('ls-files', '-z', '--others', '--exclude-standard')];
  for (const file of changed) {
    const from = join(ROOT, file);
    const to = join(dir, file);
    rmSync(to, { force: true });
    if (!existsSync(from)) continue; // deleted in the working tree
    mkdirSync(dirname(to), { recursive: true });
    if (lstatSync(from).isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else copyFileSync(from, to);
  }
  return dir;
}

/**
 * The environment of a user's shell: without what `npm test` adds for its
 * script (the package's fields, the lifecycle, npm's own paths), which would
 * make an npm started in the clone act as part of this checkout's run.
 */
export function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^npm_(package|lifecycle)_|^npm_(command|execpath|node_execpath)$|^npm_config_(local|global)_prefix$|^INIT_CWD$/i.test(k)) delete env[k];
  }
  return env;
}

/** Runs a command in `cwd` to its end; its stdout and stderr together. */
export function run(cwd: string, cmd: string, args: string[], timeoutMs = 120_000): { status: number | null; output: string } {
  const r = spawnSync(cmd, args, { cwd, env: userEnv(), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The end of a long output, for assertion messages. */
export const tail = (s: string, lines = 40) => s.split('\n').slice(-lines).join('\n');

/** A JSON file with whole-line // comments, as .vscode/*.json are written. */
export function readJsonWithComments(path: string): any {
  return JSON.parse(readFileSync(path, 'utf8').replace(/^\s*\/\/.*$/gm, ''));
}
