/**
 * The PIO exit round trip through kvmdbg's own hot path, the code a booting
 * guest goes through: native Vcpu.run() (addon + exit decoder), the VcpuRunner
 * loop, the PIO Bus, and a TypeScript device at port 0x500. The guest is the
 * one bench/pio-loop.c runs (`mov dx,0x500; again: out dx,al; jmp again`, real
 * mode at 0x1000) in a VM set up the same way, so the two differ only in the
 * user-space side of each exit. scripts/bench.mjs drives both.
 *
 * The device ends the run after N writes the way a real device ends the VM:
 * MachineControl.exit -> VcpuRunner.requestEnd (as vcpu-worker.ts wires it).
 */
import { Kvm, pageAlignedOffset } from '../native';
import { Bus } from '../vmm/bus/bus';
import type { AccessSize, Device, MachineControl } from '../vmm/bus/device';
import { ExitStats } from '../vmm/machine/exit-stats';
import { VcpuRunner } from '../vmm/machine/vcpu-runner';

export const BENCH_PORT = 0x500;
/** mov dx, 0x500; again: out dx, al; jmp again */
export const GUEST_CODE = [0xba, 0x00, 0x05, 0xee, 0xeb, 0xfd];
const CODE_ADDR = 0x1000;
/** As bench/pio-loop.c: 2 MiB of RAM at 0. */
const MEM_SIZE = 0x200000;
/** KVM on Intel needs it for real mode without unrestricted guest; pio-loop.c sets the same. */
const TSS_ADDR = 0xfffb_d000;

/** Same JSON shape as pio-loop.c prints. */
export interface PioResult {
  exits: number;
  totalNs: number;
  inKvmRunNs: number;
}

/** Counts OUTs; after `limit` of them asks the machine to end, as a debug-exit device would. */
class CountingPort implements Device {
  readonly name = `bench@0x${BENCH_PORT.toString(16)}`;
  writes = 0;
  limit = 0;
  sum = 0;

  constructor(private readonly control: MachineControl) {}

  read(): number {
    return 0xff;
  }

  write(_offset: number, _size: AccessSize, value: number): void {
    this.sum += value;
    if (++this.writes === this.limit) this.control.exit(0, `bench: ${this.writes} port writes`);
  }
}

/**
 * A fresh VM, a warm-up of max(exits/10, 2000) exits (JIT tiering, first-touch
 * faults; pio-loop.c warms up exits/10, it has no JIT), then `exits`
 * timed exits with the addon's KVM_RUN timing on. Throws if anything but the
 * expected exits happened.
 */
export function runPioExits(exits: number): PioResult {
  const kvm = new Kvm();
  try {
    const vm = kvm.createVm();
    vm.setTssAddr(TSS_ADDR);
    const buffer = new SharedArrayBuffer(MEM_SIZE + 4096);
    const offset = pageAlignedOffset(buffer);
    vm.setUserMemoryRegion({ slot: 0, guestPhys: 0, size: MEM_SIZE, buffer, offset });
    new Uint8Array(buffer, offset, MEM_SIZE).set(GUEST_CODE, CODE_ADDR);
    const vcpu = vm.createVcpu(0);
    try {
      const s = vcpu.getSregs();
      vcpu.setSregs({ cs: { ...s.cs, base: 0n, selector: 0 } });
      vcpu.setRegs({ rip: BigInt(CODE_ADDR), rflags: 2n });

      const pio = new Bus('pio');
      const mmio = new Bus('mmio');
      const control = new Int32Array(new SharedArrayBuffer(4));
      const stats = new ExitStats();
      let runner: VcpuRunner | undefined;
      const device = new CountingPort({
        exit: (status, message) => runner!.requestEnd({ status, message, kind: status === 0 ? 'poweroff' : 'debug-exit' }),
        reset: (message) => runner!.requestEnd({ status: 0, message, kind: 'reset' }),
      });
      pio.register(BENCH_PORT, 1, device);

      const phase = (n: number): number => {
        device.writes = 0;
        device.limit = n;
        // A runner keeps its end request: one per phase, as one per VM run.
        runner = new VcpuRunner(vcpu, pio, mmio, control, stats, { pollInput() {} });
        const t0 = process.hrtime.bigint();
        const outcome = runner.run();
        const ns = Number(process.hrtime.bigint() - t0);
        if (outcome.kind !== 'ended' || outcome.end.kind !== 'poweroff') {
          throw new Error(`bench: the PIO loop stopped unexpectedly: ${JSON.stringify(outcome, (_, v) => typeof v === 'bigint' ? v.toString() : v)}`);
        }
        if (device.writes !== n) throw new Error(`bench: expected ${n} port writes, the device saw ${device.writes}`);
        return ns;
      };

      const warm = Math.max(2000, Math.floor(exits / 10));
      phase(warm);
      vcpu.setTiming(true, true);
      const totalNs = phase(exits);
      const { runs, nsInKvmRun } = vcpu.runStats();
      vcpu.setTiming(false, true);
      const snap = stats.snapshot();
      if (runs !== exits || snap.io !== warm + exits || stats.total !== warm + exits) {
        throw new Error(`bench: expected ${warm + exits} io exits (${exits} timed), got ${JSON.stringify(snap)} (${runs} timed runs)`);
      }
      return { exits, totalNs, inKvmRunNs: nsInKvmRun };
    } finally {
      vcpu.close();
      vm.close();
    }
  } finally {
    kvm.close();
  }
}
