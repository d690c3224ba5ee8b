/**
 * `kvmdbg` command-line parsing: one sentence per mistake, and the usage.
 */
import { parseArgs } from 'node:util';
import { typeText } from '../devices/scancodes';

export const USAGE = `usage:
  kvmdbg run --kernel FILE [--initrd FILE] [--module FILE[,CMDLINE]]... [--cmdline STR] [--memory 512M] [--cpus 1] [--no-debug-exit]
             [--disk FILE[,ro][,ide]]... [--gdb [HOST:]PORT [--wait-gdb] [--gdb-arch x86-64|i386]]
             [--screenshot FILE.png] [--screen] [--keys TEXT [--keys-when TEXT]]
  kvmdbg demo            boot the bundled demo kernel (the Mandelbrot set on the serial console)
  kvmdbg demo fb         the framebuffer demo: a multiboot2 kernel drawing at 1024x768x32; its screen
                         goes to kvmdbg-fbdemo.png (--screenshot FILE.png elsewhere)
  kvmdbg doctor          what this host's KVM can do for a debugger, measured (exit 0: kernels boot and step here)
options:
  --kernel FILE      multiboot2 or multiboot v1 kernel, Limine kernel, PVH ELF, x86-64 ELF (long mode),
                     a Linux bzImage, or a BIOS boot disk image (its first sector ends in 55h AAh)
  --initrd FILE      passed as the first boot module
  --module FILE[,CMDLINE]  a multiboot/multiboot2/PVH boot module after the initrd, with its own
                     command line (default: FILE). Repeatable
  --cmdline STR      kernel command line
  --memory SIZE      guest RAM, e.g. 64M, 2G (default 256M)
  --cpus N           vCPUs, each on its own thread (default 1; up to this host's CPU count)
  --disk FILE[,ro][,ide]  a raw disk image as a virtio-blk disk (/dev/vda, vdb, ... in order);
                     ,ro makes it read-only; ,ide puts it on the primary ATA channel instead
                     (the first as master, the second as slave). Repeatable
  --no-debug-exit    remove the isa-debug-exit port 0xF4
  --gdb [HOST:]PORT  serve the GDB remote protocol (loopback unless HOST is given)
  --wait-gdb         start stopped at the entry point until gdb connects and continues
  --gdb-arch ARCH    registers gdb sees: x86-64 or i386 (default: i386 for an ELF32
                     kernel, x86-64 otherwise; fixed for the session whatever the CPU mode)
  --screenshot FILE  write the guest's screen (VGA text or framebuffer) as a PNG when the
                     VM ends, and each time kvmdbg receives SIGUSR1
  --screen           draw the guest's VGA text screen at the top of this terminal, updated
                     as it changes (the serial console scrolls below it); keys typed go to
                     the guest's PS/2 keyboard instead of its serial port
  --keys TEXT        type TEXT on the guest's PS/2 keyboard (US layout; {Enter}, {F1},
                     {ArrowUp}... name keys, as KeyboardEvent.code does; {{ types a brace)
  --keys-when TEXT   type the --keys once the text screen shows TEXT (default: at once)
  --no-sandbox       fail instead of using the KVM sandbox when /dev/kvm is missing
  -v, --verbose      also print device notes (unhandled ports, ...)
The guest's serial console is this terminal; Ctrl-C ends the VM. The exit status
is the guest's: 0 on power-off, (v<<1)|1 after writing v to port 0xF4, and
non-zero with a message on a crash.`;

export interface RunArgs {
  command: 'run' | 'demo' | 'doctor';
  /** `kvmdbg demo fb`: the framebuffer demo instead of the serial one. */
  demo?: 'fb';
  kernel?: string;
  initrd?: string;
  /** --module FILE[,CMDLINE], in order (after the initrd). */
  modules: { path: string; cmdline?: string }[];
  cmdline?: string;
  memoryBytes?: number;
  cpus?: number;
  /** --disk FILE[,ro][,ide], in order. */
  disks: { path: string; readOnly: boolean; bus?: 'virtio' | 'ide' }[];
  debugExit: boolean;
  sandbox: boolean;
  verbose: boolean;
  gdb?: { host: string; port: number };
  waitGdb: boolean;
  /** --gdb-arch; undefined = from the kernel's ELF class. */
  gdbArch?: 'x86-64' | 'i386';
  /** --screenshot FILE.png. */
  screenshot?: string;
  /** --screen: the VGA text screen in this terminal. */
  screen: boolean;
  /** --keys TEXT (already checked to be typeable) and --keys-when TEXT. */
  keys?: string;
  keysWhen?: string;
}

export class UsageError extends Error {}

