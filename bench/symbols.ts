/**
 * Symbol loading time of a large vmlinux (issue 4's benchmark): how long the
 * debug adapter's symbol layer takes to make a Linux kernel debuggable, next
 * to gdb doing the same job on the same file in the same run.
 *
 *   ours: a fresh `node` process that runs loadSymbols(vmlinux) (ELF symbol
 *         table, DWARF units, line tables, CFI) and answers what a first
 *         stop needs: the breakpoint line of start_kernel in init/main.c,
 *         the line and function of start_kernel's address, its CFI row.
 *   gdb:  `gdb -batch -nx -ex 'info line start_kernel' -ex 'info symbol start_kernel' vmlinux`:
 *         reads the symbols and expands what it needs to answer.
 *   readelf --debug-dump=decodedline (every line table, decoded): a second,
 *         informative peer.
 *
 * Both sides are whole processes, alternated; medians of wall time and of
 * CPU time (user + system, from the shell's `times`: on a machine shared
 * with builds and VMs, wall time mostly measures the load) and the ratios
 * ours / gdb (lower is better for us).
 *
 *   node out/bench/symbols.js [VMLINUX] [--reps N]   (default: the small Linux's vmlinux)
 *   node out/bench/symbols.js --child VMLINUX        (one load, prints JSON; used by the above)
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { loadSymbols } from '../debug-adapter/symbols';

const ROOT = join(__dirname, '..', '..');

export interface ChildResult {
  loadMs: number;
  queryMs: number;
  summary: string;
  breakpoint?: { line: number; addresses: string[] };
  startKernel?: { file: string; line: number; function?: string; cfi: boolean };
}

/** One load and the first-stop queries, timed inside the process. */
export function loadAndQuery(vmlinux: string): ChildResult {
  const t0 = performance.now();
  const syms = loadSymbols(vmlinux);
  const t1 = performance.now();
  const address = syms.addressOf('start_kernel');
  const loc = address === undefined ? undefined : syms.lineForAddress(address);
  const bp = loc ? syms.resolveBreakpoint('init/main.c', loc.line + 1) : undefined;
  const fn = address === undefined ? undefined : syms.functionAt(address);
  const cfi = address === undefined ? false : syms.unwindRow(address) !== undefined;
  const t2 = performance.now();
  return {
    loadMs: t1 - t0,
    queryMs: t2 - t1,
    summary: syms.summary,
    breakpoint: bp && { line: bp.line, addresses: bp.addresses.map((a) => '0x' + a.toString(16)) },
    startKernel: loc && { file: loc.file, line: loc.line, function: fn?.name, cfi },
  };
}

const quote = (a: string): string => `'${a.replace(/'/g, "'\\''")}'`;

/**
 * Runs a command to completion: wall time, and the CPU time (user + system)
 * it used, from the shell's `times` (on a loaded machine wall time measures
 * the load; CPU time measures the work). Its stdout goes to `out` (a file) when given.
 */
