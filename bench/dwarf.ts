/**
 * `npm run bench -- --only dwarf` (issue 14, "Scale"): kvmdbg's symbol and
 * DWARF layer against gdb on Debian's debug vmlinux (633 MB of DWARF 5), in
 * the same run, whole processes from their start:
 *
 *   (a) a function breakpoint on do_sys_openat2 resolved to file:line, with
 *       no name-index cache (cold) and with it (warm), vs
 *       `gdb -batch -ex 'info line do_sys_openat2'`;
 *   (b) `struct task_struct` fully typed (sizeof, every member's name and
 *       offset) after a cold start, vs `gdb -batch -ex 'ptype struct
 *       task_struct' -ex 'print sizeof(struct task_struct)' -ex 'print &init_task.comm'`;
 *   (c) peak RSS of our whole process through a session (load, the
 *       breakpoint, the type, the name index built in its worker) vs gdb's
 *       peak over the runs above (/usr/bin/time -f %M).
 *
 * The vmlinux comes from ~/.cache/kvmdbg/debian-dbg (downloaded there with
 * apt-get on first use, said so) or KVMDBG_DEBIAN_VMLINUX.
 *
 *   node out/bench/dwarf.js [--reps N]        the benchmark
 *   node out/bench/dwarf.js --child MODE VMLINUX CACHEDIR   one of our sessions (prints timed lines)
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSymbols } from '../debug-adapter/symbols';
import { readStruct, StructShape } from './dwarf-walk';

const PACKAGE = 'linux-image-6.1.0-57-amd64-dbg';
const CACHE = join(homedir(), '.cache', 'kvmdbg', 'debian-dbg');
const VMLINUX_IN_DEB = './usr/lib/debug/boot/vmlinux-6.1.0-57-amd64';

/** The Debian debug vmlinux, downloaded and extracted into the cache on first use. */
export function debianVmlinux(say: (line: string) => void): string {
  if (process.env.KVMDBG_DEBIAN_VMLINUX) return process.env.KVMDBG_DEBIAN_VMLINUX;
  const vmlinux = join(CACHE, VMLINUX_IN_DEB);
  if (existsSync(vmlinux)) return vmlinux;
  mkdirSync(CACHE, { recursive: true });
  let deb = readdirSync(CACHE).find((f) => f.startsWith(PACKAGE) && f.endsWith('.deb'));
  if (!deb) {
    say(`bench dwarf: downloading ${PACKAGE} (about 860 MB) into ${CACHE} with apt-get download (first run only)`);
    const r = spawnSync('apt-get', ['download', PACKAGE], { cwd: CACHE, stdio: 'inherit' });
    deb = readdirSync(CACHE).find((f) => f.startsWith(PACKAGE) && f.endsWith('.deb'));
    if (r.status !== 0 || !deb) throw new Error(`apt-get download ${PACKAGE} failed (a Debian bookworm apt source with security updates is needed)`);
  }
  say(`bench dwarf: extracting ${VMLINUX_IN_DEB} from ${deb} (first run only)`);
  const x = spawnSync('sh', ['-c', `dpkg-deb --fsys-tarfile '${deb}' | tar -x '${VMLINUX_IN_DEB}'`], { cwd: CACHE, stdio: 'inherit' });
  if (x.status !== 0 || !existsSync(vmlinux)) throw new Error(`extracting the vmlinux from ${deb} failed`);
  return vmlinux;
}

// ---- our side: one session in a fresh process ------------------------------------------

/** The type through the dwarf-reader branch's API when it is there, else the bench's minimal walk. */
function typeShape(path: string, syms: ReturnType<typeof loadSymbols>): { shape?: StructShape; via: string } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const dwarf = require('../debug-adapter/dwarf/index') as { openDebugData?: (...a: unknown[]) => { findType(n: string): unknown } };
    if (typeof dwarf.openDebugData === 'function') {
      const t = dwarf.openDebugData(path, syms)?.findType('struct task_struct') as { size: number; members(): { name?: string; offset: number }[] } | undefined;
      if (t) return { via: 'openDebugData().findType', shape: { name: 'task_struct', size: t.size, members: t.members().map((m) => ({ name: m.name ?? '', offset: m.offset })) } };
    }
  } catch { /* not merged yet: the minimal walk below */ }
  const at = syms.names?.typesNow('struct task_struct')[0];
  if (at === undefined) return { via: 'name index' };
  const { openFileSource } = require('../vmm/boot/byte-source') as typeof import('../vmm/boot/byte-source');
  const { objectFileFromElf } = require('../debug-adapter/symbols') as typeof import('../debug-adapter/symbols');
  const file = openFileSource(path);
  try {
    const o = objectFileFromElf(path, file);
    const shape = readStruct(o.section('.debug_info')!.source, o.section('.debug_abbrev')!.data, o.section('.debug_str')?.data, o.section('.debug_line_str')?.data, at);
    return { via: syms.names?.current ? 'name index + minimal member walk' : 'first-definition scan + minimal member walk', shape };
  } finally {
    file.close();
  }
}

