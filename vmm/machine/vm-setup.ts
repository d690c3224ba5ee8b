/**
 * Creating the KVM side of a PC: the VM with its in-kernel irqchip and PIT,
 * guest RAM from the shared buffer, and a boot vCPU with CPUID and the
 * state the boot loader asked for.
 */
import { Cap, Kvm, MpState, PitFlag, type Vcpu, type Vm } from '../../native';
import type { CpuidEntry, Sregs } from '../../native/types';
import type { BootCpuState } from '../boot/boot-state';
import type { RamRegion } from '../memory/guest-memory';
import { KVM_DEVICE } from '../host/kvm-host';
import { withTopology } from './cpu-topology';
import type { DisplayBuffers } from '../devices/display';
import { VRAM_BYTES } from '../devices/bochs-vbe';
import { VIRTIO_MMIO_BASE } from '../virtio/layout';

/** Just below 4 GiB, where KVM on Intel needs three pages for the real-mode TSS and one for the identity map. */
const TSS_ADDR = 0xfffb_d000;
const IDENTITY_MAP_ADDR = 0xfffb_c000;

const LAPIC_LVT0 = 0x350;
const LAPIC_LVT1 = 0x360;
const APIC_MODE_EXTINT = 0x7 << 8;
const APIC_MODE_NMI = 0x4 << 8;

export interface KvmMachine { kvm: Kvm; vm: Vm }

export function createVm(buffer: SharedArrayBuffer, regions: readonly RamRegion[]): KvmMachine {
  const kvm = new Kvm(KVM_DEVICE);
  try {
    for (const cap of [Cap.IRQCHIP, Cap.PIT2, Cap.IMMEDIATE_EXIT, Cap.USER_MEMORY, Cap.EXT_CPUID]) {
      kvm.requireExtension(cap);
    }
    const vm = kvm.createVm();
    vm.setTssAddr(TSS_ADDR);
    vm.setIdentityMapAddr(IDENTITY_MAP_ADDR);
    vm.createIrqchip();
    vm.createPit2(PitFlag.SPEAKER_DUMMY);
    regions.forEach((r, slot) => vm.setUserMemoryRegion({ slot, guestPhys: r.guestPhys, size: r.size, buffer, offset: r.offset }));
    return { kvm, vm };
  } catch (e) {
    kvm.close();
    throw e;
  }
}

/**
 * The framebuffer's memory slot: the highest slot number KVM allows, clear
 * of the RAM slots (numbered from 0 up, page protection adds more). The
 * returned function maps it at a guest physical address (the PCI BAR), or
 * unmaps it; false when the address is not a place for it (over RAM, past
 * 4 GiB, or over the devices from the virtio window up).
 */
export function framebufferSlot(vm: Vm, display: DisplayBuffers, ram: readonly RamRegion[]): (gpa: number | undefined) => boolean {
  const slot = Math.min(vm.checkExtension(Cap.NR_MEMSLOTS) || 32, 32767) - 1;
  let mapped: number | undefined;
  const spec = (guestPhys: number, size: number) => ({ slot, guestPhys, size, buffer: display.vram, offset: display.vramOffset });
  return (gpa) => {
    if (gpa !== undefined) {
      const end = gpa + VRAM_BYTES;
      if (!Number.isSafeInteger(gpa) || gpa % 4096 !== 0 || end > VIRTIO_MMIO_BASE || ram.some((r) => gpa < r.guestPhys + r.size && end > r.guestPhys)) return false;
    }
    try {
      if (mapped !== undefined) vm.setUserMemoryRegion(spec(mapped, 0));
      mapped = undefined;
      if (gpa !== undefined) { vm.setUserMemoryRegion(spec(gpa, VRAM_BYTES)); mapped = gpa; }
      return true;
    } catch {
      return false;
    }
  };
}

const CPUID_1_ECX_HYPERVISOR = 1 << 31;
const CPUID_1_ECX_TSC_DEADLINE = 1 << 24;