const UNITS: Record<string, number> = { '': 1024 * 1024, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** "512M" -> bytes. Bare numbers are MiB, as QEMU's -m. */
export function parseSize(text: string): number {
  const m = /^(\d+)([KMG]?)(i?B)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--memory ${text}: expected a size like 512M or 2G`);
  const bytes = Number(m[1]) * UNITS[m[2].toUpperCase()];
  if (bytes < 2 * 1024 * 1024) throw new UsageError(`--memory ${text}: at least 2M of guest RAM is needed`);
  if (bytes % 4096 !== 0) throw new UsageError(`--memory ${text}: must be a multiple of 4K`);
  if (bytes > 1024 ** 4) throw new UsageError(`--memory ${text}: more than 1T of guest RAM is not supported`);
  return bytes;
}

export function parseCli(argv: string[]): RunArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        kernel: { type: 'string' }, initrd: { type: 'string' }, module: { type: 'string', multiple: true }, cmdline: { type: 'string' },
        memory: { type: 'string' }, cpus: { type: 'string' }, disk: { type: 'string', multiple: true },
        'no-debug-exit': { type: 'boolean' }, 'no-sandbox': { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' }, help: { type: 'boolean', short: 'h' },
        gdb: { type: 'string' }, 'wait-gdb': { type: 'boolean' }, 'gdb-arch': { type: 'string' },
        screenshot: { type: 'string' }, screen: { type: 'boolean' }, keys: { type: 'string' }, 'keys-when': { type: 'string' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) return 'help';
  const command = positionals[0];
  if (command !== 'run' && command !== 'demo' && command !== 'doctor') throw new UsageError(`unknown command '${command}'`);
  const demo = command === 'demo' && positionals[1] === 'fb' ? 'fb' : undefined;
  if (positionals.length > (demo ? 2 : 1)) throw new UsageError(`unexpected argument '${positionals[demo ? 2 : 1]}'${command === 'demo' ? ' (kvmdbg demo takes fb or nothing)' : ''}`);
  if (command === 'run' && !values.kernel) throw new UsageError('kvmdbg run needs --kernel FILE');
  if (command === 'demo' && values.kernel) throw new UsageError('kvmdbg demo boots the bundled demo kernel; use kvmdbg run --kernel FILE for your own');
  let cpus: number | undefined;
  if (values.cpus !== undefined) {
    cpus = Number(values.cpus);
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 256) throw new UsageError(`--cpus ${values.cpus}: expected a whole number from 1 to 256`);
  }
  if (values['wait-gdb'] && values.gdb === undefined) throw new UsageError('--wait-gdb needs --gdb [HOST:]PORT');
  const gdbArch = values['gdb-arch'];
  if (gdbArch !== undefined) {
    if (values.gdb === undefined) throw new UsageError('--gdb-arch needs --gdb [HOST:]PORT');
    if (gdbArch !== 'x86-64' && gdbArch !== 'i386') throw new UsageError(`--gdb-arch ${gdbArch}: expected x86-64 or i386`);
  }
  if (values['keys-when'] !== undefined && values.keys === undefined) throw new UsageError('--keys-when needs --keys TEXT');
  if (values.keys !== undefined) {
    try { typeText(values.keys); } catch (e) { throw new UsageError(`--keys: ${(e as Error).message}`); }
  }
  if (values.screenshot !== undefined && !/\.png$/i.test(values.screenshot)) throw new UsageError(`--screenshot ${values.screenshot}: the file is a PNG, name it FILE.png`);
  return {
    command,
    demo,
    screenshot: values.screenshot,
    screen: !!values.screen,
    keys: values.keys,
    keysWhen: values['keys-when'],
    gdb: values.gdb !== undefined ? parseGdbAddress(values.gdb) : undefined,
    waitGdb: !!values['wait-gdb'],
    gdbArch,
    kernel: values.kernel,
    initrd: values.initrd,
    modules: (values.module ?? []).map(parseModule),
    cmdline: values.cmdline,
    memoryBytes: values.memory !== undefined ? parseSize(values.memory) : undefined,
    cpus,
    disks: (values.disk ?? []).map(parseDisk),
    debugExit: !values['no-debug-exit'],
    sandbox: !values['no-sandbox'],
    verbose: !!values.verbose,
  };
}

/** "disk.img", "disk.img,ro", "disk.img,ide", "disk.img,ro,ide" (flags in any order). */
export function parseDisk(text: string): { path: string; readOnly: boolean; bus?: 'virtio' | 'ide' } {
  const m = /^(.*?)((?:,(?:ro|rw|ide|virtio))*)$/.exec(text)!;
  if (m[1] === '') throw new UsageError(`--disk ${text}: expected FILE or FILE,ro (and ,ide for the ATA channel)`);
  const flags = m[2].split(',').slice(1);
  const disk: { path: string; readOnly: boolean; bus?: 'virtio' | 'ide' } = { path: m[1], readOnly: flags.includes('ro') && !flags.includes('rw') };
  if (flags.includes('ide')) disk.bus = 'ide';
  return disk;
}

/** "font.psf" or "font.psf,the module's command line" (the first comma splits). */
export function parseModule(text: string): { path: string; cmdline?: string } {
  const comma = text.indexOf(',');
  const path = comma < 0 ? text : text.slice(0, comma);
  if (path === '') throw new UsageError(`--module ${text}: expected FILE or FILE,CMDLINE`);
  return comma < 0 ? { path } : { path, cmdline: text.slice(comma + 1) };
}

/** "1234" -> loopback:1234; "HOST:1234" only when the user names a host. */
export function parseGdbAddress(text: string): { host: string; port: number } {
  const m = /^(?:(.+):)?(\d+)$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`--gdb ${text}: expected a port (1234) or HOST:PORT (127.0.0.1:1234)`);
  }
  return { host: m[1]?.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1', port };
}
