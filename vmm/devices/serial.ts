/**
 * A 16550A UART, the PC's COM port (COM1: 0x3f8, IRQ 4). Register names
 * and bits follow the National Semiconductor PC16550D datasheet (and
 * Linux's serial_reg.h). Transmission is instant: THR empties as soon as
 * it is written, so THRE/TEMT always read set and the THRE interrupt comes
 * back at once, after a falling edge on the line so that an edge-triggered
 * PIC sees each one.
 *
 * Host input arrives through receive() into a host-side queue and moves
 * into the 16-byte RX FIFO as the guest frees space, so the guest never
 * loses typed input to overrun; only loopback writes can overrun.
 */
import { AccessSize, Device, DeviceLog, IrqLine, noIrq, nullLog } from '../bus/device';
import { ByteSink, discardBytes } from './byte-sink';

export const COM1_BASE = 0x3f8;
export const COM1_IRQ = 4;
/** Ports a UART occupies. */
export const UART_PORT_COUNT = 8;

// Register offsets.
export const UART_RX = 0;   // RBR, read, DLAB=0
export const UART_TX = 0;   // THR, write, DLAB=0
export const UART_DLL = 0;  // DLAB=1
export const UART_IER = 1;  // DLAB=0
export const UART_DLM = 1;  // DLAB=1
export const UART_IIR = 2;  // read
export const UART_FCR = 2;  // write
export const UART_LCR = 3;
export const UART_MCR = 4;
export const UART_LSR = 5;
export const UART_MSR = 6;
export const UART_SCR = 7;

export const UART_IER_RDI = 0x01;   // ERBFI: received data available
export const UART_IER_THRI = 0x02;  // ETBEI: THR empty
export const UART_IER_RLSI = 0x04;  // ELSI: receiver line status
export const UART_IER_MSI = 0x08;   // EDSSI: modem status

export const UART_IIR_NO_INT = 0x01;
export const UART_IIR_MSI = 0x00;
export const UART_IIR_THRI = 0x02;
export const UART_IIR_RDI = 0x04;
export const UART_IIR_RLSI = 0x06;
export const UART_IIR_CTI = 0x0c;   // character timeout
export const UART_IIR_FIFO_ENABLED = 0xc0;

export const UART_FCR_ENABLE_FIFO = 0x01;
export const UART_FCR_CLEAR_RCVR = 0x02;
export const UART_FCR_CLEAR_XMIT = 0x04;
export const UART_FCR_TRIGGER_SHIFT = 6;

export const UART_LCR_DLAB = 0x80;

export const UART_MCR_DTR = 0x01;
export const UART_MCR_RTS = 0x02;
export const UART_MCR_OUT1 = 0x04;
export const UART_MCR_OUT2 = 0x08;
export const UART_MCR_LOOP = 0x10;

export const UART_LSR_DR = 0x01;
export const UART_LSR_OE = 0x02;
export const UART_LSR_PE = 0x04;
export const UART_LSR_FE = 0x08;
export const UART_LSR_BI = 0x10;
export const UART_LSR_THRE = 0x20;
export const UART_LSR_TEMT = 0x40;
export const UART_LSR_FIFOE = 0x80;

export const UART_MSR_DCTS = 0x01;
export const UART_MSR_DDSR = 0x02;
export const UART_MSR_TERI = 0x04;
export const UART_MSR_DDCD = 0x08;
export const UART_MSR_CTS = 0x10;
export const UART_MSR_DSR = 0x20;
export const UART_MSR_RI = 0x40;
export const UART_MSR_DCD = 0x80;
const UART_MSR_DELTAS = 0x0f;

export const UART_FIFO_SIZE = 16;
const RX_TRIGGER_LEVELS = [1, 4, 8, 14];
/** The divisor latch clock: 1.8432 MHz / 16. */
export const UART_BASE_BAUD = 115200;
/** Modem lines outside loopback: a terminal is attached and ready. */
const CONNECTED_LINES = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;

export interface SerialOptions {
  /** Default "serial@0x3f8". */
  name?: string;
  irq?: IrqLine;
  log?: DeviceLog;
  /** Transmitted bytes, one call each (the console hot path). */
  output?: ByteSink;
  /** Host input waiting for FIFO space, bytes; beyond it input is dropped. Default 64 KiB. */
  inputQueueBytes?: number;
}

