// kvmdbg's test command: `npm test [-- unit|kvm|e2e]`.
// Builds, type-checks, runs the unit tier, then the KVM tier: directly where
// /dev/kvm works, else inside the project's KVM sandbox (one VM for the whole
// tier: each start costs ~10 s), else it FAILS and says why. Never a silent skip.
// Then the e2e tier: test/e2e/e2e.sh packages the .vsix, installs
// code-server + playwright-core into a cache once, and drives a real VS Code
// (code-server in Debian's chromium) through F9/F5 on a test kernel; without
// /dev/kvm its extension host runs in the sandbox. `npm test -- unit|kvm|e2e`
// runs only the tiers named.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { readResults, summary } from './kvm-tier-summary.mjs';
import { hostReport, route } from './kvm-routing.mjs';
import { join } from 'node:path';

const tiers = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const want = (t) => tiers.length === 0 || tiers.includes(t);

function run(cmd, args, what) {
  console.log(`\n=== ${what}: ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`\nkvmdbg test: ${what} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

function testFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      // Only tests whose source still exists: out/ may hold stale builds of deleted ones.
      else if (p.endsWith('.test.js') && existsSync(p.replace(/^out[\\/]/, '').replace(/\.js$/, '.ts'))) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

if (!process.env.KVMDBG_SKIP_BUILD) {
  run('node', ['scripts/build.mjs'], 'build');
  run('npx', ['tsc', '-p', '.', '--noEmit'], 'typecheck');
}

if (want('unit')) run('node', ['--test', ...testFiles('out/test/unit')], 'unit tier (no KVM)');

// Where the KVM and e2e tiers run: this host's /dev/kvm, or (when it has none) the sandbox.
const host = want('kvm') || want('e2e') ? await import('../out/vmm/host/kvm-host.js') : undefined;
const kvm = host?.kvmProblem();

if (want('kvm')) {
  // The small Linux the KVM tier boots and debugs: built on this host (not
  // emulated), cached outside the tree; its directory travels in the environment.
  run('node', ['scripts/build-linux.mjs'], 'kvmdbg\'s small Linux (cached after the first build)');
  const dir = spawnSync('node', ['scripts/build-linux.mjs', '--print-dir'], { encoding: 'utf8' }).stdout.trim();
  process.env.KVMDBG_SMALL_LINUX = dir;
  // Debian's kernel with its -dbg package and kvmdbg's module built for it (debian-linux-aware): prepared here, once.
  run('node', ['scripts/debian-kernel.mjs'], 'Debian\'s kernel, its debug vmlinux and a module built for it (cached after the first time)');
  process.env.KVMDBG_DEBIAN_KERNEL = spawnSync('node', ['scripts/debian-kernel.mjs', '--print-dir'], { encoding: 'utf8' }).stdout.trim();
  const files = testFiles('out/test/kvm');
  runKvmTier(files);
}

/**
 * Each file where its capabilities are (scripts/kvm-routing.mjs): on this
 * host's /dev/kvm what it can run, the rest inside the sandbox, in the same
 * run; then one table, file -> where -> verdict.
 */
function runKvmTier(files) {
  const resultsFile = join('test-output', 'kvm-tier-results.jsonl');
  mkdirSync('test-output', { recursive: true });
  rmSync(resultsFile, { force: true });
  const report = kvm ? { flavour: 'none', problem: kvm, capabilities: [] } : hostReport();
  const { here, away } = route(files, report);
  console.log(`\n=== KVM tier routing (this host: ${report.flavour}${report.problem ? `, ${report.problem}` : ''})`);
  for (const f of here) console.log(`  this host    ${f}`);
  for (const a of away) console.log(`  the sandbox  ${a.file}  (this host lacks: ${a.missing.join('; ')})`);
  let failed = false;
  if (here.length > 0) {
    console.log(`\n=== KVM tier on this host's /dev/kvm (${here.length} files)`);
    const r = spawnSync('node', ['scripts/kvm-tier.mjs', '--results', resultsFile, '--where', 'this host', ...here], { stdio: 'inherit' });
    failed ||= r.status !== 0;
  }
  if (away.length > 0) {
    if (host.insideSandbox()) {
      console.error(`kvmdbg test: inside the KVM sandbox and still ${kvm ?? 'missing capabilities'}`);
      process.exit(1);
    }
    const sandbox = host.sandboxProblem();
    if (sandbox) {
      console.error(`kvmdbg test: ${away.length} KVM-tier files cannot run here (see the routing above), and ${sandbox}`);
      process.exit(1);
    }
    console.log(`\n${kvm ? 'No usable /dev/kvm on this host' : `${away.length} files need what this host's KVM lacks`}: `
      + 'running them inside the project\'s KVM sandbox (test/sandbox/run: QEMU software CPU with nested SVM; everything there is emulated and slow).');
    // Not `failed ||= !run...`: the sandbox part runs whatever this host's part did.
    const sandboxOk = runKvmTierInSandbox(host.sandboxScript(), away.map((a) => a.file), resultsFile);
    failed ||= !sandboxOk;
  }
  console.log(`\n${summary(readResults(resultsFile), files)}`);
  if (failed) {
    console.error('\nkvmdbg test: KVM tier failed');
    process.exit(1);
  }
}

/**
 * The whole tier does not fit in one sandbox VM's hour (with /dev/kvm hidden
 * all 44 files took more than 60 min there): it runs in batches of 12
 * files, each its own VM with its own backstop, so a slow or dead VM costs
 * one batch, not the rest of the tier.
 */
function runKvmTierInSandbox(script, files, resultsFile) {
  // Here, not at the top level: this runs before the module's later top-level lines do.
  const SANDBOX_BATCH = 12;
  let ok = true;
  for (let i = 0; i < files.length; i += SANDBOX_BATCH) {
    const batch = files.slice(i, i + SANDBOX_BATCH);
    const label = files.length > SANDBOX_BATCH ? `batch ${i / SANDBOX_BATCH + 1} of ${Math.ceil(files.length / SANDBOX_BATCH)}` : '';
    ok = runSandboxBatch(script, batch, resultsFile, label) && ok;
  }
  return ok;
}

/**
 * One sandbox VM for a batch of files. The sandbox's own kernel can crash under
 * QEMU's emulated nested SVM (test/sandbox/run exits 125); then the files
 * that had not finished run again in a new sandbox, at most twice, and the
 * output says so. Every file runs to a verdict, or the tier fails.
 */
function runSandboxBatch(script, files, resultsFile, label) {
  const before = readResults(resultsFile).length;
  let left = files;
  for (let attempt = 1; ; attempt++) {
    // scripts/kvm-tier.mjs kills and names a file that hangs; -t is only the backstop.
    const args = ['-m', '6144', '-c', '2', '-t', '3600', '--', 'node', 'scripts/kvm-tier.mjs', '--results', resultsFile,
      '--where', 'the sandbox', '--check-needs', '--rerun-failed', ...left];
    const what = [label, attempt > 1 ? `run ${attempt}` : ''].filter(Boolean).join(', ');
    console.log(`\n=== KVM tier inside the sandbox${what ? ` (${what})` : ''}: ${[script, ...args].join(' ')}`);
    const r = spawnSync(script, args, { stdio: 'inherit' });
    const done = readResults(resultsFile).slice(before);
    left = files.filter((f) => !done.some((d) => d.file === f));
    if (r.status === 125 && left.length > 0 && attempt < 3) {
      console.error(`\nkvmdbg test: the sandbox's own kernel crashed while running ${left[0]} (QEMU's emulated nested SVM, see above); `
        + `${done.length} files have their verdict, running the other ${left.length} in a new sandbox`);
      continue;
    }
    if (r.status === 0 && left.length === 0) return true;
    if (left.length > 0) console.error(`kvmdbg test: the sandbox ended (exit ${r.status ?? r.signal}) before these files ran to a verdict: ${left.join(' ')}`);
    console.error(`\nkvmdbg test: KVM tier inside the sandbox failed (exit ${r.status ?? r.signal})`);
    return false;
  }
}

if (want('e2e')) {
  const what = 'e2e tier: a real VS Code (code-server + chromium) debugging a test kernel';
  if (!kvm) run('bash', ['test/e2e/e2e.sh'], what);
  else runE2eEmulated(what);
}

/**
 * The e2e tier with its extension host in the sandbox: as a KVM-tier file
 * there, a failing run gets one more (the guest or the sandbox may die of the
 * emulation), says so, and keeps the first run's output in test-output/e2e-1st-run/.
 */
function runE2eEmulated(what) {
  const first = spawnSync('bash', ['test/e2e/e2e.sh'], { stdio: 'inherit' });
  if (first.status === 0) return;
  const kept = join('test-output', 'e2e-1st-run');
  rmSync(kept, { recursive: true, force: true });
  if (existsSync(join('test-output', 'e2e'))) renameSync(join('test-output', 'e2e'), kept);
  console.error(`\nkvmdbg test: the ${what} failed (exit ${first.status ?? first.signal}) in the sandbox; running it once more (its output is in ${kept}/)`);
  run('bash', ['test/e2e/e2e.sh'], `${what}, 2nd run`);
  console.log(`kvmdbg test: e2e tier ok, FLAKY: 1st run failed (see ${kept}/ui-test.log)`);
}
