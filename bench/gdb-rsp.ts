/**
 * Issue 6's benchmark: Debian's gdb against kvmdbg's GDB stub and against
 * QEMU's gdbstub (QEMU with KVM), same guest (test/guests pvh64.elf, 64 MiB),
 * same gdb script, same run. Both stop at `fib` (a hardware breakpoint: the
 * KVM sandbox delivers no int3 exits), then gdb's Python times:
 *   - `dump binary memory` of 16 MiB from 1 MiB up (identity-mapped RAM, the
 *     kernel and what follows: readable on both machines);
 *   - N `stepi` in a row (inside fib's recursion: the same N instructions on
 *     both; the final $pc must agree);
 *   - PINGS `maint packet qC` in a row: one RSP round trip that does nothing,
 *     the protocol's own floor.
 * Not a test: scripts/bench.mjs prints medians and ratios.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, median, runGdb, startKvmdbg, startQemu, type GdbPeer } from './gdb-peers';

export const KERNEL = join(ROOT, 'test', 'guests', 'build', 'pvh64.elf');
/** Start and size of the memory both sides read. */
export const MEM_START = 0x100000;
export const MEM_BYTES = 16 * 1024 * 1024;

/** What one debugger session measured, gdb's or the DAP client's. */
export interface DebuggerSample {
  /** Seconds per read of `bytes` (a gdb dump or a run of DAP readMemory requests). */
  memSec: number[];
  bytes: number;
  stepSec: number;
  steps: number;
  /** The PC and RSP after the steps: every side must end where the others do. */
  pc: number;
  sp: number;
  /** Seconds per round trip of a request that does nothing (gdb: `maint packet qC`; DAP: `threads`). */
  pingSec: number;
}

/** No-op round trips timed per session. */
export const PINGS = 100;

export interface GdbSample extends DebuggerSample {
  peer: GdbPeer['name'];
}

/** The gdb script after `target remote`: stop in fib, time the dumps and the steps, print BENCH-RESULT. */
export function benchScript(opts: { dumps: number; steps: number; dumpFile: string; start?: number; bytes?: number }): string {
  const start = opts.start ?? MEM_START;
  const end = start + (opts.bytes ?? MEM_BYTES);
  return `hbreak fib
continue
delete
python
import gdb, json, time
res = {'mem': []}
for i in range(${opts.dumps}):
    t = time.perf_counter()
    gdb.execute('dump binary memory ${opts.dumpFile} 0x${start.toString(16)} 0x${end.toString(16)}', to_string=True)
    res['mem'].append(time.perf_counter() - t)
t = time.perf_counter()
for i in range(${opts.steps}):
    gdb.execute('stepi', to_string=True)
res['step'] = time.perf_counter() - t
t = time.perf_counter()
for i in range(${PINGS}):
    gdb.execute('maint packet qC', to_string=True)
res['ping'] = (time.perf_counter() - t) / ${PINGS}
res['pc'] = int(gdb.parse_and_eval('$pc')) & 0xffffffffffffffff
res['sp'] = int(gdb.parse_and_eval('$rsp')) & 0xffffffffffffffff
print('BENCH-RESULT ' + json.dumps(res))
end
kill`;
}

/** One gdb session against a fresh VM of `peer`. */
export async function gdbSample(peer: 'kvmdbg' | 'qemu', opts: { dumps: number; steps: number; scratch: string; bytes?: number }): Promise<GdbSample> {
  const bytes = opts.bytes ?? MEM_BYTES;
  if (!existsSync(KERNEL)) throw new Error(`${KERNEL} is missing: run npm run build`);
  const vm = peer === 'kvmdbg' ? await startKvmdbg(KERNEL) : await startQemu(KERNEL);
  const dumpFile = join(tmpdir(), `kvmdbg-bench-${process.pid}-${peer}.bin`);
  try {
    const r = await runGdb(vm, KERNEL, benchScript({ dumps: opts.dumps, steps: opts.steps, dumpFile, bytes }), join(opts.scratch, `gdb-${peer}.gdb`));
    const res = r.results[0] as unknown as { mem: number[]; step: number; pc: number; sp: number; ping: number } | undefined;
    if (!res) throw new Error(`gdb against ${peer} printed no result; gdb said:\n${r.output}\nthe VM said:\n${vm.output()}`);
    const size = existsSync(dumpFile) ? statSync(dumpFile).size : -1;
    if (size !== bytes) throw new Error(`gdb against ${peer} dumped ${size} bytes, not ${bytes}:\n${r.output}`);
    return { peer, memSec: res.mem, bytes, stepSec: res.step, steps: opts.steps, pc: res.pc, sp: res.sp, pingSec: res.ping };
  } finally {
    rmSync(dumpFile, { force: true });
    await vm.stop();
  }
}

export interface GdbComparison {
  samples: GdbSample[];
  /** Medians: MiB/s of the dumps, stepi per second, milliseconds per no-op round trip. */
  kvmdbg: { memMiBps: number; stepsPerSec: number; pingMs: number };
  qemu: { memMiBps: number; stepsPerSec: number; pingMs: number };
}

export function summarize(samples: GdbSample[]): GdbComparison {
  const of = (p: GdbPeer['name']) => {
    const s = samples.filter((x) => x.peer === p);
    return {
      memMiBps: median(s.flatMap((x) => x.memSec.map((t) => x.bytes / 1048576 / t))),
      stepsPerSec: median(s.map((x) => x.steps / x.stepSec)),
      pingMs: median(s.map((x) => x.pingSec * 1000)),
    };
  };
  return { samples, kvmdbg: of('kvmdbg'), qemu: of('qemu') };
}
