// KVM-tier helpers that drive a Machine directly (no CLI, no adapter).
import { Machine } from '../../../vmm/machine/machine';
import type { StopReason } from '../../../vmm/machine/protocol';
import { BOOT_MS, Console, MEMORY_64M, kernelPath, within, type TestKernel } from './guests';

/** One of our test kernels in a 64 MiB VM, not yet resumed, with its console recorded. */
export async function boot(name: TestKernel, cmdline = ''): Promise<{ machine: Machine; console: Console }> {
  const machine = await within(Machine.create({ kernel: kernelPath(name), cmdline, memoryBytes: MEMORY_64M }), BOOT_MS, `creating a VM for ${name}`);
  return { machine, console: new Console(machine) };
}

/** Resumes and waits for the next 'stopped' event; fails if the VM ends instead. */
export async function resumeUntilStopped(machine: Machine, what: string): Promise<{ stop: StopReason; rip: bigint }> {
  const stopped = new Promise<{ stop: StopReason; rip: bigint }>((resolve) => machine.once('stopped', (stop, rip) => resolve({ stop, rip })));
  const endedFirst = machine.whenEnded().then((end) => { throw new Error(`${what}: the VM ended instead (${end.kind}: ${end.message})`); });
  machine.resume();
  return within(Promise.race([stopped, endedFirst]), BOOT_MS, what);
}
