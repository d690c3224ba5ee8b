/**
 * KVM_X86_SET_MSR_FILTER (native/src/msr_filter.cc) and the user-space MSR
 * exits it produces (KVM_CAP_X86_USER_SPACE_MSR with reason FILTER): a
 * guest RDMSR/WRMSR that the filter denies leaves KVM as an 'rdmsr' /
 * 'wrmsr' exit that user space completes through the exit's `reply`.
 */
import { binding } from './addon';
import { Cap } from './constants';
import type { Vm } from './vm';

/** kvm_msr_filter_range.flags */
export const MSR_FILTER_READ = 1;
export const MSR_FILTER_WRITE = 2;
/** kvm_msr_filter.flags: MSRs outside every range are denied too. */
export const MSR_FILTER_DEFAULT_DENY = 1;
/** KVM_MSR_EXIT_REASON_FILTER, the argument of KVM_CAP_X86_USER_SPACE_MSR. */
export const MSR_EXIT_REASON_FILTER = 4;

export interface MsrFilterRange {
  /** MSR_FILTER_READ | MSR_FILTER_WRITE: which accesses the bitmap decides. */
  flags: number;
  base: number;
  nmsrs: number;
  /** One bit per MSR from `base`: 1 = KVM handles it, 0 = denied (exits to user space). */
  bitmap: Uint8Array;
}

/** Sends denied RDMSR/WRMSR to user space instead of injecting #GP (idempotent). */
export function enableUserSpaceMsrExits(vm: Vm): void {
  vm.enableCap(Cap.X86_USER_SPACE_MSR, [BigInt(MSR_EXIT_REASON_FILTER)]);
}

/** Replaces the VM's MSR filter; no ranges and no DEFAULT_DENY = every MSR handled by KVM. */
export function setMsrFilter(vm: Vm, flags: number, ranges: MsrFilterRange[]): void {
  vm.requireExtension(Cap.X86_USER_SPACE_MSR, 'breakpoints on MSR accesses');
  binding.setMsrFilter(vm.fd, flags, ranges);
}