/** Register values as a devices view shows them (reading them has no side effects). */
export interface SerialState {
  ier: number; iir: number; lcr: number; mcr: number; lsr: number; msr: number; scr: number;
  divisor: number; fifoEnabled: boolean; rxTrigger: number; rxCount: number;
  hostQueued: number; droppedInputBytes: number; irq: boolean;
}

export class Uart16550 implements Device {
  readonly name: string;
  /** Where transmitted bytes go; the machine may replace it before the guest runs. */
  output: ByteSink;
  /** Host input bytes dropped because the host-side queue was full. */
  droppedInputBytes = 0;

  private readonly irq: IrqLine;
  private readonly log: DeviceLog;

  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private dll = 0x0c;   // 9600 baud, as a PC BIOS leaves it
  private dlm = 0;
  private lsrErrors = 0;
  private msrLines = CONNECTED_LINES;
  private msrDeltas = 0;
  private fifoEnabled = false;
  private rxTrigger = 1;
  private thrPending = false;
  private irqLevel = false;

  private readonly rx = new Uint8Array(UART_FIFO_SIZE);
  private rxHead = 0;
  private rxCount = 0;
  private lastRx = 0;

  private readonly host: Uint8Array;
  private hostHead = 0;
  private hostCount = 0;

  constructor(options: SerialOptions = {}) {
    this.name = options.name ?? `serial@0x${COM1_BASE.toString(16)}`;
    this.irq = options.irq ?? noIrq;
    this.log = options.log ?? nullLog;
    this.output = options.output ?? discardBytes;
    const q = options.inputQueueBytes ?? 64 * 1024;
    if (!Number.isSafeInteger(q) || q < 1) throw new RangeError(`serial input queue size must be a positive integer, got ${q}`);
    this.host = new Uint8Array(q);
  }

  read(offset: number, size: AccessSize): number {
    if (size === 1) return this.readReg(offset);
    // A wider access on an 8-bit ISA device is a run of byte accesses.
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.readReg(offset + i) << (8 * i);
    return v >>> 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (size === 1) return this.writeReg(offset, value & 0xff);
    for (let i = 0; i < size; i++) this.writeReg(offset + i, (value >>> (8 * i)) & 0xff);
  }

  /**
   * Queues host input (a terminal's keystrokes) for the guest. Returns the
   * bytes accepted; the rest did not fit the host-side queue and are
   * dropped, counted in droppedInputBytes and logged.
   */
  receive(bytes: Uint8Array | string): number {
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    const cap = this.host.length;
    const n = Math.min(data.length, cap - this.hostCount);
    for (let i = 0; i < n; i++) this.host[(this.hostHead + this.hostCount + i) % cap] = data[i];
    this.hostCount += n;
    if (n < data.length) {
      this.droppedInputBytes += data.length - n;
      this.log.info(`${this.name}: the guest is not reading its serial input; dropped ${data.length - n} byte(s) ` +
        `(${this.droppedInputBytes} so far) beyond the ${cap}-byte input queue`);
    }
    this.pump();
    this.updateIrq();
    return n;
  }

  /** Power-on state (a machine reset). Host input still queued is kept. */
  reset(): void {
    this.ier = this.lcr = this.mcr = this.scr = this.lsrErrors = this.msrDeltas = 0;
    this.dll = 0x0c;
    this.dlm = 0;
    this.msrLines = CONNECTED_LINES;
    this.fifoEnabled = false;
    this.rxTrigger = 1;
    this.thrPending = false;
    this.rxHead = this.rxCount = 0;
    this.pump();
    this.updateIrq();
  }

  /** Baud rate the guest programmed (0 if the divisor is 0). */
  get baudRate(): number {
    const d = this.dll | (this.dlm << 8);
    return d === 0 ? 0 : UART_BASE_BAUD / d;
  }

  state(): SerialState {
    return {
      ier: this.ier, iir: this.iir(), lcr: this.lcr, mcr: this.mcr, lsr: this.lsr(), msr: this.msrLines | this.msrDeltas,
      scr: this.scr, divisor: this.dll | (this.dlm << 8), fifoEnabled: this.fifoEnabled, rxTrigger: this.rxTrigger,
      rxCount: this.rxCount, hostQueued: this.hostCount, droppedInputBytes: this.droppedInputBytes, irq: this.irqLevel,
    };
  }

