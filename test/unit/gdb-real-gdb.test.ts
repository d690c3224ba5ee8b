/**
 * Debian's real gdb (apt `gdb`, /usr/bin/gdb) against server.ts and the fake
 * target: proves the target description, the register layout and the packet
 * flow are right for an actual gdb, not just for our reading of the spec.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startGdbServer, type GdbServer } from '../../vmm/gdb/server';
import type { GdbArch } from '../../vmm/gdb/registers';
import { FakeTarget, type FakeOptions } from './helpers/gdb-fake-target';

const GDB = '/usr/bin/gdb';
/** A 32-bit (ELF32) multiboot kernel from test/guests (built by npm run build). */
const MULTIBOOT32 = join(__dirname, '..', '..', '..', 'test', 'guests', 'build', 'multiboot32.elf');
const X86_64_PRELUDE = ['set architecture i386:x86-64'];

interface RunOptions extends FakeOptions {
  setup?: (t: FakeTarget) => void;
  /** The server's register layout (default x86-64). */
  arch?: GdbArch;
  /** gdb commands before `target remote` (default: set architecture i386:x86-64). */
  prelude?: string[];
}

/** Run gdb -batch with these commands against a fresh server; returns gdb's output and the target. */
async function runGdb(commands: string[], options: RunOptions = {}) {
  const target = new FakeTarget(options);
  options.setup?.(target);
  const logs: string[] = [];
  const server = await startGdbServer(target, { port: 0, log: (m) => logs.push(m), arch: options.arch });
  try {
    const output = await gdbBatch(server, commands, undefined, options.prelude);
    return { output, target, logs };
  } finally {
    await server.close();
  }
}

function gdbBatch(server: GdbServer, commands: string[], onSpawn?: (p: ReturnType<typeof spawn>) => void,
  prelude: string[] = X86_64_PRELUDE): Promise<string> {
  const args = ['-batch', '-nx'];
  for (const c of [...prelude, `target remote ${server.address}:${server.port}`, ...commands]) args.push('-ex', c);
  return new Promise((resolve, reject) => {
    const p = spawn(GDB, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(p);
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`gdb timed out; output so far:\n${out}`)); }, 30_000);
    p.on('error', reject);
    p.on('close', () => { clearTimeout(timer); resolve(out); });
  });
}

test('gdb is installed (apt-get install gdb)', () => {
  assert.ok(existsSync(GDB), `${GDB} is missing: apt-get install gdb`);
});

test('real gdb: info registers, x, $cr3, stepi, detach', async () => {
  const { output, target } = await runGdb(['info registers rip', 'x/4xw 0x1000', 'p $cr3', 'stepi', 'info registers rip', 'detach']);
  assert.match(output, /^rip\s+0x1000\s+0x1000$/m, output);
  assert.match(output, /^0x1000:\s+0x03020100\s+0x07060504\s+0x0b0a0908\s+0x0f0e0d0c$/m, output);
  assert.match(output, /^\$1 = 36864$/m, output); // cr3 = 0x9000
  assert.match(output, /^rip\s+0x1002\s+0x1002$/m, output);
  assert.match(output, /\[Inferior 1 \(Remote target\) detached\]/, output);
  assert.ok(target.calls.includes('resume 0:step'), target.calls.join('\n'));
  assert.ok(target.calls.includes('detach'));
  assert.doesNotMatch(output, /warning: (?!No executable)/, output);
});

test('real gdb: system and segment registers, flags decoded, eflags, 32-bit segment selectors', async () => {
  const { output } = await runGdb([
    'info registers cr0 efer cr4', 'p/x $fs_base', 'p/x $gs_base', 'p/x $k_gs_base', 'p $cs', 'info registers eflags', 'p/x $r15', 'p $sp',
  ]);
  assert.match(output, /^cr0\s+0x80050033\s+\[ PE MP ET NE WP AM PG \]$/m, output);
  assert.match(output, /^efer\s+0xd01\s+\[ SCE LME LMA NXE \]$/m, output);
  assert.match(output, /^cr4\s+0x6b0\s+\[ PSE PAE PGE OSFXSR OSXMMEXCPT \]$/m, output);
  assert.match(output, /^\$1 = 0x7f0000001000$/m, output);
  assert.match(output, /^\$2 = 0xffff888000000000$/m, output);
  assert.match(output, /^\$3 = 0xffffffff81000000$/m, output);
  assert.match(output, /^\$4 = 16$/m, output);
  assert.match(output, /^eflags\s+0x246\s+\[ PF ZF IF \]$/m, output);
  assert.match(output, /^\$5 = 0xfedcba9876543210$/m, output);
  assert.match(output, /^\$6 = \(void \*\) 0x8000$/m, output);
});