async function child(mode: string, path: string, cacheDir: string): Promise<void> {
  const say = (what: string, value: unknown): void => { process.stdout.write(`${what} ${(process.uptime() * 1000).toFixed(1)} ${JSON.stringify(value)}\n`); };
  const syms = loadSymbols(path, { nameIndex: { cacheDir } });
  const a = syms.addressOf('do_sys_openat2');
  const loc = a === undefined ? undefined : syms.lineForAddress(a);
  say('BREAKPOINT', loc && { file: loc.file, line: loc.line, address: `0x${a!.toString(16)}`, index: syms.names?.state });
  if (mode === 'session') {
    const { shape, via } = typeShape(path, syms);
    const comm = shape?.members.find((m) => m.name === 'comm');
    const initTask = syms.addressOf('init_task');
    say('TYPE', shape && { size: shape.size, members: shape.members.length, comm: comm?.offset, initTaskComm: initTask !== undefined && comm ? `0x${(initTask + BigInt(comm.offset)).toString(16)}` : undefined, via });
    await syms.names?.ready;
  }
  say('DONE', { maxRssMiB: process.resourceUsage().maxRSS / 1024, index: syms.names?.source });
}

interface Timed { ms: Record<string, number>; values: Record<string, any> }

/** Runs one of our sessions; the wall time of each line from the spawn. */
function ourSession(mode: string, path: string, cacheDir: string): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [__filename, '--child', mode, path, cacheDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const out: Timed = { ms: {}, values: {} };
    let buf = '';
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const m = /^(\w+) [\d.]+ (.*)$/.exec(line);
        if (m) { out.ms[m[1]] = performance.now() - t0; out.values[m[1]] = JSON.parse(m[2]); }
      }
    });
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`our ${mode} session exited with ${code}`))));
  });
}

/** gdb -batch with these commands: wall time and peak RSS (/usr/bin/time -f %M). */
function gdbRun(path: string, commands: string[]): { ms: number; maxRssMiB: number; stdout: string } {
  const args = ['-f', 'MAXRSS %M', 'gdb', '-batch', '-nx', ...commands.flatMap((c) => ['-ex', c]), path];
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`gdb ${commands.join('; ')} failed (exit ${r.status}): ${r.stderr.slice(-400)}`);
  const kb = Number(/MAXRSS (\d+)/.exec(r.stderr)?.[1] ?? NaN);
  return { ms, maxRssMiB: kb / 1024, stdout: r.stdout };
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

