/**
 * Issue 4's benchmark, our side: kvmdbg's debug adapter driven over DAP the
 * way VS Code drives it, on the guest the gdb side uses (pvh64.elf, 64 MiB):
 *   - instruction steps: stepIn with granularity 'instruction', then what VS
 *     Code asks after every stop (threads, stackTrace of 20 frames, scopes,
 *     variables of the first scope, which VS Code expands), N times in a row,
 *     from the first instruction of fib (an instruction breakpoint);
 *   - readMemory of 16 MiB from v:0x100000, in requests of 256 KiB (a
 *     single 16 MiB response would mostly time the client: DebugClient, like
 *     VS Code's own client, concatenates each incoming 64 KiB chunk onto all
 *     it has, quadratic in the message size; on the PVM host 256 KiB
 *     requests read ~95 MiB/s, 64 KiB ~78 and 1 MiB ~60, the client's CPU
 *     being two thirds of it).
 * The peer (gdb `stepi` and `dump memory` through QEMU's gdbstub) is in
 * gdb-rsp.ts; scripts/bench.mjs runs both in one run.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { ElfFile } from '../vmm/boot/elf';
import { readFileSync } from 'node:fs';
import { GUEST_MEMORY, ROOT } from './gdb-peers';
import { KERNEL, MEM_BYTES, MEM_START, PINGS, type DebuggerSample } from './gdb-rsp';

const ADAPTER = join(ROOT, 'out', 'debug-adapter', 'main.js');
const TIMEOUT = 120_000;

/** The CPU seconds a process has used (user + system, all its threads), from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime) counted from 1, after pid and (comm): indexes 11 and 12 here.
  return (Number(f[11]) + Number(f[12])) / 100;
}

const adapterPid = (dc: DebugClient): number => (dc as unknown as { _adapterProcess: { pid: number } })._adapterProcess.pid;

export interface DapSample extends DebuggerSample {
  /** The adapter process's CPU seconds (main thread, vCPU thread, kernel time of its KVM_RUNs) per step. */
  cpuPerStep: number;
  /** Milliseconds per step spent in each request (the step: stepIn until the stopped event). */
  phases: Record<'step' | 'threads' | 'stackTrace' | 'scopes' | 'variables', number>;
}

/** Bytes per readMemory request. */
export const DAP_READ_CHUNK = 256 * 1024;

function symbolAddress(elf: string, name: string): number {
  const f = new ElfFile(elf, readFileSync(elf));
  const s = f.symbols().find((x) => x.name === name && x.shndx !== 0);
  if (!s) throw new Error(`${elf} has no symbol ${name}`);
  return Number(s.value);
}

async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let t!: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`DAP: ${what} took over ${TIMEOUT / 1000} s`)), TIMEOUT); });
  try { return await Promise.race([p, timeout]); } finally { clearTimeout(t); }
}

/** One adapter session: stop at fib, `reads` readMemory of 16 MiB, then `steps` instruction steps. */
export async function dapSample(opts: { steps: number; reads: number; bytes?: number; refresh?: boolean }): Promise<DapSample> {
  const bytes = opts.bytes ?? MEM_BYTES;
  if (!existsSync(KERNEL)) throw new Error(`${KERNEL} is missing: run npm run build`);
  if (!existsSync(ADAPTER)) throw new Error(`${ADAPTER} is missing: run npm run build`);
  const fib = symbolAddress(KERNEL, 'fib');
  const dc = new DebugClient(process.execPath, ADAPTER, 'kvm', undefined, !!process.env.KVMDBG_DAP_STDERR);
  dc.defaultTimeout = TIMEOUT;
  await dc.start();
  try {
    const first = dc.waitForEvent('stopped', TIMEOUT);
    await within(Promise.all([
      dc.initializeRequest({ adapterID: 'kvm', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' })
        .then(() => dc.launchRequest({ kernel: KERNEL, memory: GUEST_MEMORY } as DebugProtocol.LaunchRequestArguments)),
      dc.waitForEvent('initialized', TIMEOUT)
        .then(() => dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: `v:0x${fib.toString(16)}` }] }))
        .then(() => dc.configurationDoneRequest()),
    ]), 'launch');
    await within(first, 'the stop at fib');
    await dc.customRequest('setInstructionBreakpoints', { breakpoints: [] });

    const memSec: number[] = [];
    for (let i = 0; i < opts.reads; i++) {
      const t = process.hrtime.bigint();
      let n = 0;
      for (let at = 0; at < bytes; at += DAP_READ_CHUNK) {
        const count = Math.min(DAP_READ_CHUNK, bytes - at);
        const r = await dc.customRequest('readMemory', { memoryReference: `v:0x${(MEM_START + at).toString(16)}`, count }) as DebugProtocol.ReadMemoryResponse;
        const got = Buffer.from(r.body?.data ?? '', 'base64').length;
        if (got !== count) throw new Error(`readMemory at +${at} returned ${got} bytes, not ${count} (${r.body?.unreadableBytes} unreadable)`);
        n += got;
      }
      memSec.push(Number(process.hrtime.bigint() - t) / 1e9);
      if (n !== bytes) throw new Error(`readMemory returned ${n} bytes, not ${bytes}`);
    }

    let vars: DebugProtocol.Variable[] = [];
    const phases = { step: 0, threads: 0, stackTrace: 0, scopes: 0, variables: 0 };
    let mark = process.hrtime.bigint();
    const lap = (k: keyof typeof phases) => { const n = process.hrtime.bigint(); phases[k] += Number(n - mark) / 1e6; mark = n; };
    const t = mark;
    const cpu0 = cpuSeconds(adapterPid(dc));
    for (let i = 0; i < opts.steps; i++) {
      const stop = dc.waitForEvent('stopped', TIMEOUT);
      await dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
      await stop;
      lap('step');
      if (opts.refresh === false) continue;
      await dc.threadsRequest();
      lap('threads');
      const frames = (await dc.stackTraceRequest({ threadId: 1, startFrame: 0, levels: 20 })).body.stackFrames;
      lap('stackTrace');
      const scopes = (await dc.scopesRequest({ frameId: frames[0].id })).body.scopes;
      lap('scopes');
      vars = (await dc.variablesRequest({ variablesReference: scopes[0].variablesReference })).body.variables;
      lap('variables');
    }
    const stepSec = Number(process.hrtime.bigint() - t) / 1e9;
    const cpuPerStep = (cpuSeconds(adapterPid(dc)) - cpu0) / opts.steps;
    // The protocol's floor: a request that asks the VM nothing.
    const p0 = process.hrtime.bigint();
    for (let i = 0; i < PINGS; i++) await dc.threadsRequest();
    const pingSec = Number(process.hrtime.bigint() - p0) / 1e9 / PINGS;
    for (const k of Object.keys(phases) as (keyof typeof phases)[]) phases[k] /= opts.steps;
    const frames = (await dc.stackTraceRequest({ threadId: 1, startFrame: 0, levels: 1 })).body.stackFrames;
    const ip = frames[0].instructionPointerReference ?? '';
    const pc = Number(BigInt(ip.replace(/^v:/, '')));
    // The first scope is C locals where the kernel has DWARF: RSP is in the General registers.
    const scopes = (await dc.scopesRequest({ frameId: frames[0].id })).body.scopes;
    const general = scopes.find((x) => x.name === 'General');
    if (general) vars = (await dc.variablesRequest({ variablesReference: general.variablesReference })).body.variables;
    const rsp = vars.find((v) => v.name === 'rsp');
    if (!rsp) throw new Error(`no rsp in the General scope: ${vars.map((v) => v.name).join(', ')}`);
    const sp = Number(BigInt(rsp.value.split(' ')[0]));
    return { memSec, bytes, stepSec, steps: opts.steps, pc, sp, phases, pingSec, cpuPerStep };
  } finally {
    await dc.disconnectRequest({ terminateDebuggee: true }).catch(() => {});
    await dc.stop().catch(() => {});
  }
}

