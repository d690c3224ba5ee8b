/**
 * Runs one VM in the foreground: stdout is the guest console, stdin is its
 * keyboard (raw, when a terminal), Ctrl-C / SIGTERM / SIGHUP end it.
 */
import { Machine } from '../machine/machine';
import { startGdbServer } from '../gdb/server';
import { MachineGdbTarget } from '../gdb/machine-target';
import { gdbArchForKernel } from '../gdb/arch';
import type { RunArgs } from './args';
import { startScreenCli } from './screen-cli';

const CTRL_C = 0x03;
/** Ends that the guest chose itself: no need to explain them. */
const QUIET_ENDS = new Set(['poweroff', 'debug-exit', 'reset']);

export async function runVm(args: RunArgs, say: (msg: string) => void): Promise<number> {
  let machine: Machine;
  try {
    machine = await Machine.create({
      kernel: args.kernel!, initrd: args.initrd, modules: args.modules, cmdline: args.cmdline,
      memoryBytes: args.memoryBytes, cpus: args.cpus, debugExit: args.debugExit, disks: args.disks,
      probeHost: args.gdb !== undefined,
    });
  } catch (e) {
    say((e as Error).message);
    return 1;
  }
  if (args.verbose) say(`booting ${machine.boot.description}`);
  let outputClosed = false;
  machine.on('output', (bytes: Uint8Array) => { if (!outputClosed) process.stdout.write(bytes); });
  // The reader of the console went away (`kvmdbg run ... | head`): the run ends, as a pipeline expects.
  const onOutputError = (e: NodeJS.ErrnoException) => {
    if (outputClosed) return;
    outputClosed = true;
    void machine.stop(e.code === 'EPIPE' ? 'its console output was closed' : `its console output failed: ${e.message}`);
  };
  process.stdout.on('error', onOutputError);
  machine.on('log', (level: string, message: string) => {
    if (level === 'guest-error' || args.verbose) say(`${level === 'guest-error' ? 'guest error: ' : ''}${message}`);
  });

  const stdin = process.stdin;
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  const screen = startScreenCli(machine, args, say);
  const onInput = (chunk: Buffer) => {
    if (raw && chunk.includes(CTRL_C)) { void machine.stop('Ctrl-C'); return; }
    if (!screen.input(chunk)) machine.sendInput(chunk);
  };
  stdin.on('data', onInput);
  stdin.on('error', () => {});
  const onSignal = (sig: NodeJS.Signals) => void machine.stop(`received ${sig}`);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);

  let gdb: { close(): Promise<void> | void } | undefined;
  if (args.gdb) {
    // One register layout for the whole session, from the kernel's ELF class unless --gdb-arch says.
    const arch = args.gdbArch ?? gdbArchForKernel(args.kernel!, machine.boot.protocol);
    try {
      gdb = await startGdbServer(new MachineGdbTarget(machine), {
        host: args.gdb.host, port: args.gdb.port, log: (m: string) => say(m), arch,
      });
    } catch (e) {
      say(`cannot serve gdb on ${args.gdb.host}:${args.gdb.port}: ${(e as Error).message}`);
      await machine.stop('gdb server failed');
      return 1;
    }
    const notes = [arch === 'i386' ? 'i386 registers' : '', args.waitGdb ? 'the VM waits at its entry point' : ''].filter(Boolean);
    say(`gdb: target remote ${args.gdb.host}:${args.gdb.port}${notes.length ? ` (${notes.join('; ')})` : ''}`);
  }
  if (!args.waitGdb) machine.resume();
  const end = await machine.whenEnded();
  screen.finish();
  await gdb?.close();

  for (const s of signals) process.off(s, onSignal);
  stdin.off('data', onInput);
  process.stdout.off('error', onOutputError);
  if (raw) stdin.setRawMode(false);
  stdin.pause();
  stdin.unref?.();
  if (!outputClosed) await new Promise<void>((r) => process.stdout.write('', () => r()));
  if (outputClosed && !args.verbose) return 0;
  if (!QUIET_ENDS.has(end.kind) || args.verbose) say(end.message);
  return end.status;
}
