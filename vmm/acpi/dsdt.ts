/**
 * The DSDT: only \_S5, the sleep-type values Linux writes to PM1a_CNT to
 * power off. Ours is 0 (vmm/devices/pm.ts, as QEMU's q35), so `poweroff`
 * in the guest writes SLP_TYP=0|SLP_EN to port 0x604 and the VM ends.
 */
import { amlConcat, integer, name, pkg } from './aml';
import { finishSdt, sdt, SDT_HEADER_SIZE } from './sdt';
import { PM_SLP_TYP_S5 } from '../devices/pm';

/** Revision 2: AML integers are 64-bit. */
export const DSDT_REVISION = 2;

export function dsdtAml(): Uint8Array {
  // \_S5: Package { PM1a SLP_TYP, PM1b SLP_TYP, reserved, reserved }
  return amlConcat([name('_S5', pkg([integer(PM_SLP_TYP_S5), integer(PM_SLP_TYP_S5), integer(0), integer(0)]))]);
}

export function buildDsdt(): Uint8Array {
  const aml = dsdtAml();
  const w = sdt('DSDT', SDT_HEADER_SIZE + aml.length, DSDT_REVISION);
  w.set(SDT_HEADER_SIZE, aml);
  return finishSdt(w);
}
