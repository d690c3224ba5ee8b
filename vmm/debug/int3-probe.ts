/**
 * Does this host's KVM deliver a guest int3 to us as a debug exit?
 * (ARCHITECTURE rule 6.) Inside nested virtualization it may not: QEMU's
 * emulated SVM runs the guest's own #BP handler instead. A throwaway VM
 * executes int3 with software breakpoints enabled; its #BP handler (IVT
 * entry 3) announces itself on a port, so either answer arrives within a
 * couple of exits. Runs on a vCPU thread: KVM_RUN never runs on the main one.
 */
import { pageAlignedOffset, type Kvm } from '../../native';

export interface Int3Probe {
  /** True when int3 gives a KVM debug exit (software breakpoints work). */
  delivered: boolean;
  /** One sentence for the user. */
  note: string;
}

const CODE = 0x1000;
const HANDLER = 0x1100;
const PROBE_PORT = 0x99;
const MEMORY = 0x10000;

export function probeInt3(kvm: Kvm): Int3Probe {
  const buffer = new SharedArrayBuffer(MEMORY + 4096);
  const offset = pageAlignedOffset(buffer);
  const mem = new Uint8Array(buffer, offset, MEMORY);
  mem.set([HANDLER & 0xff, HANDLER >> 8, 0, 0], 3 * 4);                 // IVT[3] = 0000:1100
  mem.set([0xcc, 0xf4], CODE);                                          // int3; hlt
  mem.set([0xb0, 0x42, 0xe6, PROBE_PORT, 0xf4], HANDLER);               // mov al,0x42; out 0x99,al; hlt
  const vm = kvm.createVm();
  try {
    vm.setTssAddr(0xfffb_d000);
    vm.setUserMemoryRegion({ slot: 0, guestPhys: 0, size: MEMORY, buffer, offset });
    const vcpu = vm.createVcpu(0);
    try {
      const sregs = vcpu.getSregs();
      vcpu.setSregs({ cs: { ...sregs.cs, base: 0n, selector: 0 } });
      vcpu.setRegs({ rip: BigInt(CODE), rflags: 2n, rsp: 0x8000n });
      vcpu.setGuestDebug({ enable: true, softwareBreakpoints: true });
      for (let i = 0; i < 4; i++) {
        const exit = vcpu.run();
        if (exit.kind === 'debug' && exit.exception === 3) {
          return { delivered: true, note: 'int3 gives debug exits on this host: software breakpoints are available beyond the 4 hardware ones' };
        }
        if (exit.kind === 'io' && exit.port === PROBE_PORT) break;
        if (exit.kind !== 'io' && exit.kind !== 'interrupted') break;
      }
      return {
        delivered: false,
        note: 'this host\'s KVM hands int3 to the guest instead of exiting (nested virtualization?): breakpoints use the 4 hardware debug registers (DR0-DR3)',
      };
    } finally {
      vcpu.close();
    }
  } finally {
    vm.close();
  }
}
