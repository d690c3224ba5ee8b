/**
 * The Root System Description Pointer (ACPI 2.0+, 36 bytes). Linux finds it
 * by scanning 0xE0000-0xFFFFF on 16-byte boundaries for "RSD PTR " with a
 * valid 20-byte checksum, or takes boot_params.acpi_rsdp_addr.
 */
import { setChecksum } from './checksum';
import { ByteWriter, OEM_ID } from './sdt';

export const RSDP_SIZE = 36;
export const RSDP_SIGNATURE = 'RSD PTR ';
/** The ACPI 1.0 part the first checksum covers. */
export const RSDP_V1_SIZE = 20;
export const RSDP_REVISION = 2;

export function buildRsdp(rsdtAddr: number, xsdtAddr: number): Uint8Array {
  const w = new ByteWriter(RSDP_SIZE);
  w.ascii(0, RSDP_SIGNATURE, 8);
  w.ascii(9, OEM_ID, 6);
  w.u8(15, RSDP_REVISION);
  w.u32(16, rsdtAddr);
  w.u32(20, RSDP_SIZE);
  w.u64(24, xsdtAddr);
  setChecksum(w.bytes, 8, 0, RSDP_V1_SIZE);
  setChecksum(w.bytes, 32, 0, RSDP_SIZE);
  return w.bytes;
}
