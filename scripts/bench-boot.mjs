// kvmdbg's boot benchmark: `npm run bench:boot [-- --runs N] [--memory 256M]`.
// Boot to init, side by side in one run, on the same kernel and initramfs:
//   kvmdbg            `kvmdbg run --kernel K --initrd I --cmdline C`
//   QEMU q35          `qemu-system-x86_64 -enable-kvm -M q35 ...`
//   QEMU microvm      `qemu-system-x86_64 -enable-kvm -M microvm ...`
// The kernel is Debian's (/boot/vmlinuz-*), the initramfs a static busybox
// whose init prints a marker and powers off (`poweroff -f`). The serial
// console is quiet (`quiet`), the same command line for all. Each run is
// timed from spawn to the init's marker ("boot to init") and to the process
// end (power-off honoured); runs alternate between the three, the medians
// and ratios are printed. Not a test: it asserts no timing.
//
// Where: directly on /dev/kvm when this host has a usable one, else the
// script re-runs itself inside the project's KVM sandbox (as
// scripts/bench.mjs does), where QEMU runs nested on the sandbox's
// /dev/kvm (-enable-kvm) exactly as kvmdbg does: same footing, emulated.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runWhereKvmIs } from './where-kvm.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
process.chdir(root);

const argv = process.argv.slice(2);
function option(name, fallback) {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? fallback : argv[i + 1];
}
if (argv.includes('--help') || argv.includes('-h')) {
  console.log('usage: npm run bench:boot [-- --runs N] [--memory 256M] [--only kvmdbg,q35,microvm]\n'
    + '  --runs N     boots of each VMM (default 5), alternating\n'
    + '  --memory M   guest RAM for all (default 256M)\n'
    + '  --only LIST  a subset of kvmdbg,q35,microvm');
  process.exit(0);
}

function fail(message) {
  console.error(`kvmdbg bench:boot: ${message}`);
  process.exit(1);
}

const runs = Number(option('runs', '5'));
if (!Number.isInteger(runs) || runs < 1) fail('--runs wants a positive integer');
const memory = option('memory', '256M');
const only = option('only', 'kvmdbg,q35,microvm').split(',');

// ---- where to run ------------------------------------------------------------
const inner = process.env.KVMDBG_BENCH_INNER === '1';
if (!inner && !process.env.KVMDBG_SKIP_BUILD) {
  console.log('=== build: node scripts/build.mjs');
  const r = spawnSync('node', ['scripts/build.mjs'], { stdio: 'inherit' });
  if (r.status !== 0) fail('the build failed');
}
const { sandboxed } = runWhereKvmIs({
  script: relative(root, fileURLToPath(import.meta.url)), argv, fail,
  sandboxArgs: ['-m', '3072', '-c', '2', '-t', '7200'], what: 'the boot benchmark',
  emulatedNote: 'kvmdbg and the nested QEMUs all run on the sandbox\'s /dev/kvm. Everything is emulated: compare the ratios.',
});

// ---- the benchmark -----------------------------------------------------------
const { buildInitramfs, debianKernel, testOutput } = require('../out/test/kvm/helpers/linux-initramfs.js');
const MARKER = 'KVMDBG-BENCH-INIT';
const CMDLINE = 'console=ttyS0 quiet panic=-1';
let kernel;
let initrd;
try {
  kernel = debianKernel();
  initrd = buildInitramfs({ dir: testOutput('bench-boot'), init: [`echo ${MARKER}`, 'poweroff -f'] });
} catch (e) {
  fail(e.message);
}
const qemu = 'qemu-system-x86_64';
const qemuVersion = spawnSync(qemu, ['--version'], { encoding: 'utf8' });
if (qemuVersion.status !== 0 && only.some((o) => o !== 'kvmdbg')) fail(`no ${qemu}: apt-get install qemu-system-x86 (or --only kvmdbg)`);
const mem = memory.replace(/B$/i, '');
const qemuCommon = ['-enable-kvm', '-cpu', 'host', '-smp', '1', '-m', mem, '-kernel', kernel, '-initrd', initrd,
  '-append', CMDLINE, '-nographic', '-nodefaults', '-serial', 'stdio', '-no-reboot'];
const VMMS = {
  kvmdbg: [process.execPath, [join(root, 'bin', 'kvmdbg.js'), 'run', '--kernel', kernel, '--initrd', initrd, '--cmdline', CMDLINE, '--memory', memory, '--no-sandbox']],
  q35: [qemu, ['-M', 'q35', ...qemuCommon]],
  microvm: [qemu, ['-M', 'microvm', ...qemuCommon]],
};
for (const o of only) if (!VMMS[o]) fail(`--only ${o}: expected kvmdbg, q35 or microvm`);
/** A VM that shows the marker but does not end within this long after it is ended by us (power-off not honoured). */
const AFTER_MARKER_MS = 20_000;
const TIMEOUT_MS = sandboxed ? 300_000 : 60_000;

