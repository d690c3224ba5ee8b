// kvmdbg's BIOS services (vmm/bios) on fake registers, guest memory and an
// in-memory disk: what a boot sector gets back from INT 10h, 13h, 15h, 16h
// and 1Ah, including the bad requests (a read past the disk's end, a
// buffer over the ROM or outside RAM) that must end in CF and a status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { Bios } from '../../vmm/bios/bios';
import { diskGeometry, chsToLba } from '../../vmm/bios/geometry';
import { BiosRegs, emptyRegs, FLAG_CF, FLAG_ZF } from '../../vmm/bios/regs';
import type { DiskFile } from '../../vmm/virtio/blk';
import type { BiosPorts } from '../../vmm/bios/guest-access';
import { BDA_ADDR, BDA_CURSOR_POS, BDA_TICKS, BDA_MIDNIGHT } from '../../vmm/bios/layout';
import { TICKS_PER_DAY } from '../../vmm/bios/clock';

const MiB = 2 ** 20;

function memDisk(bytes: number, readOnly = true): DiskFile & { data: Uint8Array } {
  const data = new Uint8Array(bytes);
  for (let s = 0; s < bytes / 512; s++) data.fill(s & 0xff, s * 512, s * 512 + 512);
  return {
    path: 'disk.img', readOnly, bytes, data,
    read(into, position) { into.fill(0); into.set(data.subarray(position, position + into.length)); },
    write(from, position) { data.set(from, position); },
    flush() {}, close() {},
  };
}

/** A fake i8042 (status 0x64, data 0x60) and a CRTC that records its writes. */
class FakePorts implements BiosPorts {
  keys: number[] = [];
  crtc = new Map<number, number>();
  private index = 0;
  read(port: number): number {
    if (port === 0x64) return this.keys.length ? 0x01 : 0x00;
    if (port === 0x60) return this.keys.shift() ?? 0;
    return 0xff;
  }
  write(port: number, _size: number, value: number): void {
    if (port === 0x3d4) this.index = value;
    else if (port === 0x3d5) this.crtc.set(this.index, value);
  }
}

function machine(diskBytes = 64 * 1024, opts: { readOnly?: boolean; now?: Date } = {}) {
  const memory = GuestMemory.allocate(64 * MiB);
  const ports = new FakePorts();
  const errors: string[] = [];
  const disk = memDisk(diskBytes, opts.readOnly ?? true);
  const bios = new Bios({ memory, ports, log: { guestError: (m) => errors.push(m) } }, disk, diskGeometry(diskBytes), () => opts.now ?? new Date(2026, 11, 2, 12, 0, 0));
  bios.start();
  const call = (vector: number, r: Partial<BiosRegs>) => { const regs = emptyRegs(r); const outcome = bios.call(vector, regs); return { ...regs, outcome }; };
  return { memory, ports, errors, disk, bios, call };
}

const ah = (r: BiosRegs) => (r.eax >>> 8) & 0xff;
const cf = (r: BiosRegs) => (r.flags & FLAG_CF) !== 0;
const screenRow = (m: GuestMemory, row: number) => {
  let s = '';
  for (let c = 0; c < 80; c++) s += String.fromCharCode(m.readU8(0xb8000 + (row * 80 + c) * 2));
  return s.trimEnd();
};

test('geometry: a 64 KiB image is hard disk 80h, 1 cylinder of 16 heads x 63 sectors; 1.44 MB is floppy 00h, 80/2/18; CHS 0/0/1 is LBA 0', () => {
  assert.deepEqual(diskGeometry(64 * 1024), { drive: 0x80, floppy: false, cylinders: 1, heads: 16, sectorsPerTrack: 63, sectors: 1008 }, 'a whole cylinder');
  assert.deepEqual(diskGeometry(1_474_560), { drive: 0, floppy: true, cylinders: 80, heads: 2, sectorsPerTrack: 18, sectors: 2880, floppyType: 4 });
  assert.equal(diskGeometry(2 * 1024 ** 3).heads, 255);
  assert.equal(diskGeometry(2 * 1024 ** 3).cylinders, 262, 'rounded up: the last partial cylinder counts');
  assert.equal(diskGeometry(16 * 1024 ** 3).sectors, 16 * 2 ** 21, 'past 1024 cylinders (CHS\'s reach) the image\'s own size');
  const g = diskGeometry(1_474_560);
  assert.equal(chsToLba(g, 0, 0, 1), 0);
  assert.equal(chsToLba(g, 1, 1, 18), 71);
  assert.equal(chsToLba(g, 0, 0, 0), undefined, 'sectors count from 1');
  assert.equal(chsToLba(g, 80, 0, 1), undefined);
});