  /** Register lines for a devices view: [label, value] (reads nothing that has side effects). */
  describe(): [string, string][] {
    const st = this.state();
    const h = (v: number) => '0x' + v.toString(16).padStart(2, '0');
    return [
      ['IER', h(st.ier)], ['IIR', h(st.iir)], ['LCR', h(st.lcr)], ['MCR', h(st.mcr)],
      ['LSR', h(st.lsr)], ['MSR', h(st.msr)], ['SCR', h(st.scr)],
      ['divisor', `${st.divisor} (${this.baudRate ? Math.round(this.baudRate) + ' baud' : 'off'})`],
      ['FIFO', st.fifoEnabled ? `on, trigger ${st.rxTrigger}, ${st.rxCount} byte(s) received` : `off, ${st.rxCount} byte(s) received`],
      ['host input queued', `${st.hostQueued} byte(s)${st.droppedInputBytes ? `, ${st.droppedInputBytes} dropped` : ''}`],
      ['IRQ line', st.irq ? 'asserted' : 'low'],
    ];
  }

  private readReg(reg: number): number {
    switch (reg) {
      case UART_RX:
        if (this.lcr & UART_LCR_DLAB) return this.dll;
        return this.readRbr();
      case UART_IER:
        return this.lcr & UART_LCR_DLAB ? this.dlm : this.ier;
      case UART_IIR: {
        const iir = this.iir();
        // Reading IIR acknowledges a THRE interrupt (and only that one).
        if ((iir & 0x0f) === UART_IIR_THRI) {
          this.thrPending = false;
          this.updateIrq();
        }
        return iir;
      }
      case UART_LCR:
        return this.lcr;
      case UART_MCR:
        return this.mcr;
      case UART_LSR: {
        const lsr = this.lsr();
        if (this.lsrErrors) {
          this.lsrErrors = 0;
          this.updateIrq();
        }
        return lsr;
      }
      case UART_MSR: {
        const msr = this.msrLines | this.msrDeltas;
        if (this.msrDeltas) {
          this.msrDeltas = 0;
          this.updateIrq();
        }
        return msr;
      }
      case UART_SCR:
        return this.scr;
      default:
        return 0xff;
    }
  }

  private writeReg(reg: number, v: number): void {
    switch (reg) {
      case UART_TX:
        if (this.lcr & UART_LCR_DLAB) this.dll = v;
        else this.transmit(v);
        return;
      case UART_IER: {
        if (this.lcr & UART_LCR_DLAB) {
          this.dlm = v;
          return;
        }
        const old = this.ier;
        this.ier = v & 0x0f;
        // Enabling ETBEI while THR is empty (it always is) interrupts at once, as on a 16550.
        if ((old ^ this.ier) & UART_IER_THRI) this.thrPending = (this.ier & UART_IER_THRI) !== 0;
        this.updateIrq();
        return;
      }
      case UART_FCR:
        this.writeFcr(v);
        return;
      case UART_LCR:
        this.lcr = v;
        return;
      case UART_MCR:
        this.writeMcr(v);
        return;
      case UART_SCR:
        this.scr = v;
        return;
      default:
        // LSR and MSR writes are factory test modes on a 16550: ignored.
        return;
    }
  }

  private transmit(v: number): void {
    this.thrPending = false;
    this.updateIrq();
    if (this.mcr & UART_MCR_LOOP) {
      this.pushRx(v);
    } else {
      this.output(v);
    }
    if (this.ier & UART_IER_THRI) this.thrPending = true;
    this.updateIrq();
  }

  private readRbr(): number {
    if (this.rxCount > 0) {
      this.lastRx = this.rx[this.rxHead];
      this.rxHead = (this.rxHead + 1) % UART_FIFO_SIZE;
      this.rxCount--;
      this.pump();
      this.updateIrq();
    }
    return this.lastRx;
  }

