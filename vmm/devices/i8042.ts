/**
 * The PS/2 controller (Intel 8042) at 0x60/0x64, with a keyboard on its
 * first port (ps2-keyboard.ts) and no mouse. Rebooting through it (0xFE to
 * 0x64, or clearing output port bit 0) is the PC's oldest reset. Commands
 * complete at once, so IBF never reads set and a result is in the output
 * buffer (OBF) before the guest polls for it. IRQ1 is raised while the
 * output buffer holds keyboard-side data and the configuration byte enables
 * it, lowered when the guest reads it (as QEMU does: one edge a byte).
 *
 * Wiring: the data port at offset 0, status/command at offset 4, e.g.
 *   pio.register(I8042_DATA_PORT, 1, kbd);
 *   pio.register(I8042_COMMAND_PORT, 1, kbd, I8042_COMMAND_OFFSET);
 */
import { AccessSize, Device, DeviceLog, IrqLine, MachineControl, noIrq, nullLog } from '../bus/device';
import { Ps2Keyboard } from './ps2-keyboard';

export const I8042_DATA_PORT = 0x60;
export const I8042_COMMAND_PORT = 0x64;
/** Device offset of the status/command port (its distance from the data port). */
export const I8042_COMMAND_OFFSET = 4;

// Status register.
export const I8042_STR_OBF = 0x01;      // output buffer full
export const I8042_STR_IBF = 0x02;      // input buffer full
export const I8042_STR_SYSFLAG = 0x04;  // system flag (self-test passed)
export const I8042_STR_CMDDAT = 0x08;   // last write was a command
export const I8042_STR_KEYLOCK = 0x10;  // 1 = not inhibited
export const I8042_STR_AUXDATA = 0x20;  // output buffer holds AUX data
export const I8042_STR_TIMEOUT = 0x40;
export const I8042_STR_PARITY = 0x80;

// Controller configuration byte (command byte).
export const I8042_CTR_KBDINT = 0x01;
export const I8042_CTR_AUXINT = 0x02;
export const I8042_CTR_SYSFLAG = 0x04;
export const I8042_CTR_KBDDIS = 0x10;
export const I8042_CTR_AUXDIS = 0x20;
export const I8042_CTR_XLATE = 0x40;

// Controller commands (written to 0x64).
export const I8042_CMD_CTL_RCTR = 0x20;     // 0x20-0x3f: read controller RAM
export const I8042_CMD_CTL_WCTR = 0x60;     // 0x60-0x7f: write controller RAM
export const I8042_CMD_AUX_DISABLE = 0xa7;
export const I8042_CMD_AUX_ENABLE = 0xa8;
export const I8042_CMD_AUX_TEST = 0xa9;
export const I8042_CMD_CTL_TEST = 0xaa;
export const I8042_CMD_KBD_TEST = 0xab;
export const I8042_CMD_KBD_DISABLE = 0xad;
export const I8042_CMD_KBD_ENABLE = 0xae;
export const I8042_CMD_READ_INPUT = 0xc0;
export const I8042_CMD_READ_OUTPUT = 0xd0;
export const I8042_CMD_WRITE_OUTPUT = 0xd1;
export const I8042_CMD_KBD_LOOP = 0xd2;     // write keyboard output buffer
export const I8042_CMD_AUX_LOOP = 0xd3;     // write AUX output buffer
export const I8042_CMD_AUX_SEND = 0xd4;
export const I8042_CMD_PULSE_BASE = 0xf0;   // 0xf0-0xff: pulse output port bits 0-3 low
export const I8042_CMD_RESET = 0xfe;        // pulse bit 0: CPU reset

export const I8042_CTL_TEST_OK = 0x55;
export const I8042_PORT_TEST_OK = 0x00;

// Output port.
export const I8042_OUT_RESET = 0x01;  // 0 = hold the CPU in reset
export const I8042_OUT_A20 = 0x02;