test('INT 13h AH=02h reads CHS sectors to ES:BX; AH=42h reads by LBA from the packet at DS:SI and AH=48h gives the size', () => {
  const { memory, call } = machine();
  const r = call(0x13, { eax: 0x0202, ecx: 0x0003, edx: 0x0080, ebx: 0x1000, es: 0x0800, esBase: 0x8000 });
  assert.deepEqual([cf(r), ah(r), r.eax & 0xff], [false, 0, 2]);
  assert.deepEqual([memory.readU8(0x9000), memory.readU8(0x91ff), memory.readU8(0x9200), memory.readU8(0x93ff)], [2, 2, 3, 3]);
  // DAP at 0000:0600: 3 sectors from LBA 125 to 2000:0000.
  memory.write(0x600, Uint8Array.from([0x10, 0, 3, 0, 0, 0, 0, 0x20, 125, 0, 0, 0, 0, 0, 0, 0]));
  const x = call(0x13, { eax: 0x4200, edx: 0x80, esi: 0x600 });
  assert.deepEqual([cf(x), ah(x), memory.readU16(0x602)], [false, 0, 3]);
  assert.deepEqual([memory.readU8(0x20000), memory.readU8(0x20200), memory.readU8(0x205ff)], [125, 126, 127]);
  memory.writeU16(0x700, 0x1e);
  const p = call(0x13, { eax: 0x4800, edx: 0x80, esi: 0x700 });
  assert.deepEqual([cf(p), memory.readU16(0x700), memory.readU32(0x704), memory.readU32(0x708), memory.readU32(0x70c), Number(memory.readU64(0x710)), memory.readU16(0x718)],
    [false, 0x1a, 1, 16, 63, 1008, 512]);
  const e = call(0x13, { eax: 0x4100, ebx: 0x55aa, edx: 0x80 });
  assert.deepEqual([cf(e), ah(e), e.ebx, e.ecx], [false, 0x30, 0xaa55, 1]);
  const q = call(0x13, { eax: 0x0800, edx: 0x80 });
  assert.deepEqual([cf(q), (q.ecx >>> 8) & 0xff, q.ecx & 0xff, (q.edx >>> 8) & 0xff, q.edx & 0xff], [false, 0, 63, 15, 1]);
});

test('INT 13h bad requests: past the end (04h), a buffer over the ROM or outside RAM (09h), a drive not ours or a bad packet (01h), a write to the read-only disk (03h); nothing moves', () => {
  const { memory, call } = machine();
  memory.fill(0x20000, 0x1000, 0xee);
  // One cylinder, 1008 sectors: LBA 1007 (0x3ef) is the last; 1007 + 2 runs past it.
  memory.write(0x600, Uint8Array.from([0x10, 0, 2, 0, 0, 0, 0, 0x20, 0xef, 0x03, 0, 0, 0, 0, 0, 0]));
  const past = call(0x13, { eax: 0x4200, edx: 0x80, esi: 0x600 });
  assert.deepEqual([cf(past), ah(past), memory.readU16(0x602), memory.readU8(0x20000)], [true, 0x04, 0, 0xee], 'nothing read, count 0');
  memory.write(0x600, Uint8Array.from([0x10, 0, 1, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 1, 0, 0, 0]));   // LBA 2^32
  assert.equal(ah(call(0x13, { eax: 0x4200, edx: 0x80, esi: 0x600 })), 0x04);
  const chsPast = call(0x13, { eax: 0x0201, ecx: 0x0101, edx: 0x0080, ebx: 0 });                 // cylinder 1 of 1
  assert.deepEqual([cf(chsPast), ah(chsPast), chsPast.eax & 0xff], [true, 0x04, 0]);
  const overRom = call(0x13, { eax: 0x0201, ecx: 0x0001, edx: 0x0080, ebx: 0xe000, es: 0xf000, esBase: 0xf0000 });
  assert.deepEqual([cf(overRom), ah(overRom)], [true, 0x09]);
  assert.equal(memory.readU8(0xfe000), 0, 'the ROM area is untouched');
  memory.write(0x600, Uint8Array.from([0x18, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0]));  // flat buffer at 2 GiB
  const flat = call(0x13, { eax: 0x4200, edx: 0x80, esi: 0x600 });
  assert.deepEqual([cf(flat), ah(flat)], [true, 0x09]);
  assert.equal(ah(call(0x13, { eax: 0x0201, ecx: 0x0001, edx: 0x0081 })), 0x01, 'drive 81h is not ours');
  assert.equal(ah(call(0x13, { eax: 0x0200, ecx: 0x0001, edx: 0x0080 })), 0x01, 'zero sectors');
  memory.write(0x600, Uint8Array.from([0x10, 0, 200, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0]));
  assert.equal(ah(call(0x13, { eax: 0x4200, edx: 0x80, esi: 0x600 })), 0x01, 'more than 127 sectors');
  assert.equal(ah(call(0x13, { eax: 0x0301, ecx: 0x0001, edx: 0x0080 })), 0x03, 'the boot disk is read-only');
  assert.equal(ah(call(0x13, { eax: 0x4200, edx: 0x80, esi: 0xfff0, ds: 0xffff, dsBase: 64 * MiB - 8 })), 0x01, 'a packet outside RAM');
  const status = call(0x13, { eax: 0x0100, edx: 0x80 });
  assert.deepEqual([cf(status), ah(status), status.eax & 0xff], [true, 0x01, 0x01], 'AH=01h: the last status');
});

