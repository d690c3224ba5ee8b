/**
 * The session's software breakpoints (vmm/debug/software-breakpoints.ts):
 * which trap this host takes, stepping off one before a resume, planting
 * the traps as the vCPUs run and lifting them at every stop. A breakpoint
 * whose instruction is too short for the trap is said once, not silently
 * left unset.
 */
import type { Machine } from '../vmm/machine/machine';
import type { StopReason } from '../vmm/machine/protocol';
import { guestCode, SoftwareBreakpoints, trapFits } from '../vmm/debug/software-breakpoints';
import type { PagingState } from '../vmm/debug/page-walk';
import type { VcpuControl } from './vcpu';

const hex = (v: bigint): string => '0x' + v.toString(16);

export class SoftwareTraps {
  readonly breakpoints = new SoftwareBreakpoints();
  private readonly shortNoted = new Set<bigint>();

  constructor(private readonly machine: Machine, private readonly note: (message: string) => void) {
    if (machine.int3.trap) this.breakpoints.trap = machine.int3.trap;
  }

  /** True when a trap can stand at `address` in this paging (mapped, and the instruction long enough). */
  fits(paging: PagingState | undefined, address: bigint): boolean {
    if (!paging) return false;
    const code = guestCode(this.machine.memory, paging, this.machine.kernelCodeBits);
    return code.physical(address) !== undefined && trapFits(code, address, this.breakpoints.trap);
  }

  /** Resuming from one of our traps' addresses: execute the guest's instruction there first, lifted. */
  async stepOff(vcpu: VcpuControl): Promise<StopReason | undefined> {
    if (this.breakpoints.addresses.length === 0) return undefined;
    if (this.breakpoints.isOurs((await vcpu.regs()).rip)) {
      const stop = await vcpu.step();
      if (stop.reason !== 'step') return stop;
    }
    await vcpu.sregs();   // the paging the traps are planted through
    return undefined;
  }

  /** Before the vCPUs run. An address not mapped yet stays pending: a later resume plants it once its page is there. */
  plant(paging: PagingState | undefined): void {
    if (this.breakpoints.addresses.length === 0 || !paging) return;
    const { tooShort } = this.breakpoints.plant(guestCode(this.machine.memory, paging, this.machine.kernelCodeBits));
    for (const a of tooShort) {
      if (this.shortNoted.has(a)) continue;
      this.shortNoted.add(a);
      this.note(`breakpoint at ${hex(a)} is not set: its instruction is shorter than this host's 2-byte software trap, and the 4 debug registers are taken; remove another breakpoint`);
    }
  }

  /** At every stop: the guest's own bytes back (restore goes by the physical addresses kept at planting). */
  lift(): void {
    if (this.breakpoints.isPlanted) this.breakpoints.restore(guestCode(this.machine.memory, { cr0: 0n, cr3: 0n, cr4: 0n, efer: 0n }));
  }
}
