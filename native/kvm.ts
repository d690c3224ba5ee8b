import { binding } from './addon';
import type { RawKvm } from './binding';
import { Cap } from './constants';
import { requireCap } from './require-cap';
import type { CpuidEntry } from './types';
import { Vm } from './vm';

/**
 * The KVM system handle (/dev/kvm). Opening it checks the API version (12).
 *
 * @throws KvmError "KVM is not available on this host: ..." when the device is
 *   missing or not accessible, with what to do about it.
 */
export class Kvm {
  private readonly raw: RawKvm;

  constructor(path = '/dev/kvm') {
    this.raw = new binding.RawKvm(path);
  }

  /** KVM_GET_API_VERSION (always 12 on a usable host). */
  apiVersion(): number {
    return this.raw.apiVersion();
  }

  /** KVM_CHECK_EXTENSION on the system fd: 0 = absent, otherwise a capability-specific value. */
  checkExtension(cap: Cap): number {
    return this.raw.checkExtension(cap);
  }

  /** Like checkExtension, but a missing capability is a KvmError naming it and `purpose`. */
  requireExtension(cap: Cap, purpose?: string): number {
    return requireCap(this.raw.checkExtension(cap), cap, purpose);
  }

  /** KVM_GET_VCPU_MMAP_SIZE: bytes of each vCPU's kvm_run mapping. */
  vcpuMmapSize(): number {
    return this.raw.vcpuMmapSize();
  }

  /** KVM_GET_SUPPORTED_CPUID: what KVM can expose to a guest (a starting point for setCpuid2). */
  supportedCpuid(): CpuidEntry[] {
    this.requireExtension(Cap.EXT_CPUID, 'reading the supported CPUID');
    return this.raw.supportedCpuid();
  }

  /** KVM_GET_MSR_INDEX_LIST: the MSRs getMsrs/setMsrs can save and restore. */
  msrIndexList(): number[] {
    return this.raw.msrIndexList();
  }

  /** KVM_CREATE_VM. */
  createVm(): Vm {
    return new Vm(this.raw.createVm());
  }

  /**
   * A Vm over a duplicate of another thread's VM fd (`vm.fd` there), so that
   * each vCPU thread creates its own vCPU on the same VM. The duplicate is
   * this Vm's own: closing it leaves the other thread's Vm open. Guest RAM
   * stays mapped by the Vm that set it.
   */
  adoptVm(fd: number): Vm {
    return new Vm(this.raw.adoptVm(fd));
  }

  /** Closes /dev/kvm. VMs already created stay usable. */
  close(): void {
    this.raw.close();
  }
}