test('an image shorter than its disk (a kernel nobody padded): its short last sector and the sectors after it read with zeros after the file\'s end, up to the last cylinder', () => {
  const { memory, disk, call } = machine(1000);
  disk.data.fill(0x42, 512);
  memory.fill(0x3000, 3 * 512, 0xee);
  const r = call(0x13, { eax: 0x0203, ecx: 0x0002, edx: 0x0080, ebx: 0x3000 });   // 3 sectors from LBA 1: 488 bytes of file, then zeros
  assert.deepEqual([cf(r), r.eax & 0xff, memory.readU8(0x3000), memory.readU8(0x3000 + 487), memory.readU8(0x3000 + 488), memory.readU8(0x3000 + 3 * 512 - 1)], [false, 3, 0x42, 0x42, 0, 0]);
  const last = call(0x13, { eax: 0x0201, ecx: 0x003f, edx: 0x0f80, ebx: 0x3000 });   // head 15, sector 63: LBA 1007
  assert.deepEqual([cf(last), ah(last)], [false, 0]);
  memory.write(0x600, Uint8Array.from([0x10, 0, 1, 0, 0, 0x30, 0, 0, 0xf0, 0x03, 0, 0, 0, 0, 0, 0]));   // LBA 1008
  assert.equal(ah(call(0x13, { eax: 0x4200, edx: 0x80, esi: 0x600 })), 0x04, 'past the last cylinder');
});

test('INT 13h AH=03h/43h write to a writable disk image', () => {
  const { memory, disk, call } = machine(64 * 1024, { readOnly: false });
  memory.fill(0x5000, 512, 0x5a);
  const r = call(0x13, { eax: 0x0301, ecx: 0x0005, edx: 0x0080, ebx: 0x5000 });
  assert.deepEqual([cf(r), disk.data[4 * 512], disk.data[5 * 512 - 1], disk.data[5 * 512]], [false, 0x5a, 0x5a, 5]);
});

test('INT 10h teletype: characters, CR, LF, backspace and bell move the cursor as a terminal; the last line scrolls the screen up', () => {
  const { memory, ports, call } = machine();
  for (const ch of 'ab\x08c\r\nxy\x07') call(0x10, { eax: 0x0e00 | ch.charCodeAt(0) });
  assert.deepEqual([screenRow(memory, 0), screenRow(memory, 1)], ['ac', 'xy']);
  const cur = call(0x10, { eax: 0x0300 });
  assert.deepEqual([(cur.edx >>> 8) & 0xff, cur.edx & 0xff, cur.ecx & 0xffff], [1, 2, 0x0607]);
  assert.deepEqual([ports.crtc.get(0x0e), ports.crtc.get(0x0f), ports.crtc.get(0x0a), ports.crtc.get(0x0b)], [0, 82, 0x0d, 0x0e], 'CRTC cursor at 1*80+2, lines 13-14');
  call(0x10, { eax: 0x0200, edx: (24 << 8) | 78 });
  for (const ch of 'zzz') call(0x10, { eax: 0x0e00 | ch.charCodeAt(0) });
  assert.equal(screenRow(memory, 23), ' '.repeat(78) + 'zz');
  assert.equal(screenRow(memory, 24), 'z');
  assert.equal(screenRow(memory, 0), 'xy', 'scrolled up one line');
  assert.equal(memory.readU16(BDA_ADDR + BDA_CURSOR_POS), (24 << 8) | 1);
});