  private writeFcr(v: number): void {
    if (!(v & UART_FCR_ENABLE_FIFO)) {
      // FCR0 = 0 leaves 16450 mode, resets both FIFOs, and other bits are not programmed.
      if (this.fifoEnabled) this.rxHead = this.rxCount = 0;
      this.fifoEnabled = false;
    } else {
      if (!this.fifoEnabled || v & UART_FCR_CLEAR_RCVR) this.rxHead = this.rxCount = 0;
      this.fifoEnabled = true;
      this.rxTrigger = RX_TRIGGER_LEVELS[v >>> UART_FCR_TRIGGER_SHIFT];
      // UART_FCR_CLEAR_XMIT: the transmitter never holds data here.
    }
    this.pump();
    this.updateIrq();
  }

  private writeMcr(v: number): void {
    const wasLoop = this.mcr & UART_MCR_LOOP;
    this.mcr = v & 0x1f;
    let lines = CONNECTED_LINES;
    if (this.mcr & UART_MCR_LOOP) {
      // Loopback wires the modem outputs to the inputs (datasheet 8.6).
      lines = (this.mcr & UART_MCR_RTS ? UART_MSR_CTS : 0) | (this.mcr & UART_MCR_DTR ? UART_MSR_DSR : 0) |
        (this.mcr & UART_MCR_OUT1 ? UART_MSR_RI : 0) | (this.mcr & UART_MCR_OUT2 ? UART_MSR_DCD : 0);
    }
    const changed = lines ^ this.msrLines;
    if (changed & UART_MSR_CTS) this.msrDeltas |= UART_MSR_DCTS;
    if (changed & UART_MSR_DSR) this.msrDeltas |= UART_MSR_DDSR;
    if (changed & UART_MSR_DCD) this.msrDeltas |= UART_MSR_DDCD;
    if (changed & this.msrLines & UART_MSR_RI) this.msrDeltas |= UART_MSR_TERI; // trailing edge only
    this.msrLines = lines;
    if (wasLoop && !(this.mcr & UART_MCR_LOOP)) this.pump();
    this.updateIrq();
  }

  private get rxCapacity(): number {
    return this.fifoEnabled ? UART_FIFO_SIZE : 1;
  }

  /** A character reached the receiver: into the FIFO, or an overrun (the character is lost, the FIFO kept). */
  private pushRx(v: number): void {
    if (this.rxCount >= this.rxCapacity) {
      this.lsrErrors |= UART_LSR_OE;
      return;
    }
    this.rx[(this.rxHead + this.rxCount) % UART_FIFO_SIZE] = v;
    this.rxCount++;
  }

  /** Moves host input into free FIFO space. In loopback the receiver is cut off from the line. */
  private pump(): void {
    if (this.mcr & UART_MCR_LOOP) return;
    const cap = this.host.length;
    while (this.hostCount > 0 && this.rxCount < this.rxCapacity) {
      this.pushRx(this.host[this.hostHead]);
      this.hostHead = (this.hostHead + 1) % cap;
      this.hostCount--;
    }
  }

  private lsr(): number {
    return (this.rxCount > 0 ? UART_LSR_DR : 0) | this.lsrErrors | UART_LSR_THRE | UART_LSR_TEMT;
  }

  /** The highest-priority pending interrupt, as IIR reads. */
  private iir(): number {
    const fifo = this.fifoEnabled ? UART_IIR_FIFO_ENABLED : 0;
    const ier = this.ier;
    if (ier & UART_IER_RLSI && this.lsrErrors) return fifo | UART_IIR_RLSI;
    if (ier & UART_IER_RDI && this.rxCount > 0) {
      // No bit timing here: data below the trigger level times out at once,
      // since no more is coming until the host queue holds some.
      return fifo | (!this.fifoEnabled || this.rxCount >= this.rxTrigger ? UART_IIR_RDI : UART_IIR_CTI);
    }
    if (ier & UART_IER_THRI && this.thrPending) return fifo | UART_IIR_THRI;
    if (ier & UART_IER_MSI && this.msrDeltas & UART_MSR_DELTAS) return fifo | UART_IIR_MSI;
    return fifo | UART_IIR_NO_INT;
  }

  private updateIrq(): void {
    // On a PC, OUT2 gates the UART's interrupt onto the ISA bus; loopback forces OUT2 inactive.
    const level = (this.mcr & (UART_MCR_OUT2 | UART_MCR_LOOP)) === UART_MCR_OUT2 && (this.iir() & UART_IIR_NO_INT) === 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }
}
