/**
 * A whole boot through the Machine API (vCPU worker, PC board, console ring),
 * as `kvmdbg run` does it: how many exits a small kernel takes and how long
 * the boot lasts. Informative only (scripts/bench.mjs prints it).
 */
import { Machine } from '../vmm/machine/machine';
import type { VcpuExitKind } from '../native/types';

export interface BootResult {
  /** Machine.create() (load, VM, worker) to the end of the VM. */
  wallMs: number;
  /** resume() to the end: the guest's own run. */
  runMs: number;
  exits: number;
  byKind: Partial<Record<VcpuExitKind, number>>;
  status: number;
  end: string;
  consoleBytes: number;
}

export async function bootOnce(kernel: string): Promise<BootResult> {
  const t0 = process.hrtime.bigint();
  const machine = await Machine.create({ kernel });
  let consoleBytes = 0;
  machine.on('output', (b: Uint8Array) => { consoleBytes += b.length; });
  machine.on('log', () => {});
  const t1 = process.hrtime.bigint();
  machine.resume();
  const end = await machine.whenEnded();
  const t2 = process.hrtime.bigint();
  return {
    wallMs: Number(t2 - t0) / 1e6,
    runMs: Number(t2 - t1) / 1e6,
    exits: machine.exits.total,
    byKind: machine.exits.snapshot(),
    status: end.status,
    end: `${end.kind}: ${end.message}`,
    consoleBytes,
  };
}
