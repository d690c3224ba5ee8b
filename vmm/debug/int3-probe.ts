/**
 * Whether software breakpoints work on this host, as the host probe
 * measured it (vmm/host/probe/probes.ts): an int3 planted over an
 * instruction comes back to us with RIP on it, as a debug exit or (PVM) an
 * internal error ('int3-trap'); else the port trap does ('port-trap', the
 * KVM sandbox); the guest goes on once its bytes are restored.
 */
import { works, type HostReport } from '../host/probe/capabilities';
import { INT3 } from './software-breakpoints';
import { PORT_TRAP } from './port-trap';

export interface Int3Probe {
  /** True when a planted trap stops the vCPU for us (software breakpoints work). */
  delivered: boolean;
  /** Which trap: an int3, or (where int3 goes to the guest) the port trap (port-trap.ts). */
  trap?: readonly number[];
  /** One sentence for the user. */
  note: string;
}

export function int3From(host: HostReport): Int3Probe {
  const int3 = host.capabilities.find((c) => c.id === 'int3-trap');
  if (int3 && works(host, 'int3-trap')) {
    return { delivered: true, trap: [INT3], note: `software breakpoints are available beyond the 4 hardware ones (${int3.detail})` };
  }
  const port = host.capabilities.find((c) => c.id === 'port-trap');
  if (port && works(host, 'port-trap')) {
    return {
      delivered: true, trap: PORT_TRAP,
      note: `software breakpoints are available beyond the 4 hardware ones: int3 goes to the guest here, so they are a 2-byte port trap (${port.detail}); `
        + 'a breakpoint on a 1-byte instruction takes a debug register',
    };
  }
  return {
    delivered: false,
    note: `this host's KVM gives no usable software trap (int3: ${int3?.detail ?? 'not probed'}; port trap: ${port?.detail ?? 'not probed'}): breakpoints use the 4 hardware debug registers (DR0-DR3)`,
  };
}
