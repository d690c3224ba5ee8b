// The virtio-mmio register file (version 2) fed accesses as the bus would,
// and virtio-blk over it on a real temporary file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bus } from '../../vmm/bus/bus';
import {
  feature, INT_USED_BUFFER, REG, STATUS, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_SIZE,
} from '../../vmm/virtio/mmio-transport';
import {
  openDiskFile, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VirtioBlk,
} from '../../vmm/virtio/blk';
import { VirtioRng } from '../../vmm/virtio/rng';
import { VIRTIO_MMIO_BASE, virtioLayout } from '../../vmm/virtio/layout';
import { parseCli, parseDisk } from '../../vmm/cli/args';
import { VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '../../vmm/virtio/virtqueue';
import { DATA, TestDriver } from './helpers/virtio-driver';

const V1 = feature(VIRTIO_F_VERSION_1);

test('identity registers: magic, version 2, device id, vendor; VERSION_1 offered in the high word', () => {
  const d = new TestDriver((m) => new VirtioRng(m));
  assert.equal(d.r(REG.magic), VIRTIO_MMIO_MAGIC);
  assert.equal(d.r(REG.version), 2);
  assert.equal(d.r(REG.deviceId), 4);
  assert.equal(d.r(REG.vendorId), 0x444d564b);
  d.w(REG.deviceFeaturesSel, 1);
  assert.equal(d.r(REG.deviceFeatures) & 1, 1, 'bit 32 = VIRTIO_F_VERSION_1');
  d.w(REG.deviceFeaturesSel, 7);
  assert.equal(d.r(REG.deviceFeatures), 0);
  assert.equal(d.r(REG.queueNumMax), 64);
  d.w(REG.queueSel, 3);
  assert.equal(d.r(REG.queueNumMax), 0, 'a queue that does not exist has max 0');
  assert.deepEqual(d.log.errors, []);
});

test('registers are 32-bit: other widths are guest errors, not crashes', () => {
  const d = new TestDriver((m) => new VirtioRng(m));
  assert.equal(d.dev.read(REG.magic, 1), 0);
  d.dev.write(REG.status, 2, 1);
  assert.equal(d.r(REG.status), 0);
  assert.equal(d.dev.read(0x0f0, 4), 0, 'reserved');
  d.w(REG.magic, 1);
  assert.equal(d.log.errors.length, 4, d.log.errors.join('\n'));
});

test('FEATURES_OK: refused without VERSION_1 or with features not offered', () => {
  const d = new TestDriver((m) => new VirtioRng(m));
  d.w(REG.status, STATUS.ACKNOWLEDGE | STATUS.DRIVER);
  d.w(REG.status, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
  assert.equal(d.r(REG.status) & STATUS.FEATURES_OK, 0, 'legacy driver refused');
  d.w(REG.driverFeaturesSel, 1);
  d.w(REG.driverFeatures, 1 | 2);
  d.w(REG.status, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
  assert.equal(d.r(REG.status) & STATUS.FEATURES_OK, 0, 'bit 33 is not offered');
  d.w(REG.driverFeatures, 1);
  d.w(REG.status, STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
  assert.ok(d.r(REG.status) & STATUS.FEATURES_OK);
  assert.equal(d.dev.driverFeatures, V1);
});

test('status 0 resets the queues and drops the interrupt', () => {
  const d = new TestDriver((m) => new VirtioRng(m));
  d.bringUp(V1);
  d.desc(0, { addr: DATA, len: 8, flags: VIRTQ_DESC_F_WRITE });
  d.offer(0);
  assert.equal(d.r(REG.interruptStatus), INT_USED_BUFFER);
  assert.equal(d.irq.level, true);
  d.w(REG.status, 0);
  assert.equal(d.r(REG.status), 0);
  assert.equal(d.r(REG.queueReady), 0);
  assert.equal(d.r(REG.queueNum), 0);
  assert.equal(d.r(REG.interruptStatus), 0);
  assert.equal(d.irq.level, false);
});

test('a queue cannot be reconfigured while ready; queue addresses read back', () => {
  const d = new TestDriver((m) => new VirtioRng(m));
  d.bringUp(V1);
  assert.equal(d.r(REG.queueDescLow), 0x10000);
  d.w(REG.queueDescLow, 0x50000);
  assert.equal(d.r(REG.queueDescLow), 0x10000);
  assert.ok(d.log.errors.some((e) => /while ready/.test(e)));
});

test('notifications before DRIVER_OK are ignored; the driver can suppress interrupts', () => {
  const d = new TestDriver((m) => new VirtioRng(m));
  d.bringUp(V1);
  d.memory.writeU16(0x20000, 1); // VIRTQ_AVAIL_F_NO_INTERRUPT
  d.desc(0, { addr: DATA, len: 8, flags: VIRTQ_DESC_F_WRITE });
  d.offer(0);
  assert.equal(d.usedIdx(), 1);
  assert.equal(d.irq.level, false);
});

test('on the MMIO bus: the window is 0x200 bytes; wider accesses are split', () => {
  const d = new TestDriver((m) => new VirtioRng(m));
  const bus = new Bus('mmio');
  bus.register(0xd000_0000, VIRTIO_MMIO_SIZE, d.dev);
  assert.equal(bus.read(0xd000_0000, 4), VIRTIO_MMIO_MAGIC);
  assert.equal(bus.read(0xd000_0000, 8), VIRTIO_MMIO_MAGIC + 2 * 2 ** 32, 'magic and version');
  assert.equal(bus.read(0xd000_0200, 4), 0xffffffff, 'past the window');
});

test('the layout: disks first from VIRTIO_MMIO_BASE, 4 KiB apart, GSIs from 16; then the rng and the console', () => {
  const l = virtioLayout([{ path: 'a', readOnly: false }, { path: 'b', readOnly: true }]);
  assert.deepEqual(l.map((s) => [s.kind, s.base, s.size, s.gsi]), [
    ['blk', VIRTIO_MMIO_BASE, 0x200, 16], ['blk', VIRTIO_MMIO_BASE + 0x1000, 0x200, 17], ['rng', VIRTIO_MMIO_BASE + 0x2000, 0x200, 18],
    ['console', VIRTIO_MMIO_BASE + 0x3000, 0x200, 19],
  ]);
  assert.throws(() => virtioLayout(Array.from({ length: 7 }, () => ({ path: 'x', readOnly: false }))), /7 disks: at most 6/);
});

// ---- virtio-blk -------------------------------------------------------------

const HDR = 0x50000;
const STATUS_ADDR = 0x51000;
const BUF = 0x60000;

function blkDriver(bytes: Uint8Array, readOnly = false) {
  const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-blk-'));
  const file = join(dir, 'disk.img');
  writeFileSync(file, bytes);
  let blk!: VirtioBlk;
  const d = new TestDriver((m) => (blk = new VirtioBlk(openDiskFile(file, readOnly), m)), 16);
  d.bringUp(V1 | feature(VIRTIO_BLK_F_FLUSH) | (readOnly ? feature(VIRTIO_BLK_F_RO) : 0n));
  let head = 0;
  /** One request: header, data buffers (readable for OUT, writable otherwise), status. */
  const request = (type: number, sector: number, data: { len: number; fill?: number }[] = []) => {
    const h = head;
    head = (head + 8) % 16;
    d.memory.writeU32(HDR, type);
    d.memory.writeU64(HDR + 8, BigInt(sector));
    d.memory.writeU8(STATUS_ADDR, 0xee);
    const write = type === VIRTIO_BLK_T_OUT ? 0 : VIRTQ_DESC_F_WRITE;
    d.desc(h, { addr: HDR, len: 16, flags: VIRTQ_DESC_F_NEXT, next: h + 1 });
    let at = BUF;
    data.forEach((seg, i) => {
      if (seg.fill !== undefined) d.memory.fill(at, seg.len, seg.fill);
      d.desc(h + 1 + i, { addr: at, len: seg.len, flags: write | VIRTQ_DESC_F_NEXT, next: h + 2 + i });
      at += seg.len;
    });
    d.desc(h + 1 + data.length, { addr: STATUS_ADDR, len: 1, flags: VIRTQ_DESC_F_WRITE });
    const before = d.usedIdx();
    d.offer(h);
    assert.equal(d.usedIdx(), (before + 1) & 0xffff, 'one used entry per request');
    return { status: d.memory.readU8(STATUS_ADDR), len: d.used(before).len };
  };
  return { d, file, blk: () => blk, request };
}

test('virtio-blk: capacity, reads and writes across segments, flush, GET_ID, unknown types', () => {
  const image = new Uint8Array(8 * 512);
  for (let i = 0; i < image.length; i++) image[i] = i & 0xff;
  const { d, file, request } = blkDriver(image);
  assert.equal(d.dev.read(0x100, 4), 8, 'capacity low word, in sectors');
  assert.equal(d.dev.read(0x104, 4), 0);
  assert.equal(d.dev.read(0x100, 1), 8, 'config space takes byte reads');

  let r = request(VIRTIO_BLK_T_IN, 1, [{ len: 100 }, { len: 412 }]);
  assert.deepEqual(r, { status: VIRTIO_BLK_S_OK, len: 513 });
  assert.deepEqual(d.memory.read(BUF, 512), image.subarray(512, 1024));

  r = request(VIRTIO_BLK_T_OUT, 2, [{ len: 512, fill: 0xab }, { len: 512, fill: 0xcd }]);
  assert.deepEqual(r, { status: VIRTIO_BLK_S_OK, len: 1 });
  const after = readFileSync(file);
  assert.ok(after.subarray(1024, 1536).every((b) => b === 0xab) && after.subarray(1536, 2048).every((b) => b === 0xcd));
  assert.equal(after[2048], 0, 'sector 4 untouched');

  assert.equal(request(VIRTIO_BLK_T_FLUSH, 0).status, VIRTIO_BLK_S_OK);
  r = request(VIRTIO_BLK_T_GET_ID, 0, [{ len: 20 }]);
  assert.equal(r.status, VIRTIO_BLK_S_OK);
  assert.equal(Buffer.from(d.memory.read(BUF, 6)).toString(), 'kvmdbg');
  assert.equal(request(99, 0).status, VIRTIO_BLK_S_UNSUPP);
  assert.deepEqual(d.log.errors, []);
});

test('virtio-blk: past the end, partial sectors and read-only writes answer IOERR', () => {
  const { d, request } = blkDriver(new Uint8Array(4 * 512));
  assert.equal(request(VIRTIO_BLK_T_IN, 3, [{ len: 1024 }]).status, VIRTIO_BLK_S_IOERR, 'runs past sector 4');
  assert.equal(request(VIRTIO_BLK_T_IN, 2 ** 60, [{ len: 512 }]).status, VIRTIO_BLK_S_IOERR, 'huge sector');
  assert.equal(request(VIRTIO_BLK_T_OUT, 0, [{ len: 100 }]).status, VIRTIO_BLK_S_IOERR, 'not a whole sector');
  assert.equal(d.log.errors.length, 3);

  const image = new Uint8Array(4 * 512).fill(0x11);
  const ro = blkDriver(image, true);
  assert.ok(ro.d.r(REG.status) & STATUS.FEATURES_OK, 'RO negotiated');
  assert.equal(ro.request(VIRTIO_BLK_T_OUT, 0, [{ len: 512, fill: 0x22 }]).status, VIRTIO_BLK_S_IOERR);
  assert.ok(readFileSync(ro.file).every((b) => b === 0x11), 'file unchanged');
  assert.equal(ro.request(VIRTIO_BLK_T_IN, 0, [{ len: 512 }]).status, VIRTIO_BLK_S_OK, 'reads still work');
});

test('virtio-blk: a request without header or status is dropped, not a crash', () => {
  const { d } = blkDriver(new Uint8Array(512));
  d.desc(0, { addr: HDR, len: 8 });
  d.offer(0);
  assert.equal(d.usedIdx(), 1);
  assert.deepEqual(d.used(0), { id: 0, len: 0 });
  assert.ok(d.log.errors.some((e) => /without a 16-byte header/.test(e)));
});

test('openDiskFile: one sentence for a missing file', () => {
  assert.throws(() => openDiskFile('/nonexistent/disk.img', false), /disk image \/nonexistent\/disk.img: the file does not exist/);
});

test('indirect descriptors are offered by virtio-blk', () => {
  const { d } = blkDriver(new Uint8Array(512));
  d.w(REG.deviceFeaturesSel, 0);
  assert.ok(BigInt(d.r(REG.deviceFeatures)) & feature(VIRTIO_F_INDIRECT_DESC));
});

test('--disk FILE[,ro] is repeatable and keeps its order', () => {
  assert.deepEqual(parseDisk('a.img,ro'), { path: 'a.img', readOnly: true });
  assert.deepEqual(parseDisk('dir,x/b.img'), { path: 'dir,x/b.img', readOnly: false });
  const args = parseCli(['run', '--kernel', 'k', '--disk', 'a.img', '--disk', 'b.img,ro']);
  assert.notEqual(args, 'help');
  assert.deepEqual((args as { disks: unknown }).disks, [{ path: 'a.img', readOnly: false }, { path: 'b.img', readOnly: true }]);
  assert.throws(() => parseDisk(',ro'), /expected FILE or FILE,ro/);
});
