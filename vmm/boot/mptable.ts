/**
 * The Intel MultiProcessor Specification 1.4 tables: a floating pointer
 * ("_MP_", 16 bytes) and the configuration table ("PCMP") it points to,
 * which kernels older than ACPI (xv6, teaching OSes, Linux with acpi=off)
 * read to find their CPUs and the I/O APIC. Pure bytes, like vmm/acpi/.
 *
 * What it says agrees with the MADT (vmm/acpi/madt.ts) and with KVM's
 * default GSI routing: ISA IRQ n reaches I/O APIC pin n for every n < 16,
 * IRQ 0 (KVM's PIT) included. PCs whose firmware routes the PIT to pin 2
 * say so with an override; KVM_CREATE_IRQCHIP without KVM_SET_GSI_ROUTING
 * does not, so neither does this table (Firecracker's says the same).
 * The PIC reaches the CPUs through LINT0 (ExtINT), NMI through LINT1, as
 * vm-setup.ts programs the local APICs.
 */
import { setChecksum } from '../acpi/checksum';
import { ByteWriter } from '../acpi/sdt';
import { ACTIVE_HIGH, IOAPIC_ADDR, IOAPIC_ID, LAPIC_ADDR, LEVEL_TRIGGERED } from '../acpi/madt';
import { SCI_IRQ } from '../acpi/fadt';

export const MP_SIGNATURE = '_MP_';
export const MPC_SIGNATURE = 'PCMP';
export const MP_SPEC_REV = 4;
export const MPC_HEADER_SIZE = 44;

export const MP_PROCESSOR = 0;
export const MP_BUS = 1;
export const MP_IOAPIC = 2;
export const MP_IOINTR = 3;
export const MP_LINTR = 4;
export const PROCESSOR_ENTRY_SIZE = 20;
export const OTHER_ENTRY_SIZE = 8;

export const CPU_ENABLED = 1;
export const CPU_BOOTSTRAP = 2;
/** KVM's in-kernel local APIC and I/O APIC report these versions. */
export const LAPIC_VERSION = 0x14;
export const IOAPIC_VERSION = 0x11;
export const IOAPIC_USABLE = 1;
/** Family 6, and CPUID.1:EDX FPU | APIC: what a processor entry needs to say; kernels take the rest from CPUID. */
const CPU_SIGNATURE = 0x600;
const CPU_FEATURES = 0x201;

export const INT_TYPE_INT = 0;
export const INT_TYPE_NMI = 1;
export const INT_TYPE_EXTINT = 3;
/** A local interrupt entry that applies to every local APIC. */
export const ALL_LAPICS = 0xff;

/** Bus ids: PCI bus 0 is the PCI bus 0 of the host bridge (vmm/devices/pci.ts); ISA follows it. */
export const PCI_BUS_ID = 0;
export const ISA_BUS_ID = 1;
export const ISA_IRQS = 16;
const BUSES = [{ id: PCI_BUS_ID, type: 'PCI' }, { id: ISA_BUS_ID, type: 'ISA' }];

const OEM_ID = 'KVMDBG';
const PRODUCT_ID = 'KVMDBG PC';

/** The configuration table's size for `cpus` vCPUs (no extended table). */
export function mpConfigSize(cpus: number): number {
  return MPC_HEADER_SIZE + cpus * PROCESSOR_ENTRY_SIZE
    + (BUSES.length + 1 + ISA_IRQS + 2) * OTHER_ENTRY_SIZE;
}

/** The configuration table for `cpus` vCPUs (APIC id = vCPU index, vCPU 0 the bootstrap processor). */
export function buildMpConfig(cpus: number): Uint8Array {
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 255) throw new RangeError(`MP table: ${cpus} CPUs; 1 to 255 are possible`);
  const size = mpConfigSize(cpus);
  const w = new ByteWriter(size);
  w.ascii(0, MPC_SIGNATURE, 4);
  w.u16(4, size);
  w.u8(6, MP_SPEC_REV);
  w.ascii(8, OEM_ID, 8);
  w.ascii(16, PRODUCT_ID, 12);
  w.u32(36, LAPIC_ADDR);
  let at = MPC_HEADER_SIZE;
  let count = 0;
  const entry = (type: number, length: number) => { const e = at; w.u8(e, type); at += length; count++; return e; };
  for (let id = 0; id < cpus; id++) {
    const e = entry(MP_PROCESSOR, PROCESSOR_ENTRY_SIZE);
    w.u8(e + 1, id);
    w.u8(e + 2, LAPIC_VERSION);
    w.u8(e + 3, CPU_ENABLED | (id === 0 ? CPU_BOOTSTRAP : 0));
    w.u32(e + 4, CPU_SIGNATURE);
    w.u32(e + 8, CPU_FEATURES);
  }
  for (const bus of BUSES) {
    const e = entry(MP_BUS, OTHER_ENTRY_SIZE);
    w.u8(e + 1, bus.id);
    w.ascii(e + 2, bus.type, 6);
  }
  const io = entry(MP_IOAPIC, OTHER_ENTRY_SIZE);
  w.u8(io + 1, IOAPIC_ID);
  w.u8(io + 2, IOAPIC_VERSION);
  w.u8(io + 3, IOAPIC_USABLE);
  w.u32(io + 4, IOAPIC_ADDR);
  for (let irq = 0; irq < ISA_IRQS; irq++) {
    const e = entry(MP_IOINTR, OTHER_ENTRY_SIZE);
    w.u8(e + 1, INT_TYPE_INT);
    // ISA's own polarity and trigger (edge, high) except the SCI, as the MADT overrides it.
    w.u16(e + 2, irq === SCI_IRQ ? ACTIVE_HIGH | LEVEL_TRIGGERED : 0);
    w.u8(e + 4, ISA_BUS_ID);
    w.u8(e + 5, irq);
    w.u8(e + 6, IOAPIC_ID);
    w.u8(e + 7, irq);
  }
  for (const [type, lint] of [[INT_TYPE_EXTINT, 0], [INT_TYPE_NMI, 1]]) {
    const e = entry(MP_LINTR, OTHER_ENTRY_SIZE);
    w.u8(e + 1, type);
    w.u16(e + 2, 0);
    w.u8(e + 4, ISA_BUS_ID);
    w.u8(e + 5, 0);
    w.u8(e + 6, ALL_LAPICS);
    w.u8(e + 7, lint);
  }
  w.u16(34, count);
  setChecksum(w.bytes, 7, 0, size);
  return w.bytes;
}

/** The 16-byte floating pointer to a configuration table at `configAddr`. */
export function buildMpFloating(configAddr: number): Uint8Array {
  const w = new ByteWriter(16);
  w.ascii(0, MP_SIGNATURE, 4);
  w.u32(4, configAddr);
  w.u8(8, 1); // length in 16-byte units
  w.u8(9, MP_SPEC_REV);
  // Feature byte 1 = 0: a configuration table exists; byte 2 bit 7 (IMCR present) = 0: virtual wire mode.
  setChecksum(w.bytes, 10);
  return w.bytes;
}
