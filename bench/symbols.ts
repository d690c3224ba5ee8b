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
 * Both sides are whole processes, alternated, medians printed with the
 * ratio ours/gdb (lower is better for us). Timings here are noisy: only
 * the ratio means something.
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

function timeProcess(cmd: string, args: string[]): { ms: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal}): ${r.stderr.slice(0, 400)}`);
  return { ms, stdout: r.stdout };
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

export interface SymbolsBench {
  file: string;
  sizeMiB: number;
  oursMs: number;
  oursLoadMs: number;
  gdbMs: number;
  readelfMs: number;
  ratio: number;
  child: ChildResult;
}

/** Alternates ours / gdb / readelf `reps` times on `vmlinux`; medians. */
export function benchSymbols(vmlinux: string, reps = 3): SymbolsBench {
  const ours: number[] = [];
  const oursLoad: number[] = [];
  const gdb: number[] = [];
  const readelf: number[] = [];
  let child: ChildResult | undefined;
  for (let i = 0; i < reps; i++) {
    const o = timeProcess(process.execPath, [__filename, '--child', vmlinux]);
    child = JSON.parse(o.stdout.trim().split('\n').pop()!) as ChildResult;
    ours.push(o.ms);
    oursLoad.push(child.loadMs);
    const g = timeProcess('gdb', ['-batch', '-nx', '-ex', 'info line start_kernel', '-ex', 'info symbol start_kernel', vmlinux]);
    if (!/Line \d+ of ".*init\/main\.c"/.test(g.stdout)) throw new Error(`gdb did not find start_kernel's line: ${g.stdout.slice(0, 300)}`);
    gdb.push(g.ms);
    readelf.push(timeProcess('sh', ['-c', `readelf --debug-dump=decodedline '${vmlinux.replace(/'/g, "'\\''")}' > /dev/null`]).ms);
  }
  const oursMs = median(ours);
  const gdbMs = median(gdb);
  return {
    file: vmlinux, sizeMiB: statSync(vmlinux).size / 2 ** 20,
    oursMs, oursLoadMs: median(oursLoad), gdbMs, readelfMs: median(readelf), ratio: oursMs / gdbMs, child: child!,
  };
}

export function formatSymbolsBench(b: SymbolsBench): string {
  const ms = (x: number): string => `${x.toFixed(0)} ms`;
  return [
    `symbol loading: ${b.file} (${b.sizeMiB.toFixed(1)} MiB)`,
    `  ${b.child.summary}`,
    `  start_kernel: ${b.child.startKernel ? `${b.child.startKernel.function} at ${b.child.startKernel.file}:${b.child.startKernel.line}${b.child.startKernel.cfi ? ', CFI row found' : ''}` : 'NOT FOUND'}`,
    `  kvmdbg (node process: loadSymbols + first-stop queries): ${ms(b.oursMs)}  (loadSymbols itself ${ms(b.oursLoadMs)})`,
    `  gdb -batch 'info line start_kernel'                       : ${ms(b.gdbMs)}`,
    `  readelf --debug-dump=decodedline (informative)            : ${ms(b.readelfMs)}`,
    `  ratio kvmdbg / gdb: ${b.ratio.toFixed(2)}x (below 1: kvmdbg is faster)`,
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
    console.log(formatSymbolsBench(benchSymbols(file, reps)));
  }
}
