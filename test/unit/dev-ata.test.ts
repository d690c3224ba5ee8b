import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bus } from '../../vmm/bus/bus';
import type { AccessSize } from '../../vmm/bus/device';
import { attachAta, checkAtaDisks } from '../../vmm/devices/ata-attach';
import { parseDisk } from '../../vmm/cli/args';
import { validateLaunchArgs } from '../../debug-adapter/launch-config';
import { ATA_MAX_LOGGED, type AtaChannel } from '../../vmm/devices/ata-channel';

const SECTORS = 64;
const diskByte = (i: number) => (i * 7 + (i >> 9) * 13) & 0xff;
const image = (n = SECTORS) => Uint8Array.from({ length: n * 512 }, (_, i) => diskByte(i));

interface Rig { ch: AtaChannel; pio: Bus; files: string[]; dir: string; errors: string[]; irq: boolean[]; edges: () => number }

function rig(disks: { sectors?: number; readOnly?: boolean }[] = [{}]): Rig {
  const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-ata-'));
  const files = disks.map((d, i) => { const f = join(dir, `d${i}.img`); writeFileSync(f, image(d.sectors)); return f; });
  const errors: string[] = [];
  const log = { guestError: (m: string) => errors.push(m), info: () => {} };
  const pio = new Bus('pio', log);
  const irq: boolean[] = [];
  const ch = attachAta({ pio, disks: disks.map((d, i) => ({ path: files[i], readOnly: !!d.readOnly, bus: 'ide' as const })), irq: (line) => { assert.equal(line, 14); return { set: (l) => irq.push(l) }; }, log });
  return { ch, pio, files, dir, errors, irq, edges: () => irq.filter((l) => l).length };
}
const done = (r: Rig) => { r.ch.close(); rmSync(r.dir, { recursive: true, force: true }); };
const inp = (r: Rig, port: number, size: AccessSize = 1) => r.pio.read(port, size);
const out = (r: Rig, port: number, v: number, size: AccessSize = 1) => r.pio.write(port, size, v);

function lba28(r: Rig, cmd: number, lba: number, count: number, slave = false): void {
  out(r, 0x1f6, 0xe0 | (slave ? 0x10 : 0) | ((lba >> 24) & 0xf));
  out(r, 0x1f2, count & 0xff);
  out(r, 0x1f3, lba & 0xff); out(r, 0x1f4, (lba >> 8) & 0xff); out(r, 0x1f5, (lba >> 16) & 0xff);
  out(r, 0x1f7, cmd);
}
function lba48(r: Rig, cmd: number, lba: number, count: number): void {
  out(r, 0x1f6, 0x40);
  const hi = Math.floor(lba / 2 ** 24);
  out(r, 0x1f2, (count >> 8) & 0xff); out(r, 0x1f3, hi & 0xff); out(r, 0x1f4, (hi >> 8) & 0xff); out(r, 0x1f5, (hi >> 16) & 0xff);
  out(r, 0x1f2, count & 0xff); out(r, 0x1f3, lba & 0xff); out(r, 0x1f4, (lba >> 8) & 0xff); out(r, 0x1f5, (lba >> 16) & 0xff);
  out(r, 0x1f7, cmd);
}
function readWords(r: Rig, n: number): number[] { return Array.from({ length: n }, () => inp(r, 0x1f0, 2)); }
function sectorBytes(words: number[]): Uint8Array {
  const b = new Uint8Array(words.length * 2);
  words.forEach((w, i) => { b[2 * i] = w & 0xff; b[2 * i + 1] = w >> 8; });
  return b;
}
const ataString = (words: number[], from: number, n: number) =>
  words.slice(from, from + n).map((w) => String.fromCharCode(w >> 8, w & 0xff)).join('').trimEnd();

