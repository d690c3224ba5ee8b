/**
 * Issue 4's benchmark, our side: kvmdbg's debug adapter driven over DAP the
 * way VS Code drives it, on the guest the gdb side uses (pvh64.elf, 64 MiB):
 *   - instruction steps: stepIn with granularity 'instruction', then what VS
 *     Code asks after every stop (threads, stackTrace of 20 frames, scopes,
 *     variables of the first scope, which VS Code expands), N times in a row,
 *     from the first instruction of fib (an instruction breakpoint);
 *   - readMemory of 16 MiB from v:0x100000, in requests of 1 MiB (a single
 *     16 MiB response would mostly time the client: DebugClient, like VS
 *     Code's own client, concatenates each incoming chunk onto all it has,
 *     quadratic in the message size).
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

export interface DapSample extends DebuggerSample {
  /** Milliseconds per step spent in each request (the step: stepIn until the stopped event). */
  phases: Record<'step' | 'threads' | 'stackTrace' | 'scopes' | 'variables', number>;
}

/** Bytes per readMemory request. */
export const DAP_READ_CHUNK = 1024 * 1024;

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
export async function dapSample(opts: { steps: number; reads: number; bytes?: number }): Promise<DapSample> {
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
    for (let i = 0; i < opts.steps; i++) {
      const stop = dc.waitForEvent('stopped', TIMEOUT);
      await dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
      await stop;
      lap('step');
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
    // The protocol's floor: a request that asks the VM nothing.
    const p0 = process.hrtime.bigint();
    for (let i = 0; i < PINGS; i++) await dc.threadsRequest();
    const pingSec = Number(process.hrtime.bigint() - p0) / 1e9 / PINGS;
    for (const k of Object.keys(phases) as (keyof typeof phases)[]) phases[k] /= opts.steps;
    const frames = (await dc.stackTraceRequest({ threadId: 1, startFrame: 0, levels: 1 })).body.stackFrames;
    const ip = frames[0].instructionPointerReference ?? '';
    const pc = Number(BigInt(ip.replace(/^v:/, '')));
    const rsp = vars.find((v) => v.name === 'rsp');
    if (!rsp) throw new Error(`the first scope has no rsp: ${vars.map((v) => v.name).join(', ')}`);
    const sp = Number(BigInt(rsp.value.split(' ')[0]));
    return { memSec, bytes, stepSec, steps: opts.steps, pc, sp, phases, pingSec };
  } finally {
    await dc.disconnectRequest({ terminateDebuggee: true }).catch(() => {});
    await dc.stop().catch(() => {});
  }
}
