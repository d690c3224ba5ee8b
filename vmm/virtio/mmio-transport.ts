/**
 * The virtio-mmio transport, version 2 (virtio 1.x, 4.2.2): a 0x200-byte
 * register window per device on the MMIO bus, found by Linux through ACPI
 * (_HID "LNRO0005", vmm/acpi/dsdt.ts). Modern devices only: the device
 * offers VIRTIO_F_VERSION_1 and refuses FEATURES_OK without it.
 *
 * The registers below 0x100 are 32-bit; other widths are guest errors. The
 * device's configuration space from 0x100 takes any width. The interrupt
 * line (a level-triggered IOAPIC GSI) is held high while InterruptStatus is
 * non-zero and dropped when the driver acknowledges the last bit.
 *
 * A broken ring or descriptor puts the device in DEVICE_NEEDS_RESET (and
 * signals a configuration change, as the spec asks): it then ignores its
 * queues until the driver resets it. It is logged as a guest error.
 */
import type { AccessSize, Device, DeviceLog, IrqLine } from '../bus/device';
import type { GuestMemory } from '../memory/guest-memory';
import { isGuestFault, Virtqueue } from './virtqueue';

export const VIRTIO_MMIO_MAGIC = 0x74726976; // "virt"
export const VIRTIO_MMIO_VERSION = 2;
/** Our vendor id in the register of that name: "KVMD". */
export const VIRTIO_MMIO_VENDOR = 0x444d564b;
export const VIRTIO_MMIO_SIZE = 0x200;

/** Register offsets (4.2.2). */
export const REG = {
  magic: 0x000, version: 0x004, deviceId: 0x008, vendorId: 0x00c,
  deviceFeatures: 0x010, deviceFeaturesSel: 0x014, driverFeatures: 0x020, driverFeaturesSel: 0x024,
  queueSel: 0x030, queueNumMax: 0x034, queueNum: 0x038, queueReady: 0x044, queueNotify: 0x050,
  interruptStatus: 0x060, interruptAck: 0x064, status: 0x070,
  queueDescLow: 0x080, queueDescHigh: 0x084, queueDriverLow: 0x090, queueDriverHigh: 0x094,
  queueDeviceLow: 0x0a0, queueDeviceHigh: 0x0a4,
  shmSel: 0x0ac, shmLenLow: 0x0b0, shmLenHigh: 0x0b4, shmBaseLow: 0x0b8, shmBaseHigh: 0x0bc,
  queueReset: 0x0c0, configGeneration: 0x0fc, config: 0x100,
} as const;

/** Device status bits (2.1). */
export const STATUS = { ACKNOWLEDGE: 1, DRIVER: 2, DRIVER_OK: 4, FEATURES_OK: 8, NEEDS_RESET: 0x40, FAILED: 0x80 } as const;
export const INT_USED_BUFFER = 1;
export const INT_CONFIG_CHANGE = 2;

/** Feature bits common to all devices (6). */
export const VIRTIO_F_INDIRECT_DESC = 28n;
export const VIRTIO_F_VERSION_1 = 32n;
export const feature = (bit: bigint) => 1n << bit;

/** What a device type (blk, rng) gives the transport. */
export interface VirtioBackend {
  readonly deviceId: number;
  /** Feature bits offered, VIRTIO_F_VERSION_1 included by the transport. */
  readonly features: bigint;
  /** Queue sizes the device supports (QueueNumMax), one per queue. */
  readonly queueMaxSizes: readonly number[];
  /** Device configuration space (read-only for our devices); read at any width. */
  readonly config: Uint8Array;
  /**
   * Handles what the driver made available on `queue`; returns true when a
   * used buffer was added (the transport then interrupts). Throws a
   * VirtqueueError/GuestMemoryError on a bad chain.
   */
  process(queue: Virtqueue, ctx: { features: bigint; log: DeviceLog }): boolean;
  /** The driver reset the device. */
  reset?(): void;
}

export interface MmioTransportOptions {
  name: string;
  backend: VirtioBackend;
  memory: GuestMemory;
  irq: IrqLine;
  log: DeviceLog;
}

