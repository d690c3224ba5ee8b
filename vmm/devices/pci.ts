/**
 * PCI configuration mechanism #1 (PCI Local Bus spec 3.0, 3.2.2.3.2): the
 * guest writes an address to CONFIG_ADDRESS (0xCF8, 32-bit) and accesses
 * the selected dword through CONFIG_DATA (0xCFC-0xCFF). A PciBus holds the
 * functions of bus 0; 00:00.0 is a host bridge with the IDs of QEMU q35's
 * MCH, so Linux recognizes a sane PCI setup. Every field the guest gives
 * is bounded by construction (masks), and absent functions read all-ones.
 *
 * Also the ICH's Reset Control register at 0xCF9 (byte access), since the
 * range is ours anyway and `reboot=pci` guests use it.
 *
 * Wiring: pio.register(PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_PORT_COUNT, new PciConfigIo(pciBus, ...)).
 */
import { AccessSize, Device, DeviceLog, MachineControl, nullLog } from '../bus/device';

export const PCI_CONFIG_ADDRESS_PORT = 0xcf8;
export const PCI_CONFIG_DATA_PORT = 0xcfc;
/** 0xCF8-0xCFF. */
export const PCI_CONFIG_PORT_COUNT = 8;
export const PCI_RST_CNT_PORT = 0xcf9;

export const PCI_CONFIG_ENABLE = 0x8000_0000;
/** Bits of CONFIG_ADDRESS that hold state: enable, bus, device, function, register (dword). */
const PCI_CONFIG_ADDRESS_MASK = 0x80ff_fffc;

export const PCI_CONFIG_SPACE_SIZE = 256;
export const PCI_DEVICES_PER_BUS = 32;
export const PCI_FUNCTIONS_PER_DEVICE = 8;

// Configuration header offsets (type 0).
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_CLASS_DEVICE = 0x0a;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;

export const PCI_COMMAND_IO = 0x0001;
export const PCI_COMMAND_MEMORY = 0x0002;
export const PCI_COMMAND_MASTER = 0x0004;
export const PCI_COMMAND_PARITY = 0x0040;
export const PCI_COMMAND_SERR = 0x0100;
export const PCI_HEADER_TYPE_NORMAL = 0x00;

// ICH9 Reset Control register (RST_CNT) bits.
export const PCI_RST_CNT_SYS_RST = 0x02;
export const PCI_RST_CNT_RST_CPU = 0x04;
export const PCI_RST_CNT_FULL_RST = 0x08;

export const PCI_VENDOR_ID_INTEL = 0x8086;
/** Q35's MCH (82G33/G31/P35 DRAM controller), as QEMU presents it. */
export const PCI_DEVICE_ID_INTEL_Q35_MCH = 0x29c0;
export const PCI_CLASS_BRIDGE_HOST = 0x060000;

/**
 * One PCI function's configuration space, as virtio-pci and the host bridge
 * implement it. Accesses are `size` bytes at `offset`, offset + size <= 256
 * (not necessarily aligned: a 2-byte access at 0xCFD is offset reg+1).
 */
export interface PciFunction {
  readonly name: string;
  readConfig(offset: number, size: AccessSize): number;
  writeConfig(offset: number, size: AccessSize, value: number): void;
}

/**
 * 256 bytes of configuration space with per-bit write and write-1-to-clear
 * masks: the usual way to build a PciFunction.
 */
export class PciConfigSpace {
  readonly bytes = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** Bits the guest may change; everything else is read-only. */
  readonly writable = new Uint8Array(PCI_CONFIG_SPACE_SIZE);
  /** Bits a guest write of 1 clears (status registers). */
  readonly clearable = new Uint8Array(PCI_CONFIG_SPACE_SIZE);

