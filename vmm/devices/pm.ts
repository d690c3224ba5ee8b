/**
 * ACPI PM1a event and control registers at 0x600, where QEMU's q35 (ICH9)
 * has them, so that the well-known `outw(0x604, 0x2000)` powers us off
 * too. Our sleep type 0 is S5 (soft off), matching QEMU's q35 \_S5 package;
 * the FADT we publish later must say PM1a_EVT_BLK = 0x600,
 * PM1a_CNT_BLK = 0x604 and \_S5 = 0. No other sleep state exists here.
 *
 * There is no SMI handler to switch modes: SCI_EN reads as 1 (the FADT
 * will have SMI_CMD = 0, "always in ACPI mode"). No ACPI events are
 * generated, so PM1_STS reads 0 (its bits are write-1-to-clear).
 */
import { AccessSize, Device, DeviceLog, MachineControl, nullLog } from '../bus/device';

export const PM_BASE = 0x600;
/** PM1a_EVT_BLK (4 bytes: PM1_STS, PM1_EN) then PM1a_CNT_BLK (2 bytes). */
export const PM_PORT_COUNT = 6;

// Offsets from PM_BASE.
export const PM1_STS = 0x00;
export const PM1_EN = 0x02;
export const PM1_CNT = 0x04;

export const PM1_CNT_SCI_EN = 0x0001;
export const PM1_CNT_BM_RLD = 0x0002;
export const PM1_CNT_GBL_RLS = 0x0004;
export const PM1_CNT_SLP_TYP_SHIFT = 10;
export const PM1_CNT_SLP_TYP_MASK = 0x1c00;
export const PM1_CNT_SLP_EN = 0x2000;
/** Our S5 (soft off) sleep type. */
export const PM_SLP_TYP_S5 = 0;

export interface PmOptions {
  control: MachineControl;
  log?: DeviceLog;
  name?: string;
}

export class AcpiPm implements Device {
  readonly name: string;
  private readonly control: MachineControl;
  private readonly log: DeviceLog;
  /** The six register bytes, little-endian, as the guest last left them. */
  private readonly regs = new Uint8Array(PM_PORT_COUNT);

  constructor(options: PmOptions) {
    this.name = options.name ?? 'acpi-pm@0x600';
    this.control = options.control;
    this.log = options.log ?? nullLog;
    this.reset();
  }

  reset(): void {
    this.regs.fill(0);
    this.regs[PM1_CNT] = PM1_CNT_SCI_EN;
  }

  read(offset: number, size: AccessSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      const b = at < PM_PORT_COUNT && !(at >= PM1_STS && at < PM1_EN) ? this.regs[at] : 0;
      v |= b << (8 * i);
    }
    return v >>> 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    let touchedCnt = false;
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      if (at >= PM_PORT_COUNT) break;
      // PM1_STS is write-1-to-clear and nothing ever sets it: writes have no effect.
      if (at < PM1_EN) continue;
      this.regs[at] = (value >>> (8 * i)) & 0xff;
      if (at >= PM1_CNT) touchedCnt = true;
    }
    if (touchedCnt) this.controlWritten();
  }

  private controlWritten(): void {
    const cnt = this.regs[PM1_CNT] | (this.regs[PM1_CNT + 1] << 8);
    // SLP_EN is write-only (reads 0); SCI_EN is wired on.
    const kept = (cnt & ~PM1_CNT_SLP_EN) | PM1_CNT_SCI_EN;
    this.regs[PM1_CNT] = kept & 0xff;
    this.regs[PM1_CNT + 1] = kept >> 8;
    if (!(cnt & PM1_CNT_SLP_EN)) return;
    const slpTyp = (cnt & PM1_CNT_SLP_TYP_MASK) >> PM1_CNT_SLP_TYP_SHIFT;
    if (slpTyp === PM_SLP_TYP_S5) {
      this.control.exit(0, 'guest powered off');
    } else {
      this.log.guestError(`${this.name}: the guest asked for sleep type ${slpTyp} (PM1a_CNT = 0x${cnt.toString(16)}); only S5 (type 0, power off) exists here, request ignored`);
    }
  }
}
