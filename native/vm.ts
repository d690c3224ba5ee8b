import { binding } from './addon';
import type { RawVm } from './binding';
import { Cap, MemFlag } from './constants';
import { EXIT_BUFFER_SIZE } from './exit-layout';
import { requireCap } from './require-cap';
import type { MemoryRegionSpec } from './types';
import { Vcpu } from './vcpu';

/**
 * A VM (KVM_CREATE_VM). Guest RAM is JavaScript SharedArrayBuffers mapped
 * with setUserMemoryRegion; the VM keeps them alive while KVM maps them.
 */
export class Vm {
  private readonly caps = new Map<Cap, number>();

  /** @internal created by Kvm.createVm() */
  constructor(private readonly raw: RawVm) {}

  /** The VM fd's number, for Kvm.adoptVm on another thread. */
  get fd(): number {
    return this.raw.fd();
  }

  /** KVM_CHECK_EXTENSION on the VM fd (answers can differ from the system fd's). Cached. */
  checkExtension(cap: Cap): number {
    let v = this.caps.get(cap);
    if (v === undefined) this.caps.set(cap, (v = this.raw.checkExtension(cap)));
    return v;
  }

  /** Like checkExtension, but a missing capability is a KvmError naming it and `purpose`. */
  requireExtension(cap: Cap, purpose?: string): number {
    return requireCap(this.checkExtension(cap), cap, purpose);
  }

  /**
   * KVM_SET_USER_MEMORY_REGION over spec.buffer[offset, offset+size). The
   * host address must be page-aligned: start at pageAlignedOffset(buffer).
   * size 0 deletes the slot.
   */
  setUserMemoryRegion(spec: MemoryRegionSpec): void {
    const flags = (spec.readonly ? MemFlag.READONLY : 0) | (spec.logDirtyPages ? MemFlag.LOG_DIRTY_PAGES : 0);
    if (spec.readonly) this.requireExtension(Cap.READONLY_MEM, 'a read-only memory region');
    this.raw.setUserMemoryRegion(spec.slot, flags, spec.guestPhys, spec.size, new Uint8Array(spec.buffer), spec.offset);
  }

  /** KVM_SET_TSS_ADDR: three pages of guest physical space KVM needs on Intel (outside RAM). */
  setTssAddr(addr: number | bigint): void {
    this.raw.setTssAddr(addr);
  }

  /** KVM_SET_IDENTITY_MAP_ADDR: one page for Intel's real-mode identity map (outside RAM). */
  setIdentityMapAddr(addr: number | bigint): void {
    this.requireExtension(Cap.SET_IDENTITY_MAP_ADDR, 'setting the identity map address');
    this.raw.setIdentityMapAddr(addr);
  }

  /** KVM_CREATE_IRQCHIP: in-kernel PIC x2, IOAPIC and LAPICs. Before createVcpu. */
  createIrqchip(): void {
    this.requireExtension(Cap.IRQCHIP, 'the in-kernel interrupt controllers');
    this.raw.createIrqchip();
  }

  /** KVM_CREATE_PIT2 (after createIrqchip). flags: PitFlag.SPEAKER_DUMMY to keep port 0x61 in the kernel. */
  createPit2(flags = 0): void {
    this.requireExtension(Cap.PIT2, 'the in-kernel PIT');
    this.raw.createPit2(flags);
  }

  /** KVM_IRQ_LINE: drive an in-kernel irqchip input (GSI) high or low. */
  irqLine(irq: number, level: boolean | number): void {
    this.raw.irqLine(irq, level ? 1 : 0);
  }

  /** KVM_ENABLE_CAP on the VM (e.g. Cap.X86_USER_SPACE_MSR). */
  enableCap(cap: Cap, args: bigint[] = []): void {
    this.requireExtension(cap, `enabling KVM_CAP_${Cap[cap] ?? cap}`);
    this.raw.enableCap(cap, args);
  }

  /**
   * KVM_GET_DIRTY_LOG: which pages of a slot made with logDirtyPages the
   * guest wrote since the last call (bit N = page N); reading clears them.
   */
  getDirtyLog(slot: number, slotBytes: number): Uint8Array {
    const pages = Math.ceil(slotBytes / 4096);
    const bitmap = new Uint8Array(Math.ceil(pages / 64) * 8);
    this.raw.getDirtyLog(slot, bitmap);
    return bitmap;
  }

  /** KVM_CREATE_VCPU with its kvm_run mapping and exit buffer. */
  createVcpu(id: number): Vcpu {
    const exitBuffer = new SharedArrayBuffer(EXIT_BUFFER_SIZE);
    if (binding.exitBufferSize !== EXIT_BUFFER_SIZE) {
      throw new Error(`native addon exit buffer is ${binding.exitBufferSize} bytes, native/exit-layout.ts says ${EXIT_BUFFER_SIZE}: rebuild the addon`);
    }
    return new Vcpu(this.raw.createVcpu(id, new Uint8Array(exitBuffer)), exitBuffer, this);
  }

  /**
   * Closes the VM fd. Guest RAM stays referenced until every vCPU of the VM
   * is closed too (each vCPU fd keeps the kernel's VM alive).
   */
  close(): void {
    this.raw.close();
  }
}
