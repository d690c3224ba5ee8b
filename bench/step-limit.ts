/**
 * The host's own limit for instruction steps (issue 18): bench/step-loop.c,
 * a plain C loop of KVM_RUN with KVM_GUESTDBG_SINGLESTEP on a tiny 64-bit
 * guest, compiled by scripts/bench.mjs into out/bench/step-loop. Each
 * variant's steps per second; `run` (nothing but the step) is the limit the
 * debuggers are compared with.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './gdb-peers';

export const STEP_LOOP = join(ROOT, 'out', 'bench', 'step-loop');

export type StepLoopVariant = 'run' | 'run+regs' | 'run+sync-regs' | 'run+sync-regs+sregs';

/** Per variant: steps per second of wall time, and CPU seconds per step (the process's, kernel included). */
export interface StepLoopResult { perSec: Record<StepLoopVariant, number>; cpuPerStep: Record<StepLoopVariant, number> }

/** Each variant, `steps` timed steps each. */
export function stepLoop(steps: number): StepLoopResult {
  if (!existsSync(STEP_LOOP)) throw new Error(`${STEP_LOOP} is missing (scripts/bench.mjs compiles bench/step-loop.c)`);
  const r = spawnSync(STEP_LOOP, [String(steps)], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`step-loop failed (exit ${r.status ?? r.signal}): ${r.stderr}`);
  const out: StepLoopResult = { perSec: {} as Record<StepLoopVariant, number>, cpuPerStep: {} as Record<StepLoopVariant, number> };
  for (const line of r.stdout.trim().split('\n')) {
    const j = JSON.parse(line) as { variant: StepLoopVariant; steps: number; totalNs: number; cpuNs: number };
    out.perSec[j.variant] = j.steps / (j.totalNs / 1e9);
    out.cpuPerStep[j.variant] = j.cpuNs / 1e9 / j.steps;
  }
  return out;
}
