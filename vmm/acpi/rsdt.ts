/** The RSDT: the XSDT's 32-bit twin, for ACPI 1.0 readers (all our tables sit below 1 MiB). */
import { finishSdt, sdt, SDT_HEADER_SIZE } from './sdt';

export function buildRsdt(tables: readonly number[]): Uint8Array {
  const w = sdt('RSDT', SDT_HEADER_SIZE + 4 * tables.length, 1);
  tables.forEach((t, i) => {
    if (t >= 2 ** 32) throw new RangeError(`RSDT entry 0x${t.toString(16)} is not a 32-bit address`);
    w.u32(SDT_HEADER_SIZE + 4 * i, t);
  });
  return finishSdt(w);
}
