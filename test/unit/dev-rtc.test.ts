import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../vmm/bus/bus';
import {
  CmosRtc, RTC_CENTURY, RTC_DAY_OF_MONTH, RTC_DAY_OF_WEEK, RTC_HOURS, RTC_HOURS_PM, RTC_INDEX_PORT, RTC_MINUTES,
  RTC_MONTH, RTC_PORT_COUNT, RTC_REG_A, RTC_REG_A_UIP, RTC_REG_B, RTC_REG_B_24H, RTC_REG_B_DM_BINARY, RTC_REG_B_SET,
  RTC_REG_C, RTC_REG_D, RTC_REG_D_VRT, RTC_SECONDS, RTC_YEAR,
} from '../../vmm/devices/rtc';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
// Tuesday 2024-03-05 21:07:09.500 UTC
const T0 = Date.UTC(2024, 2, 5, 21, 7, 9, 500);

function cmos(ramBytes = 512 * MiB, start = T0) {
  let now = start;
  const rtc = new CmosRtc({ ramBytes, clock: () => now });
  const bus = new Bus('pio');
  bus.register(RTC_INDEX_PORT, RTC_PORT_COUNT, rtc);
  const read = (reg: number) => {
    bus.write(0x70, 1, reg);
    return bus.read(0x71, 1);
  };
  const write = (reg: number, v: number) => {
    bus.write(0x70, 1, reg);
    bus.write(0x71, 1, v);
  };
  return { rtc, bus, read, write, setNow: (t: number) => { now = t; } };
}

test('the RTC reads the injected time in BCD, 24-hour, by default', () => {
  const { read } = cmos();
  assert.equal(read(RTC_SECONDS), 0x09);
  assert.equal(read(RTC_MINUTES), 0x07);
  assert.equal(read(RTC_HOURS), 0x21);
  assert.equal(read(RTC_DAY_OF_WEEK), 0x03, 'Tuesday, with Sunday = 1');
  assert.equal(read(RTC_DAY_OF_MONTH), 0x05);
  assert.equal(read(RTC_MONTH), 0x03);
  assert.equal(read(RTC_YEAR), 0x24);
  assert.equal(read(RTC_CENTURY), 0x20);
});

test('binary mode and 12-hour mode follow register B', () => {
  const { read, write } = cmos();
  write(RTC_REG_B, RTC_REG_B_DM_BINARY | RTC_REG_B_24H);
  assert.equal(read(RTC_HOURS), 21);
  assert.equal(read(RTC_YEAR), 24);
  assert.equal(read(RTC_CENTURY), 20);
  write(RTC_REG_B, RTC_REG_B_DM_BINARY);
  assert.equal(read(RTC_HOURS), 9 | RTC_HOURS_PM);
  write(RTC_REG_B, 0);
  assert.equal(read(RTC_HOURS), 0x09 | RTC_HOURS_PM);
});

test('12-hour mode: midnight is 12 AM and noon is 12 PM', () => {
  const { read, write, setNow } = cmos();
  write(RTC_REG_B, 0);
  setNow(Date.UTC(2024, 0, 1, 0, 30));
  assert.equal(read(RTC_HOURS), 0x12);
  setNow(Date.UTC(2024, 0, 1, 12, 30));
  assert.equal(read(RTC_HOURS), 0x12 | RTC_HOURS_PM);
});

test('UIP is set just before the second changes; register D says the battery is fine', () => {
  const { read, setNow } = cmos();
  assert.equal(read(RTC_REG_A) & RTC_REG_A_UIP, 0);
  setNow(Date.UTC(2024, 0, 1, 0, 0, 0, 999));
  assert.equal(read(RTC_REG_A) & RTC_REG_A_UIP, RTC_REG_A_UIP);
  assert.equal(read(RTC_REG_D), RTC_REG_D_VRT);
  assert.equal(read(RTC_REG_C), 0);
});

test('bit 7 of the index port (NMI disable) is not part of the index', () => {
  const { rtc, read } = cmos();
  assert.equal(read(0x80 | RTC_MINUTES), 0x07);
  assert.equal(rtc.nmiDisabled, true);
  read(RTC_MINUTES);
  assert.equal(rtc.nmiDisabled, false);
});

test('memory size bytes for 512 MiB', () => {
  const { read } = cmos(512 * MiB);
  assert.equal(read(0x15) | (read(0x16) << 8), 640);
  assert.equal(read(0x17) | (read(0x18) << 8), 0xffff, 'extended memory saturates at 64 MiB');
  assert.equal(read(0x30) | (read(0x31) << 8), 0xffff);
  assert.equal(read(0x34) | (read(0x35) << 8), (512 - 16) * 16);
  assert.equal(read(0x5b) | (read(0x5c) << 8) | (read(0x5d) << 16), 0);
});

test('memory size bytes for 8 MiB and 6 GiB', () => {
  const small = cmos(8 * MiB);
  assert.equal(small.read(0x17) | (small.read(0x18) << 8), 7 * 1024);
  assert.equal(small.read(0x34) | (small.read(0x35) << 8), 0);
  const big = cmos(6 * GiB);
  assert.equal(big.read(0x34) | (big.read(0x35) << 8), (3 * 1024 - 16) * 16, 'below the 3 GiB hole');
  assert.equal(big.read(0x5b) | (big.read(0x5c) << 8) | (big.read(0x5d) << 16), 3 * GiB / (64 * 1024));
});

test('other CMOS bytes are plain storage', () => {
  const { read, write } = cmos();
  write(0x40, 0xab);
  write(0x7f, 0xcd);
  assert.equal(read(0x40), 0xab);
  assert.equal(read(0x7f), 0xcd);
  write(RTC_REG_D, 0);
  assert.equal(read(RTC_REG_D), RTC_REG_D_VRT, 'register D is read-only');
});

test('setting the time with SET (hwclock --systohc) moves the guest clock, which then runs on', () => {
  const { rtc, read, write, setNow } = cmos();
  write(RTC_REG_B, RTC_REG_B_SET | RTC_REG_B_24H);
  setNow(T0 + 5000);
  assert.equal(read(RTC_SECONDS), 0x09, 'frozen while SET is on');
  assert.equal(read(RTC_REG_A) & RTC_REG_A_UIP, 0);
  write(RTC_YEAR, 0x30);
  write(RTC_MONTH, 0x12);
  write(RTC_DAY_OF_MONTH, 0x31);
  write(RTC_HOURS, 0x23);
  write(RTC_MINUTES, 0x59);
  write(RTC_SECONDS, 0x50);
  write(RTC_REG_B, RTC_REG_B_24H);
  assert.equal(rtc.guestTimeMs(), Date.UTC(2030, 11, 31, 23, 59, 50));
  setNow(T0 + 15000);
  assert.equal(read(RTC_SECONDS), 0x00);
  assert.equal(read(RTC_YEAR), 0x31);
  assert.equal(read(RTC_MONTH), 0x01);
});

test('outw(0x70, data << 8 | index) writes a CMOS byte', () => {
  const { bus, read } = cmos();
  bus.write(0x70, 2, (0x99 << 8) | 0x41);
  assert.equal(read(0x41), 0x99);
});
