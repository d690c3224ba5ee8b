/** The XSDT: 64-bit pointers to every table but the FACS and DSDT (those hang off the FADT). */
import { finishSdt, sdt, SDT_HEADER_SIZE } from './sdt';

export function buildXsdt(tables: readonly number[]): Uint8Array {
  const w = sdt('XSDT', SDT_HEADER_SIZE + 8 * tables.length, 1);
  tables.forEach((t, i) => w.u64(SDT_HEADER_SIZE + 8 * i, t));
  return finishSdt(w);
}