test('real gdb: x87/SSE registers from the FPU, and <unavailable> without it', async () => {
  const withFpu = await runGdb(['p $st0', 'p $xmm1.v16_int8[15]', 'p/x $mxcsr'], { fpu: true });
  assert.match(withFpu.output, /^\$1 = 1$/m, withFpu.output);
  assert.match(withFpu.output, /^\$2 = 16$/m, withFpu.output);
  assert.match(withFpu.output, /^\$3 = \[ IM DM ZM OM UM PM \]$|^\$3 = 0x1f80$/m, withFpu.output);
  const without = await runGdb(['p $st0', 'p $xmm0', 'info registers rip']);
  assert.match(without.output, /^\$1 = <unavailable>$/m, without.output);
  assert.match(without.output, /^rip\s+0x1000/m, without.output);
});

test('real gdb: writes registers and memory, threads, monitor', async () => {
  const { output, target } = await runGdb([
    'set $rax = 0x1234', 'set *(unsigned int *)0x1010 = 0xcafebabe', 'x/1xw 0x1010', 'info threads', 'thread 2', 'p/x $rax',
    'monitor info exits', 'detach',
  ], { vcpus: 2 });
  assert.equal(target.regs.get(0)!.rax, 0x1234n);
  assert.deepEqual([...target.pages.get(1n)!.subarray(0x10, 0x14)], [0xbe, 0xba, 0xfe, 0xca]);
  assert.match(output, /^0x1010:\s+0xcafebabe$/m, output);
  assert.match(output, /Thread 1 \(vCPU 0 \(long mode\)\)/, output);
  assert.match(output, /Thread 2 \(vCPU 1 \(long mode\)\)/, output);
  assert.match(output, /^\$1 = 0x1112$/m, output); // vCPU 1's rax
  assert.match(output, /^you said: info exits$/m, output);
});

test('real gdb: break, continue to a swbreak stop; watchpoints use Z2', async () => {
  const { output, target } = await runGdb(['break *0x1010', 'watch *(int *)0x2000', 'continue', 'delete', 'detach'], {
    setup: (t) => {
      t.onContinue = (tt) => {
        tt.regs.get(0)!.rip = 0x1010n;
        return { vcpu: 0, stop: { kind: 'swbreak' } };
      };
    },
  });
  assert.match(output, /Breakpoint 1, 0x0000000000001010 in \?\? \(\)/, output);
  assert.ok(target.calls.includes('insert 0 1010 1'), target.calls.join('\n'));
  assert.ok(target.calls.includes('insert 2 2000 4'), target.calls.join('\n'));
  assert.equal(target.breakpoints.size, 0, 'gdb removed them before detaching');
});

test('real gdb (i386): set architecture i386 against the i386 layout: low halves, flags, system registers, writes, stepi', async () => {
  const { output, target } = await runGdb([
    'info registers eip eax esp eflags cs', 'info registers cr0 cr4 efer', 'p/x $cr3', 'p/x $cr2', 'p/x $fs_base', 'p $sp',
    'x/2xw 0x1000', 'set $eax = 0x1234', 'set $cr3 = 0xa000', 'stepi', 'info registers eip', 'p $rax', 'p $xmm8', 'detach',
  ], { arch: 'i386', mode: 'protected', prelude: ['set architecture i386'] });
  assert.doesNotMatch(output, /internal-error|not compatible|rejected|too long|warning: (?!No executable)/, output);
  assert.match(output, /^eip\s+0x1000\s+0x1000$/m, output);
  assert.match(output, /^eax\s+0x1111\s+4369$/m, output);
  assert.match(output, /^esp\s+0x8000\s+0x8000$/m, output);
  assert.match(output, /^eflags\s+0x202\s+\[ IF \]$/m, output);
  assert.match(output, /^cs\s+0x8\s+8$/m, output);
  assert.match(output, /^cr0\s+0x80000011\s+\[ PE ET PG \]$/m, output);
  assert.match(output, /^cr4\s+0x10\s+\[ PSE \]$/m, output);
  assert.match(output, /^efer\s+0x0\s+\[ \]$/m, output);
  assert.match(output, /^\$1 = 0x9000$/m, output);
  assert.match(output, /^\$2 = 0x40000004$/m, output);
  assert.match(output, /^\$3 = 0x12345000$/m, output);
  assert.match(output, /^\$4 = \(void \*\) 0x8000$/m, output);
  assert.match(output, /^0x1000:\s+0x03020100\s+0x07060504$/m, output);
  assert.match(output, /^eip\s+0x1002\s+0x1002$/m, output);
  assert.match(output, /^\$5 = void$/m, output); // no $rax in i386
  assert.match(output, /^\$6 = void$/m, output); // no $xmm8 in i386
  assert.match(output, /\[Inferior 1 \(Remote target\) detached\]/, output);
  assert.equal(target.regs.get(0)!.rax, 0xaaaa000000001234n, 'set $eax kept the upper half of rax');
  assert.equal(target.sregs.get(0)!.cr3, 0xa000n);
  assert.ok(target.calls.includes('resume 0:step'), target.calls.join('\n'));
});

