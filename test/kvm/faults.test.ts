// KVM tier: guest faults end in a stop event or a clear exit, never a hang of
// the debugger, through the CLI (and its GDB stub), the Machine API and DAP.
//  - triple fault (pvh64 `triple`);
//  - KVM internal error: faults64 `mmio-exec` jumps into unassigned MMIO, an
//    instruction fetch KVM cannot emulate (KVM_EXIT_INTERNAL_ERROR);
//  - failed entry: guest state no CPU accepts, set by us with KVM_SET_SREGS
//    (64-bit code segment with both L and D set, APM 15.5.1 / SDM 26.3.1.2);
//    state KVM itself refuses (CR0.PG without CR0.PE) is a clear error and the
//    VM goes on; a non-canonical RIP typed into the debugger ends cleanly;
//  - a vCPU that halts or spins with interrupts off: pause still works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { Machine } from '../../vmm/machine/machine';
import { BOOT_MS, CLI, GUEST_DIR, MEMORY_64M, ROOT, Console, ended, kernelPath, within } from './helpers/guests';
import { STACK_LINE, runCli, startCli } from './helpers/cli';
import { stopAdapter } from './helpers/dap-session';

const FAULTS = join(GUEST_DIR, 'faults64.elf');
const ADAPTER = join(ROOT, 'out', 'debug-adapter', 'main.js');
const T = BOOT_MS;
/** How a VM may end when the CPU refuses its state: any of these is clear; a hang is not. */
const CLEAR_ENDS = ['fail-entry', 'internal-error', 'triple-fault', 'crash'];

// ---- CLI ----------------------------------------------------------------------------------------

