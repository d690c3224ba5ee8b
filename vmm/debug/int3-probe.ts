/**
 * Whether software (int3) breakpoints work on this host, as the host probe
 * measured it (vmm/host/probe/probes.ts, 'int3-trap'): an int3 planted over
 * an instruction comes back to us with RIP on it, as a debug exit or (PVM)
 * an internal error, and the guest goes on once the byte is restored.
 */
import { works, type HostReport } from '../host/probe/capabilities';

export interface Int3Probe {
  /** True when a planted int3 stops the vCPU for us (software breakpoints work). */
  delivered: boolean;
  /** One sentence for the user. */
  note: string;
}

export function int3From(host: HostReport): Int3Probe {
  const trap = host.capabilities.find((c) => c.id === 'int3-trap');
  if (trap && works(host, 'int3-trap')) {
    return { delivered: true, note: `software breakpoints are available beyond the 4 hardware ones (${trap.detail})` };
  }
  return {
    delivered: false,
    note: `this host's KVM gives no usable int3 trap (${trap?.detail ?? 'not probed'}): breakpoints use the 4 hardware debug registers (DR0-DR3)`,
  };
}
