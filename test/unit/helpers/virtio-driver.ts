// A tiny virtio-mmio driver for unit tests: brings a VirtioMmioDevice up the
// way Linux does (status handshake, features, one queue at fixed addresses in
// a GuestMemory) and lets tests place descriptors and available entries by
// hand, good or hostile.
import { GuestMemory } from '../../../vmm/memory/guest-memory';
import { REG, STATUS, VirtioMmioDevice, type VirtioBackend } from '../../../vmm/virtio/mmio-transport';
import type { DeviceLog, IrqLine } from '../../../vmm/bus/device';

export const DESC = 0x10000;
export const AVAIL = 0x20000;
export const USED = 0x30000;
export const DATA = 0x40000;

export class TestLog implements DeviceLog {
  errors: string[] = [];
  infos: string[] = [];
  guestError(m: string) { this.errors.push(m); }
  info(m: string) { this.infos.push(m); }
}

export class TestIrq implements IrqLine {
  level = false;
  edges = 0;
  set(level: boolean) { if (level !== this.level) this.edges++; this.level = level; }
}

export interface Desc { addr: number | bigint; len: number; flags?: number; next?: number }

export class TestDriver {
  readonly memory = GuestMemory.allocate(16 * 1024 * 1024);
  readonly log = new TestLog();
  readonly irq = new TestIrq();
  readonly dev: VirtioMmioDevice;
  avail = 0;

  constructor(backend: (m: GuestMemory) => VirtioBackend, readonly queueSize = 8) {
    this.dev = new VirtioMmioDevice({ name: 'virtio-test', backend: backend(this.memory), memory: this.memory, irq: this.irq, log: this.log });
  }

  r(off: number): number { return this.dev.read(off, 4); }
  w(off: number, v: number): void { this.dev.write(off, 4, v); }

  /** Status handshake and one queue (0 unless said) set up; `features` as the driver accepts them. */
  bringUp(features: bigint, queue = 0): void {
    this.w(REG.status, 0);
    this.w(REG.status, STATUS.ACKNOWLEDGE);
    this.w(REG.status, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    this.w(REG.driverFeaturesSel, 0);
    this.w(REG.driverFeatures, Number(features & 0xffffffffn));
    this.w(REG.driverFeaturesSel, 1);
    this.w(REG.driverFeatures, Number(features >> 32n));
    this.w(REG.status, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
    this.w(REG.queueSel, queue);
    this.w(REG.queueNum, this.queueSize);
    this.w(REG.queueDescLow, DESC);
    this.w(REG.queueDriverLow, AVAIL);
    this.w(REG.queueDeviceLow, USED);
    this.w(REG.queueReady, 1);
    this.w(REG.status, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK);
  }

  /** Writes descriptor `i` of the table at `table`. */
  desc(i: number, d: Desc, table = DESC): void {
    const at = table + 16 * i;
    this.memory.writeU64(at, BigInt(d.addr));
    this.memory.writeU32(at + 8, d.len);
    this.memory.writeU16(at + 12, d.flags ?? 0);
    this.memory.writeU16(at + 14, d.next ?? 0);
  }

  /** Makes `head` available and notifies its queue (0 unless said: the rings are the one bringUp set up). */
  offer(head: number, notify = true, queue = 0): void {
    this.memory.writeU16(AVAIL + 4 + 2 * (this.avail % this.queueSize), head);
    this.avail = (this.avail + 1) & 0xffff;
    this.memory.writeU16(AVAIL + 2, this.avail);
    if (notify) this.w(REG.queueNotify, queue);
  }

  usedIdx(): number { return this.memory.readU16(USED + 2); }
  used(n: number): { id: number; len: number } {
    const at = USED + 4 + 8 * (n % this.queueSize);
    return { id: this.memory.readU32(at), len: this.memory.readU32(at + 4) };
  }
}
