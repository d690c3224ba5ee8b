/**
 * The FADT (ACPI 6.0 layout, revision 6, 276 bytes): a full ACPI PC, not
 * hardware-reduced, because Linux powers off through PM1a_CNT:
 *   - PM1a event block at 0x600 (4 bytes), control block at 0x604 (2 bytes)
 *     (vmm/devices/pm.ts); no PM1b, PM2, GPE blocks.
 *   - SMI_CMD 0: the machine is always in ACPI mode (SCI_EN reads 1), so the
 *     OS never tries an ACPI_ENABLE handshake.
 *   - SCI on IRQ 9 (the MADT overrides it to level, active high).
 *   - No PM timer (PM_TMR_BLK 0): guests use kvmclock and the TSC.
 *   - Reset register: port 0xCF9, value 0x06 (vmm/devices/pci.ts).
 */
import { ACCESS_BYTE, ACCESS_DWORD, ACCESS_WORD, finishSdt, sdt, writeIoGas } from './sdt';
import { PM_BASE, PM1_CNT } from '../devices/pm';
import { PCI_RST_CNT_PORT } from '../devices/pci';

export const FADT_SIZE = 276;
export const FADT_REVISION = 6;
export const SCI_IRQ = 9;
export const RESET_VALUE = 0x06;

/** Field offsets (ACPI 6.5, table 5.9). */
export const FADT = {
  firmwareCtrl: 36, dsdt: 40, preferredPmProfile: 45, sciInt: 46, smiCmd: 48,
  pm1aEvtBlk: 56, pm1aCntBlk: 64, pmTmrBlk: 76, pm1EvtLen: 88, pm1CntLen: 89, pmTmrLen: 91,
  iapcBootArch: 109, flags: 112, resetReg: 116, resetValue: 128, minorVersion: 131,
  xFirmwareCtrl: 132, xDsdt: 140, xPm1aEvtBlk: 148, xPm1aCntBlk: 172,
} as const;

/** FADT flags. */
export const WBINVD = 1 << 0;
export const PROC_C1 = 1 << 2;
/** Power and sleep buttons: none as fixed features. */
export const PWR_BUTTON = 1 << 4;
export const SLP_BUTTON = 1 << 5;
export const RESET_REG_SUP = 1 << 10;
export const HW_REDUCED_ACPI = 1 << 20;

/** IA-PC boot architecture flags: ISA devices exist, an 8042 exists (ours), no VGA to probe. */
export const LEGACY_DEVICES = 1 << 0;
export const I8042_PRESENT = 1 << 1;
export const VGA_NOT_PRESENT = 1 << 2;

export function buildFadt(facsAddr: number, dsdtAddr: number): Uint8Array {
  const w = sdt('FACP', FADT_SIZE, FADT_REVISION);
  const evt = PM_BASE;
  const cnt = PM_BASE + PM1_CNT;
  w.u32(FADT.firmwareCtrl, facsAddr);
  w.u32(FADT.dsdt, dsdtAddr);
  w.u8(FADT.preferredPmProfile, 0); // unspecified
  w.u16(FADT.sciInt, SCI_IRQ);
  w.u32(FADT.smiCmd, 0);
  w.u32(FADT.pm1aEvtBlk, evt);
  w.u32(FADT.pm1aCntBlk, cnt);
  w.u32(FADT.pmTmrBlk, 0);
  w.u8(FADT.pm1EvtLen, 4);
  w.u8(FADT.pm1CntLen, 2);
  w.u8(FADT.pmTmrLen, 0);
  w.u16(FADT.iapcBootArch, LEGACY_DEVICES | I8042_PRESENT | VGA_NOT_PRESENT);
  w.u32(FADT.flags, WBINVD | PROC_C1 | PWR_BUTTON | SLP_BUTTON | RESET_REG_SUP);
  writeIoGas(w, FADT.resetReg, PCI_RST_CNT_PORT, 8, ACCESS_BYTE);
  w.u8(FADT.resetValue, RESET_VALUE);
  w.u8(FADT.minorVersion, 0);
  // The FACS goes in the 32-bit field only (as QEMU does): with both set, ACPICA installs it twice.
  w.u64(FADT.xDsdt, dsdtAddr);
  writeIoGas(w, FADT.xPm1aEvtBlk, evt, 32, ACCESS_DWORD);
  writeIoGas(w, FADT.xPm1aCntBlk, cnt, 16, ACCESS_WORD);
  return finishSdt(w);
}