/** The long line of the test kernel's `range` run (test/guests/kernel/main.c range_run): 100,002 instructions. */
export const LONG_LINE_INSTRUCTIONS = 100_002;

/**
 * One adapter session on pvh64.elf with cmdline `range`: stopped at the
 * start of the long line (a source breakpoint), one `next` over it, timed
 * from the request to the stopped event. Checks it ended on the next line
 * with RCX = 0 (the loop ran to its end).
 */
export async function dapLineStepSample(): Promise<{ sec: number; cpuSec: number; instructions: number }> {
  const mainC = join(ROOT, 'test', 'guests', 'kernel', 'main.c');
  const lines = readFileSync(mainC, 'utf8').split('\n');
  const line = lines.findIndex((l) => l.includes('__asm__ volatile("range_loop:')) + 1;
  if (line === 0) throw new Error(`${mainC} has no range_loop line`);
  const dc = new DebugClient(process.execPath, ADAPTER, 'kvm', undefined, !!process.env.KVMDBG_DAP_STDERR);
  dc.defaultTimeout = TIMEOUT;
  await dc.start();
  try {
    const first = dc.waitForEvent('stopped', TIMEOUT);
    await within(Promise.all([
      dc.initializeRequest({ adapterID: 'kvm', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' })
        .then(() => dc.launchRequest({ kernel: KERNEL, memory: GUEST_MEMORY, cmdline: 'range' } as DebugProtocol.LaunchRequestArguments)),
      dc.waitForEvent('initialized', TIMEOUT)
        .then(() => dc.setBreakpointsRequest({ source: { path: mainC }, breakpoints: [{ line }] }))
        .then(() => dc.configurationDoneRequest()),
    ]), 'launch');
    await within(first, `the stop at main.c:${line}`);
    await dc.setBreakpointsRequest({ source: { path: mainC }, breakpoints: [] });
    const stop = dc.waitForEvent('stopped', TIMEOUT);
    const cpu0 = cpuSeconds(adapterPid(dc));
    const t = process.hrtime.bigint();
    await dc.nextRequest({ threadId: 1 });
    await within(stop, 'the line step');
    const sec = Number(process.hrtime.bigint() - t) / 1e9;
    const cpuSec = cpuSeconds(adapterPid(dc)) - cpu0;
    const top = (await dc.stackTraceRequest({ threadId: 1, startFrame: 0, levels: 1 })).body.stackFrames[0];
    if (top.line !== line + 1) throw new Error(`the line step ended at line ${top.line}, not ${line + 1}`);
    const scopes = (await dc.scopesRequest({ frameId: top.id })).body.scopes;
    const general = scopes.find((x) => x.name === 'General');
    const vars = general ? (await dc.variablesRequest({ variablesReference: general.variablesReference })).body.variables : [];
    const rcx = vars.find((v) => v.name === 'rcx');
    if (!rcx || BigInt(rcx.value.split(' ')[0]) !== 0n) throw new Error(`the loop did not run to its end: RCX ${rcx?.value}`);
    return { sec, cpuSec, instructions: LONG_LINE_INSTRUCTIONS };
  } finally {
    await dc.disconnectRequest({ terminateDebuggee: true }).catch(() => {});
    await dc.stop().catch(() => {});
  }
}
