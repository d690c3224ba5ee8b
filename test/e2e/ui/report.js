// The UI test's record: every check with its verdict, logged as it happens.
const t0 = Date.now();
const results = [];
const log = (...a) => console.log(`[ui +${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);
function check(name, ok, detail = '') {
  results.push({ name, ok });
  log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ': ' + detail : ''}`);
  return ok;
}
function pending(name, detail) {
  results.push({ name, ok: true, pending: true });
  log(`PENDING ${name}: ${detail}`);
}
const oneLine = (s, n = 240) => String(s || '').replace(/\s*\n\s*/g, ' | ').slice(0, n);
const elapsed = () => Date.now() - t0;
/** Logs the totals; the process's exit code (0 iff every check passed). */
function summary() {
  const failed = results.filter((r) => !r.ok);
  const pend = results.filter((r) => r.pending);
  log(`${results.length - failed.length - pend.length}/${results.length} checks passed, ${pend.length} pending, ${failed.length} failed, in ${(elapsed() / 1000).toFixed(0)} s`);
  for (const f of failed) log(`  FAILED: ${f.name}`);
  for (const p of pend) log(`  PENDING: ${p.name}`);
  return failed.length ? 1 : 0;
}
module.exports = { log, check, pending, oneLine, elapsed, summary };
