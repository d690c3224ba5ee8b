/**
 * Completes an RDMSR/WRMSR that KVM sent to user space (msr-filter.ts): the
 * access is done on the same vCPU with KVM_GET_MSRS / KVM_SET_MSRS, which
 * the filter does not apply to, and the result goes back through the exit's
 * `reply` (kvm_run.msr). What KVM refuses becomes a #GP in the guest, as
 * an RDMSR/WRMSR of a missing MSR would on hardware.
 */
import type { MsrEntry, VcpuExit } from '../../native/types';

type MsrExit = VcpuExit & { kind: 'rdmsr' | 'wrmsr' };

export interface MsrPort {
  getMsrs(indices: number[]): MsrEntry[];
  setMsrs(entries: MsrEntry[]): void;
}

const ERROR = 0;     // kvm_run.msr.error: 1 = inject #GP
const DATA = 16;     // kvm_run.msr.data

/** Performs the access; returns the value read or written, or undefined when the guest gets a #GP. */
export function completeMsrAccess(vcpu: MsrPort, exit: MsrExit): bigint | undefined {
  const reply = new DataView(exit.reply.buffer, exit.reply.byteOffset, exit.reply.byteLength);
  let value: bigint | undefined;
  if (exit.kind === 'rdmsr') {
    value = vcpu.getMsrs([exit.index])[0]?.value;
    if (value !== undefined) reply.setBigUint64(DATA, value, true);
  } else {
    try {
      vcpu.setMsrs([{ index: exit.index, value: exit.data }]);
      value = exit.data;
    } catch {
      value = undefined;
    }
  }
  reply.setUint8(ERROR, value === undefined ? 1 : 0);
  return value;
}

/** KVM's answer to a hypercall nobody handles: -KVM_ENOSYS in RAX (kvm_run.hypercall.ret at 56). */
export const KVM_ENOSYS = 1000n;

export function completeHypercall(exit: VcpuExit & { kind: 'hypercall' }, ret: bigint = -KVM_ENOSYS): void {
  new DataView(exit.reply.buffer, exit.reply.byteOffset, exit.reply.byteLength).setBigUint64(56, BigInt.asUintN(64, ret), true);
}
