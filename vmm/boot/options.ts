/** What every loader takes (the initrd, if any, is the first module). */
import { GuestMemory } from '../memory/guest-memory';
import type { BootModule } from './layout';
import type { AcpiVirtioDevice } from '../acpi/dsdt';

export interface LoadKernelOptions {
  /** As the user gave it: every error message starts with it. */
  kernelPath: string;
  kernel: Uint8Array;
  memory: GuestMemory;
  cmdline: string;
  modules: BootModule[];
  /** vCPUs the machine has, for the ACPI MADT (default 1). */
  cpus?: number;
  /** virtio-mmio devices to describe in the ACPI DSDT (Linux boot protocol only). */
  virtio?: readonly AcpiVirtioDevice[];
}