function timeProcess(cmd: string, args: string[], out?: string): { ms: number; cpuMs: number; stdout: string } {
  const line = `${[cmd, ...args].map(quote).join(' ')}${out ? ` > ${quote(out)}` : ''}; s=$?; times >&2; exit $s`;
  const t0 = performance.now();
  const r = spawnSync('sh', ['-c', line], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal}): ${r.stderr.slice(0, 400)}`);
  // times: "0m0.001s 0m0.002s" (the shell), then "0m1.200s 0m0.300s" (its children).
  const rows = r.stderr.trim().split('\n').slice(-2);
  const secs = (t: string): number => { const m = /(\d+)m([\d.]+)s/.exec(t); return m ? Number(m[1]) * 60 + Number(m[2]) : NaN; };
  const [user, sys] = (rows[1] ?? '').trim().split(/\s+/).map(secs);
  return { ms, cpuMs: (user + sys) * 1000, stdout: r.stdout };
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

export interface SymbolsBench {
  file: string;
  sizeMiB: number;
  oursMs: number;
  oursCpuMs: number;
  oursLoadMs: number;
  gdbMs: number;
  gdbCpuMs: number;
  readelfMs: number;
  readelfCpuMs: number;
  /** Wall-time and CPU-time ratios ours / gdb. */
  ratio: number;
  cpuRatio: number;
  child: ChildResult;
}

/** Alternates ours / gdb / readelf `reps` times on `vmlinux`; medians. */
export function benchSymbols(vmlinux: string, reps = 3): SymbolsBench {
  const ours: { ms: number; cpuMs: number }[] = [];
  const oursLoad: number[] = [];
  const gdb: { ms: number; cpuMs: number }[] = [];
  const readelf: { ms: number; cpuMs: number }[] = [];
  let child: ChildResult | undefined;
  for (let i = 0; i < reps; i++) {
    const o = timeProcess(process.execPath, [__filename, '--child', vmlinux]);
    child = JSON.parse(o.stdout.trim().split('\n').pop()!) as ChildResult;
    if (!child.startKernel) throw new Error(`kvmdbg's symbols did not find start_kernel's line in ${vmlinux}: ${child.summary}`);
    ours.push(o);
    oursLoad.push(child.loadMs);
    const g = timeProcess('gdb', ['-batch', '-nx', '-ex', 'info line start_kernel', '-ex', 'info symbol start_kernel', vmlinux]);
    if (!/Line \d+ of ".*init\/main\.c"/.test(g.stdout)) throw new Error(`gdb did not find start_kernel's line: ${g.stdout.slice(0, 300)}`);
    gdb.push(g);
    readelf.push(timeProcess('readelf', ['--debug-dump=decodedline', vmlinux], '/dev/null'));
  }
  const m = (xs: { ms: number; cpuMs: number }[], k: 'ms' | 'cpuMs'): number => median(xs.map((x) => x[k]));
  return {
    file: vmlinux, sizeMiB: statSync(vmlinux).size / 2 ** 20,
    oursMs: m(ours, 'ms'), oursCpuMs: m(ours, 'cpuMs'), oursLoadMs: median(oursLoad),
    gdbMs: m(gdb, 'ms'), gdbCpuMs: m(gdb, 'cpuMs'), readelfMs: m(readelf, 'ms'), readelfCpuMs: m(readelf, 'cpuMs'),
    ratio: m(ours, 'ms') / m(gdb, 'ms'), cpuRatio: m(ours, 'cpuMs') / m(gdb, 'cpuMs'), child: child!,
  };
}

export function formatSymbolsBench(b: SymbolsBench, reps: number): string {
  const ms = (x: number): string => `${x.toFixed(0).padStart(6)} ms`;
  const sk = b.child.startKernel;
  return [
    `Symbol loading of ${b.file} (${b.sizeMiB.toFixed(1)} MiB), whole processes, medians of ${reps}, alternating:`,
    `  ${b.child.summary}`,
    `  start_kernel: ${sk ? `${sk.function} at ${sk.file}:${sk.line}${sk.cfi ? ', CFI row found' : ''}` : 'NOT FOUND'}`,
    '                                                              wall        CPU',
    `  kvmdbg: node + loadSymbols + first-stop queries        ${ms(b.oursMs)}  ${ms(b.oursCpuMs)}   (loadSymbols alone: ${b.oursLoadMs.toFixed(0)} ms wall)`,
    `  gdb -batch -ex 'info line start_kernel' (the peer)     ${ms(b.gdbMs)}  ${ms(b.gdbCpuMs)}`,
    `  readelf --debug-dump=decodedline (every line, informative) ${ms(b.readelfMs)}  ${ms(b.readelfCpuMs)}`,
    `  ratio kvmdbg / gdb: ${b.ratio.toFixed(2)}x wall, ${b.cpuRatio.toFixed(2)}x CPU (below 1: kvmdbg is faster; on a loaded machine trust CPU)`,
  ].join('\n');
}

function smallLinuxVmlinux(): string {
  const env = process.env.KVMDBG_SMALL_LINUX;
  const dir = env || spawnSync('node', [join(ROOT, 'scripts/build-linux.mjs'), '--print-dir'], { encoding: 'utf8' }).stdout.trim().split('\n').pop()!;
  return join(dir, 'vmlinux');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    console.log(JSON.stringify(loadAndQuery(args[1])));
  } else {
    const i = args.indexOf('--reps');
    const reps = i >= 0 ? Number(args[i + 1]) : 3;
    const file = args.find((a, j) => !a.startsWith('--') && (i < 0 || j !== i + 1)) ?? smallLinuxVmlinux();
    try {
      statSync(file);
    } catch {
      console.error(`bench/symbols: ${file} does not exist: build kvmdbg's small Linux first (node scripts/build-linux.mjs)`);
      process.exit(1);
    }
    console.log(formatSymbolsBench(benchSymbols(file, reps), reps));
  }
}