  read(offset: number, size: number): number {
    let v = 0;
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      v |= (at < PCI_CONFIG_SPACE_SIZE ? this.bytes[at] : 0xff) << (8 * i);
    }
    return v >>> 0;
  }

  write(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      if (at >= PCI_CONFIG_SPACE_SIZE) return;
      const b = (value >>> (8 * i)) & 0xff;
      const w = this.writable[at];
      this.bytes[at] = ((this.bytes[at] & ~w) | (b & w)) & ~(b & this.clearable[at]);
    }
  }

  /** Sets `size` bytes at `offset` regardless of the masks (device setup). */
  set(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) this.bytes[offset + i] = (value >>> (8 * i)) & 0xff;
  }

  /** Makes the bits of `mask` (size bytes at offset) guest-writable. */
  allowWrite(offset: number, size: number, mask: number): void {
    for (let i = 0; i < size; i++) this.writable[offset + i] |= (mask >>> (8 * i)) & 0xff;
  }
}

/** A function's type 0 header as [label, value] lines for a devices view (config reads have no side effects). */
export function describePciConfig(f: Pick<PciFunction, 'readConfig'>): [string, string][] {
  const h = (v: number, digits: number) => '0x' + (v >>> 0).toString(16).padStart(digits, '0');
  const rd = (off: number, size: AccessSize) => f.readConfig(off, size);
  return [
    ['vendor:device', `${h(rd(PCI_VENDOR_ID, 2), 4)}:${h(rd(PCI_DEVICE_ID, 2), 4)}`],
    ['command', h(rd(PCI_COMMAND, 2), 4)],
    ['status', h(rd(PCI_STATUS, 2), 4)],
    ['revision', h(rd(PCI_REVISION_ID, 1), 2)],
    ['class', h((rd(PCI_CLASS_DEVICE, 2) << 8) | rd(PCI_CLASS_PROG, 1), 6)],
    ['header type', h(rd(PCI_HEADER_TYPE, 1), 2)],
    ['subsystem', `${h(rd(PCI_SUBSYSTEM_VENDOR_ID, 2), 4)}:${h(rd(PCI_SUBSYSTEM_ID, 2), 4)}`],
  ];
}

/** The host bridge at 00:00.0: identification only, no BARs, no capabilities. */
export class PciHostBridge implements PciFunction {
  readonly config = new PciConfigSpace();

  constructor(readonly name = 'host-bridge') {
    const c = this.config;
    c.set(PCI_VENDOR_ID, 2, PCI_VENDOR_ID_INTEL);
    c.set(PCI_DEVICE_ID, 2, PCI_DEVICE_ID_INTEL_Q35_MCH);
    // Memory and bus master are hardwired on (the MCH's PCICMD); only error reporting is the guest's to choose.
    c.set(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    c.allowWrite(PCI_COMMAND, 2, PCI_COMMAND_PARITY | PCI_COMMAND_SERR);
    c.set(PCI_REVISION_ID, 1, 0);
    c.set(PCI_CLASS_PROG, 3, PCI_CLASS_BRIDGE_HOST);
    c.set(PCI_HEADER_TYPE, 1, PCI_HEADER_TYPE_NORMAL);
  }

  readConfig(offset: number, size: AccessSize): number {
    return this.config.read(offset, size);
  }

  writeConfig(offset: number, size: AccessSize, value: number): void {
    this.config.write(offset, size, value);
  }
  describe(): [string, string][] {
    return describePciConfig(this);
  }
}

/** Bus 0's functions, by device (0-31) and function (0-7). Other bus numbers are empty. */
export class PciBus {
  private readonly fns: (PciFunction | undefined)[] = new Array(PCI_DEVICES_PER_BUS * PCI_FUNCTIONS_PER_DEVICE);

  register(device: number, fn: number, f: PciFunction): void {
    const i = PciBus.slot(device, fn);
    if (i < 0) throw new RangeError(`cannot put ${f.name} at PCI 00:${device}.${fn}: device must be 0-31 and function 0-7`);
    const old = this.fns[i];
    if (old) throw new Error(`cannot put ${f.name} at PCI ${PciBus.bdf(device, fn)}: ${old.name} is already there`);
    this.fns[i] = f;
  }

  unregister(device: number, fn: number): PciFunction | undefined {
    const i = PciBus.slot(device, fn);
    if (i < 0) return undefined;
    const f = this.fns[i];
    this.fns[i] = undefined;
    return f;
  }

  functionAt(bus: number, device: number, fn: number): PciFunction | undefined {
    const i = bus === 0 ? PciBus.slot(device, fn) : -1;
    return i < 0 ? undefined : this.fns[i];
  }

