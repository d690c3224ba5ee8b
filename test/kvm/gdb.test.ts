/**
 * Debian's real gdb against `kvmdbg run --gdb` on our test kernels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, kernelPath, symbol } from './helpers/guests';
import { withGdb, type GdbRunOptions } from './helpers/gdb';

const kernel = (name: 'pvh64' | 'multiboot32') => kernelPath(name);
const MAIN_C = join(ROOT, 'test', 'guests', 'kernel', 'main.c');

/** The 1-based line of main.c that contains `text`. */
function lineOf(text: string): number {
  const i = readFileSync(MAIN_C, 'utf8').split('\n').findIndex((l) => l.includes(text));
  if (i < 0) throw new Error(`main.c has no line with ${JSON.stringify(text)}`);
  return i + 1;
}

interface VmOptions {
  /** More `kvmdbg run` arguments (--gdb-arch). */
  vmArgs?: string[];
  /** gdb commands before `target remote`; given, gdb loads no ELF (default: `gdb KERNEL`). */
  prelude?: string[];
  onOutput?: GdbRunOptions['onOutput'];
}

async function withVm(name: 'pvh64' | 'multiboot32', cmdline: string, gdbCommands: string[], options: VmOptions = {}) {
  return withGdb(kernel(name), cmdline, gdbCommands, { ...options, elfless: !!options.prelude });
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

test('gdb: rwatch (a read watchpoint, by page protection) stops at the read of watch_c with its value, not at its write', { timeout: 300_000 }, async () => {
  const r = await withVm('pvh64', 'watch', ['rwatch watch_c', 'continue', 'p watch_e', 'bt 1', 'kill']);
  assert.match(r.gdb, /[Hh]ardware read watchpoint 1: watch_c/, r.gdb);
  assert.match(r.gdb, /Value = 3\b/, r.gdb);
  assert.match(r.gdb, /\$1 = 5\b/, 'the read comes after every write (watch_e = 5)');
  assert.match(r.gdb, /#0 .*watch_writes/);
  assert.notEqual(await r.exited, 0, 'kill ends the VM');
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

test('gdb: next over source lines (calls run to their return), step into a call, monitor help/errors, detach with a breakpoint still set: the VM completes', { timeout: 300_000 }, async () => {
  const l103 = lineOf('kprintf("memory: %llu KiB');
  const l104 = lineOf('kprintf("fib(20)');
  const l105 = lineOf('compute_checksum(checksum_data, sizeof');
  const l106 = lineOf('\tport_io_test();');
  const r = await withVm('pvh64', '', [
    `break main.c:${l103}`, 'continue',
    'next', 'next', 'next', 'info line *$pc',
    'step', 'bt 1',
    'monitor help', 'monitor walk 0x100000000000', 'monitor bogus',
    'break machine_finish', 'detach',
  ]);
  assert.match(r.gdb, new RegExp(`Breakpoint 1, .*main\\.c:${l103}\\n`), r.gdb);
  // Each `next` prints the line it stopped at: 103 -> 104 (over kprintf) -> 105 (over fib(20), 21891 calls) -> 106.
  assert.match(r.gdb, new RegExp(`^${l104}\\s+kprintf\\("fib\\(20\\)`, 'm'), r.gdb);
  assert.match(r.gdb, new RegExp(`^${l105}\\s+kprintf\\("checksum`, 'm'), r.gdb);
  assert.match(r.gdb, new RegExp(`^${l106}\\s+port_io_test\\(\\);`, 'm'), r.gdb);
  assert.match(r.gdb, new RegExp(`Line ${l106} of "kernel/main\\.c" starts at address`), r.gdb);
  const inPortIo = lineOf('outb(PORT_POST, POST_CODE);');
  assert.match(r.gdb, new RegExp(`^port_io_test \\(\\) at kernel/main\\.c:${inPortIo}\\n`, 'm'), 'step enters port_io_test');
  assert.match(r.gdb, new RegExp(`^#0\\s+port_io_test \\(\\) at kernel/main\\.c:${inPortIo}`, 'm'), r.gdb);
  assert.match(r.gdb, /kvmdbg monitor commands:\n\s+exits .*\n\s+walk ADDRESS/, r.gdb);
  assert.match(r.gdb, /0x100000000000 does not translate \(4-level paging\)/, r.gdb);
  assert.match(r.gdb, /error: unknown monitor command 'bogus'/, r.gdb);
  assert.match(r.gdb, /Inferior 1 \(Remote target\) detached/, r.gdb);
  // The stub removed what gdb had left inserted: the guest runs past machine_finish to its end.
  assert.equal(await r.exited, 0, r.stderr());
  assert.match(r.output(), /fib\(20\) = 6765\nchecksum = 0xa7ecfaa9\n[\s\S]*done\n$/);
});

test('gdb: Ctrl-C (SIGINT to gdb in `continue`) stops a spinning guest in spin_loop, twice; kill ends the VM', { timeout: 300_000 }, async () => {
  const spinLoop = symbol('pvh64', 'spin_loop');
  let continued = 0;
  let interrupts = 0;
  // gdb's stdout to a pipe is not flushed while it waits in `continue`: a Python hook on gdb's
  // continue event writes straight to fd 2 once gdb has resumed the target (sent vCont;c).
  const hook = 'python import gdb, os; gdb.events.cont.connect(lambda e: os.write(2, b"kvmdbg-test: resumed\\n"))';
  const r = await withVm('pvh64', 'spin', [hook, 'continue', 'p spin_counter', 'info symbol $pc', 'continue', 'p spin_counter', 'p/x $pc', 'kill'], {
    onOutput: (gdb, soFar) => {
      const n = soFar.split('kvmdbg-test: resumed').length - 1;
      if (n > continued) {
        continued = n;
        // gdb waits for the stop reply: Ctrl-C in its terminal is SIGINT, which gdb turns into the 0x03 byte.
        setTimeout(() => { interrupts++; gdb.kill('SIGINT'); }, 1500);
      }
    },
  });
  assert.equal(interrupts, 2);
  assert.equal(r.gdb.match(/Program received signal SIGINT, Interrupt\./g)?.length, 2, r.gdb);
  const counters = [...r.gdb.matchAll(/^\$(\d) = (\d+)$/gm)].map((m) => Number(m[2]));
  assert.equal(counters.length, 2, r.gdb);
  assert.ok(counters[0] > 0 && counters[1] > counters[0], `spin_counter grows while the guest runs: ${counters}`);
  assert.match(r.gdb, /^(?:spin_loop|spin_forever)(?: \+ \d+)? in section \.text$/m, r.gdb);
  const pc = Number(/^\$3 = (0x[0-9a-f]+)$/m.exec(r.gdb)?.[1]);
  assert.ok(pc >= spinLoop && pc < spinLoop + 16, `pc 0x${pc.toString(16)} in spin_loop (0x${spinLoop.toString(16)})`);
  assert.match(r.gdb, /\[Inferior 1 \(Remote target\) killed\]/, r.gdb);
  assert.notEqual(await r.exited, 0, 'kill ends the VM');
  assert.match(r.stderr(), /killed by gdb/);
});
