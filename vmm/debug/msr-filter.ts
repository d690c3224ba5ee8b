/**
 * MSR-access breakpoints as a KVM MSR filter: the MSRs a breakpoint watches
 * are denied in the filter, so KVM sends their RDMSR/WRMSR to user space
 * (the vCPU runner stops there, or completes the access itself); every
 * other MSR stays inside KVM at full speed. With no MSR breakpoint the
 * filter allows everything, which is KVM's behaviour without a filter.
 * KVM never filters the x2APIC MSRs (0x800-0x8ff), nor host accesses
 * (KVM_GET_MSRS/KVM_SET_MSRS), which is how user space completes one.
 */
import { Cap, type Vm } from '../../native';
import {
  enableUserSpaceMsrExits, MSR_FILTER_DEFAULT_DENY, MSR_FILTER_READ, MSR_FILTER_WRITE, setMsrFilter, type MsrFilterRange,
} from '../../native/msr-filter';
import type { ExitBreakpointSpec } from './exit-filters';

/** KVM_MSR_FILTER_MAX_RANGES and the largest range (KVM_MSR_FILTER_MAX_BITMAP_SIZE * 8 MSRs). */
export const MAX_RANGES = 16;
export const MAX_RANGE_MSRS = 0x600 * 8;

export interface MsrFilterPlan { flags: number; ranges: MsrFilterRange[] }

export class MsrFilterError extends Error {}

/** The KVM filter that makes exactly the watched MSR accesses exit. */
export function msrFilterFor(spec: ExitBreakpointSpec): MsrFilterPlan {
  const watched = spec.msr ?? [];
  if (watched.length === 0) return { flags: 0, ranges: [] };
  // "Every MSR": deny by default; KVM wants at least one range, so one that denies MSR 0 too.
  if (watched.some((r) => r.first === 0 && r.last >>> 0 === 0xffff_ffff)) {
    return { flags: MSR_FILTER_DEFAULT_DENY, ranges: [{ flags: MSR_FILTER_READ | MSR_FILTER_WRITE, base: 0, nmsrs: 1, bitmap: new Uint8Array(1) }] };
  }
  const ranges: MsrFilterRange[] = [];
  for (const r of watched) {
    const flags = r.direction === 'in' ? MSR_FILTER_READ : r.direction === 'out' ? MSR_FILTER_WRITE : MSR_FILTER_READ | MSR_FILTER_WRITE;
    for (let base = r.first >>> 0; base <= r.last >>> 0; base += MAX_RANGE_MSRS) {
      const nmsrs = Math.min(MAX_RANGE_MSRS, (r.last >>> 0) - base + 1);
      // An all-zero bitmap: every MSR of the range is denied, i.e. exits.
      ranges.push({ flags, base, nmsrs, bitmap: new Uint8Array(Math.ceil(nmsrs / 8)) });
    }
  }
  if (ranges.length > MAX_RANGES) {
    throw new MsrFilterError(`KVM can watch at most ${MAX_RANGES} MSR ranges of up to ${MAX_RANGE_MSRS} MSRs each; these breakpoints need ${ranges.length}`);
  }
  return { flags: 0, ranges };
}

/** KVM_HC_MAP_GPA_RANGE: the one hypercall KVM_CAP_EXIT_HYPERCALL can send to user space. */
const HC_MAP_GPA_RANGE = 12n;

/**
 * The VM-wide side of VM-exit breakpoints: the MSR filter, and hypercall
 * exits. Nothing is touched until the first such breakpoint. Hypercall exits
 * stay on once enabled: kvmdbg answers them as KVM does without them.
 */
export class VmExitControls {
  private installed = false;
  private hypercallExits = false;

  constructor(private readonly vm: Vm) {}

  apply(spec: ExitBreakpointSpec): void {
    if (spec.hypercall && !this.hypercallExits) {
      this.vm.enableCap(Cap.EXIT_HYPERCALL, [1n << HC_MAP_GPA_RANGE]);
      this.hypercallExits = true;
    }
    const plan = msrFilterFor(spec);
    if (!this.installed && plan.ranges.length === 0) return;
    if (!this.installed) enableUserSpaceMsrExits(this.vm);
    setMsrFilter(this.vm, plan.flags, plan.ranges);
    this.installed = true;
  }
}
