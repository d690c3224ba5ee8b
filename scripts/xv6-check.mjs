// Builds xv6 (the x86 version, github mit-pdos/xv6-public) from its own
// source tree with its own Makefile (`make xv6.img fs.img`), boots it under
// kvmdbg as QEMU's `-drive file=fs.img,index=1 -drive file=xv6.img,index=0`
// does (xv6.img the BIOS boot disk and ATA master, fs.img the ATA slave),
// at 1 and 2 vCPUs, waits for its shell prompt, types `ls` on the PS/2
// keyboard and checks the listing on the serial console and on the CGA text
// screen. Not part of npm test (it needs an xv6 checkout, gcc -m32 and a
// host that runs 32-bit paging and interrupts through the guest's IDT: on
// one that does not (PVM), the boots run inside the KVM sandbox).
//   node scripts/xv6-check.mjs XV6_SOURCE_DIR [--cpus 1,2] [--timeout SECONDS] [--build-only]   (after npm run build)
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const kvmdbg = join(root, 'out', 'vmm', 'cli', 'kvmdbg.js');
const fail = (msg) => { console.error(`xv6-check: ${msg}`); process.exit(1); };
const say = (msg) => console.log(`xv6-check: ${msg}`);

const argv = process.argv.slice(2);
const opt = (name, dflt) => { const i = argv.indexOf(name); if (i < 0) return dflt; const v = argv[i + 1]; argv.splice(i, 2); return v; };
const cpusList = opt('--cpus', '1,2').split(',').map(Number);
const timeoutS = Number(opt('--timeout', '300'));
const bootOnly = opt('--boot-only', undefined);
const buildOnly = argv.includes('--build-only') ? (argv.splice(argv.indexOf('--build-only'), 1), true) : false;
if (!existsSync(kvmdbg)) fail(`${kvmdbg} is missing: run npm run build`);

if (bootOnly) {
  // Inside the sandbox (or on a capable host): the images are already in this directory.
  let ok = true;
  for (const cpus of cpusList) ok = (await boot(resolve(bootOnly), cpus)) && ok;
  process.exit(ok ? 0 : 1);
}

const src = argv[0] ? resolve(argv[0]) : fail('usage: node scripts/xv6-check.mjs XV6_SOURCE_DIR [--cpus 1,2] [--timeout SECONDS]');
if (!existsSync(join(src, 'bootasm.S')) || !existsSync(join(src, 'mp.c'))) fail(`${src} is not an xv6 (x86) source tree (no bootasm.S, mp.c)`);
for (const [tool, pkg] of [['gcc', 'gcc gcc-multilib'], ['ld', 'binutils'], ['objcopy', 'binutils'], ['perl', 'perl'], ['make', 'make']]) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) fail(`${tool} is missing: apt-get install ${pkg}`);
}
// Under the repository: the sandbox mounts this tree read-write (its /tmp is its own).
const work = join(root, 'out', 'xv6-check');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
// A copy of the tree, cleaned: the build is this script's, whatever the checkout holds.
const tree = join(work, 'src');
cpSync(src, tree, { recursive: true, filter: (f) => !f.endsWith('/.git') });
spawnSync('make', ['-C', tree, 'clean'], { stdio: 'ignore' });
build(tree);
for (const f of ['xv6.img', 'fs.img']) copyFileSync(join(tree, f), join(work, f));
if (buildOnly) { say(`images in ${work}`); process.exit(0); }

if (process.env.KVM_SANDBOX || hostRunsXv6()) {
  let ok = true;
  for (const cpus of cpusList) ok = (await boot(work, cpus)) && ok;
  process.exit(ok ? 0 : 1);
}
say('this host\'s KVM does not deliver interrupts and INT n through a 32-bit guest IDT (kvmdbg doctor): booting inside the KVM sandbox');
const r = spawnSync(join(root, 'test', 'sandbox', 'run'), ['-m', '4096', '-c', String(Math.max(2, ...cpusList)), '-C', root, '--',
  process.execPath, join(root, 'scripts', 'xv6-check.mjs'), '--boot-only', work, '--cpus', cpusList.join(','), '--timeout', String(timeoutS)],
{ stdio: ['ignore', 'inherit', 'inherit'] });
process.exit(r.status ?? 1);

