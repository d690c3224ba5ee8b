/**
 * Security and host checks that need no KVM:
 *  - the GDB stub listens on loopback unless told otherwise;
 *  - no child_process call in vmm/ or debug-adapter/ goes through a shell
 *    (spawn/execFile with argument arrays only: no exec(), no shell: true);
 *  - files are opened only by the modules that open what the user named (and the name index cache)
 *    (kernel, initrd, symbols, disk) and nothing writes files or temp files;
 *  - a host without a usable KVM device (missing, not KVM, unreadable for this
 *    user) or with KVM out of resources (EMFILE, ENOMEM, EBUSY) gets one
 *    sentence that says what to do, never a trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startGdbServer } from '../../vmm/gdb/server';
import { FakeTarget } from './helpers/gdb-fake-target';
import { explainHostFailure } from '../../vmm/host/kvm-errors';
import { KvmError } from '../../native/errors';
import { sandboxProblem } from '../../vmm/host/kvm-host';

const ROOT = join(__dirname, '..', '..', '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
    }
  };
  walk(join(ROOT, dir));
  return out;
}
const PRODUCT = [...sources('vmm'), ...sources('debug-adapter')];
/** Source without comments (so a doc comment mentioning exec() does not count). */
const code = (p: string): string => readFileSync(p, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');

test('the GDB stub binds 127.0.0.1 when no host is given', async () => {
  const server = await startGdbServer(new FakeTarget(), { port: 0 });
  try {
    assert.equal(server.address, '127.0.0.1');
    assert.ok(server.port > 0);
  } finally {
    await server.close();
  }
});

test('no child_process call in vmm/, debug-adapter/ or extension/ uses a shell (no command line is built from launch.json strings)', () => {
  let users = 0;
  for (const p of [...PRODUCT, ...sources('extension')]) {
    const src = code(p);
    const imp = /import\s*\{([^}]*)\}\s*from\s*['"](?:node:)?child_process['"]/.exec(src);
    if (/require\(\s*['"](?:node:)?child_process['"]\s*\)|import\s+\*\s+as\s+\w+\s+from\s+['"](?:node:)?child_process['"]/.test(src)) {
      assert.fail(`${relative(ROOT, p)}: import child_process by name (spawn/spawnSync/execFile/execFileSync) so this check can see its uses`);
    }
    if (!imp) continue;
    users++;
    const names = imp[1].split(',').map((s) => s.trim().split(/\s+as\s+/)[0]).filter(Boolean);
    for (const n of names) {
      assert.ok(['spawn', 'spawnSync', 'execFile', 'execFileSync', 'type ChildProcess', 'ChildProcess'].includes(n),
        `${relative(ROOT, p)} imports ${n} from child_process: only spawn/execFile with argument arrays are allowed (no shell)`);
    }
    assert.doesNotMatch(src, /shell\s*:\s*(true|['"`])/, `${relative(ROOT, p)}: a child process with shell: ...`);
    // Every call's first argument is a program, not a command line built from strings.
    for (const m of src.matchAll(/\b(spawn|spawnSync|execFile|execFileSync)\(\s*([^,)]*)/g)) {
      assert.doesNotMatch(m[2], /['"`][^'"`]*\s[^'"`]*['"`]|\$\{/, `${relative(ROOT, p)}: ${m[0]}: the program must be one word or a path variable, not a command line`);
    }
  }
  assert.ok(users >= 1, 'the check saw the known child_process users (vmm/host/kvm-host.ts, vmm/cli/kvmdbg.ts)');
});

test('files are opened only by the modules that open what the user named; nothing writes files or temp files', () => {
  // module -> why it may open files
  const allowed: Record<string, string> = {
    'vmm/machine/user-files.ts': 'kernel / initrd paths given by the user',
    'vmm/virtio/blk.ts': 'the --disk image the user named',
    'vmm/host/kvm-host.ts': 'kvmdbg\'s own package.json (package root), /dev/kvm probing',
    'vmm/host/probe/capabilities.ts': '/proc/cpuinfo, read only, to name the kind of KVM host',
    'vmm/gdb/arch.ts': 'the kernel ELF header (the user\'s kernel path)',
    'debug-adapter/launch-config.ts': 'launch.json paths: existence and the ELF magic',
    'debug-adapter/session.ts': 'the System.map named in launch.json',
    'debug-adapter/symbols/index.ts': 'the symbols ELF named in launch.json (or the kernel)',
    'debug-adapter/symbols/system-map.ts': 'the System.map named in launch.json (systemMap)',
    'vmm/boot/byte-source.ts': 'the symbols ELF named in launch.json, read on demand (symbols/index.ts opens it through here)',
    'debug-adapter/dwarf/name-index-service.ts': 'its own name index cache, ~/.cache/kvmdbg/index/<build-id>.v1.idx (issue 14)',
    'vmm/cli/screen-cli.ts': 'the --screenshot FILE.png the user named (issue 16)',
    'debug-adapter/linux/module-files.ts': 'kernel modules\' debug files, read only: launch.json modulePaths, the kernel build tree beside vmlinux, /lib/modules and /usr/lib/debug/lib/modules of the guest\'s release (issue 15)',
  };
  // module -> the one place it may write (nothing else writes but the user's --disk image)
  const writers: Record<string, string> = {
    'debug-adapter/dwarf/name-index-service.ts': 'the name index cache under ~/.cache/kvmdbg/index: a temp file renamed into place, a damaged one removed',
    'vmm/cli/screen-cli.ts': 'the --screenshot FILE.png: FILE.png.<pid>.part beside it, renamed into place',
  };
  const OPEN = /\b(readFileSync|readFile|openSync|open|createReadStream|createWriteStream|writeFileSync|writeFile|appendFileSync|appendFile|mkdtempSync|mkdtemp|copyFileSync|renameSync|unlinkSync|rmSync)\s*\(/g;
  const WRITE = /\b(createWriteStream|writeFileSync|writeFile|appendFileSync|appendFile|mkdtempSync|mkdtemp|copyFileSync|renameSync|unlinkSync|rmSync|tmpdir)\s*\(/;
  for (const p of PRODUCT) {
    const rel = relative(ROOT, p).replace(/\\/g, '/');
    const src = code(p);
    if (!/from\s*['"](?:node:)?fs(?:\/promises)?['"]/.test(src)) continue;
    const uses = [...src.matchAll(OPEN)].map((m) => m[1]);
    if (uses.length === 0) continue;
    assert.ok(rel in allowed, `${rel} opens files (${[...new Set(uses)].join(', ')}): only modules that open user-named paths may (add it to this list with a reason after review)`);
    if (!(rel in writers)) assert.doesNotMatch(src, WRITE, `${rel}: writes, renames or deletes files, or makes temp files: kvmdbg writes only to the user's --disk image (and its name index cache)`);
  }
});

const noSandbox = (device: string) => spawnSync(process.execPath,
  [join(ROOT, 'bin', 'kvmdbg.js'), 'run', '--no-sandbox', '--kernel', join(ROOT, 'test', 'guests', 'build', 'pvh64.elf')],
  { encoding: 'utf8', timeout: 60_000, env: { ...process.env, KVMDBG_KVM_DEVICE: device } });

test('no KVM device: `kvmdbg run --no-sandbox` says the one sentence (KVMDBG_KVM_DEVICE=/nonexistent)', () => {
  const r = noSandbox('/nonexistent/kvm');
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'kvmdbg: KVM is not available on this host: /nonexistent/kvm does not exist (enable virtualization in the firmware and load kvm-intel or kvm-amd)\n');
});

test('no KVM device: `kvmdbg demo` runs the demo in the KVM sandbox instead, where the device override does not follow it', () => {
  // The override says "this host has no KVM"; carried inside, it made the sandbox's run fail the same way.
  const noSandboxHere = sandboxProblem();
  assert.equal(noSandboxHere, undefined, `the sandbox cannot run on this host: ${noSandboxHere}`);
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'kvmdbg.js'), 'demo'],
    { encoding: 'utf8', timeout: 240_000, env: { ...process.env, KVMDBG_KVM_DEVICE: '/nonexistent/kvm' } });
  assert.match(r.stderr, /running this VM inside the project's KVM sandbox instead/);
  assert.match(r.stdout, /Goodbye from the demo kernel\./, r.stderr);
  assert.equal(r.status, 0, r.stderr);
});

// The same path with the real device, where this host lacks it (this machine and CI's unit
// tier). Where /dev/kvm exists the override above already covers the path: skipped with the reason.
test('no /dev/kvm on this host: `kvmdbg run --no-sandbox` says the one sentence', {
  skip: existsSync('/dev/kvm') ? '/dev/kvm exists on this host: the same path is tested with KVMDBG_KVM_DEVICE=/nonexistent above' : false,
}, () => {
  const r = noSandbox('');
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'kvmdbg: KVM is not available on this host: /dev/kvm does not exist (enable virtualization in the firmware and load kvm-intel or kvm-amd)\n');
});

test('a KVM device that is not KVM (/dev/null): one line, no stack trace', () => {
  const r = noSandbox('/dev/null');
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^kvmdbg: .*KVM/);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
});

// ---- KVM busy or out of resources: one sentence with what to do (vmm/host/kvm-errors.ts) ----

test('host failures people can act on get advice (EMFILE, ENFILE, ENOMEM, EBUSY, ENOSPC), from the addon or from Node; others keep their message', () => {
  const cases: [Error, RegExp][] = [
    // the native addon's sentences (native/src/kvm.cc, errors.cc), as they cross the vCPU thread's boundary
    [new Error('KVM is not available on this host: opening /dev/kvm failed: EMFILE (Too many open files)'),
      /^the VM could not start: this process has too many open files \(opening the KVM device: EMFILE\); close other VMs or debug sessions, or raise the limit \(ulimit -n 4096\), and try again$/],
    [new KvmError('KVM_CREATE_VM failed: EMFILE (Too many open files)', 'KVM_CREATE_VM', 24, 'EMFILE'), /too many open files \(KVM_CREATE_VM: EMFILE\).*ulimit -n/],
    [new Error('KVM_CREATE_VCPU failed: EMFILE (Too many open files)'), /too many open files \(KVM_CREATE_VCPU: EMFILE\)/],
    // Node's, seen with prlimit --nofile in test/kvm/faults.test.ts
    [new Error('Worker initialization failure: EMFILE'), /too many open files \(starting the vCPU thread: EMFILE\)/],
    [Object.assign(new Error("EMFILE: too many open files, open '/x/dist/vcpu-worker.js'"), { code: 'EMFILE' }), /too many open files \(opening \/x\/dist\/vcpu-worker\.js: EMFILE\)/],
    [new Error('KVM_CREATE_VM failed: ENFILE (Too many open files in system)'), /the host has too many open files .*fs\.file-max/],
    [new Error('KVM_CREATE_VM failed: ENOMEM (Cannot allocate memory)'), /out of memory for it \(KVM_CREATE_VM: ENOMEM\).*less memory \(--memory/],
    [new Error('KVM is not available on this host: opening /dev/kvm failed: EBUSY (Device or resource busy)'), /^KVM is busy \(opening the KVM device: EBUSY\): another hypervisor \(VirtualBox, VMware\)/],
    [new Error('KVM_CREATE_VCPU failed: ENOSPC (No space left on device)'), /fewer vCPUs/],
  ];
  for (const [err, want] of cases) {
    const e = explainHostFailure(err) as Error & { code?: string; cause?: unknown };
    assert.match(e.message, want, err.message);
    assert.equal(e.message.split('\n').length, 1);
    assert.equal(e.cause, err);
    assert.equal(explainHostFailure(e), e, 'advice is not advised twice');
  }
  for (const same of [new KvmError('KVM_RUN failed: EFAULT (Bad address)', 'KVM_RUN', 14, 'EFAULT'), new Error('not KVM'),
    new Error('--disk /dev/sdb: the file cannot be opened (EBUSY: resource busy or locked)')]) {
    assert.equal(explainHostFailure(same), same, same.message);
  }
});

test('an unreadable KVM device, as a user without permission: one sentence naming the kvm group (setpriv to nobody)', () => {
  const probe = spawnSync('setpriv', ['--version'], { encoding: 'utf8' });
  assert.equal(probe.status, 0, 'setpriv (util-linux) is needed to run kvmdbg as another user: apt-get install util-linux');
  const dir = join(ROOT, 'test-output', 'kvm-perm');
  mkdirSync(dir, { recursive: true });
  const device = join(dir, 'kvm');
  writeFileSync(device, '');
  chmodSync(device, 0o000);
  const asNobody = existsSync(join(ROOT, 'bin', 'kvmdbg.js')) && process.getuid?.() === 0
    ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath]] as const
    : [process.execPath, []] as const;
  const r = spawnSync(asNobody[0], [...asNobody[1], join(ROOT, 'bin', 'kvmdbg.js'), 'run', '--no-sandbox', '--kernel', join(ROOT, 'test', 'guests', 'build', 'pvh64.elf')],
    { encoding: 'utf8', timeout: 60_000, env: { ...process.env, KVMDBG_KVM_DEVICE: device } });
  assert.equal(r.stderr, `kvmdbg: permission denied opening ${device}: add your user to the kvm group (sudo usermod -aG kvm $USER), then log in again\n`);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
});
