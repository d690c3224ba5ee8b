/**
 * The PIO and MMIO buses: route a guest access to the device that owns the
 * address, with offset = address - base. Every address and size comes from
 * the guest (ARCHITECTURE rule 5): nothing here throws because of them, and
 * a device that throws is logged and survived, never a VMM crash.
 *
 * PIO is the hot path (a console boot is hundreds of thousands of exits), so
 * ports resolve through a 64K-entry table and an access allocates nothing.
 * MMIO ranges are few and sparse: sorted ranges and a binary search.
 */
import { AccessSize, Device, DeviceLog, nullLog } from './device';

export type AddressSpace = 'pio' | 'mmio';

/** One registration, as views show it. */
export interface BusMapping {
  readonly base: number;
  readonly length: number;
  readonly device: Device;
  /** Offset the device sees for `base` (see Bus.register). */
  readonly deviceOffset: number;
  readonly reads: number;
  readonly writes: number;
}

/** Accesses nobody answered, per port (PIO) or per 4 KiB page (MMIO). */
export interface UnhandledAccess {
  /** The port, or the page's first address; -1 collects invalid addresses and any beyond the first 4096 pages. */
  readonly address: number;
  readonly reads: number;
  readonly writes: number;
  /** Size of the latest access, in bytes. */
  readonly lastSize: number;
  /** 'unmapped': no device; 'straddle': the access ran past a device's range. */
  readonly reason: 'unmapped' | 'straddle';
}

/** A device that threw, and how often. */
export interface DeviceFault {
  readonly device: string;
  readonly count: number;
  readonly lastError: string;
}

interface Mapping {
  base: number;
  length: number;
  /** base - deviceOffset: the device's offset is address - delta. */
  delta: number;
  end: number;
  device: Device;
  deviceOffset: number;
  reads: number;
  writes: number;
}

interface Unhandled {
  address: number;
  reads: number;
  writes: number;
  lastSize: number;
  reason: 'unmapped' | 'straddle';
}

const PIO_PORTS = 0x10000;
const MMIO_PAGE = 4096;
/** A throwing device is logged this many times, then only counted. */
const FAULT_LOG_LIMIT = 10;
const TWO_32 = 0x1_0000_0000;
/** Distinct unhandled ports/pages remembered; beyond it (and for invalid addresses) all count under address -1. */
const MAX_UNHANDLED_KEYS = 4096;

function hex(n: number): string {
  return '0x' + n.toString(16);
}

function onesFor(size: number): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
}

function maskTo(value: number, size: number): number {
  return size === 4 ? value >>> 0 : size === 2 ? value & 0xffff : value & 0xff;
}

/** Little-endian integer of `size` (1/2/4) bytes at data[off]. */
function getLE(data: Uint8Array, off: number, size: number): number {
  if (size === 1) return data[off];
  if (size === 2) return data[off] | (data[off + 1] << 8);
  return (data[off] | (data[off + 1] << 8) | (data[off + 2] << 16) | (data[off + 3] << 24)) >>> 0;
}

function putLE(data: Uint8Array, off: number, size: number, v: number): void {
  data[off] = v;
  if (size === 1) return;
  data[off + 1] = v >>> 8;
  if (size === 2) return;
  data[off + 2] = v >>> 16;
  data[off + 3] = v >>> 24;
}

export class Bus {
  private readonly isPio: boolean;
  /** PIO: port -> index into `slots` + 1 (0 = nobody). */
  private readonly portMap: Uint16Array | null;
  /** PIO: registrations by slot; freed slots are undefined and reused. */
  private readonly slots: (Mapping | undefined)[] = [];
  /** MMIO: registrations sorted by base. */
  private ranges: Mapping[] = [];
  private readonly unhandled = new Map<number, Unhandled>();
  private readonly faults = new Map<Device, { count: number; lastError: string }>();

  constructor(readonly space: AddressSpace, private readonly log: DeviceLog = nullLog) {
    this.isPio = space === 'pio';
    this.portMap = this.isPio ? new Uint16Array(PIO_PORTS) : null;
  }

