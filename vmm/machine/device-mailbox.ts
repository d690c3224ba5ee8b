/**
 * How a vCPU other than 0 reaches the board's devices. The devices are plain
 * objects on vCPU 0's thread (the serial console's hot path stays free of
 * thread hops, ARCHITECTURE rule 3); an AP's port or MMIO access is rare, so
 * it travels: the AP writes one access into its own mailbox (a small
 * SharedArrayBuffer), raises CONTROL_DEVICE in vCPU 0's control word, kicks
 * vCPU 0 out of KVM_RUN (or wakes its idle event loop), and waits on the
 * mailbox with Atomics.wait. vCPU 0 performs the access on the real bus and
 * answers. One access per round trip: string I/O and wide MMIO are split by
 * the AP's runner and bus exactly as on vCPU 0.
 *
 * vCPU 0 never waits for an AP, so no cycle of waits exists; an AP gives up
 * (reads all-ones, drops writes) once the VM is ending.
 */
import { kick } from '../../native';
import { CONTROL_DEVICE } from './protocol';

const STATE = 0;
const OP = 1;
const ADDR_LO = 2;
const ADDR_HI = 3;
const SIZE = 4;
const VALUE = 5;
const HEADER_INTS = 8;
const DATA_BYTES = 8;
export const MAILBOX_BYTES = HEADER_INTS * 4 + DATA_BYTES;

const IDLE = 0;
const REQUEST = 1;
const REPLY = 2;

const PIO_READ = 0;
const PIO_WRITE = 1;
const MMIO_READ = 2;
const MMIO_WRITE = 3;

/** The VM-wide "ending" word (index 0 of the machine's shared state). */
export const VM_ENDING = 0;

/** What the bus side of a mailbox must do: the board's two buses (vCPU 0's). */
export interface PioBus { read(port: number, size: number): number; write(port: number, size: number, value: number): void }
export interface MmioBus { readBytes(address: number, data: Uint8Array): void; writeBytes(address: number, data: Uint8Array): void }

export function createMailbox(): SharedArrayBuffer {
  return new SharedArrayBuffer(MAILBOX_BYTES);
}

/** The AP side: buses whose every access is performed by vCPU 0. */
export class RemoteBuses {
  private readonly header: Int32Array;
  private readonly data: Uint8Array;
  readonly pio: PioBus;
  readonly mmio: MmioBus;

  constructor(
    mailbox: SharedArrayBuffer,
    /** vCPU 0's control word and kick token. */
    private readonly deviceControl: Int32Array,
    private readonly deviceKickToken: number,
    /** The machine's shared state (VM_ENDING). */
    private readonly vmState: Int32Array,
  ) {
    this.header = new Int32Array(mailbox, 0, HEADER_INTS);
    this.data = new Uint8Array(mailbox, HEADER_INTS * 4, DATA_BYTES);
    this.pio = {
      read: (port, size) => (this.call(PIO_READ, port, size, 0) ? this.header[VALUE] >>> 0 : allOnes(size)),
      write: (port, size, value) => { this.call(PIO_WRITE, port, size, value); },
    };
    this.mmio = {
      readBytes: (address, out) => {
        const n = Math.min(out.length, DATA_BYTES);
        if (this.call(MMIO_READ, address, n, 0)) out.set(this.data.subarray(0, n));
        else out.fill(0xff);
      },
      writeBytes: (address, bytes) => {
        const n = Math.min(bytes.length, DATA_BYTES);
        this.data.set(bytes.subarray(0, n));
        this.call(MMIO_WRITE, address, n, 0);
      },
    };
  }

  /** One access through vCPU 0; false when the VM ended before it was answered. */
  private call(op: number, address: number, size: number, value: number): boolean {
    const h = this.header;
    h[OP] = op;
    h[ADDR_LO] = address >>> 0;
    h[ADDR_HI] = Math.floor(address / 0x1_0000_0000);
    h[SIZE] = size;
    h[VALUE] = value;
    Atomics.store(h, STATE, REQUEST);
    Atomics.or(this.deviceControl, 0, CONTROL_DEVICE);
    Atomics.notify(this.deviceControl, 0);
    kick(this.deviceKickToken);
    while (Atomics.load(h, STATE) === REQUEST) {
      if (Atomics.load(this.vmState, VM_ENDING) !== 0) {
        // vCPU 0 may still answer; either way the access no longer matters.
        Atomics.store(h, STATE, IDLE);
        return false;
      }
      Atomics.wait(h, STATE, REQUEST, 100);
    }
    Atomics.store(h, STATE, IDLE);
    return true;
  }
}

function allOnes(size: number): number {
  return size >= 4 ? 0xffff_ffff : (1 << (size * 8)) - 1;
}

/**
 * vCPU 0's side: answers every pending request. Called from its run loop on
 * CONTROL_DEVICE and from its idle event loop; returns how many it served.
 */
export class MailboxServer {
  private readonly boxes: { header: Int32Array; data: Uint8Array }[];

  constructor(mailboxes: readonly SharedArrayBuffer[], private readonly pio: PioBus, private readonly mmio: MmioBus) {
    this.boxes = mailboxes.map((m) => ({ header: new Int32Array(m, 0, HEADER_INTS), data: new Uint8Array(m, HEADER_INTS * 4, DATA_BYTES) }));
  }

  serve(): number {
    let served = 0;
    for (const { header: h, data } of this.boxes) {
      if (Atomics.load(h, STATE) !== REQUEST) continue;
      const address = (h[ADDR_LO] >>> 0) + (h[ADDR_HI] >>> 0) * 0x1_0000_0000;
      const size = h[SIZE];
      // The AP wrote these; a torn or bogus value only reaches the bus, which checks every access.
      const n = Math.max(0, Math.min(size, DATA_BYTES));
      switch (h[OP]) {
        case PIO_READ: h[VALUE] = this.pio.read(address, size); break;
        case PIO_WRITE: this.pio.write(address, size, h[VALUE] >>> 0); break;
        case MMIO_READ: this.mmio.readBytes(address, data.subarray(0, n)); break;
        case MMIO_WRITE: this.mmio.writeBytes(address, data.subarray(0, n)); break;
      }
      Atomics.store(h, STATE, REPLY);
      Atomics.notify(h, STATE);
      served++;
    }
    return served;
  }
}
