// Runs the KVM tier's test files one after another, each in its own
// `node --test` with a wall-clock limit, where /dev/kvm works (directly or
// inside the sandbox). Why not one `node --test` over all files: a test that
// hangs past its own timeout keeps its file's process alive through the
// child processes it started (a VM, gdb), and the whole tier then dies at the
// sandbox's limit with nothing named. Here a hung file is killed, named, and
// the next file runs; whatever a file left running is killed and named too.
//
// With --results FILE each file's verdict is appended there as a JSON line as
// soon as it is known: if the sandbox itself dies midway, the caller sees
// which files are done (scripts/test.mjs reruns the others).
//
// --rerun-failed (the sandbox only, where the CPU and nested SVM are emulated
// and a guest now and then dies of the emulation: a sandbox kernel crash, a
// Linux guest's triple fault or stall): a file that fails runs again, up to
// three runs; if it passes then, its verdict says FLAKY with the earlier
// failures above in the log. At most 6 extra runs in all; a file failing every
// run fails.
//
//   node scripts/kvm-tier.mjs [--file-limit SECONDS] [--results FILE] [--rerun-failed] FILE...
import { spawn } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { summary } from './kvm-tier-summary.mjs';
import { hostReport, missingNeeds } from './kvm-routing.mjs';

const args = process.argv.slice(2);
let fileLimitSeconds = 900;
let resultsFile;
let rerunFailed = false;
let checkNeeds = false;
let where = 'this host';
// The sandbox's emulation stalls or triple-faults a Linux guest now and then (README, Reliability):
// a failing file gets up to two more runs there, at most six extra runs in all.
const MAX_RERUNS = 6;
const RUNS_PER_FILE = 3;
for (;;) {
  if (args[0] === '--file-limit') { fileLimitSeconds = Number(args[1]); args.splice(0, 2); }
  else if (args[0] === '--results') { resultsFile = args[1]; args.splice(0, 2); }
  else if (args[0] === '--rerun-failed') { rerunFailed = true; args.splice(0, 1); }
  else if (args[0] === '--check-needs') { checkNeeds = true; args.splice(0, 1); }
  else if (args[0] === '--where') { where = args[1]; args.splice(0, 2); }
  else break;
}
const files = args;
if (files.length === 0 || !(fileLimitSeconds > 0)) {
  console.error('usage: node scripts/kvm-tier.mjs [--file-limit SECONDS] [--results FILE] [--rerun-failed] [--check-needs] [--where LABEL] FILE...');
  process.exit(2);
}

/** Processes whose environment carries `marker` (everything a file's run started, however detached). */
function processesMarked(marker) {
  const found = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').includes(marker)) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean).join(' ');
      found.push({ pid: Number(pid), cmd });
    } catch { /* gone meanwhile, or not ours to read */ }
  }
  return found;
}

function killAll(procs) {
  for (const p of procs) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ } }
}

function runFile(file) {
  const marker = `KVMDBG_TIER_RUN=${randomBytes(8).toString('hex')}`;
  const [key, value] = marker.split('=');
  const started = Date.now();
  // Each test gets node's timeout unless it sets its own; --test-force-exit
  // ends the file once its tests are over, even with handles left open.
  const child = spawn(process.execPath, ['--test', '--test-force-exit', '--test-reporter=spec',
    `--test-timeout=${Math.round(fileLimitSeconds * 1000 * 0.8)}`, file], {
    stdio: 'inherit',
    env: { ...process.env, [key]: value },
  });
  return new Promise((resolve) => {
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      killAll(processesMarked(marker));
    }, fileLimitSeconds * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const left = processesMarked(marker);
      killAll(left);
      resolve({ file, seconds: (Date.now() - started) / 1000, code, signal, killed, left });
    });
  });
}

/** A file that ends with processes of its own still running leaked them (a test's cleanup missed). */
const leftNotes = (r) => r.left.map((p) => `left running, killed: ${p.pid} ${p.cmd.slice(0, 120)}`);

function verdictOf(r) {
  if (r.killed) return `HUNG: killed after ${fileLimitSeconds} s`;
  if (r.code !== 0) return `FAILED (exit ${r.code ?? r.signal})`;
  return 'ok';
}

const results = [];
let reruns = 0;
// The last stop for a file no host here can run: it fails, saying which capability is missing where.
const report = checkNeeds ? hostReport() : undefined;
for (const file of files) {
  console.log(`\n--- ${file}`);
  const missing = report ? missingNeeds(file, report) : [];
  if (missing.length > 0) {
    const r = { file, where, seconds: 0, verdict: 'FAILED: no host here can run it', notes: [`${where} lacks: ${missing.join('; ')}`] };
    console.log(r.notes[0]);
    results.push(r);
    if (resultsFile) appendFileSync(resultsFile, JSON.stringify(r) + '\n');
    continue;
  }
  let r = await runFile(file);
  r.where = where;
  r.verdict = verdictOf(r);
  r.notes = leftNotes(r);
  for (let run = 2; !r.verdict.startsWith('ok') && rerunFailed && reruns < MAX_RERUNS && run <= RUNS_PER_FILE; run++) {
    reruns++;
    const before = r;
    console.log(`\n--- ${file} again (run ${run}): its last run ended ${before.verdict} (the failure is above)`);
    r = await runFile(file);
    r.verdict = verdictOf(r);
    r.notes = [...before.notes, ...leftNotes(r)];
    if (r.verdict === 'ok') r.verdict = `ok, FLAKY: ${run - 1} run(s) failed`;
    else if (run === RUNS_PER_FILE || reruns >= MAX_RERUNS) r.verdict = `${r.verdict}, ${run} runs`;
    r.seconds += before.seconds;
  }
  results.push(r);
  if (resultsFile) appendFileSync(resultsFile, JSON.stringify({ file, where, verdict: r.verdict, seconds: r.seconds, notes: r.notes }) + '\n');
}

console.log(`\n${summary(results, files)}`);
process.exit(results.every((r) => r.verdict.startsWith('ok')) ? 0 : 1);