/** `make xv6.img fs.img` as xv6's authors run it; gcc 12+ trips xv6's -Werror on new warnings (mp.c array bounds, sh.c recursion), which are then not errors. */
function build(dir) {
  const plain = spawnSync('make', ['-C', dir, 'xv6.img', 'fs.img'], { encoding: 'utf8' });
  if (plain.status === 0) { say('built xv6.img and fs.img with make xv6.img fs.img'); return; }
  const log = plain.stdout + plain.stderr;
  if (!/-Werror=(array-bounds|infinite-recursion)|\[-Werror/.test(log)) fail(`make xv6.img fs.img failed in ${dir}:\n${log.split('\n').slice(-15).join('\n')}`);
  const cc = 'gcc -Wno-error=array-bounds -Wno-error=infinite-recursion';
  const again = spawnSync('make', ['-C', dir, 'xv6.img', 'fs.img', `CC=${cc}`], { encoding: 'utf8' });
  if (again.status !== 0) fail(`make xv6.img fs.img CC="${cc}" failed in ${dir}:\n${(again.stdout + again.stderr).split('\n').slice(-15).join('\n')}`);
  say(`built xv6.img and fs.img with make xv6.img fs.img CC="${cc}" (this gcc warns where xv6 uses -Werror)`);
}

/** Whether this host's KVM delivers exceptions and INT n through the guest's IDT (xv6 needs them, and interrupts, in 32-bit code). */
function hostRunsXv6() {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(join(root, 'out', 'vmm', 'machine', 'host-probe.js'))}).probeHost().then((r) => process.stdout.write(JSON.stringify(r)))`],
    { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) fail(`the host probe failed: ${r.stderr.trim()}`);
  const report = JSON.parse(r.stdout);
  return report.capabilities.some((c) => c.id === 'guest-exceptions' && c.works);
}

/**
 * Boots xv6 at `cpus` vCPUs to its prompt, types ls, and checks the
 * listing on the serial console and the final text screen. True when all
 * of it is there.
 */
async function boot(dir, cpus) {
  const png = join(dir, `xv6-${cpus}cpu.png`);
  const args = ['run', '--kernel', join(dir, 'xv6.img'), '--disk', `${join(dir, 'xv6.img')},ide`, '--disk', `${join(dir, 'fs.img')},ide`,
    '--cpus', String(cpus), '--memory', '512M', '--screen', '--screenshot', png, '--keys', 'ls{Enter}', '--keys-when', '$ '];
  say(`${cpus} vCPU${cpus > 1 ? 's' : ''}: kvmdbg ${args.join(' ')}`);
  const started = Date.now();
  const child = spawn(process.execPath, [kvmdbg, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d.toString('latin1'); });
  child.stderr.on('data', (d) => { err += d.toString('latin1'); });
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  // The listing ends with the console device; the serial console (COM1) shows it as xv6 prints it.
  const listed = () => /^console\s+3 \d+ 0\r?$/m.test(out);
  const times = {};
  while (!listed() && Date.now() - started < timeoutS * 1000 && child.exitCode === null) {
    if (!times.prompt && /init: starting sh\r?\n\$/.test(out)) { times.prompt = Date.now() - started; say(`${cpus} vCPU${cpus > 1 ? 's' : ''}: shell prompt after ${(times.prompt / 1000).toFixed(1)} s`); }
    await new Promise((r) => setTimeout(r, 200));
  }
  times.listing = Date.now() - started;
  if (child.exitCode === null) child.kill('SIGTERM');
  const end = await exited;
  const serial = out.replace(/\r/g, '');
  const problems = [];
  const want = [`xv6...`, 'cpu0: starting 0', ...(cpus > 1 ? ['cpu1: starting 1'] : []), 'init: starting sh'];
  for (const w of want) if (!serial.includes(w)) problems.push(`no "${w}" on the serial console`);
  // The echo of typed keys may come between the prompt's "$" and its blank.
  if (!/\$ ?ls/.test(serial)) problems.push('no ls echoed after the prompt on the serial console');
  for (const re of [/^ ?\.\s+1 1 512$/m, /^README\s+2 2 \d+$/m, /^ls\s+2 \d+ \d+$/m, /^console\s+3 \d+ 0$/m]) {
    if (!re.test(serial)) problems.push(`no line matching ${re} in the listing`);
  }
  // --screen without a terminal prints the final 80x25 text screen last.
  const screen = serial.trimEnd().split('\n').slice(-25).join('\n');
  if (!/\$ ?ls/.test(screen)) problems.push('no ls after the prompt on the CGA text screen');
  for (const w of ['README', 'console']) if (!screen.includes(w)) problems.push(`no "${w}" on the CGA text screen`);
  if (!existsSync(png)) problems.push(`no screenshot ${png}`);
  if (end.signal !== null && end.signal !== 'SIGTERM') problems.push(`kvmdbg ended by ${end.signal}`);
  if (problems.length) {
    const prompt = times.prompt ? `shell prompt after ${(times.prompt / 1000).toFixed(1)} s, ` : 'no shell prompt, ';
    console.error(`xv6-check: ${cpus} vCPU(s) FAILED after ${(times.listing / 1000).toFixed(1)} s (${prompt}screen ${png}): ${problems.join('; ')}\n--- stdout\n${serial}\n--- stderr\n${err}`);
    return false;
  }
  say(`${cpus} vCPU${cpus > 1 ? 's' : ''}: shell prompt after ${(times.prompt / 1000).toFixed(1)} s, ls listed after ${(times.listing / 1000).toFixed(1)} s; screen ${png}`);
  console.log(screen.split('\n').filter((l) => l.trim()).map((l) => `  | ${l}`).join('\n'));
  return true;
}
