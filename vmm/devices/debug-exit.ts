/**
 * QEMU's isa-debug-exit (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`):
 * a test kernel writes v to end the VM with status (v << 1) | 1, so that
 * every guest-chosen status is odd and distinguishable from the VMM's own
 * 0 ("powered off"). Test suites written for QEMU run unchanged.
 */
import { AccessSize, Device, MachineControl } from '../bus/device';

export const DEBUG_EXIT_PORT = 0xf4;
export const DEBUG_EXIT_PORT_COUNT = 4;

export class DebugExit implements Device {
  constructor(private readonly control: MachineControl, readonly name = 'debug-exit@0xf4') {}

  read(): number {
    return 0;
  }

  /**
   * The bus has already masked `value` to the access size; like QEMU, the
   * offset within the range does not matter. Arithmetic rather than `<<` so
   * that a 32-bit v gives a positive status (the OS keeps its low 8 bits).
   */
  write(_offset: number, _size: AccessSize, value: number): void {
    const v = value >>> 0;
    this.control.exit(v * 2 + 1, `guest wrote ${v} to the debug-exit port`);
  }
}