  /** Present functions with their addresses ("00:00.0"), for views. */
  functions(): { address: string; device: number; fn: number; function: PciFunction }[] {
    const out: { address: string; device: number; fn: number; function: PciFunction }[] = [];
    for (let i = 0; i < this.fns.length; i++) {
      const f = this.fns[i];
      if (f) out.push({ address: PciBus.bdf(i >> 3, i & 7), device: i >> 3, fn: i & 7, function: f });
    }
    return out;
  }

  /** `size` bytes at `offset` of a function's config space; all-ones where nothing answers. */
  readConfig(bus: number, device: number, fn: number, offset: number, size: AccessSize): number {
    const f = this.functionAt(bus, device, fn);
    if (!f || !PciBus.inSpace(offset, size)) return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    return f.readConfig(offset, size);
  }

  writeConfig(bus: number, device: number, fn: number, offset: number, size: AccessSize, value: number): void {
    const f = this.functionAt(bus, device, fn);
    if (f && PciBus.inSpace(offset, size)) f.writeConfig(offset, size, value);
  }

  private static inSpace(offset: number, size: number): boolean {
    return Number.isInteger(offset) && offset >= 0 && offset + size <= PCI_CONFIG_SPACE_SIZE;
  }

  private static slot(device: number, fn: number): number {
    if (!Number.isInteger(device) || !Number.isInteger(fn) || device < 0 || device >= PCI_DEVICES_PER_BUS ||
      fn < 0 || fn >= PCI_FUNCTIONS_PER_DEVICE) return -1;
    return device * PCI_FUNCTIONS_PER_DEVICE + fn;
  }

  private static bdf(device: number, fn: number): string {
    return `00:${device.toString(16).padStart(2, '0')}.${fn}`;
  }
}

export interface PciConfigIoOptions {
  /** For the reset control register at 0xCF9; without it, resets are logged and ignored. */
  control?: MachineControl;
  log?: DeviceLog;
  name?: string;
}

/** The I/O ports 0xCF8-0xCFF: CONFIG_ADDRESS, RST_CNT and CONFIG_DATA. */
export class PciConfigIo implements Device {
  readonly name: string;
  private readonly control?: MachineControl;
  private readonly log: DeviceLog;
  private address = 0;
  private rstCnt = 0;

  constructor(readonly pci: PciBus, options: PciConfigIoOptions = {}) {
    this.name = options.name ?? 'pci-config@0xcf8';
    this.control = options.control;
    this.log = options.log ?? nullLog;
  }

  read(offset: number, size: AccessSize): number {
    if (offset >= 4) {
      const a = this.address;
      if (!(a & PCI_CONFIG_ENABLE)) return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
      return this.pci.readConfig((a >>> 16) & 0xff, (a >>> 11) & 0x1f, (a >>> 8) & 0x07, (a & 0xfc) + offset - 4, size);
    }
    if (offset === 0 && size === 4) return this.address;
    if (offset === 1 && size === 1) return this.rstCnt;
    // Other narrow accesses to 0xCF8-0xCFB do not reach CONFIG_ADDRESS (mechanism #1 decodes only dwords).
    return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (offset >= 4) {
      const a = this.address;
      if (!(a & PCI_CONFIG_ENABLE)) return;
      this.pci.writeConfig((a >>> 16) & 0xff, (a >>> 11) & 0x1f, (a >>> 8) & 0x07, (a & 0xfc) + offset - 4, size, value);
    } else if (offset === 0 && size === 4) {
      this.address = (value & PCI_CONFIG_ADDRESS_MASK) >>> 0;
    } else if (offset === 1 && size === 1) {
      this.writeRstCnt(value & 0xff);
    }
  }

  private writeRstCnt(v: number): void {
    this.rstCnt = v & (PCI_RST_CNT_SYS_RST | PCI_RST_CNT_FULL_RST);
    if (!(v & PCI_RST_CNT_RST_CPU)) return;
    const reason = `guest wrote 0x${v.toString(16)} to the reset control register (0xcf9)`;
    if (this.control) this.control.reset(reason);
    else this.log.guestError(`${this.name}: ${reason}, but no machine is attached to reset; ignored`);
  }
}