function bootOnce(name) {
  const [cmd, args] = VMMS[name];
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let marker;
    let killed = '';
    let afterTimer;
    const timer = setTimeout(() => { killed = 'timeout'; child.kill('SIGKILL'); }, TIMEOUT_MS);
    child.stdout.on('data', (d) => {
      out += d;
      if (marker === undefined && out.includes(MARKER)) {
        marker = ms();
        afterTimer = setTimeout(() => { killed = 'no power-off'; child.kill('SIGKILL'); }, AFTER_MARKER_MS);
      }
    });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', (e) => { err += e.message; });
    child.on('close', (status) => {
      clearTimeout(timer);
      clearTimeout(afterTimer);
      resolve({ name, marker, end: ms(), status, killed, out, err });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sec = (ms) => Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'n/a';

const where = sandboxed
  ? 'inside the KVM sandbox (QEMU TCG + nested SVM): EMULATED, all three alike; the ratios are what carry over'
  : 'directly on this host\'s /dev/kvm';
console.log(`\nkvmdbg bench:boot: ${where}`);
console.log(`kernel ${kernel}, initramfs ${relative(root, initrd)} (busybox; init prints a marker and powers off)`);
console.log(`cmdline "${CMDLINE}", ${memory} RAM, 1 vCPU; ${qemuVersion.stdout?.split('\n')[0] ?? 'no QEMU'}`);
console.log(`${runs} run(s) each, alternating ${only.join(', ')}\n`);

const results = Object.fromEntries(only.map((o) => [o, []]));
for (let i = 0; i < runs; i++) {
  const order = i % 2 === 0 ? only : [...only].reverse();
  for (const name of order) {
    const r = await bootOnce(name);
    results[name].push(r);
    const note = r.marker === undefined ? `NO MARKER (${r.killed || `exit ${r.status}`})` : r.killed ? `killed: ${r.killed}` : `exit ${r.status}`;
    console.log(`  run ${i + 1} ${name.padEnd(8)} to init ${sec(r.marker).padStart(9)}, to end ${sec(r.end).padStart(9)}  ${note}`);
    if (r.marker === undefined) console.log(`    last output: ${JSON.stringify(r.out.slice(-400))}\n    stderr: ${JSON.stringify(r.err.slice(-400))}`);
  }
}

const summary = {};
for (const name of only) {
  const ok = results[name].filter((r) => r.marker !== undefined);
  summary[name] = {
    ok: ok.length,
    toInitMs: median(ok.map((r) => r.marker)),
    toEndMs: median(ok.filter((r) => !r.killed).map((r) => r.end)),
    poweroff: ok.every((r) => !r.killed),
  };
}
console.log('\nMedians:');
console.log(`| ${'VMM'.padEnd(22)} | ${'ok'.padStart(5)} | ${'to init'.padStart(9)} | ${'to end'.padStart(9)} | ${'kvmdbg / it (to init)'.padStart(21)} |`);
console.log(`|${'-'.repeat(24)}|${'-'.repeat(7)}|${'-'.repeat(11)}|${'-'.repeat(11)}|${'-'.repeat(23)}|`);
const label = { kvmdbg: 'kvmdbg', q35: 'QEMU -M q35', microvm: 'QEMU -M microvm' };
for (const name of only) {
  const s = summary[name];
  const ratio = summary.kvmdbg ? summary.kvmdbg.toInitMs / s.toInitMs : NaN;
  console.log(`| ${label[name].padEnd(22)} | ${`${s.ok}/${runs}`.padStart(5)} | ${sec(s.toInitMs).padStart(9)} | ${(s.poweroff ? sec(s.toEndMs) : 'no off').padStart(9)} | ${(Number.isFinite(ratio) ? ratio.toFixed(2) + 'x' : 'n/a').padStart(21)} |`);
}
if (summary.kvmdbg && summary.microvm) {
  const r = summary.kvmdbg.toInitMs / summary.microvm.toInitMs;
  console.log(`\nkvmdbg vs QEMU microvm, boot to init: ${r.toFixed(2)}x (${r < 1 ? 'faster' : 'slower'}); goal: faster (< 1.00x).`);
}
if (sandboxed) console.log('All ran EMULATED inside the sandbox: absolute times do not transfer to real KVM; the ratios are the comparison.');
console.log('\nBENCH-BOOT ' + JSON.stringify({
  where: sandboxed ? 'sandbox-emulated' : 'kvm', kernel, memory, runs, cmdline: CMDLINE,
  results: Object.fromEntries(Object.entries(summary).map(([k, v]) => [k, { ...v, toInitMs: Math.round(v.toInitMs), toEndMs: Math.round(v.toEndMs) }])),
}));
if (only.some((o) => summary[o].ok === 0)) process.exit(1);