test('IDENTIFY DEVICE on the master: DRQ with IRQ 14, a 512-byte block with model, serial, LBA28 and LBA48 capacities, the integrity word', () => {
  const r = rig([{ sectors: SECTORS }]);
  try {
    assert.equal(inp(r, 0x1f7), 0x50, 'DRDY | DSC after power-on');
    assert.deepEqual([inp(r, 0x1f2), inp(r, 0x1f3), inp(r, 0x1f4), inp(r, 0x1f5)], [1, 1, 0, 0], 'ATA signature');
    out(r, 0x1f6, 0xa0);
    out(r, 0x1f7, 0xec);
    assert.equal(inp(r, 0x3f6), 0x58, 'alternate status: DRQ');
    assert.deepEqual(r.irq, [true]);
    assert.equal(inp(r, 0x1f7), 0x58);
    assert.deepEqual(r.irq, [true, false], 'reading the status register clears the interrupt');
    const id = readWords(r, 256);
    assert.equal(inp(r, 0x1f7), 0x50, 'DRQ clear after 256 words');
    assert.equal(ataString(id, 27, 20), 'KVMDBG ATA DISK');
    assert.equal(ataString(id, 10, 10), 'KVMDBG-ATA0-0');
    assert.equal(id[0], 0x0040);
    assert.equal(id[49] & 0x0200, 0x0200, 'LBA');
    assert.equal(id[60] | id[61] << 16, SECTORS);
    assert.equal(id[83] & 0xc400, 0x4400, 'LBA48 supported');
    assert.equal(id[86] & 0x0400, 0x0400, 'LBA48 enabled');
    assert.deepEqual(id.slice(100, 104), [SECTORS, 0, 0, 0]);
    assert.equal(id[47] & 0xff, 16, 'READ/WRITE MULTIPLE up to 16 sectors');
    assert.equal(id[255] & 0xff, 0xa5);
    assert.equal(sectorBytes(id).reduce((s, b) => s + b, 0) & 0xff, 0, 'checksum');
    assert.deepEqual(r.errors, []);
  } finally { done(r); }
});

test('an absent slave reads status 0 (how xv6 and Linux tell), a command to it is ignored; an empty channel floats at 0xFF', () => {
  const r = rig([{}]);
  try {
    out(r, 0x1f6, 0xf0);
    assert.equal(inp(r, 0x1f7), 0);
    assert.equal(inp(r, 0x3f6), 0);
    out(r, 0x1f7, 0xec);
    assert.equal(inp(r, 0x1f7), 0);
    assert.deepEqual(r.irq, []);
    assert.match(r.errors[0], /to the slave, which is not there; ignored/);
  } finally { done(r); }
  const e = rig([]);
  try {
    assert.deepEqual([inp(e, 0x1f7), inp(e, 0x1f0, 2), inp(e, 0x3f6)], [0xff, 0xffff, 0xff]);
    out(e, 0x1f7, 0xec);
    out(e, 0x1f0, 0x1234, 2);
    assert.equal(inp(e, 0x1f7), 0xff);
    assert.deepEqual(e.errors, [], 'nothing to log on a channel with no drive');
  } finally { done(e); }
});

test('READ SECTORS (LBA28), 3 sectors from LBA 5: each sector its own DRQ block and interrupt, the bytes of the image', () => {
  const r = rig();
  try {
    lba28(r, 0x20, 5, 3);
    const got: number[] = [];
    for (let s = 0; s < 3; s++) {
      assert.equal(r.edges(), s + 1, `interrupt before sector ${s}`);
      assert.equal(inp(r, 0x1f7), 0x58);
      got.push(...readWords(r, 256));
    }
    assert.equal(inp(r, 0x1f7), 0x50);
    assert.equal(r.edges(), 3, 'no interrupt after the last data-in block');
    assert.deepEqual(sectorBytes(got), image().subarray(5 * 512, 8 * 512));
    assert.equal(r.ch.stats.sectorsRead, 3);
    assert.deepEqual(r.ch.details(), [['selected', 'master'], ['device control', '0x00'], ['master status', '0x50, error 0x00'],
      ['counts', '1 commands, 3 sectors read, 0 written, 0 error statuses, 0 guest errors']]);
    assert.match(r.ch.describe(), /^ATA PIO at 0x1f0\/0x3f6, IRQ 14: master .*d0\.img \(64 sectors\), slave none$/);
  } finally { done(r); }
});

