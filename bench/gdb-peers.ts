/**
 * The two GDB servers the debugger benchmarks compare, on the same guest:
 *   kvmdbg:  `kvmdbg run --gdb PORT --wait-gdb` (our stub, vmm/gdb/);
 *   QEMU:    `qemu-system-x86_64 -enable-kvm -gdb tcp:...:PORT -S` (its gdbstub; TCG where
 *            QEMU with KVM cannot boot the guest on this host, said so),
 * both with 64 MiB of RAM and stopped before the first guest instruction,
 * and a way to run Debian's gdb against either with a batch script whose
 * timing lines (`BENCH-RESULT {json}`) gdb's own Python prints: the times
 * are measured inside gdb, so gdb's start-up and symbol loading do not count.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
export const GUEST_MEMORY = '64M';

export interface GdbPeer {
  name: 'kvmdbg' | 'qemu';
  port: number;
  proc: ChildProcess;
  /** Everything the process printed (console and diagnostics). */
  output(): string;
  /** Ends the VM process (SIGKILL after 5 s) and waits for it. */
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True once something listens on 127.0.0.1:port (read from /proc: a probe connection would attach to QEMU's gdbstub). */
function listening(port: number): boolean {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  try {
    return readFileSync('/proc/net/tcp', 'utf8').split('\n').some((l) => {
      const f = l.trim().split(/\s+/);
      return f[1] === want && f[3] === '0A';
    });
  } catch {
    return false;
  }
}

function track(name: GdbPeer['name'], port: number, proc: ChildProcess): GdbPeer {
  let out = '';
  proc.stdout?.on('data', (b) => { out += b; });
  proc.stderr?.on('data', (b) => { out += b; });
  const exited = new Promise<void>((r) => {
    if (proc.exitCode !== null || proc.signalCode !== null) r();
    else proc.on('exit', () => r());
  });
  return {
    name, port, proc, output: () => out,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

async function waitListening(peer: GdbPeer, what: string, timeoutMs: number): Promise<GdbPeer> {
  const deadline = Date.now() + timeoutMs;
  while (!listening(peer.port)) {
    if (peer.proc.exitCode !== null) throw new Error(`${what} ended before serving gdb (exit ${peer.proc.exitCode}):\n${peer.output()}`);
    if (Date.now() > deadline) { await peer.stop(); throw new Error(`${what} did not listen on port ${peer.port} within ${timeoutMs / 1000} s:\n${peer.output()}`); }
    await sleep(50);
  }
  return peer;
}

/** kvmdbg with its GDB stub, waiting at the kernel's entry point. */
export async function startKvmdbg(kernel: string, cmdline = ''): Promise<GdbPeer> {
  const port = await freePort();
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'kvmdbg.js'), 'run', '--kernel', kernel, '--memory', GUEST_MEMORY,
    '--cmdline', cmdline, '--gdb', String(port), '--wait-gdb'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return waitListening(track('kvmdbg', port, proc), 'kvmdbg run --gdb', 120_000);
}

/** How the QEMU peer runs on this host: with KVM where QEMU+KVM boots our test kernel, else TCG (and the bench says so). */
export interface QemuAccel { args: string[]; label: string }

let accel: QemuAccel | undefined;

/**
 * Tries QEMU with KVM on pvh64.elf (to its power-off, 30 s at most) once per
 * run: some hosts' KVM cannot run QEMU's firmware (PVM reboot-loops it for a
 * Linux guest, says the issue that found it), and then the peer is QEMU TCG.
 */
export function qemuAccel(): QemuAccel {
  if (accel) return accel;
  const r = spawnSync('qemu-system-x86_64', ['-enable-kvm', '-cpu', 'host', ...qemuMachine('64M'),
    '-kernel', join(ROOT, 'test', 'guests', 'build', 'pvh64.elf')], { encoding: 'utf8', timeout: 30_000 });
  const ok = (r.stdout ?? '').includes('kvmdbg test kernel pvh64');
  accel = ok
    ? { args: ['-enable-kvm', '-cpu', 'host'], label: 'QEMU with KVM' }
    : { args: ['-accel', 'tcg'], label: `QEMU TCG (QEMU with KVM did not boot our test kernel on this host: ${r.error?.message ?? `exit ${r.status ?? r.signal}`})` };
  return accel;
}

/** The PC both peers get: q35, one CPU, serial on stdio, isa-debug-exit at 0xF4 like kvmdbg's. */
export function qemuMachine(memory: string): string[] {
  return ['-M', 'q35', '-m', memory, '-smp', '1', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=4'];
}

/** QEMU (with KVM where it boots, qemuAccel) and its gdbstub, stopped before the first instruction (-S). */
export async function startQemu(kernel: string, cmdline = ''): Promise<GdbPeer> {
  const port = await freePort();
  const proc = spawn('qemu-system-x86_64', [...qemuAccel().args, ...qemuMachine(GUEST_MEMORY),
    '-kernel', kernel, '-append', cmdline, '-gdb', `tcp:127.0.0.1:${port}`, '-S'], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.on('error', () => {});
  return waitListening(track('qemu', port, proc), 'qemu-system-x86_64 (apt-get install qemu-system-x86)', 120_000);
}

export interface GdbRun { output: string; results: Record<string, number>[]; status: number | null }

/**
 * Runs `gdb -batch -nx ELF -x script` against a peer. `body` is gdb script
 * text after `target remote`; its Python prints `BENCH-RESULT {json}` lines.
 */
export function runGdb(peer: GdbPeer, elf: string, body: string, scriptPath: string, timeoutMs = 600_000): Promise<GdbRun> {
  // remotetimeout: gdb's default 2 s per character is too short in the emulated sandbox (a late
  // reply desynchronises gdb's replies from its requests); the same for both peers.
  writeFileSync(scriptPath, ['set pagination off', 'set confirm off', 'set remotetimeout 60', `target remote 127.0.0.1:${peer.port}`, body, ''].join('\n'));
  return new Promise((resolve, reject) => {
    const p = spawn('gdb', ['-batch', '-nx', elf, '-x', scriptPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`gdb against ${peer.name} timed out; output:\n${out}`)); }, timeoutMs);
    p.on('error', (e) => { clearTimeout(t); reject(new Error(`gdb did not start (apt-get install gdb): ${e.message}`)); });
    p.on('close', (status) => {
      clearTimeout(t);
      const results = out.split('\n').filter((l) => l.startsWith('BENCH-RESULT ')).map((l) => JSON.parse(l.slice(13)) as Record<string, number>);
      resolve({ output: out, results, status });
    });
  });
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
