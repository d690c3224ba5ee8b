/**
 * Lays out the ACPI tables in the BIOS area at 0xF0000 (reserved in the
 * e820 map, vmm/memory/memory-map.ts), where Linux's RSDP scan of
 * 0xE0000-0xFFFFF finds them even without boot_params.acpi_rsdp_addr:
 *   RSDP, FACS (64-byte aligned), XSDT, RSDT, FADT, MADT, DSDT.
 */
import { buildDsdt, type AcpiVirtioDevice } from './dsdt';
import { buildFacs, FACS_ALIGN } from './facs';
import { buildFadt, FADT_SIZE } from './fadt';
import { buildMadt } from './madt';
import { buildRsdp, RSDP_SIZE } from './rsdp';
import { buildRsdt } from './rsdt';
import { buildXsdt } from './xsdt';
import { GuestMemory } from '../memory/guest-memory';
import { BIOS_END, BIOS_START } from '../memory/memory-map';

export const ACPI_BASE = BIOS_START;
export const ACPI_END = BIOS_END;

export interface AcpiLayout {
  rsdp: number;
  /** Every table by signature (FACS included), for tests and the debugger. */
  tables: Record<string, { addr: number; bytes: Uint8Array }>;
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** Builds the tables for `cpus` vCPUs and the virtio-mmio devices at ACPI_BASE (addresses only: no memory touched). */
export function layoutAcpi(cpus: number, virtio: readonly AcpiVirtioDevice[] = []): AcpiLayout {
  let next = ACPI_BASE + RSDP_SIZE;
  const place = (a: number, size: number) => { const at = align(next, a); next = at + size; return at; };
  const facs = buildFacs();
  const facsAddr = place(FACS_ALIGN, facs.length);
  const dsdt = buildDsdt(virtio);
  const madt = buildMadt(cpus);
  // The FADT's size does not depend on its contents, so addresses can be fixed first.
  const fadtAddr = place(16, FADT_SIZE);
  const madtAddr = place(16, madt.length);
  const dsdtAddr = place(16, dsdt.length);
  const fadt = buildFadt(facsAddr, dsdtAddr);
  const entries = [fadtAddr, madtAddr];
  const xsdt = buildXsdt(entries);
  const xsdtAddr = place(16, xsdt.length);
  const rsdt = buildRsdt(entries);
  const rsdtAddr = place(16, rsdt.length);
  if (next > ACPI_END) throw new RangeError(`the ACPI tables (${next - ACPI_BASE} bytes) do not fit in the BIOS area`);
  return {
    rsdp: ACPI_BASE,
    tables: {
      'RSD PTR ': { addr: ACPI_BASE, bytes: buildRsdp(rsdtAddr, xsdtAddr) },
      FACS: { addr: facsAddr, bytes: facs },
      FACP: { addr: fadtAddr, bytes: fadt },
      APIC: { addr: madtAddr, bytes: madt },
      DSDT: { addr: dsdtAddr, bytes: dsdt },
      XSDT: { addr: xsdtAddr, bytes: xsdt },
      RSDT: { addr: rsdtAddr, bytes: rsdt },
    },
  };
}

/** Writes the tables into guest memory (zeroing the area first); returns the RSDP's address. */
export function writeAcpiTables(memory: GuestMemory, cpus: number, virtio: readonly AcpiVirtioDevice[] = []): number {
  const layout = layoutAcpi(cpus, virtio);
  memory.fill(ACPI_BASE, ACPI_END - ACPI_BASE);
  for (const t of Object.values(layout.tables)) memory.write(t.addr, t.bytes);
  return layout.rsdp;
}
