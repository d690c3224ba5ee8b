/**
 * What a device model looks like to a bus. Devices know nothing about KVM:
 * they are fed accesses (offset from the start of their range, size in
 * bytes, value) and are unit-tested that way. One signature for port I/O
 * and MMIO, as in kvmtool; the bus splits wider MMIO accesses into 4-byte
 * pieces, so size is always 1, 2 or 4.
 */
export type AccessSize = 1 | 2 | 4;

export interface Device {
  /** Short name for logs and views, e.g. "serial@0x3f8". */
  readonly name: string;
  /** Value read from `offset` (only the low `size` bytes count). */
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
}

/** An interrupt line a device drives (wired to KVM_IRQ_LINE by the machine). */
export interface IrqLine {
  set(level: boolean): void;
}

/** Where devices report what the guest did wrong, and plain information. */
export interface DeviceLog {
  /** The guest did something a real device would not accept. Never throws. */
  guestError(message: string): void;
  info(message: string): void;
}

/** Actions a device can ask of the machine (end or reset the VM). */
export interface MachineControl {
  /** The guest asked to power off (status 0) or to exit with `status`. */
  exit(status: number, reason: string): void;
  /** The guest asked for a CPU/system reset. */
  reset(reason: string): void;
}

export const nullLog: DeviceLog = { guestError() {}, info() {} };
export const noIrq: IrqLine = { set() {} };
