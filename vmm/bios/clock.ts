/**
 * Time as a BIOS keeps it: the BDA tick count (18.2 a second since
 * midnight) that IRQ0 advances, set from the host's local time at POST;
 * INT 1Ah reads and sets it (00h/01h) and reads the real-time clock in BCD
 * (02h time, 04h date) from the host clock.
 */
import type { BiosContext } from './guest-access';
import { BDA_ADDR, BDA_MIDNIGHT, BDA_TICKS } from './layout';
import { ah, type BiosRegs, fail, lo16, ok, setAl, setHi8, setLo16, setLo8 } from './regs';

/** Ticks in a day: 1193180 Hz / 65536 * 86400 s, as IBM's BIOS counts them. */
export const TICKS_PER_DAY = 0x1800b0;
const TICKS_PER_SECOND = 1193180 / 65536;

const bcd = (n: number): number => ((Math.floor(n / 10) % 10) << 4) | (n % 10);

export class ClockBios {
  constructor(private readonly ctx: BiosContext, private readonly now: () => Date = () => new Date()) {}

  private get mem() { return this.ctx.memory; }

  init(): void {
    const t = this.now();
    const seconds = t.getHours() * 3600 + t.getMinutes() * 60 + t.getSeconds() + t.getMilliseconds() / 1000;
    this.mem.writeU32(BDA_ADDR + BDA_TICKS, Math.min(TICKS_PER_DAY - 1, Math.floor(seconds * TICKS_PER_SECOND)));
    this.mem.writeU8(BDA_ADDR + BDA_MIDNIGHT, 0);
  }

  /** IRQ0: one tick; past a day the count restarts and the midnight flag is set. */
  tick(): void {
    let ticks = this.mem.readU32(BDA_ADDR + BDA_TICKS) + 1;
    if (ticks >= TICKS_PER_DAY) {
      ticks = 0;
      this.mem.writeU8(BDA_ADDR + BDA_MIDNIGHT, 1);
    }
    this.mem.writeU32(BDA_ADDR + BDA_TICKS, ticks);
  }

  call(r: BiosRegs): void {
    const t = this.now();
    switch (ah(r)) {
      case 0x00: {
        const ticks = this.mem.readU32(BDA_ADDR + BDA_TICKS);
        setLo16(r, 'ecx', ticks >>> 16);
        setLo16(r, 'edx', ticks & 0xffff);
        setAl(r, this.mem.readU8(BDA_ADDR + BDA_MIDNIGHT));
        this.mem.writeU8(BDA_ADDR + BDA_MIDNIGHT, 0);
        return;
      }
      case 0x01:
        this.mem.writeU32(BDA_ADDR + BDA_TICKS, Math.min(TICKS_PER_DAY - 1, ((lo16(r, 'ecx') << 16) | lo16(r, 'edx')) >>> 0));
        this.mem.writeU8(BDA_ADDR + BDA_MIDNIGHT, 0);
        return;
      case 0x02:
        ok(r);
        setHi8(r, 'ecx', bcd(t.getHours())); setLo8(r, 'ecx', bcd(t.getMinutes()));
        setHi8(r, 'edx', bcd(t.getSeconds())); setLo8(r, 'edx', 0);
        return;
      case 0x04:
        ok(r);
        setHi8(r, 'ecx', bcd(Math.floor(t.getFullYear() / 100))); setLo8(r, 'ecx', bcd(t.getFullYear() % 100));
        setHi8(r, 'edx', bcd(t.getMonth() + 1)); setLo8(r, 'edx', bcd(t.getDate()));
        return;
      default:
        return fail(r, 0x86);
    }
  }
}
