/**
 * The Firmware ACPI Control Structure (64 bytes, 64-byte aligned, no
 * checksum). A full (not hardware-reduced) ACPI platform has one; nothing
 * here uses its waking vector or global lock, but ACPICA looks for it.
 */
import { ByteWriter } from './sdt';

export const FACS_SIZE = 64;
export const FACS_ALIGN = 64;

export function buildFacs(): Uint8Array {
  const w = new ByteWriter(FACS_SIZE);
  w.ascii(0, 'FACS', 4);
  w.u32(4, FACS_SIZE);
  w.u8(32, 2); // version
  return w.bytes;
}