test('CLI: a jump into MMIO (KVM internal error) ends with a sentence and a non-zero status', async () => {
  const r = await runCli(['run', '--kernel', FAULTS, '--memory', '64M', '--cmdline', 'mmio-exec'], T);
  assert.equal(r.stdout, 'kvmdbg faults64 (pvh)\njumping into MMIO at 0xd0000000\n');
  assert.notEqual(r.status, 0);
  assert.equal(r.signal, null);
  assert.match(r.stderr, /^kvmdbg: KVM could not emulate the guest at RIP 0xd0000000 \(internal error, suberror \d+\)\n$/);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`CLI: ${signal} ends a guest halted with interrupts off (cli; hlt), promptly`, async () => {
    const run = startCli(['run', '--kernel', FAULTS, '--memory', '64M', '--cmdline', 'cli-hlt'], { keepStdinOpen: true });
    await run.waitForStdout('halting with interrupts off\n', T);
    await new Promise((r) => setTimeout(r, 300));
    run.child.kill(signal);
    const r = await within(run.done, 30_000, `kvmdbg to end after ${signal}`).finally(() => run.child.kill('SIGKILL'));
    assert.ok(r.status !== 0 || r.signal !== null, `ended: ${JSON.stringify([r.status, r.signal])}`);
    assert.doesNotMatch(r.stderr, STACK_LINE);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const port = (s.address() as { port: number }).port; s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

/** Sends one GDB remote packet on `sock` and resolves with the reply's payload. */
function rsp(sock: ReturnType<typeof connect>, p: string): Promise<string> {
  let sum = 0;
  for (const c of p) sum = (sum + c.charCodeAt(0)) & 0xff;
  return within(new Promise<string>((resolve) => {
    let buf = '';
    const on = (d: Buffer) => {
      buf += d.toString('latin1');
      const m = /\$([^#]*)#[0-9a-fA-F]{2}/.exec(buf);
      if (!m) return;
      sock.off('data', on);
      sock.write('+');
      // Run-length encoding (E.23): "c*n" is c repeated n - 29 more times.
      resolve(m[1].replace(/(.)\*(.)/g, (_, c: string, n: string) => c.repeat(1 + n.charCodeAt(0) - 29)));
    };
    sock.on('data', on);
    sock.write(`$${p}#${sum.toString(16).padStart(2, '0')}`);
  }), T, `the stub's reply to ${p}`);
}

const le64 = (v: bigint) => Buffer.from(new BigUint64Array([v]).buffer).toString('hex');

async function gdbSession(cmdline: string, body: (sock: ReturnType<typeof connect>) => Promise<void>) {
  const port = await freePort();
  const run = startCli(['run', '--kernel', FAULTS, '--memory', '64M', '--cmdline', cmdline, '--gdb', `127.0.0.1:${port}`, '--wait-gdb'], { keepStdinOpen: true });
  try {
    let sock: ReturnType<typeof connect> | undefined;
    for (const deadline = Date.now() + T; !sock;) {
      sock = await new Promise<ReturnType<typeof connect> | undefined>((resolve) => {
        const s = connect(port, '127.0.0.1', () => resolve(s));
        s.on('error', () => resolve(undefined));
      });
      if (!sock) { assert.ok(Date.now() < deadline, `the GDB stub on ${port}: ${run.stderr()}`); await new Promise((r) => setTimeout(r, 200)); }
    }
    try { await body(sock); } finally { sock.destroy(); }
    return await within(run.done, T, 'kvmdbg to end');
  } finally {
    run.child.kill('SIGKILL');
  }
}

test('CLI + GDB stub: CR0 with PG and no PE (KVM_SET_SREGS refuses it) is an error reply; the VM goes on and finishes', async () => {
  const r = await gdbSession('', async (sock) => {
    assert.match(await rsp(sock, '?'), /^[ST]05/);
    const cr0 = BigInt('0x' + Buffer.from((await rsp(sock, 'p3c')), 'hex').reverse().toString('hex'));
    assert.equal(cr0 & 1n, 1n, `CR0 at the (32-bit PVH) entry has PE (0x${cr0.toString(16)})`);
    const bad = (cr0 & ~1n) | 0x8000_0000n;
    const reply = await rsp(sock, `P3c=${le64(bad)}`);
    assert.match(reply, /^E/, `writing CR0=0x${bad.toString(16)}: ${reply}`);
    assert.equal(await rsp(sock, 'p3c'), le64(cr0), 'CR0 unchanged');
    const stop = await rsp(sock, 'c');
    assert.match(stop, /^W00/, `the guest powered off: ${stop}`);
  });
  assert.match(r.stdout, /faults64 ok\n$/);
  assert.deepEqual([r.status, r.signal], [0, null], r.stderr);
});

test('CLI + GDB stub: a non-canonical RIP written at the entry ends the VM with a clear end, no hang', async () => {
  const r = await gdbSession('', async (sock) => {
    assert.match(await rsp(sock, '?'), /^[ST]05/);
    assert.equal(await rsp(sock, `P10=${le64(0x8000_0000_0000_1000n)}`), 'OK');
    const stop = await rsp(sock, 'c');
    console.log(`non-canonical RIP, gdb stop reply: ${stop}`);
    assert.match(stop, /^(W|X|T|S)/, `a stop or an end: ${stop}`);
    if (/^[TS]/.test(stop)) await rsp(sock, 'k').catch(() => {});
  });
  console.log(`non-canonical RIP: status ${r.status}, stderr ${JSON.stringify(r.stderr)}`);
  assert.notEqual(r.stdout.includes('faults64 ok'), true, 'the guest did not run on');
  assert.doesNotMatch(r.stderr, STACK_LINE);
});

// ---- the host out of file descriptors (KVM "busy": too many VMs) ------------------------------------

test('CLI under a low open-file limit (prlimit --nofile): every run succeeds or says one sentence with what to do; never a trace or a hang', { timeout: 900_000 }, async () => {
  const probe = spawnSync('prlimit', ['--version'], { encoding: 'utf8' });
  assert.equal(probe.status, 0, 'prlimit (util-linux) is needed to lower the open-file limit: apt-get install util-linux');
  const rows: string[] = [];
  let advised = 0;
  let reachedUs = 0;
  for (const n of [18, 22, 26, 30, 34, 40, 48, 64]) {
    const r = spawnSync('prlimit', [`--nofile=${n}:${n}`, process.execPath, CLI, 'run', '--no-sandbox', '--kernel', kernelPath('pvh64'), '--memory', '64M'],
      { encoding: 'utf8', timeout: T, cwd: ROOT });
    assert.equal(r.error, undefined, `nofile ${n}: ${r.error?.message} (a hang?)`);
    const ours = /^kvmdbg: /.test(r.stderr);
    const ok = r.status === 0 && r.stdout.endsWith('done\n');
    rows.push(`nofile ${n}: status ${r.status}${ok ? ' (ran)' : ''} ${JSON.stringify(r.stderr.trim().split('\n')[0]?.slice(0, 160))}`);
    if (!ok && !ours) continue; // node itself could not start with so few fds: not our code yet
    reachedUs++;
    if (ok) continue;
    assert.equal(r.status, 1, `nofile ${n}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, STACK_LINE, `nofile ${n}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `nofile ${n}: one line: ${r.stderr}`);
    if (/too many open files .*ulimit -n/.test(r.stderr)) advised++;
    else assert.fail(`nofile ${n}: a failure without the advice: ${r.stderr}`);
  }
  console.log(rows.join('\n'));
  assert.ok(reachedUs > 0, `no limit let node start: ${rows.join('; ')}`);
  assert.ok(advised > 0, `no limit produced the "too many open files ... ulimit -n" sentence: ${rows.join('; ')}`);
});

// ---- Machine API (KVM_SET_SREGS directly) ---------------------------------------------------------

test('Machine API: a 64-bit code segment with L and D both set (set with KVM_SET_SREGS) ends in a clear end, not a hang', async () => {
  const machine = await Machine.create({ kernel: FAULTS, cmdline: 'spin', memoryBytes: MEMORY_64M });
  const out = new Console(machine);
  try {
    machine.resume();
    await out.waitFor('spinning with interrupts off\n', T);
    await within(machine.pause(), T, 'pause of the spinning guest');
    const s = await machine.getSregs();
    assert.equal(s.cs.l, true, 'stopped in 64-bit code');
    let rejected: Error | undefined;
    try {
      await machine.setSregs({ ...s, cs: { ...s.cs, db: true } });
    } catch (e) {
      rejected = e as Error; // KVM refusing the state itself is also a clear answer
    }
    if (rejected) {
      console.log(`CS.L=CS.D=1: KVM_SET_SREGS refused: ${rejected.message}`);
      assert.ok(rejected.message.length > 10 && !/\n\s+at /.test(rejected.message), rejected.message);
      return;
    }
    machine.resume();
    const end = await ended(machine, T, 'the VM with an invalid code segment to end');
    console.log(`CS.L=CS.D=1: end ${end.kind} (status ${end.status}): ${end.message}`);
    assert.ok(CLEAR_ENDS.includes(end.kind), `a clear end, got ${end.kind}: ${end.message}`);
    assert.notEqual(end.status, 0);
    assert.ok(end.message.length > 20 && !/undefined|\[object/.test(end.message), `a sentence: ${end.message}`);
  } finally {
    await machine.stop('test end').catch(() => {});
  }
});

// ---- DAP -------------------------------------------------------------------------------------------

/** `ended`: the exited and terminated events, recorded from the start (a guest that faults at once may end before anyone waits). */
interface Dap { dc: DebugClient; console(): string; event(name: 'exited' | 'terminated'): Promise<DebugProtocol.Event> }

async function dap(kernel: string, cmdline: string, stopOnEntry = false): Promise<Dap> {
  const dc = new DebugClient('node', ADAPTER, 'kvm');
  dc.defaultTimeout = T;
  await dc.start();
  let con = '';
  dc.on('output', (e: DebugProtocol.OutputEvent) => { con += e.body.output; });
  const seen = new Map<string, DebugProtocol.Event>();
  for (const name of ['exited', 'terminated']) dc.on(name, (e: DebugProtocol.Event) => seen.set(name, e));
  const event = (name: 'exited' | 'terminated'): Promise<DebugProtocol.Event> => {
    const got = seen.get(name);
    return got ? Promise.resolve(got) : within(dc.waitForEvent(name, T), T, `a ${name} event`);
  };
  await within(Promise.all([
    dc.initializeRequest({ adapterID: 'kvm', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' })
      .then(() => dc.launchRequest({ kernel, memory: '64M', cmdline, stopOnEntry } as DebugProtocol.LaunchRequestArguments)),
    dc.waitForEvent('initialized', T).then(() => dc.configurationDoneRequest()),
  ]), T, 'launch');
  return { dc, console: () => con, event };
}

async function endsClearly(s: Dap, what: RegExp): Promise<void> {
  const exited = await s.event('exited') as DebugProtocol.ExitedEvent;
  await s.event('terminated');
  assert.notEqual(exited.body.exitCode, 0);
  assert.match(s.console(), what);
}

test('DAP: a triple fault ends the session with exited + terminated and a sentence', async () => {
  const s = await dap(kernelPath('pvh64'), 'triple');
  try {
    await endsClearly(s, /The VM has ended: the guest triple-faulted/);
  } finally {
    await stopAdapter(s.dc);
  }
});

test('DAP: a jump into MMIO (KVM internal error) ends the session with exited + terminated and a sentence', async () => {
  const s = await dap(FAULTS, 'mmio-exec');
  try {
    await endsClearly(s, /The VM has ended: KVM could not emulate the guest at RIP 0xd0000000/);
  } finally {
    await stopAdapter(s.dc);
  }
});

test('DAP: pause stops a vCPU halted with interrupts off (cli; hlt); registers and a stack still come; continue, pause again', async () => {
  const s = await dap(FAULTS, 'cli-hlt');
  try {
    await new Promise((r) => setTimeout(r, 1000));
    for (let i = 0; i < 2; i++) {
      // Listen first: the stopped event can arrive in the same read as the pause response.
      const stopped = s.dc.waitForEvent('stopped', T).catch((e: Error) => {
        throw new Error(`${e.message} after pause ${i + 1} (console: ${JSON.stringify(s.console())})`);
      });
      await s.dc.pauseRequest({ threadId: 1 });
      const ev = await stopped as DebugProtocol.StoppedEvent;
      assert.equal(ev.body.reason, 'pause');
      const frames = (await s.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames;
      assert.ok(frames.length >= 1);
      assert.match(frames[0].name, /halt_forever|kernel_main/, `stopped in the halt loop: ${frames[0].name}`);
      await s.dc.continueRequest({ threadId: 1 });
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    // dc.stop() sends the one disconnect: a second would wait for an adapter that has already exited.
    await stopAdapter(s.dc);
  }
});

test('DAP: a non-canonical RIP set from the Variables view (64-bit code) ends or stops cleanly on continue; the adapter still answers', async () => {
  const s = await dap(FAULTS, 'spin');
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const paused = within(s.dc.waitForEvent('stopped', T), T, 'stopped by pause, in 64-bit code');
    await s.dc.pauseRequest({ threadId: 1 });
    await paused;
    const frame = (await s.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
    const scopes = (await s.dc.scopesRequest({ frameId: frame.id })).body.scopes;
    const rip = scopes.find((x) => /RIP/.test(x.name));
    assert.ok(rip, scopes.map((x) => x.name).join(', '));
    await s.dc.setVariableRequest({ variablesReference: rip.variablesReference, name: 'rip', value: '0x8000000000001000' });
    const next = Promise.race([
      s.dc.waitForEvent('terminated', T).then(() => 'terminated'),
      s.dc.waitForEvent('stopped', T).then((e) => `stopped (${(e as DebugProtocol.StoppedEvent).body.reason})`),
    ]);
    await s.dc.continueRequest({ threadId: 1 });
    const what = await within(next, T, 'the end or a stop after continuing at a non-canonical RIP');
    console.log(`DAP non-canonical RIP: ${what}; console: ${JSON.stringify(s.console().split('\n').filter((l) => /ended|stopped|KVM/.test(l)))}`);
    const threads = await within(s.dc.threadsRequest(), T, 'threads after the fault');
    assert.ok(threads.success);
  } finally {
    // dc.stop() sends the one disconnect: a second would wait for an adapter that has already exited.
    await stopAdapter(s.dc);
  }
});