test('real gdb (i386): a 32-bit kernel ELF (GNU/Linux OS ABI) with x87/SSE, threads and breakpoints', async () => {
  assert.ok(existsSync(MULTIBOOT32), `${MULTIBOOT32} is missing: make -C test/guests`);
  const { output, target } = await runGdb([
    'show architecture', 'p $st0', 'p $xmm1.v16_int8[15]', 'p/x $mxcsr', 'info threads', 'p/x $gs_base',
    'break *0x1010', 'continue', 'info registers eip', 'delete', 'detach',
  ], {
    arch: 'i386', mode: 'protected', fpu: true, prelude: [`file ${MULTIBOOT32}`],
    setup: (t) => {
      t.onContinue = (tt) => {
        tt.regs.get(0)!.rip = 0x1010n;
        return { vcpu: 0, stop: { kind: 'swbreak' } };
      };
    },
  });
  assert.doesNotMatch(output, /internal-error|not compatible|rejected|too long|warning:/, output);
  assert.match(output, /currently "?i386"?\)/, output);
  assert.match(output, /^\$1 = 1$/m, output);
  assert.match(output, /^\$2 = 16$/m, output);
  assert.match(output, /^\$3 = \[ IM DM ZM OM UM PM \]$|^\$3 = 0x1f80$/m, output);
  assert.match(output, /Thread 1 \(vCPU 0 \(protected mode\)\)/, output);
  assert.match(output, /^\$4 = 0x1000$/m, output);
  assert.match(output, /^eip\s+0x1010\s+0x1010$/m, output);
  assert.ok(target.calls.includes('insert 0 1010 1'), target.calls.join('\n'));
  assert.equal(target.breakpoints.size, 0);
});

test('real gdb: Ctrl-C (SIGINT to gdb) interrupts a running guest', async () => {
  const target = new FakeTarget();
  const server = await startGdbServer(target, { port: 0 });
  try {
    const output = await gdbBatch(server, ['continue', 'info registers rip', 'detach'], (p) => {
      const poll = setInterval(() => {
        if (target.calls.some((c) => c.startsWith('resume'))) { clearInterval(poll); p.kill('SIGINT'); }
      }, 20);
      p.on('close', () => clearInterval(poll));
    });
    assert.ok(target.calls.includes('interrupt'), target.calls.join('\n'));
    assert.match(output, /received signal SIGINT/, output);
    assert.match(output, /^rip\s+0x1000/m, output);
  } finally {
    await server.close();
  }
});

test('real gdb: a second debugger is refused politely while one is attached', async () => {
  const target = new FakeTarget();
  const logs: string[] = [];
  const server = await startGdbServer(target, { port: 0, log: (m) => logs.push(m) });
  try {
    const first = connect(server.port, server.address);
    await new Promise<void>((r) => first.on('connect', () => r()));
    await server.clientConnected;
    const output = await gdbBatch(server, ['info registers rip']);
    assert.match(output, /a debugger is already attached/, output);
    assert.ok(logs.some((l) => /already attached/.test(l)), logs.join('\n'));
    assert.ok(!target.calls.includes('detach'), 'the first session is untouched');
    first.destroy();
    for (let i = 0; i < 50 && !target.calls.includes('detach'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(target.calls.includes('detach'), 'closing the client detaches');
    // Now a new debugger gets in.
    const again = await gdbBatch(server, ['info registers rip', 'detach']);
    assert.match(again, /^rip\s+0x1000/m, again);
  } finally {
    await server.close();
  }
});

test('server: loopback by default; waitForClient resolves once a debugger connects', async () => {
  const target = new FakeTarget();
  let port = 0;
  const started = startGdbServer(target, {
    port: 0, waitForClient: true,
    log: (m) => { const p = /127\.0\.0\.1:(\d+)/.exec(m); if (p && port === 0) port = Number(p[1]); },
  });
  let resolved = false;
  void started.then(() => { resolved = true; });
  for (let i = 0; i < 100 && port === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(port > 0);
  assert.equal(resolved, false);
  const sock = connect(port, '127.0.0.1');
  const server = await started;
  assert.equal(server.address, '127.0.0.1');
  assert.ok(server.attached);
  sock.destroy();
  await server.close();
});