const RAM_SIZE = 32;

export interface I8042Options {
  name?: string;
  control: MachineControl;
  log?: DeviceLog;
  /** IRQ1, the keyboard's interrupt. */
  irq?: IrqLine;
}

export class I8042 implements Device {
  readonly name: string;
  private readonly control: MachineControl;
  private readonly log: DeviceLog;
  private readonly irq: IrqLine;
  private irqLevel = false;
  readonly keyboard: Ps2Keyboard;

  /** Controller RAM; byte 0 is the configuration byte (CTR). */
  private readonly ram = new Uint8Array(RAM_SIZE);
  private outputPort = I8042_OUT_RESET | I8042_OUT_A20;
  private outBuf = 0;
  private outFull = false;
  private outAux = false;
  private lastWasCommand = false;
  /** A command waiting for its data byte on port 0x60, or 0. */
  private pending = 0;
  private warnedNoDevice = false;
  private readonly warnedCommand = new Uint8Array(256);

  constructor(options: I8042Options) {
    this.name = options.name ?? 'i8042';
    this.control = options.control;
    this.log = options.log ?? nullLog;
    this.irq = options.irq ?? noIrq;
    this.keyboard = new Ps2Keyboard(() => (this.ram[0] & I8042_CTR_XLATE) !== 0);
    this.reset();
  }

  /** Power-on state as firmware leaves it: both ports enabled with interrupts, translation on. */
  reset(): void {
    this.ram.fill(0);
    this.ram[0] = I8042_CTR_KBDINT | I8042_CTR_AUXINT | I8042_CTR_SYSFLAG | I8042_CTR_XLATE;
    this.outputPort = I8042_OUT_RESET | I8042_OUT_A20;
    this.outFull = this.outAux = this.lastWasCommand = false;
    this.outBuf = 0;
    this.pending = 0;
    this.updateIrq();
  }

  /** The configuration byte, for views. */
  get commandByte(): number {
    return this.ram[0];
  }

  /** Whether the guest has the A20 gate open (output port bit 1). */
  get a20(): boolean {
    return (this.outputPort & I8042_OUT_A20) !== 0;
  }

  read(offset: number, _size: AccessSize): number {
    if (offset === 0) {
      if (!this.outFull) return 0;
      this.outFull = false;
      const v = this.outBuf;
      // Lower IRQ1 before the next byte raises it: an edge-triggered PIC sees one edge a byte.
      this.updateIrq();
      this.refill();
      this.updateIrq();
      return v;
    }
    if (offset === I8042_COMMAND_OFFSET) return this.status();
    return 0xff;
  }

  write(offset: number, _size: AccessSize, value: number): void {
    const v = value & 0xff;
    if (offset === 0) {
      this.lastWasCommand = false;
      this.writeData(v);
    } else if (offset === I8042_COMMAND_OFFSET) {
      this.lastWasCommand = true;
      this.command(v);
    }
    this.refill();
    this.updateIrq();
  }

  /** A key pressed (down) or released on the host; `index` is its place in scancodes.ts KEY_CODES. */
  keyEvent(index: number, down: boolean): void {
    this.keyboard.key(index, down);
    this.refill();
    this.updateIrq();
  }

  /** Moves the keyboard's next byte into an empty output buffer (not while the guest disabled the keyboard port). */
  private refill(): void {
    if (this.outFull || this.ram[0] & I8042_CTR_KBDDIS || !this.keyboard.hasData) return;
    this.respond(this.keyboard.next()!);
  }

  private updateIrq(): void {
    const level = this.outFull && !this.outAux && (this.ram[0] & I8042_CTR_KBDINT) !== 0;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq.set(level);
  }

  private status(): number {
    return (this.outFull ? I8042_STR_OBF : 0) | (this.outFull && this.outAux ? I8042_STR_AUXDATA : 0) |
      (this.ram[0] & I8042_CTR_SYSFLAG ? I8042_STR_SYSFLAG : 0) |
      (this.lastWasCommand ? I8042_STR_CMDDAT : 0) | I8042_STR_KEYLOCK;
  }

