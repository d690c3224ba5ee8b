/**
 * The MADT ("APIC"): one local APIC per vCPU (APIC id = vCPU index, as
 * vm-setup.ts gives them in CPUID), KVM's in-kernel IOAPIC, the legacy
 * interrupt overrides and LINT1 = NMI.
 *
 * IRQ 0 is NOT overridden to GSI 2 (as QEMU does): QEMU installs its own
 * GSI routing that wires the PIT to IOAPIC pin 2, but we keep KVM's default
 * routing (KVM_CREATE_IRQCHIP), where GSI n is IOAPIC pin n for n < 16 and
 * KVM's PIT raises GSI 0. kvmtool and Firecracker describe it the same way.
 * IRQ 9 (the SCI) is overridden to level, active high: the ACPI default for
 * the SCI is active low, which on a line nobody drives would read as
 * asserted forever.
 */
import { finishSdt, sdt, SDT_HEADER_SIZE } from './sdt';
import { SCI_IRQ } from './fadt';

export const LAPIC_ADDR = 0xfee0_0000;
export const IOAPIC_ADDR = 0xfec0_0000;
export const IOAPIC_ID = 0;
export const MADT_REVISION = 3;
export const PCAT_COMPAT = 1;

export const MADT_LOCAL_APIC = 0;
export const MADT_IO_APIC = 1;
export const MADT_INT_SRC_OVR = 2;
export const MADT_LOCAL_APIC_NMI = 4;
const SIZES = { [MADT_LOCAL_APIC]: 8, [MADT_IO_APIC]: 12, [MADT_INT_SRC_OVR]: 10, [MADT_LOCAL_APIC_NMI]: 6 };

export const LAPIC_ENABLED = 1;
/** MPS INTI flags: polarity bits 1-0, trigger mode bits 3-2. */
export const ACTIVE_HIGH = 0x1;
export const LEVEL_TRIGGERED = 0xc;
export const ALL_PROCESSORS = 0xff;

/** The most local APIC entries with 8-bit ids (0xff means "all processors"). */
export const MAX_CPUS = 255;

export function buildMadt(cpus: number): Uint8Array {
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPUS) throw new RangeError(`MADT: ${cpus} CPUs; 1 to ${MAX_CPUS} are possible`);
  const overrides = [{ irq: SCI_IRQ, gsi: SCI_IRQ, flags: ACTIVE_HIGH | LEVEL_TRIGGERED }];
  const length = SDT_HEADER_SIZE + 8 + cpus * SIZES[MADT_LOCAL_APIC] + SIZES[MADT_IO_APIC]
    + overrides.length * SIZES[MADT_INT_SRC_OVR] + SIZES[MADT_LOCAL_APIC_NMI];
  const w = sdt('APIC', length, MADT_REVISION);
  w.u32(SDT_HEADER_SIZE, LAPIC_ADDR);
  w.u32(SDT_HEADER_SIZE + 4, PCAT_COMPAT);
  let at = SDT_HEADER_SIZE + 8;
  const entry = (type: keyof typeof SIZES) => { w.u8(at, type); w.u8(at + 1, SIZES[type]); const start = at; at += SIZES[type]; return start; };
  for (let id = 0; id < cpus; id++) {
    const e = entry(MADT_LOCAL_APIC);
    w.u8(e + 2, id); // ACPI processor UID
    w.u8(e + 3, id); // APIC id
    w.u32(e + 4, LAPIC_ENABLED);
  }
  const io = entry(MADT_IO_APIC);
  w.u8(io + 2, IOAPIC_ID);
  w.u32(io + 4, IOAPIC_ADDR);
  w.u32(io + 8, 0); // GSI base
  for (const o of overrides) {
    const e = entry(MADT_INT_SRC_OVR);
    w.u8(e + 2, 0); // ISA
    w.u8(e + 3, o.irq);
    w.u32(e + 4, o.gsi);
    w.u16(e + 8, o.flags);
  }
  const nmi = entry(MADT_LOCAL_APIC_NMI);
  w.u8(nmi + 2, ALL_PROCESSORS);
  w.u16(nmi + 3, 0);
  w.u8(nmi + 5, 1); // LINT1
  return finishSdt(w);
}
