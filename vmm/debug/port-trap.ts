/**
 * The port trap: a software breakpoint for hosts that hand int3 to the
 * guest (QEMU's emulated SVM in the KVM sandbox). `out 0x9b, al` (2 bytes)
 * is planted over an instruction at least 2 bytes long; KVM exits to us
 * before completing it, with RIP on it. To resume, the pending OUT is
 * dropped: with RIP moved away for one KVM_RUN that exits at once
 * (immediate_exit), KVM completes nothing (it only skips an OUT whose RIP
 * is unchanged), and RIP goes back to the breakpoint, where the guest's own
 * instruction (its bytes put back) runs.
 */
import type { Regs } from '../../native/types';

/** A port no PC device (and no in-kernel KVM device) uses. */
export const TRAP_PORT = 0x9b;
export const PORT_TRAP = [0xe6, TRAP_PORT];

export interface PendingOutVcpu {
  getRegs(): Regs;
  setRegs(regs: Partial<Regs>): void;
  completePendingIo(): unknown;
}

/** Forgets the OUT KVM is waiting to complete, leaving RIP at `rip`. */
export function dropPendingOut(vcpu: PendingOutVcpu, rip: bigint): void {
  vcpu.setRegs({ ...vcpu.getRegs(), rip: rip + 1n });
  vcpu.completePendingIo();
  vcpu.setRegs({ ...vcpu.getRegs(), rip });
}
