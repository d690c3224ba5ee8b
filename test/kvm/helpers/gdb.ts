// Debian's real gdb (apt `gdb`) against `kvmdbg run --gdb PORT --wait-gdb`:
// start the VM, run gdb in batch mode with -ex commands, and collect both
// sides' output. gdb runs asynchronously so a test can interrupt it (SIGINT,
// as Ctrl-C in a terminal does) while it waits in `continue`.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './guests';

export const GDB = '/usr/bin/gdb';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface GdbVm {
  port: number;
  vm: ChildProcess;
  /** Resolves with kvmdbg's exit status (-1 for a signal). */
  exited: Promise<number>;
  /** The guest console so far. */
  output(): string;
  /** kvmdbg's own messages so far. */
  stderr(): string;
  /** Ends the VM if it still runs (SIGKILL). */
  kill(): void;
}

/** `kvmdbg run --gdb PORT --wait-gdb` on `kernel`; resolves once it says where to attach. */
export async function startGdbVm(kernel: string, cmdline: string, opts: { memory?: string; vmArgs?: string[] } = {}): Promise<GdbVm> {
  assert.ok(existsSync(GDB), `${GDB} is missing: apt-get install gdb`);
  const port = await freePort();
  const vm = spawn(process.execPath, [join(ROOT, 'bin', 'kvmdbg.js'), 'run', '--kernel', kernel, '--memory', opts.memory ?? '64M',
    '--cmdline', cmdline, '--gdb', String(port), '--wait-gdb', ...(opts.vmArgs ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  vm.stdout!.on('data', (b) => { out += b; });
  vm.stderr!.on('data', (b) => { err += b; });
  const exited = new Promise<number>((r) => vm.on('exit', (code) => r(code ?? -1)));
  // kvmdbg run probes the host and loads the kernel first: seconds here, minutes inside the loaded, emulated sandbox (180 s once was not enough).
  const deadline = Date.now() + (process.env.KVM_SANDBOX === '1' ? 600_000 : 120_000);
  while (Date.now() < deadline && !err.includes('target remote') && vm.exitCode === null) await new Promise((r) => setTimeout(r, 100));
  assert.match(err, /gdb: target remote 127\.0\.0\.1:\d+/, `kvmdbg did not start its gdb server:\n${err}`);
  return {
    port, vm, exited, output: () => out, stderr: () => err,
    kill: () => { if (vm.exitCode === null && vm.signalCode === null) vm.kill('SIGKILL'); },
  };
}

export interface GdbRunOptions {
  /** The ELF gdb loads (default none). */
  elf?: string;
  /** Commands before `target remote`. */
  prelude?: string[];
  /** Called with gdb's process and its output so far whenever it prints. */
  onOutput?: (gdb: ChildProcess, soFar: string) => void;
  timeoutMs?: number;
  /** More to say when gdb times out (the VM's console and messages). */
  context?: () => string;
}

/** gdb -batch -nx [ELF] -ex ... -ex 'target remote' -ex COMMANDS...; resolves with stdout+stderr. */
export function runGdb(port: number, commands: string[], opts: GdbRunOptions = {}): Promise<string> {
  const args = ['-batch', '-nx', ...(opts.elf ? [opts.elf] : [])];
  for (const c of [...(opts.prelude ?? []), 'set pagination off', `target remote 127.0.0.1:${port}`, ...commands]) args.push('-ex', c);
  return new Promise((resolve, reject) => {
    const p = spawn(GDB, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const on = (d: Buffer) => { out += d; opts.onOutput?.(p, out); };
    p.stdout.on('data', on);
    p.stderr.on('data', on);
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`gdb timed out; its output so far:\n${out}${opts.context?.() ?? ''}`)); }, opts.timeoutMs ?? 240_000);
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', () => { clearTimeout(timer); resolve(out); });
  });
}

/** The end of the guest console and kvmdbg's messages, for a failure's message. */
export function vmContext(vm: GdbVm): string {
  return `\n--- console (last 3000 characters) ---\n${vm.output().slice(-3000)}\n--- kvmdbg ---\n${vm.stderr()}`;
}

/** Start a VM, run gdb against it; the VM is left as gdb left it (the caller awaits `exited` or kills it). */
export async function withGdb(kernel: string, cmdline: string, commands: string[],
  opts: GdbRunOptions & { memory?: string; vmArgs?: string[]; elfless?: boolean } = {}) {
  const vm = await startGdbVm(kernel, cmdline, opts);
  try {
    const gdb = await runGdb(vm.port, commands, { context: () => vmContext(vm), ...opts, elf: opts.elfless ? undefined : (opts.elf ?? kernel) });
    return { gdb, ...vm };
  } catch (e) {
    vm.kill();
    throw e;
  }
}