const hex = (n: number) => '0x' + n.toString(16);
/** Guest errors (and info lines) a device logs before it only counts them. */
export const MAX_LOGGED = 20;

export class VirtioMmioDevice implements Device {
  readonly name: string;
  readonly backend: VirtioBackend;
  readonly queues: Virtqueue[];
  private readonly offered: bigint;
  private readonly log: DeviceLog;
  private readonly irq: IrqLine;
  private readonly memory: GuestMemory;
  status = 0;
  interruptStatus = 0;
  driverFeatures = 0n;
  configGeneration = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private queueSel = 0;
  private irqLevel = false;
  /** Guest errors logged so far (a storm of them is counted, not logged). */
  private errors = 0;
  private infos = 0;
  /**
   * The log the backend gets: its lines count against the same limits as the
   * transport's own, so a guest that sends bad requests in a loop cannot
   * flood the user's terminal (found by test/unit/fuzz-virtio.test.ts).
   */
  private readonly backendLog: DeviceLog = {
    guestError: (message) => this.guestError(message),
    info: (message) => {
      if (++this.infos <= MAX_LOGGED) this.log.info(`${this.name}: ${message}${this.infos === MAX_LOGGED ? ' (further messages are not logged)' : ''}`);
    },
  };

  constructor(o: MmioTransportOptions) {
    this.name = o.name;
    this.backend = o.backend;
    this.log = o.log;
    this.irq = o.irq;
    this.memory = o.memory;
    this.offered = o.backend.features | feature(VIRTIO_F_VERSION_1);
    this.queues = o.backend.queueMaxSizes.map((max, i) => new Virtqueue(i, max, o.memory));
  }

  get needsReset(): boolean { return (this.status & STATUS.NEEDS_RESET) !== 0; }