/**
 * The host's CPUID as KVM supports it, adjusted as user space must: vCPU
 * `id` sees its own APIC id and a topology of `cpus` cores in one package
 * (cpu-topology.ts), and the hypervisor bit is set so the guest
 * looks at KVM's signature leaves (0x40000000: "KVMKVMKVM", kvmclock).
 * KVM leaves the TSC-deadline bit to user space (it is the in-kernel
 * LAPIC's feature, KVM_CAP_TSC_DEADLINE_TIMER): with it Linux programs its
 * timer by TSC deadline and skips calibrating the LAPIC timer against the
 * PIT, a calibration that fails under nested emulation ("APIC timer
 * disabled due to verification failure").
 */
export function guestCpuid(kvm: Kvm, id: number, cpus = 1): CpuidEntry[] {
  const tscDeadline = kvm.checkExtension(Cap.TSC_DEADLINE_TIMER) > 0 ? CPUID_1_ECX_TSC_DEADLINE : 0;
  const entries = kvm.supportedCpuid().map((e) => {
    const entry = { ...e };
    if (entry.function === 1) entry.ecx = (entry.ecx | CPUID_1_ECX_HYPERVISOR | tscDeadline) >>> 0;
    return entry;
  });
  return withTopology(entries, id, cpus);
}

export function createBootVcpu(kvm: Kvm, vm: Vm, id: number, boot: BootCpuState, cpus = 1): Vcpu {
  const vcpu = vm.createVcpu(id);
  vcpu.setCpuid2(guestCpuid(kvm, id, cpus));
  routeLegacyInterrupts(vcpu);
  if (boot.lapic) setLapicRegisters(vcpu, boot.lapic);
  if (boot.msrs) vcpu.setMsrs(boot.msrs);
  const sregs: Partial<Sregs> = { ...vcpu.getSregs(), ...definedOnly(boot.sregs) };
  vcpu.setSregs(sregs);
  vcpu.setRegs({ rflags: 2n, ...boot.regs });
  return vcpu;
}

/**
 * An application processor: CPUID only (unless the loader gives it a state). With the in-kernel irqchip KVM
 * starts every vCPU but the BSP (id 0) waiting for INIT/SIPI
 * (KVM_MP_STATE_UNINITIALIZED), and the guest's INIT resets its registers
 * and local APIC anyway; the guest's own SIPI brings it to life.
 */
export function createApVcpu(kvm: Kvm, vm: Vm, id: number, cpus: number, boot?: BootCpuState): Vcpu {
  const vcpu = vm.createVcpu(id);
  try {
    vcpu.setCpuid2(guestCpuid(kvm, id, cpus));
    // A loader that parks the APs itself (Limine) starts them running in its state, past INIT/SIPI.
    if (boot) {
      vcpu.setSregs({ ...vcpu.getSregs(), ...definedOnly(boot.sregs) });
      vcpu.setRegs({ rflags: 2n, ...boot.regs });
      if (boot.lapic) setLapicRegisters(vcpu, boot.lapic);
      if (boot.msrs) vcpu.setMsrs(boot.msrs);
      vcpu.setMpState(MpState.RUNNABLE);
    }
  } catch (e) {
    vcpu.close();
    throw e;
  }
  return vcpu;
}

/**
 * As on a PC after firmware: LINT0 takes the PIC's interrupts (ExtINT) and
 * LINT1 is NMI, so a guest that never programs its local APIC still gets
 * the legacy interrupts.
 */
function routeLegacyInterrupts(vcpu: Vcpu): void {
  const lapic = vcpu.getLapic();
  const view = new DataView(lapic.buffer, lapic.byteOffset, lapic.byteLength);
  view.setUint32(LAPIC_LVT0, (view.getUint32(LAPIC_LVT0, true) & ~0x700 & ~0x10000) | APIC_MODE_EXTINT, true);
  view.setUint32(LAPIC_LVT1, (view.getUint32(LAPIC_LVT1, true) & ~0x700 & ~0x10000) | APIC_MODE_NMI, true);
  vcpu.setLapic(lapic);
}

function setLapicRegisters(vcpu: Vcpu, regs: Record<number, number>): void {
  const lapic = vcpu.getLapic();
  const view = new DataView(lapic.buffer, lapic.byteOffset, lapic.byteLength);
  for (const [offset, value] of Object.entries(regs)) view.setUint32(Number(offset), value >>> 0, true);
  vcpu.setLapic(lapic);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
