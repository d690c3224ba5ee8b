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
//   node scripts/kvm-tier.mjs [--file-limit SECONDS] [--results FILE] FILE...
import { spawn } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { summary } from './kvm-tier-summary.mjs';

const args = process.argv.slice(2);
let fileLimitSeconds = 900;
let resultsFile;
for (;;) {
  if (args[0] === '--file-limit') { fileLimitSeconds = Number(args[1]); args.splice(0, 2); }
  else if (args[0] === '--results') { resultsFile = args[1]; args.splice(0, 2); }
  else break;
}
const files = args;
if (files.length === 0 || !(fileLimitSeconds > 0)) {
  console.error('usage: node scripts/kvm-tier.mjs [--file-limit SECONDS] [--results FILE] FILE...');
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

const results = [];
for (const file of files) {
  console.log(`\n--- ${file}`);
  const r = await runFile(file);
  r.verdict = 'ok';
  if (r.killed) r.verdict = `HUNG: killed after ${fileLimitSeconds} s`;
  else if (r.code !== 0) r.verdict = `FAILED (exit ${r.code ?? r.signal})`;
  // A file that ends with processes of its own still running leaked them (a test's cleanup missed).
  r.notes = r.left.map((p) => `left running, killed: ${p.pid} ${p.cmd.slice(0, 120)}`);
  results.push(r);
  if (resultsFile) appendFileSync(resultsFile, JSON.stringify({ file, verdict: r.verdict, seconds: r.seconds, notes: r.notes }) + '\n');
}

console.log(`\n${summary(results)}`);
process.exit(results.every((r) => r.verdict === 'ok') ? 0 : 1);

