/**
 * `npm run bench -- --only dwarf` (issue 14, "Scale"): kvmdbg's symbol and
 * DWARF layer against gdb on Debian's debug vmlinux (633 MB of DWARF 5), in
 * the same run, whole processes from their start:
 *
 *   (a) a function breakpoint on do_sys_openat2 resolved to file:line, with
 *       no cache (cold) and with the name index and load facts the cold
 *       session left (warm, by build-id), vs `gdb -batch -ex 'info line do_sys_openat2'`;
 *   (b) `struct task_struct` fully typed after a cold start, through the
 *       path a user's hover takes: loadSymbols(path, { nameIndex }) then
 *       symbols.debug.findType, every member's type named, anonymous
 *       members walked into; sizeof, &init_task.comm and init_task.comm
 *       through the C expression evaluator over the file's own sections;
 *       vs `gdb -batch -ex 'ptype/o struct task_struct' -ex 'print
 *       sizeof(struct task_struct)' -ex 'print &init_task.comm'`, every
 *       member's offset checked against ptype/o's (a disagreement fails);
 *   (c) peak RSS of our whole process through a session (load, the
 *       breakpoint, the type, the name index built in its worker) vs gdb's
 *       peak over the runs above (/usr/bin/time -f %M).
 *
 * The vmlinux comes from scripts/debian-kernel.mjs (the -dbg package
 * downloaded with apt-get on first use, said so) or KVMDBG_DEBIAN_VMLINUX.
 *
 *   node out/bench/dwarf.js [--reps N]        the benchmark
 *   node out/bench/dwarf.js --child MODE VMLINUX CACHEDIR   one of our sessions (prints timed lines)
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { FrameContext, RecordType } from '../debug-adapter/dwarf/model';
import { evaluateExpression, unsigned64, type ExprContext } from '../debug-adapter/expr';
import { loadSymbols, type Symbols } from '../debug-adapter/symbols';
import { strip } from '../debug-adapter/variables/ctype';
import { typeName } from '../debug-adapter/variables/type-name';
import { readBytes } from '../debug-adapter/variables/value';
import { openFileSource } from '../vmm/boot/byte-source';
import { ElfFile, SHT_NOBITS } from '../vmm/boot/elf';

/** Debian's debug vmlinux (scripts/debian-kernel.mjs downloads the -dbg package and unpacks it into the cache on first use). */
export function debianVmlinux(say: (line: string) => void): string {
  if (process.env.KVMDBG_DEBIAN_VMLINUX) return process.env.KVMDBG_DEBIAN_VMLINUX;
  say('bench dwarf: Debian\'s debug vmlinux through scripts/debian-kernel.mjs (the first run downloads ~860 MB)');
  const r = spawnSync(process.execPath, [join(__dirname, '..', '..', 'scripts', 'debian-kernel.mjs'), '--vmlinux-only'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = r.stdout.trim().split('\n').pop() ?? '';
  const vmlinux = join(dir, 'vmlinux');
  if (r.status !== 0 || !existsSync(vmlinux)) throw new Error(`scripts/debian-kernel.mjs --vmlinux-only failed (exit ${r.status ?? r.signal}): ${r.stdout.trim()}`);
  return vmlinux;
}

// ---- our side: one session in a fresh process ------------------------------------------

/** A member of the struct as gdb's ptype/o lists it: anonymous struct/union members flattened, offsets from the struct's start. */
export interface FlatMember { name: string; offset: number; type: string }

/**
 * `struct task_struct` fully typed through the path a user's hover or Watch
 * takes: Symbols.debug.findType, every member's type resolved and named
 * (what ptype prints), anonymous members walked into, recursively.
 */
function typeTaskStruct(syms: Symbols): { size: number; members: FlatMember[] } | undefined {
  const t = syms.debug?.findType('struct task_struct');
  const rec = t && strip(t);
  if (!rec || (rec.kind !== 'struct' && rec.kind !== 'union')) return undefined;
  const out: FlatMember[] = [];
  const walk = (r: RecordType, base: number, depth: number): void => {
    for (const m of r.members()) {
      const mt = m.type();
      const inner = strip(mt);
      if (m.name === undefined && (inner.kind === 'struct' || inner.kind === 'union') && depth < 16) walk(inner, base + m.offset, depth + 1);
      else out.push({ name: m.name ?? '', offset: base + m.offset, type: typeName(mt, m.bitSize) });
    }
  };
  walk(rec, 0, 0);
  return { size: rec.size, members: out };
}

/** A frame over the vmlinux file itself: memory is the file's sections at their link addresses (no guest is running). */
function fileFrame(path: string): { frame: FrameContext; close(): void } {
  const file = openFileSource(path);
  const elf = new ElfFile(path, file);
  const sections = elf.sections().filter((x) => x.addr !== 0n && x.size > 0);
  return {
    close: () => file.close(),
    frame: {
      pc: 0n, innermost: true, addressSize: 8,
      register: () => undefined, cfa: () => undefined, relocate: (a) => a,
      readMemory(address, size) {
        const sec = sections.find((x) => address >= x.addr && address + BigInt(size) <= x.addr + BigInt(x.size));
        if (!sec) return undefined;
        if (sec.type === SHT_NOBITS) return new Uint8Array(size);
        return elf.sectionSource(sec).bytes(Number(address - sec.addr), size);
      },
    },
  };
}

/** `&init_task.comm`, `sizeof(struct task_struct)` and `init_task.comm` through the C expression evaluator, over the file. */
function evaluateOnFile(path: string, syms: Symbols): { initTaskComm: string; commType: string; sizeof: number; comm: string } {
  const f = fileFrame(path);
  try {
    const ctx: ExprContext = { frame: f.frame, scopes: [], debug: syms.debug, symbolAddress: (n) => syms.addressOf(n) };
    const at = evaluateExpression('&init_task.comm', ctx);
    const size = evaluateExpression('sizeof(struct task_struct)', ctx);
    const comm = readBytes(evaluateExpression('init_task.comm', ctx));
    const nul = comm.indexOf(0);
    return {
      initTaskComm: `0x${unsigned64(at, '&init_task.comm').toString(16)}`, commType: typeName(at.type),
      sizeof: Number(unsigned64(size, 'sizeof')), comm: Buffer.from(comm.subarray(0, nul < 0 ? comm.length : nul)).toString('latin1'),
    };
  } finally {
    f.close();
  }
}

async function child(mode: string, path: string, cacheDir: string): Promise<void> {
  const say = (what: string, value: unknown): void => { process.stdout.write(`${what} ${(process.uptime() * 1000).toFixed(1)} ${JSON.stringify(value)}\n`); };
  const syms = loadSymbols(path, { nameIndex: { cacheDir } });
  const a = syms.addressOf('do_sys_openat2');
  const loc = a === undefined ? undefined : syms.lineForAddress(a);
  say('BREAKPOINT', loc && { file: loc.file, line: loc.line, address: `0x${a!.toString(16)}` });
  if (mode === 'session') {
    const index = syms.names?.current ? 'the name index' : 'a first-definition scan (the index is still building)';
    const shape = typeTaskStruct(syms);
    const e = shape && evaluateOnFile(path, syms);
    say('TYPE', shape && e && { size: shape.size, members: shape.members, ...e, via: `Symbols.debug.findType through ${index}` });
    await syms.names?.ready;
  }
  say('DONE', { maxRssMiB: process.resourceUsage().maxRSS / 1024, index: syms.names?.source, summary: syms.summary });
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

/**
 * The members gdb's `ptype/o` lists for the outer struct, as (name, offset
 * from its start). ptype/o expands every nested struct and union: a named
 * one is one member of its parent; an anonymous one's members are its
 * parent's (C's rule, and what kvmdbg's walk flattens). Members of a union
 * carry no offset of their own: the union's.
 */
export function ptypeMembers(out: string): { name: string; offset: number }[] {
  interface Frame { offset: number; members: { name: string; offset: number }[] }
  const stack: Frame[] = [];
  let root: Frame | undefined;
  const nameOf = (decl: string): string | undefined => {
    const d = decl.replace(/\s*:\s*\d+$/, '').replace(/(\[\d*\])+$/, '').trim();
    const fn = /\(\s*\*\s*(\w+)\s*\)\s*\(/.exec(d);
    return fn ? fn[1] : /(\w+)$/.exec(d)?.[1];
  };
  for (const line of out.split('\n')) {
    const top = stack[stack.length - 1];
    const m = /^\/\*\s*(?:(\d+)(?:\s*:\s*\d+)?\s*\|)?\s*\d+\s*\*\/\s*(.*?)\s*$/.exec(line);
    if (/^\/\* offset\s*\|\s*size \*\/\s*type = (struct|union) .*\{$/.test(line)) {
      root = { offset: 0, members: [] };
      stack.push(root);
    } else if (m && top) {
      const offset = m[1] === undefined ? top.offset : Number(m[1]);
      if (m[2].endsWith('{')) stack.push({ offset, members: [] });
      else if (m[2].endsWith(';')) { const name = nameOf(m[2].slice(0, -1)); if (name) top.members.push({ name, offset }); }
    } else if (top) {
      const close = /^\s*\}\s*(\w*)\s*;\s*$/.exec(line);
      if (!close) continue;
      stack.pop();
      const parent = stack[stack.length - 1];
      if (!parent) break;
      if (close[1]) parent.members.push({ name: close[1], offset: top.offset });
      else parent.members.push(...top.members);
    }
  }
  return root?.members ?? [];
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

export async function runDwarfBench(reps: number, say: (line: string) => void = console.log): Promise<Record<string, unknown>> {
  const path = debianVmlinux(say);
  const peer = spawnSync('gdb', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
  const host = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}`;
  const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ');
  say(`\nDWARF on a distro kernel (issue 14): ${path}, whole processes, ${reps} rep(s) of (a), 1 of (b); peer: ${peer}`);
  say(`  host: ${host}; load average at the start ${load()} (gdb and kvmdbg alternate, so both see it)`);
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
  const gdbType = gdbRun(path, ['ptype/o struct task_struct', 'print sizeof(struct task_struct)', 'print &init_task.comm']);
  const gdbSize = Number(/\$1 = (\d+)/.exec(gdbType.stdout)?.[1]);
  const gdbComm = /\$2 = \(char \(\*\)\[16\]\) (0x[0-9a-f]+)/.exec(gdbType.stdout)?.[1];
  const t = cold[0].values.TYPE;
  const gdbMembers = ptypeMembers(gdbType.stdout);
  const ours = new Map<string, number>((t?.members ?? []).map((m: FlatMember) => [m.name, m.offset]));
  const differ = gdbMembers.filter((m) => ours.get(m.name) !== m.offset);
  say(`  struct task_struct: kvmdbg ${t?.size} bytes (sizeof ${t?.sizeof}), ${t?.members?.length} members, &init_task.comm ${t?.initTaskComm} (${t?.commType}), init_task.comm "${t?.comm}" in the file (${t?.via});`
    + ` gdb ${gdbSize} bytes, ${gdbMembers.length} members in ptype/o, &init_task.comm ${gdbComm}`);
  const key = ['pid', 'tgid', 'comm', 'mm', 'se', 'stack', 'thread'].map((n) => `${n} ${ours.get(n)}/${gdbMembers.find((m) => m.name === n)?.offset}`);
  say(`  member offsets kvmdbg/gdb: ${key.join(', ')}; ${gdbMembers.length - differ.length} of ${gdbMembers.length} agree`
    + (differ.length ? ` (differ: ${differ.slice(0, 8).map((m) => `${m.name} ${ours.get(m.name)}/${m.offset}`).join(', ')})` : ''));
  if (t?.size !== gdbSize || t?.sizeof !== gdbSize || t?.initTaskComm !== gdbComm || differ.length > 0 || gdbMembers.length !== t?.members?.length) {
    throw new Error('kvmdbg and gdb disagree about struct task_struct (above)');
  }
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
  const met = (x: number, goal: number): string => `${x.toFixed(2)}x (goal <= ${goal}x, ${x <= goal ? 'met' : 'NOT met'})`;
  say(`\n  Issue 14's goals as it states them, against ${peer} on the same file in this run (host: ${host}; load average now ${load()}):`);
  say(`    breakpoint on do_sys_openat2 verified: cold cache ${met(r.coldBreakpoint, 0.5)} of gdb's first answer; warm cache ${met(r.warmBreakpoint, 0.1)}`);
  say(`    struct task_struct fully typed (sizeof, all ${t?.members?.length} members, &init_task.comm) after a cold start: ${met(r.taskStruct, 0.1)} of gdb's time`);
  say(`    peak adapter memory through all of the above: ${met(r.peakMemory, 0.25)} of gdb's peak (${oursPeak.toFixed(0)} MiB vs ${gdbPeak.toFixed(0)} MiB)`);
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
