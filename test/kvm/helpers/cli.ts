// Runs `node bin/kvmdbg.js ...` as a user would, with a "doesn't hang" bound.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { CLI, ROOT, within } from './guests';

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  child: ChildProcess;
  /** Resolves once stdout contains `text`; fails with what was printed after `ms`. */
  waitForStdout(text: string, ms: number): Promise<void>;
  /** Resolves when the process has exited and its pipes are closed. */
  done: Promise<CliResult>;
  stdout(): string;
  stderr(): string;
}

export function startCli(args: string[], opts: { input?: string; keepStdinOpen?: boolean } = {}): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => {
    out += s;
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (out.includes(waiters[i].text)) { waiters[i].resolve(); waiters.splice(i, 1); }
    }
  });
  child.stderr!.on('data', (s: string) => { err += s; });
  child.stdin!.on('error', () => {});
  if (opts.input !== undefined) child.stdin!.write(opts.input);
  if (!opts.keepStdinOpen) child.stdin!.end();
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (status, signal) => resolve({ status, signal, stdout: out, stderr: err }));
  });
  return {
    child,
    done,
    stdout: () => out,
    stderr: () => err,
    waitForStdout(text, ms) {
      if (out.includes(text)) return Promise.resolve();
      return within(new Promise<void>((resolve) => waiters.push({ text, resolve })), ms,
        `kvmdbg ${args.join(' ')}: waiting for ${JSON.stringify(text)} on stdout (stdout: ${JSON.stringify(out)}, stderr: ${JSON.stringify(err)})`);
    },
  };
}

/** Runs kvmdbg to its end; kills it (SIGKILL) and fails if it takes longer than `ms`. */
export async function runCli(args: string[], ms: number, opts: { input?: string } = {}): Promise<CliResult> {
  const run = startCli(args, opts);
  try {
    return await within(run.done, ms, `kvmdbg ${args.join(' ')} (stdout: ${JSON.stringify(run.stdout())}, stderr: ${JSON.stringify(run.stderr())})`);
  } catch (e) {
    const report = await hangReport(run.child.pid);
    run.child.kill('SIGKILL');
    (e as Error).message += `\n${report}`;
    throw e;
  }
}

/** What a kvmdbg that seems hung is doing: its threads twice a second apart, KVM's counters that moved, KVM's trace events. */
export async function hangReport(pid: number | undefined): Promise<string> {
  const first = threadStates(pid);
  const counters = kvmCounters(pid);
  await new Promise((r) => setTimeout(r, 1000));
  return `${first}\none second later:\n${threadStates(pid)}\n${kvmCountersMoved(counters, kvmCounters(pid))}\n${await kvmTrace(100)}`;
}

/** What each thread of a hung process is doing, from /proc: name, state, where in the kernel it waits (root sees the kernel stack). */
export function threadStates(pid: number | undefined): string {
  if (pid === undefined) return '';
  const lines: string[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const read = (f: string): string => { try { return readFileSync(`/proc/${pid}/task/${tid}/${f}`, 'utf8').trim(); } catch { return '?'; } };
      const stat = read('stat');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 3 (state), 14 utime, 15 stime, 43 guest_time (ticks running a vCPU): f[n - 3].
      const state = `${f[0]} utime ${f[11]} stime ${f[12]} guest ${f[40]}`;
      const stack = read('stack').split('\n').slice(0, 6).map((l) => l.replace(/^\[<[0-9a-f]+>\] /, '')).join(' < ');
      lines.push(`  thread ${tid} ${read('comm')} state ${state} wchan ${read('wchan')}: ${stack}`);
    }
  } catch (err) {
    lines.push(`  (threads of ${pid} unreadable: ${(err as Error).message})`);
  }
  return `threads of the hung kvmdbg (pid ${pid}):\n${lines.join('\n')}`;
}

/** KVM's own counters for a process's VMs (debugfs: exits by kind, page faults, halts...), by "vm/vcpuN/name". */
export function kvmCounters(pid: number | undefined): Map<string, bigint> {
  const out = new Map<string, bigint>();
  const root = '/sys/kernel/debug/kvm';
  const readDir = (dir: string, prefix: string): void => {
    for (const name of readdirSync(dir, { withFileTypes: true })) {
      if (name.isDirectory()) { if (/^vcpu\d+$/.test(name.name)) readDir(`${dir}/${name.name}`, `${prefix}${name.name}/`); continue; }
      try { out.set(prefix + name.name, BigInt(readFileSync(`${dir}/${name.name}`, 'utf8').trim())); } catch { /* not a counter */ }
    }
  };
  try {
    // A VM's directory is named by the thread that created it (vCPU 0's worker): any thread of the process.
    const tids = new Set(readdirSync(`/proc/${pid}/task`));
    for (const vm of readdirSync(root)) if (tids.has(vm.split('-')[0])) readDir(`${root}/${vm}`, `${vm}/`);
  } catch { /* no debugfs here, or the process is gone */ }
  return out;
}

/** The counters that changed between two samples a second apart: what a VM that prints nothing keeps doing. */
export function kvmCountersMoved(before: Map<string, bigint>, after: Map<string, bigint>): string {
  if (after.size === 0) return 'KVM counters: none readable (debugfs is not mounted at /sys/kernel/debug)';
  const moved = [...after].filter(([k, v]) => before.has(k) && before.get(k) !== v).map(([k, v]) => `${k} +${v - before.get(k)!}`);
  return `KVM counters that moved in that second: ${moved.length ? moved.join(', ') : 'none'}`;
}

/** KVM's trace events for `ms` (tracefs, root only): the exits, RIPs and injections a stuck VM loops on. */
export async function kvmTrace(ms: number, lines = 24): Promise<string> {
  const dir = '/sys/kernel/debug/tracing';
  const write = (f: string, v: string): void => writeFileSync(`${dir}/${f}`, v);
  try {
    write('trace', '');
    write('events/kvm/enable', '1');
    try { await new Promise((r) => setTimeout(r, ms)); } finally { write('events/kvm/enable', '0'); }
    const events = readFileSync(`${dir}/trace`, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    // The same few events repeat in a loop: count each one (its text after the timestamp).
    const counts = new Map<string, number>();
    for (const l of events) { const e = l.replace(/^.*?\d+\.\d+: /, ''); counts.set(e, (counts.get(e) ?? 0) + 1); }
    const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, lines).map(([e, n]) => `  ${n} x ${e}`);
    return `KVM trace events in ${ms} ms: ${events.length}, the most frequent:\n${top.join('\n')}`;
  } catch (e) {
    return `KVM trace: not available (${(e as Error).message})`;
  }
}

/** Processes whose command line contains `marker` (to prove nothing was left running). */
export function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) pids.push(Number(entry));
    } catch { /* gone meanwhile */ }
  }
  return pids;
}

/** A stack trace line in stderr means an error escaped as an exception. */
export const STACK_LINE = /^ {4}at /m;
