/**
 * The CMOS RTC (Motorola MC146818A) at 0x70 (index) / 0x71 (data): 128
 * bytes of CMOS, of which 0-0x0d are the clock. The time is the host clock
 * plus an offset the guest sets by writing the time registers (hwclock
 * --systohc); while register B's SET bit is on, the time is frozen for the
 * guest to write. Also the memory size bytes firmware leaves for the OS
 * (the same ones QEMU writes).
 *
 * No RTC interrupt (IRQ 8): periodic, alarm and update interrupts are not
 * modelled, so register C reads 0.
 */
import { AccessSize, Device, DeviceLog, nullLog } from '../bus/device';
import { MMIO_HOLE_START } from '../memory/guest-memory';

export const RTC_INDEX_PORT = 0x70;
export const RTC_DATA_PORT = 0x71;
export const RTC_PORT_COUNT = 2;
/** Bit 7 of the index port masks NMIs on a PC; it is not part of the index. */
export const RTC_NMI_DISABLE = 0x80;

export const RTC_SECONDS = 0x00;
export const RTC_SECONDS_ALARM = 0x01;
export const RTC_MINUTES = 0x02;
export const RTC_MINUTES_ALARM = 0x03;
export const RTC_HOURS = 0x04;
export const RTC_HOURS_ALARM = 0x05;
export const RTC_DAY_OF_WEEK = 0x06;
export const RTC_DAY_OF_MONTH = 0x07;
export const RTC_MONTH = 0x08;
export const RTC_YEAR = 0x09;
export const RTC_REG_A = 0x0a;
export const RTC_REG_B = 0x0b;
export const RTC_REG_C = 0x0c;
export const RTC_REG_D = 0x0d;
export const RTC_CENTURY = 0x32;

export const RTC_REG_A_UIP = 0x80;
/** DV = 010: 32.768 kHz time base, oscillator running; RS = 0110: 1024 Hz. */
export const RTC_REG_A_DEFAULT = 0x26;
export const RTC_REG_B_SET = 0x80;
export const RTC_REG_B_PIE = 0x40;
export const RTC_REG_B_AIE = 0x20;
export const RTC_REG_B_UIE = 0x10;
export const RTC_REG_B_SQWE = 0x08;
export const RTC_REG_B_DM_BINARY = 0x04;
export const RTC_REG_B_24H = 0x02;
export const RTC_REG_B_DSE = 0x01;
export const RTC_REG_D_VRT = 0x80;
/** Hours register in 12-hour mode: bit 7 = PM. */
export const RTC_HOURS_PM = 0x80;

// Memory size bytes.
export const CMOS_BASE_MEM_LO = 0x15;   // KiB below 1 MiB (640)
export const CMOS_BASE_MEM_HI = 0x16;
export const CMOS_EXT_MEM_LO = 0x17;    // KiB above 1 MiB, at most 65535
export const CMOS_EXT_MEM_HI = 0x18;
export const CMOS_EXT_MEM2_LO = 0x30;   // same value, as POST reports it
export const CMOS_EXT_MEM2_HI = 0x31;
export const CMOS_MEM_16M_LO = 0x34;    // 64 KiB units above 16 MiB, below 4 GiB
export const CMOS_MEM_16M_HI = 0x35;
export const CMOS_MEM_4G_LO = 0x5b;     // 64 KiB units above 4 GiB, 3 bytes
export const CMOS_MEM_4G_MID = 0x5c;
export const CMOS_MEM_4G_HI = 0x5d;

export const CMOS_SIZE = 128;
/** UIP is set this long before each second changes (244 µs on the chip, rounded up to the clock's 1 ms). */
const UIP_WINDOW_MS = 1;

export interface CmosRtcOptions {
  /** Guest RAM size, for the memory size bytes. */
  ramBytes: number;
  /** Host time in ms since the epoch (UTC); default Date.now. Injected by tests. */
  clock?: () => number;
  name?: string;
  log?: DeviceLog;
}

/** Broken-down time, binary: [sec, min, hour (0-23), day of month, month (1-12), full year]. */
type Fields = [number, number, number, number, number, number];

function toBcd(v: number): number {
  return ((Math.floor(v / 10) % 10) << 4) | (v % 10);
}

function fromBcd(v: number): number {
  return (v >> 4) * 10 + (v & 0x0f);
}

/** Date.UTC without its two-digit-year rule (years 0-99 are not 19xx here). */
function utcMs(year: number, month: number, day: number, hour: number, min: number, sec: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, min, sec, 0);
  return d.getTime();
}