test('WRITE SECTORS EXT (LBA48), 2 sectors at LBA 40 with 32-bit OUTs (outsl, as xv6): first block without an interrupt, then one a block', () => {
  const r = rig();
  try {
    lba48(r, 0x34, 40, 2);
    assert.equal(inp(r, 0x1f7), 0x58);
    assert.equal(r.edges(), 0);
    const data = Uint8Array.from({ length: 1024 }, (_, i) => (i * 3 + 1) & 0xff);
    const dv = new DataView(data.buffer);
    for (let i = 0; i < 128; i++) out(r, 0x1f0, dv.getUint32(i * 4, true), 4);
    assert.equal(r.edges(), 1, 'DRQ for the second block comes with an interrupt');
    assert.equal(inp(r, 0x1f7), 0x58);
    for (let i = 128; i < 256; i++) out(r, 0x1f0, dv.getUint32(i * 4, true), 4);
    assert.equal(r.edges(), 2, 'completion interrupt');
    assert.equal(inp(r, 0x1f7), 0x50);
    const file = readFileSync(r.files[0]);
    assert.deepEqual(new Uint8Array(file.subarray(40 * 512, 42 * 512)), data);
    assert.deepEqual(new Uint8Array(file.subarray(0, 40 * 512)), image().subarray(0, 40 * 512), 'nothing else written');
    assert.equal(file.length, SECTORS * 512);
  } finally { done(r); }
});

test('READ MULTIPLE: aborted before SET MULTIPLE MODE, then 8 sectors as two 4-sector blocks; READ SECTORS EXT above 2^24 sectors is IDNF', () => {
  const r = rig();
  try {
    lba28(r, 0xc4, 0, 8);
    assert.deepEqual([inp(r, 0x1f7), inp(r, 0x1f1)], [0x51, 0x04]);
    out(r, 0x1f2, 4); out(r, 0x1f7, 0xc6);
    assert.equal(inp(r, 0x1f7), 0x50);
    const before = r.edges();
    lba28(r, 0xc4, 8, 8);
    assert.equal(inp(r, 0x1f7), 0x58);
    const words = readWords(r, 4 * 256);
    assert.equal(r.edges() - before, 2, 'one interrupt a block');
    assert.equal(inp(r, 0x1f7), 0x58);
    words.push(...readWords(r, 4 * 256));
    assert.equal(r.edges() - before, 2);
    assert.equal(inp(r, 0x1f7), 0x50);
    assert.deepEqual(sectorBytes(words), image().subarray(8 * 512, 16 * 512));
    lba48(r, 0x24, 2 ** 24 + 1, 1);
    assert.deepEqual([inp(r, 0x1f7), inp(r, 0x1f1)], [0x51, 0x10]);
  } finally { done(r); }
});

test('CHS addressing (LBA bit clear) under the default 16/63 translation, and after INITIALIZE DEVICE PARAMETERS', () => {
  const r = rig([{ sectors: 2048 }]);
  try {
    // C=1 H=0 S=2 -> (1*16+0)*63+1 = 1009
    out(r, 0x1f6, 0xa0); out(r, 0x1f2, 1); out(r, 0x1f3, 2); out(r, 0x1f4, 1); out(r, 0x1f5, 0); out(r, 0x1f7, 0x20);
    assert.deepEqual(sectorBytes(readWords(r, 256)), image(2048).subarray(1009 * 512, 1010 * 512));
    out(r, 0x1f6, 0xa3); out(r, 0x1f2, 32); out(r, 0x1f7, 0x91); // 4 heads, 32 sectors
    assert.equal(inp(r, 0x1f7), 0x50);
    out(r, 0x1f6, 0xa1); out(r, 0x1f2, 1); out(r, 0x1f3, 1); out(r, 0x1f4, 2); out(r, 0x1f5, 0); out(r, 0x1f7, 0x20); // (2*4+1)*32 = 288
    assert.deepEqual(sectorBytes(readWords(r, 256)), image(2048).subarray(288 * 512, 289 * 512));
    out(r, 0x1f6, 0xa0); out(r, 0x1f3, 0); out(r, 0x1f7, 0x20); // sector 0 does not exist in CHS
    assert.deepEqual([inp(r, 0x1f7), inp(r, 0x1f1)], [0x51, 0x10]);
  } finally { done(r); }
});