  read(offset: number, size: AccessSize): number {
    if (offset >= REG.config) return this.readConfig(offset - REG.config, size);
    if (size !== 4 || offset % 4 !== 0) {
      this.guestError(`${size}-byte read at register ${hex(offset)}: virtio-mmio registers are 32-bit`);
      return 0;
    }
    const q = this.queues[this.queueSel];
    switch (offset) {
      case REG.magic: return VIRTIO_MMIO_MAGIC;
      case REG.version: return VIRTIO_MMIO_VERSION;
      case REG.deviceId: return this.backend.deviceId;
      case REG.vendorId: return VIRTIO_MMIO_VENDOR;
      case REG.deviceFeatures:
        return this.deviceFeaturesSel > 1 ? 0 : Number((this.offered >> BigInt(32 * this.deviceFeaturesSel)) & 0xffffffffn);
      case REG.queueNumMax: return q ? q.maxSize : 0;
      case REG.queueNum: return q ? q.size : 0;
      case REG.queueReady: return q?.ready ? 1 : 0;
      case REG.interruptStatus: return this.interruptStatus;
      case REG.status: return this.status;
      case REG.queueDescLow: return q ? q.descAddr >>> 0 : 0;
      case REG.queueDescHigh: return q ? Math.floor(q.descAddr / 2 ** 32) : 0;
      case REG.queueDriverLow: return q ? q.driverAddr >>> 0 : 0;
      case REG.queueDriverHigh: return q ? Math.floor(q.driverAddr / 2 ** 32) : 0;
      case REG.queueDeviceLow: return q ? q.deviceAddr >>> 0 : 0;
      case REG.queueDeviceHigh: return q ? Math.floor(q.deviceAddr / 2 ** 32) : 0;
      // No shared memory regions: a length of all-ones says "no such region".
      case REG.shmLenLow: case REG.shmLenHigh: case REG.shmBaseLow: case REG.shmBaseHigh: return 0xffffffff;
      case REG.configGeneration: return this.configGeneration;
      default:
        this.guestError(`read of write-only or reserved register ${hex(offset)}`);
        return 0;
    }
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (offset >= REG.config) {
      this.guestError(`write to configuration space offset ${hex(offset - REG.config)}: it is read-only`);
      return;
    }
    if (size !== 4 || offset % 4 !== 0) {
      this.guestError(`${size}-byte write at register ${hex(offset)}: virtio-mmio registers are 32-bit`);
      return;
    }
    const q = this.queues[this.queueSel];
    switch (offset) {
      case REG.deviceFeaturesSel: this.deviceFeaturesSel = value; return;
      case REG.driverFeaturesSel: this.driverFeaturesSel = value; return;
      case REG.driverFeatures: {
        if (this.status & STATUS.FEATURES_OK) { this.guestError('DriverFeatures written after FEATURES_OK'); return; }
        if (this.driverFeaturesSel > 1) return;
        const shift = BigInt(32 * this.driverFeaturesSel);
        this.driverFeatures = (this.driverFeatures & ~(0xffffffffn << shift)) | (BigInt(value >>> 0) << shift);
        return;
      }
      case REG.queueSel: this.queueSel = value; return;
      case REG.queueNum: if (this.queueWritable(q)) q!.size = value; return;
      case REG.queueDescLow: if (this.queueWritable(q)) q!.descAddr = setLow(q!.descAddr, value); return;
      case REG.queueDescHigh: if (this.queueWritable(q)) q!.descAddr = setHigh(q!.descAddr, value); return;
      case REG.queueDriverLow: if (this.queueWritable(q)) q!.driverAddr = setLow(q!.driverAddr, value); return;
      case REG.queueDriverHigh: if (this.queueWritable(q)) q!.driverAddr = setHigh(q!.driverAddr, value); return;
      case REG.queueDeviceLow: if (this.queueWritable(q)) q!.deviceAddr = setLow(q!.deviceAddr, value); return;
      case REG.queueDeviceHigh: if (this.queueWritable(q)) q!.deviceAddr = setHigh(q!.deviceAddr, value); return;
      case REG.queueReady: this.setQueueReady(q, value); return;
      case REG.queueNotify: this.notify(value); return;
      case REG.interruptAck:
        this.interruptStatus &= ~value;
        this.updateIrq();
        return;
      case REG.status: this.setStatus(value); return;
      case REG.shmSel: return;
      default:
        this.guestError(`write of ${hex(value)} to read-only or reserved register ${hex(offset)}`);
    }
  }

  /** Resets the device to its initial state (status 0). */
  reset(): void {
    this.status = 0;
    this.driverFeatures = 0n;
    this.deviceFeaturesSel = this.driverFeaturesSel = this.queueSel = 0;
    this.interruptStatus = 0;
    for (const q of this.queues) q.reset();
    this.backend.reset?.();
    this.updateIrq();
  }

  /** State lines for a devices view: status, features, each queue (size, ready, avail/used index). */
  describe(): [string, string][] {
    const flags = Object.entries(STATUS).filter(([, bit]) => (this.status & bit) !== 0).map(([name]) => name);
    const out: [string, string][] = [
      ['device id', String(this.backend.deviceId)],
      ['status', `${hex(this.status)}${flags.length ? ` (${flags.join(' ')})` : ''}`],
      ['features offered', '0x' + this.offered.toString(16)],
      ['features accepted', '0x' + this.driverFeatures.toString(16)],
      ['interrupt status', hex(this.interruptStatus)],
      ['IRQ line', this.irqLevel ? 'asserted' : 'low'],
    ];
    for (const q of this.queues) {
      if (!q.ready) { out.push([`queue ${q.index}`, `not ready (max size ${q.maxSize})`]); continue; }
      // The available index lives in guest RAM: read it only where the (validated) ring still is RAM.
      const avail = this.memory.contains(q.driverAddr, 4) ? String(this.memory.readU16(q.driverAddr + 2)) : '?';
      out.push([`queue ${q.index}`, `size ${q.size}/${q.maxSize}, ready, avail idx ${avail}, next avail ${q.lastAvail & 0xffff}, used idx ${q.usedIdx & 0xffff}`]);
    }
    if (this.errors) out.push(['guest errors', String(this.errors)]);
    return out;
  }

