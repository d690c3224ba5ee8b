/**
 * The Bochs/QEMU debug console at port 0xE9: a byte written is a byte of
 * output, no setup, no flow control. Reading it returns 0xE9, which is how
 * guests detect it.
 */
import { AccessSize, Device } from '../bus/device';
import { ByteSink, discardBytes } from './byte-sink';

export const DEBUGCON_PORT = 0xe9;
/** What a read returns: the port number, the Bochs convention for "present". */
export const DEBUGCON_READBACK = 0xe9;

export class DebugCon implements Device {
  /** Where written bytes go; the machine may replace it before the guest runs. */
  output: ByteSink;

  constructor(output: ByteSink = discardBytes, readonly name = 'debugcon@0xe9') {
    this.output = output;
  }

  read(): number {
    return DEBUGCON_READBACK;
  }

  write(_offset: number, _size: AccessSize, value: number): void {
    // Only the low byte is a character, as in Bochs and QEMU.
    this.output(value & 0xff);
  }
}