test('INT 10h scroll windows (06h/07h), character writes (09h with attribute, 0Ah without), read (08h), mode query (0Fh) and mode set (00h) clears', () => {
  const { memory, call } = machine();
  for (let row = 0; row < 5; row++) { call(0x10, { eax: 0x0200, edx: row << 8 }); call(0x10, { eax: 0x0900 | (0x30 + row), ebx: 0x001e, ecx: 10 }); }
  call(0x10, { eax: 0x0601, ebx: 0x4700, ecx: 0x0102, edx: 0x0305 });       // rows 1-3, columns 2-5 up by one
  assert.deepEqual([0, 1, 2, 3, 4].map((r) => screenRow(memory, r)), ['0000000000', '1122221111', '2233332222', '33    3333', '4444444444']);
  assert.equal(memory.readU8(0xb8000 + (3 * 80 + 2) * 2 + 1), 0x47, 'the blank line has BH as attribute');
  call(0x10, { eax: 0x0701, ebx: 0x0700, ecx: 0x0000, edx: 0x184f });
  assert.equal(screenRow(memory, 1), '0000000000');
  call(0x10, { eax: 0x0200, edx: 0x0100 });
  call(0x10, { eax: 0x0a41, ecx: 3 });
  const rd = call(0x10, { eax: 0x0800 });
  assert.equal(rd.eax & 0xffff, 0x1e41, '0Ah kept the attribute 09h wrote');
  const mode = call(0x10, { eax: 0x0f00 });
  assert.deepEqual([mode.eax & 0xff, (mode.eax >>> 8) & 0xff, (mode.ebx >>> 8) & 0xff], [3, 80, 0]);
  const ega = call(0x10, { eax: 0x1200, ebx: 0x0010 });
  assert.deepEqual([ega.ebx & 0xffff, ega.ecx & 0xffff], [0x0003, 0x0009], 'AH=12h BL=10h: a colour EGA/VGA with 256 KiB');
  call(0x10, { eax: 0x0003 });
  assert.equal(screenRow(memory, 1), '');
  assert.equal(memory.readU16(0xb8000), 0x0720);
});

test('INT 10h AH=13h writes a string at DH:DL, with the cursor moved only when AL bit 0 asks', () => {
  const { memory, call } = machine();
  memory.write(0x3000, new TextEncoder().encode('hi there'));
  call(0x10, { eax: 0x1301, ebx: 0x000c, ecx: 8, edx: 0x0203, ebp: 0x3000 });
  assert.equal(screenRow(memory, 2), '   hi there');
  assert.equal(memory.readU8(0xb8000 + (2 * 80 + 3) * 2 + 1), 0x0c);
  assert.equal(memory.readU16(BDA_ADDR + BDA_CURSOR_POS), (2 << 8) | 11);
});

test('INT 15h E820: the map of a 64 MiB guest in four calls chained by EBX; a wrong signature, a short buffer or a buffer in the ROM fail with CF', () => {
  const { memory, call } = machine();
  const entries: string[] = [];
  let ebx = 0;
  do {
    const r = call(0x15, { eax: 0xe820, edx: 0x534d4150, ecx: 24, ebx, edi: 0x4000 });
    assert.deepEqual([cf(r), r.eax, r.ecx], [false, 0x534d4150, 20]);
    entries.push(`${memory.readU64(0x4000).toString(16)} ${memory.readU64(0x4008).toString(16)} ${memory.readU32(0x4010)}`);
    ebx = r.ebx;
  } while (ebx !== 0 && entries.length < 10);
  assert.deepEqual(entries, ['0 9fc00 1', '9fc00 400 2', 'f0000 10000 2', '100000 3f00000 1']);
  assert.ok(cf(call(0x15, { eax: 0xe820, edx: 0x12345678, ecx: 24, edi: 0x4000 })));
  assert.ok(cf(call(0x15, { eax: 0xe820, edx: 0x534d4150, ecx: 16, edi: 0x4000 })));
  assert.ok(cf(call(0x15, { eax: 0xe820, edx: 0x534d4150, ecx: 24, ebx: 4, edi: 0x4000 })), 'past the last entry');
  assert.ok(cf(call(0x15, { eax: 0xe820, edx: 0x534d4150, ecx: 24, edi: 0xe000, es: 0xf000, esBase: 0xf0000 })));
  const e801 = call(0x15, { eax: 0xe801 });
  assert.deepEqual([cf(e801), e801.eax & 0xffff, e801.ebx & 0xffff], [false, 15 * 1024, (64 - 16) * 16]);
  assert.equal(call(0x15, { eax: 0x8800 }).eax & 0xffff, 63 * 1024);
  assert.deepEqual([cf(call(0x15, { eax: 0x2401 })), call(0x15, { eax: 0x2402 }).eax & 0xff], [false, 1]);
  const off = call(0x15, { eax: 0x2400 });
  assert.deepEqual([cf(off), ah(off)], [true, 0x86], 'the A20 line cannot be turned off here');
  const unknown = call(0x15, { eax: 0xc000 });
  assert.deepEqual([cf(unknown), ah(unknown)], [true, 0x86]);
});