export class CmosRtc implements Device {
  readonly name: string;
  private readonly clock: () => number;
  private readonly log: DeviceLog;
  private readonly cmos = new Uint8Array(CMOS_SIZE);
  private index = 0;
  private nmiMasked = false;
  /** Guest time - host time, ms. */
  private offsetMs = 0;
  /** The time while register B's SET bit is on. */
  private frozen: Fields | null = null;

  constructor(options: CmosRtcOptions) {
    const { ramBytes } = options;
    if (!Number.isSafeInteger(ramBytes) || ramBytes < 0) throw new RangeError(`CMOS RAM size must be a non-negative integer, got ${ramBytes}`);
    this.name = options.name ?? 'cmos-rtc';
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? nullLog;
    this.cmos[RTC_REG_A] = RTC_REG_A_DEFAULT;
    this.cmos[RTC_REG_B] = RTC_REG_B_24H;
    this.setMemorySize(ramBytes);
  }

  /** Whether the guest last masked NMIs through bit 7 of port 0x70 (KVM's NMI wiring is the machine's). */
  get nmiDisabled(): boolean {
    return this.nmiMasked;
  }

  /** The guest's wall clock, ms since the epoch. */
  guestTimeMs(): number {
    return this.clock() + this.offsetMs;
  }

  read(offset: number, size: AccessSize): number {
    if (size === 1) return this.readPort(offset);
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.readPort(offset + i) << (8 * i);
    return v >>> 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    // outw(0x70, data << 8 | index) is a common idiom: byte lanes in order.
    for (let i = 0; i < size; i++) this.writePort(offset + i, (value >>> (8 * i)) & 0xff);
  }

  private readPort(offset: number): number {
    if (offset === 1) return this.readReg(this.index);
    return 0xff; // the index register is write-only
  }

  private writePort(offset: number, v: number): void {
    if (offset === 0) {
      this.index = v & ~RTC_NMI_DISABLE;
      this.nmiMasked = (v & RTC_NMI_DISABLE) !== 0;
    } else if (offset === 1) {
      this.writeReg(this.index, v);
    }
  }

  private get binary(): boolean {
    return (this.cmos[RTC_REG_B] & RTC_REG_B_DM_BINARY) !== 0;
  }

  private enc(v: number): number {
    return this.binary ? v : toBcd(v);
  }

  private dec(v: number): number {
    return this.binary ? v : fromBcd(v);
  }

  private fields(): Fields {
    if (this.frozen) return this.frozen;
    const d = new Date(this.guestTimeMs());
    return [d.getUTCSeconds(), d.getUTCMinutes(), d.getUTCHours(), d.getUTCDate(), d.getUTCMonth() + 1, d.getUTCFullYear()];
  }

  private readReg(reg: number): number {
    switch (reg) {
      case RTC_SECONDS: return this.enc(this.fields()[0]);
      case RTC_MINUTES: return this.enc(this.fields()[1]);
      case RTC_HOURS: return this.encodeHours(this.fields()[2]);
      case RTC_DAY_OF_WEEK: {
        const [, , , day, month, year] = this.fields();
        return this.enc(new Date(utcMs(year, month, day, 0, 0, 0)).getUTCDay() + 1); // Sunday = 1
      }
      case RTC_DAY_OF_MONTH: return this.enc(this.fields()[3]);
      case RTC_MONTH: return this.enc(this.fields()[4]);
      case RTC_YEAR: return this.enc(this.fields()[5] % 100);
      case RTC_CENTURY: return this.enc(Math.floor(this.fields()[5] / 100) % 100);
      case RTC_REG_A: {
        const ms = ((this.guestTimeMs() % 1000) + 1000) % 1000;
        const uip = !this.frozen && ms >= 1000 - UIP_WINDOW_MS;
        return (this.cmos[RTC_REG_A] & ~RTC_REG_A_UIP) | (uip ? RTC_REG_A_UIP : 0);
      }
      case RTC_REG_C: return 0;
      case RTC_REG_D: return RTC_REG_D_VRT;
      default: return this.cmos[reg];
    }
  }