  private readConfig(offset: number, size: number): number {
    const c = this.backend.config;
    if (offset + size > c.length) {
      this.guestError(`${size}-byte read at configuration offset ${hex(offset)}, past its ${c.length} bytes`);
      return 0;
    }
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + c[offset + i];
    return v;
  }

  private queueWritable(q: Virtqueue | undefined): boolean {
    if (!q) { this.guestError(`queue ${this.queueSel} selected; the device has ${this.queues.length}`); return false; }
    if (q.ready) { this.guestError(`queue ${q.index} configured while ready`); return false; }
    return true;
  }

  private setQueueReady(q: Virtqueue | undefined, value: number): void {
    if (!q) { this.guestError(`QueueReady for queue ${this.queueSel}; the device has ${this.queues.length}`); return; }
    if (value === 0) { q.ready = false; return; }
    try {
      q.validate();
    } catch (e) {
      this.fail(e);
      return;
    }
    q.indirect = (this.driverFeatures & feature(VIRTIO_F_INDIRECT_DESC)) !== 0n;
    q.ready = true;
  }

  private setStatus(value: number): void {
    if (value === 0) { this.reset(); return; }
    let v = value & 0xff;
    // FEATURES_OK only for a subset of what we offer that includes VERSION_1 (legacy drivers are refused).
    if ((v & STATUS.FEATURES_OK) && !(this.status & STATUS.FEATURES_OK)) {
      const extra = this.driverFeatures & ~this.offered;
      if (extra !== 0n || !(this.driverFeatures & feature(VIRTIO_F_VERSION_1))) {
        this.guestError(extra !== 0n
          ? `the driver accepted features 0x${extra.toString(16)} the device does not offer`
          : 'the driver did not accept VIRTIO_F_VERSION_1 (legacy virtio is not supported)');
        v &= ~STATUS.FEATURES_OK;
      }
    }
    this.status = v | (this.status & STATUS.NEEDS_RESET);
  }

  private notify(index: number): void {
    const q = this.queues[index];
    if (!q) { this.guestError(`notify for queue ${index}; the device has ${this.queues.length}`); return; }
    // Only a driver that finished the handshake (features accepted, DRIVER_OK) is served.
    if ((this.status & (STATUS.DRIVER_OK | STATUS.FEATURES_OK)) !== (STATUS.DRIVER_OK | STATUS.FEATURES_OK) || this.needsReset || !q.ready) return;
    let used = false;
    try {
      used = this.backend.process(q, { features: this.driverFeatures, log: this.backendLog });
    } catch (e) {
      this.fail(e);
      return;
    }
    if (used && !q.interruptSuppressed()) {
      this.interruptStatus |= INT_USED_BUFFER;
      this.updateIrq();
    }
  }

  /** A guest fault in a ring: DEVICE_NEEDS_RESET, a configuration interrupt, a log line. Other errors are ours: rethrown. */
  private fail(e: unknown): void {
    if (!isGuestFault(e)) throw e;
    this.guestError(`${(e as Error).message}; the device needs a reset`);
    this.status |= STATUS.NEEDS_RESET;
    if (this.status & STATUS.DRIVER_OK) {
      this.interruptStatus |= INT_CONFIG_CHANGE;
      this.updateIrq();
    }
  }

  private updateIrq(): void {
    const level = this.interruptStatus !== 0;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq.set(level);
  }

  private guestError(message: string): void {
    this.errors++;
    if (this.errors <= MAX_LOGGED) {
      this.log.guestError(`${this.name}: ${message}${this.errors === MAX_LOGGED ? ' (further errors are not logged)' : ''}`);
    }
  }
}

function setLow(addr: number, value: number): number {
  return Math.floor(addr / 2 ** 32) * 2 ** 32 + (value >>> 0);
}

function setHigh(addr: number, value: number): number {
  // Above 2^53 no RAM exists: keep it exact enough to be refused by validate().
  return (value >>> 0) * 2 ** 32 + (addr >>> 0);
}