test('INT 11h and 12h read the equipment word and base memory from the BDA', () => {
  const { memory, call } = machine();
  memory.writeU16(0x413, 639);
  memory.writeU16(0x410, 0x0021);
  assert.equal(call(0x12, {}).eax, 639);
  assert.equal(call(0x11, {}).eax, 0x21);
});

test('INT 09h and 16h: set-1 scan codes become BIOS keys with Shift and Caps Lock; 01h peeks with ZF; 00h waits when the ring is empty; the ring drops keys when full', () => {
  const { ports, call } = machine();
  assert.equal(call(0x16, { eax: 0x0000 }).outcome, 'wait');
  assert.ok(call(0x16, { eax: 0x0100 }).flags & FLAG_ZF, 'no key: ZF');
  const irq = (...bytes: number[]) => { for (const b of bytes) { ports.keys.push(b); call(0x09, {}); } };
  irq(0x1e, 0x9e, 0x2a, 0x1e, 0x9e, 0xaa, 0x3a, 0xba, 0x30, 0xb0, 0x1c, 0x9c, 0xe0, 0x48, 0xe0, 0xc8, 0x1d, 0x2e, 0xae, 0x9d);
  const peek = call(0x16, { eax: 0x0100 });
  assert.deepEqual([peek.flags & FLAG_ZF, peek.eax & 0xffff], [0, 0x1e61]);
  const keys: number[] = [];
  for (let r = call(0x16, { eax: 0x0000 }); r.outcome !== 'wait'; r = call(0x16, { eax: 0x0000 })) keys.push(r.eax & 0xffff);
  assert.deepEqual(keys, [0x1e61, 0x1e41, 0x3042, 0x1c0d, 0x4800, 0x2e03], 'a, A, Caps B, Enter, Up, Ctrl-C');
  // With interrupts off the bytes stay in the i8042: a read drains them.
  ports.keys.push(0x02, 0x82);
  assert.equal(call(0x16, { eax: 0x1000 }).eax & 0xffff, 0x0231);
  for (let i = 0; i < 20; i++) irq(0x10, 0x90);
  let n = 0;
  while (call(0x16, { eax: 0x0000 }).outcome !== 'wait') n++;
  assert.equal(n, 15, 'a 16-word ring holds 15 keys');
  irq(0x2a);
  assert.equal(call(0x16, { eax: 0x0200 }).eax & 0xff, 0x42, 'Caps Lock on, left Shift held');
  assert.equal(call(0x16, { eax: 0x0500, ecx: 0x2f76 }).eax & 0xff, 0, 'AH=05h stores a key');
  assert.equal(call(0x16, { eax: 0x0000 }).eax & 0xffff, 0x2f76);
});

test('INT 1Ah: ticks start at the host\'s time of day and follow IRQ0; a day rolls over with the midnight flag, which AH=00h reports once', () => {
  const { memory, call } = machine(64 * 1024, { now: new Date(2026, 11, 2, 1, 0, 0) });
  const t0 = call(0x1a, { eax: 0 });
  const ticks = ((t0.ecx & 0xffff) << 16) | (t0.edx & 0xffff);
  assert.equal(ticks, Math.floor(3600 * 1193180 / 65536));
  call(0x08, {});
  const t1 = call(0x1a, { eax: 0 });
  assert.equal(t1.edx & 0xffff, (ticks + 1) & 0xffff);
  memory.writeU32(BDA_ADDR + BDA_TICKS, TICKS_PER_DAY - 1);
  call(0x08, {});
  const t2 = call(0x1a, { eax: 0 });
  assert.deepEqual([t2.ecx & 0xffff, t2.edx & 0xffff, t2.eax & 0xff], [0, 0, 1]);
  assert.equal(call(0x1a, { eax: 0 }).eax & 0xff, 0, 'the flag is reported once');
  assert.equal(memory.readU8(BDA_ADDR + BDA_MIDNIGHT), 0);
  const time = call(0x1a, { eax: 0x0200 });
  assert.deepEqual([(time.ecx >>> 8) & 0xff, time.ecx & 0xff, (time.edx >>> 8) & 0xff], [0x01, 0x00, 0x00]);
  const date = call(0x1a, { eax: 0x0400 });
  assert.deepEqual([(date.ecx >>> 8) & 0xff, date.ecx & 0xff, (date.edx >>> 8) & 0xff, date.edx & 0xff], [0x20, 0x26, 0x12, 0x02]);
});