  private respond(v: number, aux = false): void {
    this.outBuf = v & 0xff;
    this.outFull = true;
    this.outAux = aux;
  }

  private command(cmd: number): void {
    this.pending = 0;
    if (cmd >= I8042_CMD_CTL_RCTR && cmd < I8042_CMD_CTL_RCTR + RAM_SIZE) {
      this.respond(this.ram[cmd - I8042_CMD_CTL_RCTR]);
      return;
    }
    if ((cmd >= I8042_CMD_CTL_WCTR && cmd < I8042_CMD_CTL_WCTR + RAM_SIZE) ||
      cmd === I8042_CMD_WRITE_OUTPUT || cmd === I8042_CMD_KBD_LOOP || cmd === I8042_CMD_AUX_LOOP || cmd === I8042_CMD_AUX_SEND) {
      this.pending = cmd;
      return;
    }
    if (cmd >= I8042_CMD_PULSE_BASE) {
      if (!(cmd & I8042_OUT_RESET)) this.control.reset(`guest pulsed the CPU reset line through the i8042 (0x${cmd.toString(16)} to port 0x64)`);
      return;
    }
    switch (cmd) {
      case I8042_CMD_AUX_DISABLE: this.ram[0] |= I8042_CTR_AUXDIS; return;
      case I8042_CMD_AUX_ENABLE: this.ram[0] &= ~I8042_CTR_AUXDIS; return;
      case I8042_CMD_KBD_DISABLE: this.ram[0] |= I8042_CTR_KBDDIS; return;
      case I8042_CMD_KBD_ENABLE: this.ram[0] &= ~I8042_CTR_KBDDIS; return;
      case I8042_CMD_CTL_TEST:
        this.ram[0] |= I8042_CTR_SYSFLAG;
        this.respond(I8042_CTL_TEST_OK);
        return;
      case I8042_CMD_KBD_TEST:
      case I8042_CMD_AUX_TEST:
        this.respond(I8042_PORT_TEST_OK);
        return;
      case I8042_CMD_READ_INPUT:
        this.respond(0x80); // keyboard not inhibited
        return;
      case I8042_CMD_READ_OUTPUT:
        this.respond(this.outputPort);
        return;
      default:
        if (!this.warnedCommand[cmd]) {
          this.warnedCommand[cmd] = 1;
          this.log.guestError(`${this.name}: unsupported controller command 0x${cmd.toString(16)} ignored`);
        }
    }
  }

  private writeData(v: number): void {
    const cmd = this.pending;
    this.pending = 0;
    if (cmd >= I8042_CMD_CTL_WCTR && cmd < I8042_CMD_CTL_WCTR + RAM_SIZE) {
      this.ram[cmd - I8042_CMD_CTL_WCTR] = v;
      return;
    }
    switch (cmd) {
      case I8042_CMD_WRITE_OUTPUT:
        this.outputPort = v;
        if (!(v & I8042_OUT_RESET)) this.control.reset('guest cleared the reset bit of the i8042 output port');
        return;
      case I8042_CMD_KBD_LOOP:
        this.respond(v);
        return;
      case I8042_CMD_AUX_LOOP:
        this.respond(v, true);
        return;
      case I8042_CMD_AUX_SEND:
        // A byte for the mouse: none is attached, so it times out as on a PC without one.
        if (!this.warnedNoDevice) {
          this.warnedNoDevice = true;
          this.log.info(`${this.name}: no mouse is attached; bytes sent to it are dropped`);
        }
        return;
      default:
        // A byte for the keyboard; sending one enables the keyboard port, as the 8042 does.
        this.ram[0] &= ~I8042_CTR_KBDDIS;
        this.keyboard.receive(v);
    }
  }
}
