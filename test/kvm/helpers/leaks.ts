// What a process leaves behind, read from /proc and the temp directories:
// shared by the lifecycle tests (SIGKILL at random points, launch/stop cycles).
import { mkdtempSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const listDir = (d: string): string[] => { try { return readdirSync(d); } catch { return []; } };

/**
 * The temp directory of this test process's tree: every process it starts
 * inherits TMPDIR (os.tmpdir() follows it), so a temp file of ours lands
 * here and other work on the host (a compiler's /tmp/cc*.s) does not count.
 */
const OUR_TMP = mkdtempSync(join(tmpdir(), 'kvmdbg-test-'));
process.env.TMPDIR = OUR_TMP;

/**
 * Everything in our temp directory and /dev/shm (where a temp file of ours could be).
 * Not /var/tmp: inside the sandbox it is the host's, where other sandboxes come and go.
 */
export function tempEntries(): Set<string> {
  return new Set([OUR_TMP, '/dev/shm'].flatMap((d) => listDir(d).map((e) => `${d}/${e}`)));
}

/** Entries of tempEntries() that were not in `before`. */
export function newTempEntries(before: Set<string>): string[] {
  return [...tempEntries()].filter((e) => !before.has(e));
}

export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Descendants of `pid` still alive (by the ppid in /proc/<n>/stat). */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* gone */ }
  }
  const out: number[] = [];
  const walk = (p: number): void => { for (const [c, pp] of parent) if (pp === p) { out.push(c); walk(c); } };
  walk(pid);
  return out;
}

/** Waits (up to `ms`) until none of `pids` is alive; returns those still alive. */
export async function waitGone(pids: number[], ms = 10_000): Promise<number[]> {
  const deadline = Date.now() + ms;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return pids.filter(alive);
}

export interface Usage { fds: number; threads: number; rssKiB: number }

/** A process's open fds, threads and resident memory. */
export function usage(pid: number | 'self' = 'self'): Usage {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    fds: readdirSync(`/proc/${pid}/fd`).length,
    threads: Number(/^Threads:\s+(\d+)/m.exec(status)![1]),
    rssKiB: Number(/^VmRSS:\s+(\d+)/m.exec(status)![1]),
  };
}

/**
 * Processes of this test's own tree (not the host's: other work comes and
 * goes there), and the host's available memory (KiB): a VM that outlived its
 * process shows in both.
 */
export function ownUsage(): { processes: number; memAvailableKiB: number } {
  return {
    processes: descendants(process.pid).length,
    memAvailableKiB: Number(/^MemAvailable:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]),
  };
}

/** What the open fds of `pid` point to (files, pipe:[n], socket:[n], anon_inode:kvm-vm, ...). */
export function openFiles(pid: number): string[] {
  const out: string[] = [];
  for (const fd of listDir(`/proc/${pid}/fd`)) {
    try {
      out.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch { /* closed meanwhile */ }
  }
  return out;
}

export const fmtUsage = (u: Usage): string => `fds ${u.fds}, threads ${u.threads}, RSS ${(u.rssKiB / 1024).toFixed(1)} MiB`;
