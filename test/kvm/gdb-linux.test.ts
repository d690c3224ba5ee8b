// kvm-needs: linux
// (an unmodified Linux guest)
/**
 * Debian's real gdb against `kvmdbg run --gdb` on kvmdbg's small Linux
 * (linux-source-6.1 built by scripts/build-linux.mjs, DWARF 5, frame
 * pointers, CONFIG_GDB_SCRIPTS): what a kernel developer does first with
 * gdb + QEMU, done against our stub instead. gdb loads vmlinux; the VM boots
 * the bzImage. Breakpoints are hardware ones (the stub turns Z0 into DR0-3).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { smallLinux } from './helpers/small-linux';
import { withGdb } from './helpers/gdb';

const TIMEOUT_MS = 900_000;

/** The kernel tree the build used: [source dir, object dir] (the cache's `source-dir` file). */
function sourceDirs(dir: string): { src: string; obj: string } {
  const f = join(dir, 'source-dir');
  assert.ok(existsSync(f), `${f} is missing: rebuild the small Linux with node scripts/build-linux.mjs`);
  const [src, obj] = readFileSync(f, 'utf8').trim().split('\n');
  assert.ok(src && obj && existsSync(join(src, 'init', 'main.c')), `${f} does not name a kernel tree with init/main.c`);
  return { src, obj };
}

/** The line of init/main.c inside start_kernel() that contains `text`. */
function startKernelLine(src: string, text: string): number {
  const lines = readFileSync(join(src, 'init', 'main.c'), 'utf8').split('\n');
  const from = lines.findIndex((l) => /^(?:asmlinkage .*)?void start_kernel\(void\)$|^asmlinkage .*void __init .*start_kernel\(void\)$/.test(l));
  assert.ok(from >= 0, 'init/main.c defines start_kernel');
  const i = lines.findIndex((l, n) => n > from && l.includes(text));
  assert.ok(i > from, `start_kernel has a line with ${text}`);
  return i + 1;
}

test('gdb on the small Linux: break start_kernel, bt, a breakpoint on an init/main.c line, next, the lx-* scripts, kill', { timeout: TIMEOUT_MS }, async () => {
  const k = smallLinux();
  const { src, obj } = sourceDirs(k.dir);
  const gdbPy = join(obj, 'vmlinux-gdb.py');
  assert.ok(existsSync(gdbPy), `${gdbPy} is missing: the build makes it (CONFIG_GDB_SCRIPTS, make scripts_gdb)`);
  const setupArch = startKernelLine(src, 'setup_arch(&command_line);');
  const r = await withGdb(k.bzImage, 'console=ttyS0 nokaslr panic=-1', [
    'break start_kernel', 'continue', 'bt',
    `break init/main.c:${setupArch}`, 'continue', 'next',
    `source ${gdbPy}`, 'lx-version', 'lx-dmesg', 'p $lx_current().comm',
    'kill',
  ], { elf: k.vmlinux, memory: '256M', timeoutMs: TIMEOUT_MS - 60_000 });
  assert.doesNotMatch(r.gdb, /internal-error|Remote connection closed|not compatible/, r.gdb);
  assert.match(r.gdb, /Breakpoint 1, start_kernel \(\) at (?:\S*\/)?init\/main\.c:\d+/, r.gdb);
  // Symbolized through frame pointers and DWARF: start_kernel <- x86_64_start_reservations <- x86_64_start_kernel.
  assert.match(r.gdb, /^#0\s+start_kernel \(\) at (?:\S*\/)?init\/main\.c:\d+$/m, r.gdb);
  assert.match(r.gdb, /^#1\s+0x[0-9a-f]+ in x86_64_start_reservations \(.*\) at (?:\S*\/)?arch\/x86\/kernel\/head64\.c:\d+$/m, r.gdb);
  assert.match(r.gdb, /^#2\s+0x[0-9a-f]+ in x86_64_start_kernel \(.*\) at (?:\S*\/)?arch\/x86\/kernel\/head64\.c:\d+$/m, r.gdb);
  assert.match(r.gdb, new RegExp(`Breakpoint 2, start_kernel \\(\\) at (?:\\S*/)?init/main\\.c:${setupArch}\\n`), r.gdb);
  // `next` ran all of setup_arch() to its return and stopped on a later line of start_kernel.
  // gdb prints the line `next` stopped at right after the breakpoint's line.
  const after = new RegExp(`^${setupArch}\\s+setup_arch\\(&command_line\\);\\n(\\d+)\\s+\\S`, 'm').exec(r.gdb);
  assert.ok(after && Number(after[1]) > setupArch, `next left line ${setupArch} for a later line of start_kernel:\n${r.gdb}`);
  // The kernel's own gdb scripts read its data structures through our stub.
  assert.match(r.gdb, /^Linux version 6\.1\.\d+/m, 'lx-version prints linux_banner');
  assert.match(r.gdb, /^\[\s*\d+\.\d+\] Linux version 6\.1/m, 'lx-dmesg prints the log buffer');
  assert.match(r.gdb, /^\$1 = "swapper/m, 'the current task is the boot CPU\'s idle task');
  assert.match(r.gdb, /\[Inferior 1 \(Remote target\) killed\]/, r.gdb);
  assert.notEqual(await r.exited, 0, 'kill ends the VM');
  assert.match(r.stderr(), /killed by gdb/);
});
