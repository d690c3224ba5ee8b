/**
 * Guest physical memory: RAM regions carved out of one SharedArrayBuffer
 * (ARCHITECTURE rule 1), so every thread sees the same bytes KVM sees.
 * Every access is bounds-checked against the regions: an address the guest
 * (or a loader) gives that is not RAM throws GuestMemoryError, never touches
 * anything else.
 */

export class GuestMemoryError extends RangeError {
  constructor(readonly address: number, readonly length: number, what = 'access') {
    super(`guest physical ${what} of ${length} byte(s) at 0x${address.toString(16)} is outside guest RAM`);
    this.name = 'GuestMemoryError';
  }
}

/** One contiguous piece of guest RAM: guest physical range -> buffer offset. */
export interface RamRegion {
  readonly guestPhys: number;
  readonly size: number;
  /** Byte offset of the region inside the shared buffer. */
  readonly offset: number;
}

export const PAGE_SIZE = 4096;
/** Start of the PC's 32-bit MMIO hole (PCI, IOAPIC, LAPIC live above it). */
export const MMIO_HOLE_START = 0xc000_0000;
export const FOUR_GIB = 0x1_0000_0000;

/**
 * The PC memory map for `ramBytes` of RAM: low RAM up to the 3 GiB hole,
 * the rest above 4 GiB. `baseOffset` is where the first (page-aligned)
 * region starts inside the buffer.
 */
export function pcRamRegions(ramBytes: number, baseOffset = 0): RamRegion[] {
  if (!Number.isSafeInteger(ramBytes) || ramBytes <= 0 || ramBytes % PAGE_SIZE !== 0) {
    throw new RangeError(`guest RAM size must be a positive multiple of 4 KiB, got ${ramBytes}`);
  }
  const low = Math.min(ramBytes, MMIO_HOLE_START);
  const regions: RamRegion[] = [{ guestPhys: 0, size: low, offset: baseOffset }];
  if (ramBytes > low) regions.push({ guestPhys: FOUR_GIB, size: ramBytes - low, offset: baseOffset + low });
  return regions;
}

/** Bytes to allocate so that `ramBytes` fit after aligning the start to a page. */
export function sharedBufferSizeFor(ramBytes: number): number {
  return ramBytes + PAGE_SIZE;
}

export class GuestMemory {
  readonly regions: readonly RamRegion[];
  readonly ramBytes: number;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(readonly buffer: SharedArrayBuffer, regions: readonly RamRegion[]) {
    for (const r of regions) {
      if (r.offset < 0 || r.offset + r.size > buffer.byteLength) {
        throw new RangeError(`RAM region at 0x${r.guestPhys.toString(16)} does not fit in its buffer`);
      }
    }
    this.regions = [...regions].sort((a, b) => a.guestPhys - b.guestPhys);
    this.ramBytes = regions.reduce((n, r) => n + r.size, 0);
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
  }

  /** A fresh, zeroed PC memory of `ramBytes` (no native help: offset 0). */
  static allocate(ramBytes: number): GuestMemory {
    const buffer = new SharedArrayBuffer(sharedBufferSizeFor(ramBytes));
    return new GuestMemory(buffer, pcRamRegions(ramBytes));
  }

  /** True when [gpa, gpa+length) lies inside one RAM region. */
  contains(gpa: number, length = 1): boolean {
    return this.regionOffset(gpa, length) >= 0;
  }

  /** Highest guest physical address + 1 that is RAM. */
  get topOfRam(): number {
    const last = this.regions[this.regions.length - 1];
    return last.guestPhys + last.size;
  }

  /** Buffer offset of gpa, or -1 if [gpa, gpa+length) is not inside one region. */
  private regionOffset(gpa: number, length: number): number {
    if (!Number.isSafeInteger(gpa) || !Number.isSafeInteger(length) || gpa < 0 || length < 0) return -1;
    for (const r of this.regions) {
      if (gpa >= r.guestPhys && gpa + length <= r.guestPhys + r.size) return r.offset + (gpa - r.guestPhys);
    }
    return -1;
  }

  private at(gpa: number, length: number, what: string): number {
    const off = this.regionOffset(gpa, length);
    if (off < 0) throw new GuestMemoryError(gpa, length, what);
    return off;
  }

  readU8(gpa: number): number { return this.bytes[this.at(gpa, 1, 'read')]; }
  readU16(gpa: number): number { return this.view.getUint16(this.at(gpa, 2, 'read'), true); }
  readU32(gpa: number): number { return this.view.getUint32(this.at(gpa, 4, 'read'), true); }
  readU64(gpa: number): bigint { return this.view.getBigUint64(this.at(gpa, 8, 'read'), true); }

  writeU8(gpa: number, v: number): void { this.bytes[this.at(gpa, 1, 'write')] = v; }
  writeU16(gpa: number, v: number): void { this.view.setUint16(this.at(gpa, 2, 'write'), v, true); }
  writeU32(gpa: number, v: number): void { this.view.setUint32(this.at(gpa, 4, 'write'), v >>> 0, true); }
  writeU64(gpa: number, v: bigint | number): void {
    this.view.setBigUint64(this.at(gpa, 8, 'write'), BigInt.asUintN(64, BigInt(v)), true);
  }

  /** A copy of `length` bytes at gpa. */
  read(gpa: number, length: number): Uint8Array {
    const off = this.at(gpa, length, 'read');
    return this.bytes.slice(off, off + length);
  }

  /** A live view (no copy) of `length` bytes at gpa; valid while the VM lives. */
  view8(gpa: number, length: number): Uint8Array {
    const off = this.at(gpa, length, 'access');
    return this.bytes.subarray(off, off + length);
  }

  write(gpa: number, data: Uint8Array): void {
    const off = this.at(gpa, data.length, 'write');
    this.bytes.set(data, off);
  }

  fill(gpa: number, length: number, value = 0): void {
    const off = this.at(gpa, length, 'write');
    this.bytes.fill(value, off, off + length);
  }

  /** A NUL-terminated string at gpa, at most maxLength bytes (the guest may omit the NUL). */
  readCString(gpa: number, maxLength = 4096): string {
    let n = 0;
    while (n < maxLength && this.contains(gpa + n) && this.readU8(gpa + n) !== 0) n++;
    return Buffer.from(this.read(gpa, n)).toString('latin1');
  }

  /** Writes s and a terminating NUL; returns the bytes written. */
  writeCString(gpa: number, s: string): number {
    const data = Buffer.from(s + '\0', 'utf8');
    this.write(gpa, data);
    return data.length;
  }
}