  private writeReg(reg: number, v: number): void {
    switch (reg) {
      case RTC_SECONDS: return this.setField(0, this.dec(v));
      case RTC_MINUTES: return this.setField(1, this.dec(v));
      case RTC_HOURS: return this.setField(2, this.decodeHours(v));
      case RTC_DAY_OF_WEEK: return; // derived from the date
      case RTC_DAY_OF_MONTH: return this.setField(3, this.dec(v));
      case RTC_MONTH: return this.setField(4, this.dec(v));
      case RTC_YEAR: {
        const year = this.fields()[5];
        return this.setField(5, year - (year % 100) + (this.dec(v) % 100));
      }
      case RTC_CENTURY: {
        const year = this.fields()[5];
        return this.setField(5, (this.dec(v) % 100) * 100 + (year % 100));
      }
      case RTC_REG_A:
        this.cmos[RTC_REG_A] = v & ~RTC_REG_A_UIP;
        return;
      case RTC_REG_B: {
        const wasSet = this.cmos[RTC_REG_B] & RTC_REG_B_SET;
        if (v & (RTC_REG_B_PIE | RTC_REG_B_AIE | RTC_REG_B_UIE) && !(this.cmos[RTC_REG_B] & (RTC_REG_B_PIE | RTC_REG_B_AIE | RTC_REG_B_UIE))) {
          this.log.info(`${this.name}: the guest enabled RTC interrupts, which are not emulated`);
        }
        if (v & RTC_REG_B_SET && !wasSet) this.frozen = [...this.fields()];
        this.cmos[RTC_REG_B] = v;
        if (!(v & RTC_REG_B_SET) && wasSet) this.thaw();
        return;
      }
      case RTC_REG_C:
      case RTC_REG_D:
        return; // read-only
      default:
        this.cmos[reg] = v;
    }
  }

  private encodeHours(h: number): number {
    if (this.cmos[RTC_REG_B] & RTC_REG_B_24H) return this.enc(h);
    const h12 = h % 12 === 0 ? 12 : h % 12;
    return this.enc(h12) | (h >= 12 ? RTC_HOURS_PM : 0);
  }

  private decodeHours(v: number): number {
    if (this.cmos[RTC_REG_B] & RTC_REG_B_24H) return this.dec(v);
    const h12 = this.dec(v & ~RTC_HOURS_PM) % 12;
    return v & RTC_HOURS_PM ? h12 + 12 : h12;
  }

  /** One time field written: frozen, it waits for SET to clear; running, the clock jumps now. */
  private setField(i: number, value: number): void {
    if (this.frozen) {
      this.frozen[i] = value;
      return;
    }
    const f: Fields = [...this.fields()];
    const subSecond = ((this.guestTimeMs() % 1000) + 1000) % 1000;
    f[i] = value;
    this.offsetMs = this.fieldsToMs(f) + subSecond - this.clock();
  }

  private thaw(): void {
    const f = this.frozen!;
    this.frozen = null;
    this.offsetMs = this.fieldsToMs(f) - this.clock();
  }

  /** Out-of-range fields (a hostile or sloppy guest) roll over as Date.UTC does; garbage leaves the clock alone. */
  private fieldsToMs(f: Fields): number {
    const ms = utcMs(f[5], f[4], f[3], f[2], f[1], f[0]);
    if (Number.isFinite(ms)) return ms;
    this.log.guestError(`${this.name}: the guest set an invalid time (${f.join(' ')}); ignored`);
    return this.guestTimeMs();
  }

  private setMemorySize(ramBytes: number): void {
    const KiB = 1024;
    const MiB = 1024 * KiB;
    const put16 = (lo: number, v: number) => {
      this.cmos[lo] = v & 0xff;
      this.cmos[lo + 1] = (v >> 8) & 0xff;
    };
    put16(CMOS_BASE_MEM_LO, 640);
    const ext = Math.min(Math.max(Math.floor(ramBytes / KiB) - 1024, 0), 0xffff);
    put16(CMOS_EXT_MEM_LO, ext);
    put16(CMOS_EXT_MEM2_LO, ext);
    const below4g = Math.min(ramBytes, MMIO_HOLE_START);
    put16(CMOS_MEM_16M_LO, Math.min(Math.max(Math.floor((below4g - 16 * MiB) / (64 * KiB)), 0), 0xffff));
    const above4g = Math.min(Math.floor((ramBytes - below4g) / (64 * KiB)), 0xffffff);
    this.cmos[CMOS_MEM_4G_LO] = above4g & 0xff;
    this.cmos[CMOS_MEM_4G_MID] = (above4g >> 8) & 0xff;
    this.cmos[CMOS_MEM_4G_HI] = (above4g >> 16) & 0xff;
  }
}
