/**
 * Debian's real gdb against `kvmdbg run --gdb` on our test kernels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createServer } from 'node:net';

const root = join(__dirname, '..', '..', '..');
const kernel = (name: string) => join(root, 'test', 'guests', 'build', `${name}.elf`);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface VmOptions {
  /** More `kvmdbg run` arguments (--gdb-arch). */
  vmArgs?: string[];
  /** gdb commands before `target remote`; default: load the kernel ELF (`gdb KERNEL`). */
  prelude?: string[];
}

async function withVm(name: string, cmdline: string, gdbCommands: string[], options: VmOptions = {}) {
  const port = await freePort();
  const vm = spawn(process.execPath, [join(root, 'bin', 'kvmdbg.js'), 'run', '--kernel', kernel(name), '--memory', '64M',
    '--cmdline', cmdline, '--gdb', String(port), '--wait-gdb', ...(options.vmArgs ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  vm.stdout.on('data', (b) => { out += b; });
  vm.stderr.on('data', (b) => { err += b; });
  const exited = new Promise<number>((r) => vm.on('exit', (code) => r(code ?? -1)));
  // The server is up once kvmdbg says where to attach.
  for (let i = 0; i < 600 && !err.includes('target remote'); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(err, /gdb: target remote 127\.0\.0\.1:\d+/);
  const args = ['-batch', '-nx', ...(options.prelude ? [] : [kernel(name)])];
  for (const c of [...(options.prelude ?? []), `target remote 127.0.0.1:${port}`, ...gdbCommands]) args.push('-ex', c);
  const gdb = spawnSync('gdb', args, { encoding: 'utf8', timeout: 240_000 });
  return { gdb: gdb.stdout + gdb.stderr, vm, exited, output: () => out, stderr: () => err };
}

test('gdb: break on a C function, registers, memory, stepi, monitor, detach leaves the VM running', { timeout: 300_000 }, async () => {
  const r = await withVm('pvh64', '', [
    'break compute_checksum', 'continue',
    'info registers rip', 'p/x $cr0', 'finish', 'x/1xw &result_value',
    'stepi', 'info threads', 'monitor exits', 'monitor walk 0x100000',
    'delete', 'detach',
  ]);
  assert.match(r.gdb, /Breakpoint 1, .*compute_checksum/);
  assert.match(r.gdb, /rip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <compute_checksum>/);
  assert.match(r.gdb, /\$1 = 0x[0-9a-f]*11/, 'CR0 has PE and ET set in long mode');
  assert.match(r.gdb, /<result_value>:\s+0xa7ecfaa9/);
  assert.match(r.gdb, /Thread 1 .*vCPU 0/);
  assert.match(r.gdb, /VM exits \(\d+ in all\):\n\s+io\s+\d+/);
  assert.match(r.gdb, /0x100000 -> physical 0x100000 \(4-level paging, 2048 KiB page/);
  assert.match(r.gdb, /Inferior 1 \(Remote target\) detached/);
  // Detached: the guest runs to its end by itself.
  assert.equal(await r.exited, 0);
  assert.match(r.output(), /checksum = 0xa7ecfaa9\n[\s\S]*done\n$/);
});

test('gdb: a write watchpoint on a global and kill', { timeout: 300_000 }, async () => {
  const r = await withVm('pvh64', 'count', ['watch tick_counter', 'continue', 'p tick_counter', 'kill']);
  assert.match(r.gdb, /[Hh]ardware watchpoint 1: tick_counter/);
  assert.match(r.gdb, /Old value = 0\s+New value = 1/);
  assert.notEqual(await r.exited, 0, 'kill ends the VM');
  assert.doesNotMatch(r.output(), /done/);
});

test('gdb on a 32-bit kernel (gdb multiboot32.elf): i386 registers, watchpoint, break, finish, detach', { timeout: 300_000 }, async () => {
  // `count` runs before the checksum: the watchpoint first, then the breakpoint.
  const r = await withVm('multiboot32', 'count', [
    'watch tick_counter', 'continue', 'delete',
    'break compute_checksum', 'continue', 'info registers eip', 'p $cr0', 'p $rip', 'finish', 'x/1xw &result_value',
    'delete', 'detach',
  ]);
  assert.doesNotMatch(r.gdb, /not compatible|rejected|too long|internal-error/, r.gdb);
  assert.match(r.gdb, /[Hh]ardware watchpoint 1: tick_counter/, r.gdb);
  assert.match(r.gdb, /Old value = 0\s+New value = 1/, r.gdb);
  assert.match(r.gdb, /Breakpoint 2, .*compute_checksum/, r.gdb);
  assert.match(r.gdb, /^eip\s+0x[0-9a-f]+\s+0x[0-9a-f]+ <compute_checksum/m, r.gdb);
  assert.match(r.gdb, /^\$1 = \[ PE[ A-Z]* ET/m, r.gdb);
  assert.match(r.gdb, /^\$2 = void$/m, r.gdb);
  assert.match(r.gdb, /Value returned is \$3 = 2817325737/, r.gdb); // 0xa7ecfaa9
  assert.match(r.gdb, /<result_value>:\s+0xa7ecfaa9/, r.gdb);
  assert.match(r.gdb, /Inferior 1 \(Remote target\) detached/, r.gdb);
  assert.equal(await r.exited, 0, r.stderr());
  assert.match(r.output(), /count = 1000\n[\s\S]*checksum = 0xa7ecfaa9\n[\s\S]*done\n$/);
});

test('gdb --gdb-arch x86-64 on a 32-bit kernel: the x86-64 layout for a loader that enters long mode', { timeout: 300_000 }, async () => {
  const r = await withVm('multiboot32', '', ['info registers rip', 'p/x $eflags', 'p $eip', 'detach'], {
    vmArgs: ['--gdb-arch', 'x86-64'], prelude: ['set architecture i386:x86-64'],
  });
  assert.doesNotMatch(r.gdb, /not compatible|rejected|too long|internal-error/, r.gdb);
  assert.match(r.gdb, /^rip\s+0x10[0-9a-f]{4}\s+0x10[0-9a-f]{4}$/m, r.gdb);
  assert.match(r.gdb, /Inferior 1 \(Remote target\) detached/, r.gdb);
  assert.equal(await r.exited, 0, r.stderr());
});
