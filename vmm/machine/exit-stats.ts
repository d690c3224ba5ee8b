/**
 * Per-kind VM exit counters in a SharedArrayBuffer: the vCPU thread counts
 * (a plain increment, no message), the main thread reads them live for the
 * status bar, the VM-exits view and the benchmark.
 */
import type { VcpuExitKind } from '../../native/types';

export const EXIT_KINDS: readonly VcpuExitKind[] = [
  'io', 'mmio', 'hlt', 'shutdown', 'debug', 'failEntry', 'internalError', 'systemEvent',
  'interrupted', 'irqWindowOpen', 'hypercall', 'rdmsr', 'wrmsr', 'unknown',
];
const INDEX = new Map(EXIT_KINDS.map((k, i) => [k, i]));

export class ExitStats {
  private readonly counts: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(EXIT_KINDS.length * 8)) {
    this.counts = new Float64Array(buffer);
  }

  count(kind: VcpuExitKind): void {
    // Port I/O is most exits; comparing interned strings is cheaper than a lookup.
    if (kind === 'io') this.counts[0]++;
    else this.counts[INDEX.get(kind) ?? INDEX.get('unknown')!]++;
  }

  get total(): number {
    let n = 0;
    for (const c of this.counts) n += c;
    return n;
  }

  snapshot(): Partial<Record<VcpuExitKind, number>> {
    const out: Partial<Record<VcpuExitKind, number>> = {};
    EXIT_KINDS.forEach((k, i) => { if (this.counts[i]) out[k] = this.counts[i]; });
    return out;
  }
}

/** The whole machine's counts: each vCPU thread counts into its own ExitStats (no shared increments). */
export class ExitStatsSum {
  constructor(readonly parts: readonly ExitStats[]) {}

  get total(): number {
    let n = 0;
    for (const p of this.parts) n += p.total;
    return n;
  }

  snapshot(): Partial<Record<VcpuExitKind, number>> {
    const out: Partial<Record<VcpuExitKind, number>> = {};
    for (const p of this.parts) {
      for (const [k, n] of Object.entries(p.snapshot()) as [VcpuExitKind, number][]) out[k] = (out[k] ?? 0) + n;
    }
    return out;
  }
}