  /**
   * Gives `device` the addresses [base, base+length). The device sees
   * offset = address - base + deviceOffset, so one device can own disjoint
   * ranges (the i8042 at 0x60 and at 0x64 with deviceOffset 4). Throws on
   * overlap, naming both devices: that is a wiring bug, not a guest error.
   */
  register(base: number, length: number, device: Device, deviceOffset = 0): void {
    const limit = this.isPio ? PIO_PORTS : Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(length) || base < 0 || length <= 0 || base + length > limit) {
      throw new RangeError(`cannot register ${device.name}: ${this.space.toUpperCase()} range ${hex(base)}+${length} is not a valid range`);
    }
    if (!Number.isSafeInteger(deviceOffset) || deviceOffset < 0) {
      throw new RangeError(`cannot register ${device.name}: deviceOffset ${deviceOffset} must be a non-negative integer`);
    }
    const end = base + length;
    const clash = this.findOverlap(base, end);
    if (clash) {
      throw new Error(`cannot register ${device.name} at ${this.describe(base, end)}: ` +
        `it overlaps ${clash.device.name} at ${this.describe(clash.base, clash.end)}`);
    }
    const m: Mapping = { base, length, end, delta: base - deviceOffset, device, deviceOffset, reads: 0, writes: 0 };
    if (this.portMap) {
      let slot = this.slots.indexOf(undefined);
      if (slot < 0) slot = this.slots.length;
      if (slot >= 0xffff) throw new Error(`cannot register ${device.name}: too many PIO registrations`);
      this.slots[slot] = m;
      this.portMap.fill(slot + 1, base, end);
    } else {
      const ranges = [...this.ranges, m].sort((a, b) => a.base - b.base);
      this.ranges = ranges;
    }
  }

  /** Removes the registration starting at `base`; returns its device, if any. */
  unregister(base: number): Device | undefined {
    if (this.portMap) {
      if (!Number.isInteger(base) || base < 0 || base >= PIO_PORTS) return undefined;
      const slot = this.portMap[base] - 1;
      const m = slot >= 0 ? this.slots[slot] : undefined;
      if (!m || m.base !== base) return undefined;
      this.portMap.fill(0, m.base, m.end);
      this.slots[slot] = undefined;
      return m.device;
    }
    const i = this.ranges.findIndex((r) => r.base === base);
    if (i < 0) return undefined;
    const [m] = this.ranges.splice(i, 1);
    return m.device;
  }

  /** The device at `address`, if any (for views and the debugger). */
  deviceAt(address: number): Device | undefined {
    return this.lookup(address)?.device;
  }

  /**
   * A guest read of `size` bytes. Unanswered reads give all-ones, as an
   * open bus does. On MMIO an 8-byte read is two 4-byte device reads and
   * the result is exact only below 2^53: use accessBuffer for exact data.
   */
  read(address: number, size: number): number {
    if (this.portMap) {
      if (address >= 0 && address < PIO_PORTS && (address | 0) === address && (size === 1 || size === 2 || size === 4)) {
        const slot = this.portMap[address];
        if (slot !== 0) {
          const m = this.slots[slot - 1]!;
          if (address + size <= m.end) {
            m.reads++;
            return this.callRead(m, address - m.delta, size);
          }
          return this.miss(address, size, false, 'straddle', m);
        }
      }
      return this.miss(address, size, false, 'unmapped', undefined);
    }
    if (size === 8) {
      const lo = this.mmioRead(address, 4, 8);
      if (lo < 0) return 2 ** 64 - 1;
      return lo + this.mmioRead(address + 4, 4, 4) * TWO_32;
    }
    const v = this.mmioRead(address, size, size);
    return v < 0 ? onesFor(size) : v;
  }

  /** A guest write of `size` bytes (MMIO: 8 = two 4-byte writes, low first). */
  write(address: number, size: number, value: number): void {
    if (this.portMap) {
      if (address >= 0 && address < PIO_PORTS && (address | 0) === address && (size === 1 || size === 2 || size === 4)) {
        const slot = this.portMap[address];
        if (slot !== 0) {
          const m = this.slots[slot - 1]!;
          if (address + size <= m.end) {
            m.writes++;
            this.callWrite(m, address - m.delta, size, maskTo(value, size));
            return;
          }
          this.miss(address, size, true, 'straddle', m);
          return;
        }
      }
      this.miss(address, size, true, 'unmapped', undefined);
      return;
    }
    if (size === 8) {
      const lo = value % TWO_32;
      if (this.mmioWrite(address, 4, 8, lo)) this.mmioWrite(address + 4, 4, 4, Math.floor(value / TWO_32));
      return;
    }
    this.mmioWrite(address, size, size, value);
  }

  /**
   * Performs a VM exit's access on its data buffer (little-endian): a read
   * fills `data`, a write takes its value from it. `count` > 1 is string
   * I/O (rep ins/outs): `count` accesses to the same address, `size` bytes
   * each, packed in `data`. MMIO sizes 1/2/4/8 are exact here.
   */
  accessBuffer(address: number, size: number, isWrite: boolean, data: Uint8Array, count = 1): void {
    if (size === 8 && !this.isPio) {
      if (data.length < 8) return;
      if (isWrite) {
        if (this.mmioWrite(address, 4, 8, getLE(data, 0, 4))) this.mmioWrite(address + 4, 4, 4, getLE(data, 4, 4));
      } else {
        const lo = this.mmioRead(address, 4, 8);
        putLE(data, 0, 4, lo < 0 ? 0xffffffff : lo);
        putLE(data, 4, 4, lo < 0 ? 0xffffffff : this.mmioRead(address + 4, 4, 4));
      }
      return;
    }
    if (size !== 1 && size !== 2 && size !== 4) {
      this.miss(address, size, isWrite, 'unmapped', undefined);
      if (!isWrite) data.fill(0xff);
      return;
    }
    const n = Math.min(count, Math.floor(data.length / size));
    for (let i = 0, off = 0; i < n; i++, off += size) {
      if (isWrite) this.write(address, size, getLE(data, off, size));
      else putLE(data, off, size, this.read(address, size));
    }
  }

  /** A read of data.length (1/2/4, MMIO also 8) bytes into `data`, little-endian, exact. */
  readBytes(address: number, data: Uint8Array): void {
    this.accessBuffer(address, data.length, false, data);
  }

  /** A write of data.length (1/2/4, MMIO also 8) bytes taken from `data`, little-endian, exact. */
  writeBytes(address: number, data: Uint8Array): void {
    this.accessBuffer(address, data.length, true, data);
  }

  /** Every registration, in address order, with access counts. */
  mappings(): BusMapping[] {
    const list = this.portMap ? this.slots.filter((m): m is Mapping => m !== undefined) : this.ranges;
    return list
      .map((m) => ({ base: m.base, length: m.length, device: m.device, deviceOffset: m.deviceOffset, reads: m.reads, writes: m.writes }))
      .sort((a, b) => a.base - b.base);
  }

  /** Unanswered accesses so far, by address. */
  unhandledAccesses(): UnhandledAccess[] {
    return [...this.unhandled.values()].map((u) => ({ ...u })).sort((a, b) => a.address - b.address);
  }

  /** Devices that threw on an access, with counts. */
  deviceFaults(): DeviceFault[] {
    return [...this.faults].map(([d, f]) => ({ device: d.name, count: f.count, lastError: f.lastError }));
  }

  private describe(base: number, end: number): string {
    return `${this.space.toUpperCase()} ${hex(base)}-${hex(end - 1)}`;
  }

  private findOverlap(base: number, end: number): Mapping | undefined {
    if (this.portMap) {
      for (let p = base; p < end; p++) {
        if (this.portMap[p] !== 0) return this.slots[this.portMap[p] - 1];
      }
      return undefined;
    }
    return this.ranges.find((r) => r.base < end && base < r.end);
  }

  private lookup(address: number): Mapping | undefined {
    if (!Number.isSafeInteger(address) || address < 0) return undefined;
    if (this.portMap) {
      return address < PIO_PORTS && this.portMap[address] !== 0 ? this.slots[this.portMap[address] - 1] : undefined;
    }
    const r = this.ranges;
    let lo = 0;
    let hi = r.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = r[mid];
      if (address < m.base) hi = mid - 1;
      else if (address >= m.end) lo = mid + 1;
      else return m;
    }
    return undefined;
  }

  /** One MMIO read of `size` (1/2/4); `span` is the whole guest access, checked against the range. Returns -1 if unanswered. */
  private mmioRead(address: number, size: number, span: number): number {
    const m = this.lookup(address);
    if (!m || (size !== 1 && size !== 2 && size !== 4)) {
      this.miss(address, span, false, 'unmapped', undefined);
      return -1;
    }
    if (address + span > m.end) {
      this.miss(address, span, false, 'straddle', m);
      return -1;
    }
    m.reads++;
    return this.callRead(m, address - m.delta, size);
  }

  /** One MMIO write; false if nobody took it (so the high half of an 8-byte write is skipped). */
  private mmioWrite(address: number, size: number, span: number, value: number): boolean {
    const m = this.lookup(address);
    if (!m || (size !== 1 && size !== 2 && size !== 4)) {
      this.miss(address, span, true, 'unmapped', undefined);
      return false;
    }
    if (address + span > m.end) {
      this.miss(address, span, true, 'straddle', m);
      return false;
    }
    m.writes++;
    this.callWrite(m, address - m.delta, size, maskTo(value, size));
    return true;
  }

  private callRead(m: Mapping, offset: number, size: AccessSize): number {
    try {
      return maskTo(m.device.read(offset, size), size);
    } catch (e) {
      this.fault(m, `read of ${size} byte(s) at offset ${hex(offset)}`, e);
      return onesFor(size);
    }
  }

  private callWrite(m: Mapping, offset: number, size: AccessSize, value: number): void {
    try {
      m.device.write(offset, size, value);
    } catch (e) {
      this.fault(m, `write of ${hex(value)} (${size} byte(s)) at offset ${hex(offset)}`, e);
    }
  }

  private fault(m: Mapping, what: string, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    let f = this.faults.get(m.device);
    if (!f) this.faults.set(m.device, (f = { count: 0, lastError: message }));
    f.count++;
    f.lastError = message;
    if (f.count <= FAULT_LOG_LIMIT) {
      const more = f.count === FAULT_LOG_LIMIT ? ' (further errors from this device are counted, not logged)' : '';
      this.log.guestError(`${m.device.name} failed on a ${this.space.toUpperCase()} ${what}: ${message}${more}`);
    }
  }

  /** Counts an unanswered access, logging the first per port or page. Returns the all-ones read value. */
  private miss(address: number, size: number, isWrite: boolean, reason: 'unmapped' | 'straddle', m: Mapping | undefined): number {
    const valid = Number.isSafeInteger(address) && address >= 0 && (!this.isPio || address < PIO_PORTS);
    let key = !valid ? -1 : this.isPio ? address : address - (address % MMIO_PAGE);
    // A guest sweeping MMIO must not grow this map without bound.
    if (key >= 0 && this.unhandled.size >= MAX_UNHANDLED_KEYS && !this.unhandled.has(key)) key = -1;
    let u = this.unhandled.get(key);
    if (!u) {
      this.unhandled.set(key, (u = { address: key, reads: 0, writes: 0, lastSize: size, reason }));
      const space = this.space.toUpperCase();
      const access = `${space} ${isWrite ? 'write' : 'read'} of ${size} byte(s) at ${valid ? hex(address) : String(address)}`;
      const later = key < 0 ? 'invalid or further unlisted addresses' : this.isPio ? 'this port' : 'this page';
      if (reason === 'straddle' && m) {
        this.log.guestError(`${access} runs past the end of ${m.device.name} (${this.describe(m.base, m.end)}); ignored, and further ones at ${later} are counted, not logged`);
      } else if (!valid || ![1, 2, 4, 8].includes(size)) {
        this.log.guestError(`${access} is not a valid access; ignored`);
      } else {
        this.log.info(`unhandled ${access}${isWrite ? ' ignored' : ` reads ${hex(onesFor(size))}`}; further accesses to ${later} are counted, not logged`);
      }
    }
    if (isWrite) u.writes++;
    else u.reads++;
    u.lastSize = size;
    return onesFor(size);
  }
}

/**
 * A port that legacy code writes for its side effect on old hardware (0x80
 * POST codes and I/O delay, 0xED): answered quietly so that it is not
 * reported as unhandled. Keeps the last value written (the POST code).
 */
export class NoopDevice implements Device {
  lastValue = 0;

  /** `readValue` is what reads return (masked to the access size); all-ones by default, like an open bus. */
  constructor(readonly name: string, private readonly readValue = 0xffffffff) {}

  read(): number {
    return this.readValue;
  }

  write(_offset: number, _size: AccessSize, value: number): void {
    this.lastValue = value;
  }
}