export async function runDwarfBench(reps: number, say: (line: string) => void = console.log): Promise<Record<string, unknown>> {
  const path = debianVmlinux(say);
  say(`\nDWARF on a distro kernel (issue 14): ${path}, whole processes, ${reps} rep(s) of (a), 1 of (b); gdb ${spawnSync('gdb', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]}`);
  const cold: Timed[] = [];
  const warm: Timed[] = [];
  const gdbLine: ReturnType<typeof gdbRun>[] = [];
  for (let i = 0; i < reps; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-bench-index-'));
    try {
      // Cold: no cache (the session builds it in its worker, and waits for it before it ends); warm: that cache.
      cold.push(await ourSession('session', path, dir));
      warm.push(await ourSession('session', path, dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const g = gdbRun(path, ['info line do_sys_openat2']);
    if (!/Line \d+ of "fs\/open\.c"/.test(g.stdout)) throw new Error(`gdb did not place do_sys_openat2: ${g.stdout.slice(0, 200)}`);
    gdbLine.push(g);
    say(`  rep ${i + 1}: breakpoint: kvmdbg cold ${cold[i].ms.BREAKPOINT.toFixed(0)} ms, warm ${warm[i].ms.BREAKPOINT.toFixed(0)} ms; gdb info line ${g.ms.toFixed(0)} ms (${g.maxRssMiB.toFixed(0)} MiB)`
      + `; kvmdbg peak ${cold[i].values.DONE?.maxRssMiB.toFixed(0)} MiB cold, ${warm[i].values.DONE?.maxRssMiB.toFixed(0)} MiB warm`);
  }
  const bp = cold[0].values.BREAKPOINT;
  say(`  kvmdbg: do_sys_openat2 at ${bp?.file}:${bp?.line} (${bp?.address}); gdb: ${gdbLine[0].stdout.trim().split('\n')[0]}`);
  // The doubled-directory bug (issue 14) and the line itself, checked against gdb on the real file.
  const gdbAt = /Line (\d+) of "([^"]+)"/.exec(gdbLine[0].stdout);
  if (!bp || !gdbAt || bp.line !== Number(gdbAt[1]) || !bp.file.endsWith(`/${gdbAt[2]}`) || /(debian\/build\/build_amd64_none_amd64\/).*\1/.test(bp.file)) {
    throw new Error(`kvmdbg places do_sys_openat2 at ${bp?.file}:${bp?.line}, gdb at ${gdbAt?.[2]}:${gdbAt?.[1]} (in its compile directory)`);
  }
  const gdbType = gdbRun(path, ['ptype struct task_struct', 'print sizeof(struct task_struct)', 'print &init_task.comm']);
  const gdbSize = Number(/\$1 = (\d+)/.exec(gdbType.stdout)?.[1]);
  const gdbComm = /\$2 = \(char \(\*\)\[16\]\) (0x[0-9a-f]+)/.exec(gdbType.stdout)?.[1];
  const t = cold[0].values.TYPE;
  say(`  struct task_struct: kvmdbg ${t?.size} bytes, ${t?.members} members, &init_task.comm ${t?.initTaskComm} (${t?.via}); gdb ${gdbSize} bytes, &init_task.comm ${gdbComm}`);
  if (t?.size !== gdbSize || t?.initTaskComm !== gdbComm) say('  WARNING: kvmdbg and gdb disagree about struct task_struct');
  const oursPeak = Math.max(...[...cold, ...warm].map((c) => c.values.DONE?.maxRssMiB ?? 0));
  const gdbPeak = Math.max(gdbType.maxRssMiB, ...gdbLine.map((g) => g.maxRssMiB));
  const r = {
    coldBreakpoint: median(cold.map((c) => c.ms.BREAKPOINT)) / median(gdbLine.map((g) => g.ms)),
    warmBreakpoint: median(warm.map((c) => c.ms.BREAKPOINT)) / median(gdbLine.map((g) => g.ms)),
    taskStruct: median(cold.map((c) => c.ms.TYPE)) / gdbType.ms,
    peakMemory: oursPeak / gdbPeak,
  };
  const row = (what: string, ours: string, gdb: string, ratio: number, goal: number): string =>
    `  | ${what.padEnd(44)} | ${ours.padStart(10)} | ${gdb.padStart(10)} | ${ratio.toFixed(3).padStart(6)}x | <= ${goal}x ${ratio <= goal ? 'met' : 'NOT met'} |`;
  say(`  | ${'measure'.padEnd(44)} | ${'kvmdbg'.padStart(10)} | ${'gdb'.padStart(10)} | ${'ratio'.padStart(7)} | goal         |`);
  say(row('(a) breakpoint do_sys_openat2, cold cache', `${median(cold.map((c) => c.ms.BREAKPOINT)).toFixed(0)} ms`, `${median(gdbLine.map((g) => g.ms)).toFixed(0)} ms`, r.coldBreakpoint, 0.5));
  say(row('(a) breakpoint do_sys_openat2, warm cache', `${median(warm.map((c) => c.ms.BREAKPOINT)).toFixed(0)} ms`, `${median(gdbLine.map((g) => g.ms)).toFixed(0)} ms`, r.warmBreakpoint, 0.1));
  say(row('(b) struct task_struct typed, cold start', `${median(cold.map((c) => c.ms.TYPE)).toFixed(0)} ms`, `${gdbType.ms.toFixed(0)} ms`, r.taskStruct, 0.1));
  say(row('(c) peak RSS through the session', `${oursPeak.toFixed(0)} MiB`, `${gdbPeak.toFixed(0)} MiB`, r.peakMemory, 0.25));
  say(`  (the type with a warm cache, from the index: ${median(warm.map((c) => c.ms.TYPE)).toFixed(0)} ms; a cold session's index is built in its worker: done ${median(cold.map((c) => c.ms.DONE)).toFixed(0)} ms after its start)`);
  return { file: path, reps, ours: { cold, warm, peakMiB: oursPeak }, gdb: { infoLineMs: gdbLine.map((g) => g.ms), ptypeMs: gdbType.ms, peakMiB: gdbPeak }, ratios: r };
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    void child(args[1], args[2], args[3]).catch((e) => { console.error(e); process.exit(1); });
  } else {
    const i = args.indexOf('--reps');
    runDwarfBench(i >= 0 ? Math.max(1, Number(args[i + 1])) : 3)
      .then((j) => console.log('\nBENCH_DWARF ' + JSON.stringify(j.ratios)))
      .catch((e) => { console.error(`bench dwarf: ${(e as Error).message}`); process.exit(1); });
  }
}