test('hostile: past the end, count 0 (=256) past a small disk, read-only disk writes, unknown commands, a command during DRQ, data without DRQ', () => {
  const r = rig([{}, { readOnly: true }]);
  try {
    lba28(r, 0x20, SECTORS - 1, 2);
    assert.deepEqual([inp(r, 0x1f7), inp(r, 0x1f1)], [0x51, 0x10], 'ERR, IDNF');
    assert.equal(inp(r, 0x1f0, 2), 0, 'no data');
    lba28(r, 0x20, 0, 0);
    assert.deepEqual([inp(r, 0x1f7), inp(r, 0x1f1)], [0x51, 0x10]);
    lba48(r, 0x24, 0, 0);
    assert.deepEqual([inp(r, 0x1f7), inp(r, 0x1f1)], [0x51, 0x10], 'LBA48 count 0 is 65536 sectors');
    lba28(r, 0x30, 0, 1, true);
    assert.deepEqual([inp(r, 0x1f7), inp(r, 0x1f1)], [0x51, 0x04], 'ABRT on the read-only slave');
    out(r, 0x1f0, 0x1234, 2);
    out(r, 0x1f6, 0xe0);
    out(r, 0x1f7, 0x77 + 0x80);
    assert.deepEqual([inp(r, 0x1f7), inp(r, 0x1f1)], [0x51, 0x04], 'unknown command: ABRT');
    out(r, 0x1f7, 0x00);
    assert.deepEqual([inp(r, 0x1f7), inp(r, 0x1f1)], [0x51, 0x04], 'NOP aborts');
    lba28(r, 0x20, 0, 4);
    readWords(r, 10);
    out(r, 0x1f7, 0xec);
    assert.deepEqual([inp(r, 0x1f7), inp(r, 0x1f1)], [0x51, 0x04], 'a command in the middle of a transfer aborts it');
    assert.equal(inp(r, 0x1f0, 2), 0);
    lba28(r, 0x20, 0, 1);
    assert.equal(inp(r, 0x1f7), 0x58, 'the next command works');
    assert.deepEqual(sectorBytes(readWords(r, 256)), image().subarray(0, 512));
    assert.deepEqual(new Uint8Array(readFileSync(r.files[1])), image(), 'the read-only image is unchanged');
    assert.ok(r.errors.some((e) => /sectors 63\+2 are past the disk's 64: error status \(ERR, IDNF\)/.test(e)), r.errors.join('\n'));
    assert.ok(r.errors.some((e) => /data port read without a data-in transfer/.test(e)));
    assert.ok(r.errors.some((e) => /the disk is read-only/.test(e)));
  } finally { done(r); }
});

test('software reset (SRST) ends a transfer and restores the signature; nIEN keeps IRQ 14 low; HOB reads the previous LBA48 bytes', () => {
  const r = rig();
  try {
    lba28(r, 0x20, 0, 2);
    out(r, 0x3f6, 0x04);
    assert.equal(inp(r, 0x1f7), 0x80, 'BSY while SRST is set');
    assert.equal(inp(r, 0x1f0, 2), 0, 'the transfer ended when SRST was set');
    out(r, 0x1f7, 0xec);
    out(r, 0x3f6, 0x00);
    assert.deepEqual([inp(r, 0x1f7), inp(r, 0x1f1), inp(r, 0x1f2), inp(r, 0x1f3), inp(r, 0x1f6)], [0x50, 0x01, 1, 1, 0xa0]);
    assert.equal(r.irq[r.irq.length - 1], false);
    out(r, 0x3f6, 0x02);
    const n = r.irq.length;
    lba28(r, 0x20, 1, 1);
    assert.equal(r.irq.length, n, 'no interrupt with nIEN');
    assert.equal(inp(r, 0x3f6), 0x58);
    out(r, 0x3f6, 0x00);
    assert.equal(r.irq[r.irq.length - 1], true, 'the pending interrupt shows once nIEN clears');
    readWords(r, 256);
    out(r, 0x1f3, 0x11); out(r, 0x1f3, 0x22);
    out(r, 0x3f6, 0x80);
    assert.equal(inp(r, 0x1f3), 0x11);
    out(r, 0x3f6, 0x00);
    assert.equal(inp(r, 0x1f3), 0x22);
    out(r, 0x1f7, 0x27); // READ NATIVE MAX ADDRESS EXT
    assert.deepEqual([inp(r, 0x1f3), inp(r, 0x1f4), inp(r, 0x1f5)], [SECTORS - 1, 0, 0]);
  } finally { done(r); }
});

test('a guest that hammers bad accesses is logged at most ATA_MAX_LOGGED times, counted after', () => {
  const r = rig();
  try {
    for (let i = 0; i < 1000; i++) inp(r, 0x1f0, 2);
    assert.equal(r.errors.length, ATA_MAX_LOGGED);
    assert.equal(r.ch.stats.guestErrors, 1000);
  } finally { done(r); }
});

test('more than two IDE disks is one sentence', () => {
  assert.throws(() => checkAtaDisks([{ path: 'a', readOnly: false }, { path: 'b', readOnly: false }, { path: 'c', readOnly: false }]),
    /3 disks on the IDE bus: the primary channel holds 2 \(master and slave\); put the others on virtio/);
});

test('--disk FILE,ide and FILE,ro,ide put an image on the ATA channel; plain FILE stays virtio', () => {
  assert.deepEqual(parseDisk('a.img,ide'), { path: 'a.img', readOnly: false, bus: 'ide' });
  assert.deepEqual(parseDisk('a.img,ro,ide'), { path: 'a.img', readOnly: true, bus: 'ide' });
  assert.deepEqual(parseDisk('a.img,ide,ro'), { path: 'a.img', readOnly: true, bus: 'ide' });
  assert.deepEqual(parseDisk('a,b.img'), { path: 'a,b.img', readOnly: false });
  assert.throws(() => parseDisk(',ide'), /--disk ,ide: expected FILE or FILE,ro \(and ,ide for the ATA channel\)/);
});

test('launch.json: { "bus": "ide" } and "FILE,ide" put a disk on the ATA channel; another bus is one sentence', () => {
  const r = rig();
  try {
    const f = r.files[0];
    const { config } = validateLaunchArgs({ kernel: f, disks: [{ path: f, bus: 'ide' }, `${f},ro,ide`, { path: f, bus: 'virtio' }] });
    assert.deepEqual(config.disks, [{ path: f, readOnly: false, bus: 'ide' }, { path: f, readOnly: true, bus: 'ide' }, { path: f, readOnly: false }]);
    assert.throws(() => validateLaunchArgs({ kernel: f, disks: [{ path: f, bus: 'scsi' }] }), /launch.json: "disks"\[0\]\.bus must be "virtio" or "ide", not "scsi"/);
  } finally { done(r); }
});

test('a disk past LBA28 (a sparse 128 GiB + 16 sectors image): IDENTIFY caps words 60-61 at 0x0FFFFFFF, words 100-103 give it all, LBA48 reaches the last sector, LBA28 cannot', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-ata-big-'));
  const file = join(dir, 'big.img');
  const sectors = 2 ** 28 + 16;
  writeFileSync(file, '');
  truncateSync(file, sectors * 512);
  const errors: string[] = [];
  const pio = new Bus('pio', { guestError: (m) => errors.push(m), info: () => {} });
  const ch = attachAta({ pio, disks: [{ path: file, readOnly: false }], irq: () => ({ set: () => {} }), log: { guestError: (m) => errors.push(m), info: () => {} } });
  const r = { ch, pio, files: [file], dir, errors, irq: [], edges: () => 0 } as Rig;
  try {
    out(r, 0x1f6, 0xa0); out(r, 0x1f7, 0xec);
    const id = readWords(r, 256);
    assert.equal(id[60] | id[61] << 16, 0x0fffffff);
    assert.deepEqual(id.slice(100, 104), [16, 0x1000, 0, 0]);
    const last = sectors - 1;
    lba48(r, 0x34, last, 1);
    for (let i = 0; i < 256; i++) out(r, 0x1f0, 0xbeef, 2);
    assert.equal(inp(r, 0x1f7), 0x50);
    lba48(r, 0x24, last, 1);
    assert.equal(inp(r, 0x1f7), 0x58);
    assert.deepEqual(readWords(r, 2), [0xbeef, 0xbeef]);
    readWords(r, 254);
    lba48(r, 0x24, last, 2);
    assert.deepEqual([inp(r, 0x1f7), inp(r, 0x1f1)], [0x51, 0x10], 'one sector past the end');
    lba28(r, 0x20, 0x0fffffff, 1);
    assert.equal(inp(r, 0x1f7), 0x58, 'LBA28 reaches sector 0x0FFFFFFF, its last');
    readWords(r, 256);
    out(r, 0x1f7, 0x27);
    assert.deepEqual([inp(r, 0x1f3), inp(r, 0x1f4), inp(r, 0x1f5)], [0x0f, 0, 0]);
    out(r, 0x3f6, 0x80);
    assert.deepEqual([inp(r, 0x1f3), inp(r, 0x1f4), inp(r, 0x1f5)], [0x10, 0, 0], 'READ NATIVE MAX EXT: 0x1000000f in the HOB bytes');
  } finally { done(r); }
});
