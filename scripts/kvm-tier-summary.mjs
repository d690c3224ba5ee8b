// The KVM tier's per-file table, shared by scripts/kvm-tier.mjs (one run) and
// scripts/test.mjs (several sandbox runs when the sandbox itself crashed).
import { existsSync, readFileSync } from 'node:fs';

/**
 * rows: { file, where ('this host', 'the sandbox'), verdict ('ok' or what went wrong), seconds, notes[] }.
 * `expected`: every file that should have a row; one without (its run, or the sandbox around it, never
 * ended) is listed and failed, never left out of the table.
 */
export function summary(rows, expected = []) {
  const missing = expected.filter((f) => !rows.some((r) => r.file === f))
    .map((file) => ({ file, where: '', verdict: 'NO VERDICT (never ended)', seconds: 0, notes: [] }));
  rows = [...rows, ...missing];
  const lines = ['=== KVM tier: per file (file -> where it ran -> verdict)'];
  for (const r of rows) {
    lines.push(`${r.verdict.padEnd(28)} ${r.seconds.toFixed(0).padStart(5)} s  ${(r.where ?? '').padEnd(12)} ${r.file}`);
    for (const n of r.notes) lines.push(`${''.padEnd(36)}${n}`);
  }
  const failed = rows.filter((r) => !r.verdict.startsWith('ok')).length;
  const flaky = rows.filter((r) => r.verdict.includes('FLAKY')).length;
  const total = rows.reduce((s, r) => s + r.seconds, 0);
  lines.push(`${failed === 0 ? 'all passed' : `${failed} of ${rows.length} files failed`}`
    + `${flaky ? `, ${flaky} only on a second run (FLAKY: see its first run's failure above)` : ''}, ${(total / 60).toFixed(1)} min`);
  return lines.join('\n');
}

/** The rows scripts/kvm-tier.mjs --results wrote (none if the file is missing). */
export function readResults(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
