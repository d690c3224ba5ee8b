// Runs the KVM tier's test files one after another, each in its own
// `node --test` with a wall-clock limit, where /dev/kvm works (directly or
// inside the sandbox). Why not one `node --test` over all files: a test that
// hangs past its own timeout keeps its file's process alive through the
// child processes it started (a VM, gdb), and the whole tier then dies at the
// sandbox's limit with nothing named. Here a hung file is killed, named, and
// the next file runs; whatever a file left running is killed and named too.
//
//   node scripts/kvm-tier.mjs [--file-limit SECONDS] FILE...
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

const args = process.argv.slice(2);
let fileLimitSeconds = 600;
if (args[0] === '--file-limit') { fileLimitSeconds = Number(args[1]); args.splice(0, 2); }
const files = args;
if (files.length === 0 || !(fileLimitSeconds > 0)) {
  console.error('usage: node scripts/kvm-tier.mjs [--file-limit SECONDS] FILE...');
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
  results.push(await runFile(file));
}

console.log('\n=== KVM tier: per file');
let failed = 0;
for (const r of results) {
  let verdict = 'ok';
  if (r.killed) verdict = `HUNG: killed after ${fileLimitSeconds} s`;
  else if (r.code !== 0) verdict = `FAILED (exit ${r.code ?? r.signal})`;
  if (verdict !== 'ok') failed++;
  console.log(`${verdict.padEnd(28)} ${r.seconds.toFixed(0).padStart(5)} s  ${r.file}`);
  // A file that ends with processes of its own still running leaked them (a test's cleanup missed).
  for (const p of r.left) console.log(`${''.padEnd(36)}left running, killed: ${p.pid} ${p.cmd.slice(0, 120)}`);
}
const total = results.reduce((s, r) => s + r.seconds, 0);
console.log(`${failed === 0 ? 'all passed' : `${failed} of ${results.length} files failed`}, ${(total / 60).toFixed(1)} min`);
process.exit(failed === 0 ? 0 : 1);
