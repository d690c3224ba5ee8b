// Virtqueue fuzzer: the virtio-mmio transport with virtio-blk (on a real
// temporary image) and virtio-rng, driven the way a hostile guest would drive
// them, without KVM: random register accesses at every offset and width,
// config-space writes, queue sizes and ring addresses out of range, and
// descriptor chains built to hurt (loops, next out of range, buffers outside
// RAM or crossing its end, huge lengths, INDIRECT abuse, readable after
// writable, heads out of range, avail indices far ahead or wrapped), with
// notifies on good and bad queues. The KVM tier's vqhammer64 guest does the
// same from inside a real VM (test/kvm/hostile-guest-virtio.test.ts).
// Invariants after every operation / at the end:
//   - no exception escapes the device (the bus would turn one into a guest
//     error line; here it is a bug);
//   - guest-error lines are rate-limited (a guest cannot flood the log);
//   - RAM outside the area the fuzzer points descriptors at is unchanged
//     (the canary): the device writes only into buffers it was given;
//   - the disk image outside the sectors a valid request may write (the
//     fuzzer's OUT requests name sectors 0-7 or sectors past the end) is
//     unchanged, its size too (no write past the end, no partial write of a
//     refused request);
//   - afterwards, reset and a clean handshake: valid requests work.
// Budget: KVMDBG_FUZZ_ROUNDS / KVMDBG_FUZZ_SEED (helpers/fuzz-budget.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_LOGGED as TRANSPORT_MAX_LOGGED, REG, STATUS, feature, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, type VirtioBackend } from '../../vmm/virtio/mmio-transport';
import { openDiskFile, SECTOR, VIRTIO_BLK_S_OK, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VirtioBlk } from '../../vmm/virtio/blk';
import { VirtioRng } from '../../vmm/virtio/rng';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '../../vmm/virtio/virtqueue';
import type { GuestMemory } from '../../vmm/memory/guest-memory';
import { AVAIL, DATA, DESC, TestDriver, USED } from './helpers/virtio-driver';
import { fuzzRounds, fuzzSeed, rng } from './helpers/fuzz-budget';

const OPS = fuzzRounds(4000);
const RAM = 16 * 1024 * 1024;
/** Descriptors that point into RAM point into [DATA, ARENA_END); everything above is the canary. */
const ARENA_END = 0x100000;
const CANARY_FROM = ARENA_END;
/** Sectors a valid OUT may write; the rest of the disk must stay as it was. */
const SCRATCH_SECTORS = 8;
const DISK_SECTORS = 64;
const DISK_TAIL = 100; // bytes after the last whole sector: invisible to the guest
/** The transport logs this many guest errors per device, then counts them. */
const MAX_LOGGED = TRANSPORT_MAX_LOGGED;

const canaryByte = (i: number) => (i * 131 + 7) & 0xff;
const diskByte = (i: number) => (i * 29 + (i >> 9)) & 0xff;

interface Target { name: string; d: TestDriver; blk?: VirtioBlk; file?: string; dir?: string; writes: [number, number][] }

function makeTarget(kind: 'blk' | 'rng', queueSize: number): Target {
  if (kind === 'rng') return { name: 'rng', d: new TestDriver((m) => new VirtioRng(m), queueSize), writes: [] };
  const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-vqfuzz-'));
  const file = join(dir, 'disk.img');
  const image = new Uint8Array(DISK_SECTORS * SECTOR + DISK_TAIL);
  for (let i = 0; i < image.length; i++) image[i] = diskByte(i);
  writeFileSync(file, image);
  let blk!: VirtioBlk;
  // Every write the device makes to the image, to check each against the disk's bounds.
  const writes: [number, number][] = [];
  const disk = openDiskFile(file, false);
  const write = disk.write.bind(disk);
  disk.write = (from, position) => { writes.push([position, from.length]); write(from, position); };
  const d = new TestDriver((m: GuestMemory): VirtioBackend => (blk = new VirtioBlk(disk, m)), queueSize);
  return { name: 'blk', d, blk, file, dir, writes };
}

function fillCanary(m: GuestMemory): void {
  const v = m.view8(CANARY_FROM, RAM - CANARY_FROM);
  for (let i = 0; i < v.length; i++) v[i] = canaryByte(i);
}

function canaryDamage(m: GuestMemory): number {
  const v = m.view8(CANARY_FROM, RAM - CANARY_FROM);
  let bad = 0;
  for (let i = 0; i < v.length; i++) if (v[i] !== canaryByte(i)) bad++;
  return bad;
}

/** A fuzz run over one device: returns the number of operations made. */
function fuzz(t: Target, seed: number, ops: number): { ops: number; notifies: number; chains: number } {
  const rand = rng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const u32 = () => (rand() * 2 ** 32) >>> 0;
  const { d } = t;
  const m = d.memory;
  const qsize = d.queueSize;
  let notifies = 0;
  let chains = 0;
  fillCanary(m);

  /** An address that is not RAM, or RAM that crosses the end, or far beyond 2^53. */
  const badAddr = (): bigint => pick([BigInt(RAM), BigInt(RAM - 8), 0xfeb00000n, 0xffff_ffffn, 0x1_0000_0000n,
    0xffff_ffff_ffff_f000n, 1n << 53n, (1n << 53n) - 1n, BigInt(RAM) + BigInt(u32())]);
  /** An address inside the arena (the fuzzer's buffers). */
  const arenaAddr = (len: number): number => DATA + int(Math.max(1, ARENA_END - DATA - len));
  const length = (): number => pick([0, 1, 15, 16, 17, 511, 512, 513, 4096, 0x10000, 0x7fffffff, 0xffffffff, u32() & 0xfff, RAM]);

  /** A blk header: IN/OUT/FLUSH/GET_ID/random type at a sector valid OUTs may write, or past the end. */
  const header = (at: number): void => {
    const type = pick([VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, u32(), 2, 3]);
    const sector = pick([BigInt(int(SCRATCH_SECTORS)), BigInt(DISK_SECTORS), BigInt(DISK_SECTORS - 1), BigInt(DISK_SECTORS + int(1000)),
      0xffff_ffff_ffff_ffffn, 1n << 63n, 1n << 53n, (1n << 53n) + 1n, BigInt(u32()) << 20n]);
    // An OUT into the disk's own sectors beyond scratch would be a valid request; keep the check exact.
    const s = type === VIRTIO_BLK_T_OUT && sector >= SCRATCH_SECTORS && sector < DISK_SECTORS ? 0n : sector;
    m.writeU32(at, type >>> 0);
    m.writeU32(at + 4, u32());
    m.writeU64(at + 8, s);
  };

  /** Writes one descriptor: mostly plausible, sometimes hostile. */
  const descriptor = (table: number, i: number, count: number, first: boolean, last: boolean, writable: boolean): void => {
    const r = int(16);
    let addr: bigint;
    let len: number;
    // Outside RAM (or crossing its end: at least 16 bytes from RAM - 8), or too long for RAM, or a plain arena buffer.
    if (r === 0) { addr = badAddr(); len = Math.max(16, length()); }
    else if (r === 1) { len = length(); addr = BigInt(arenaAddr(len < ARENA_END - DATA ? len : 0)); }
    else { len = pick([16, 512, 1024, 1, 20, 8]); addr = BigInt(arenaAddr(len)); }
    let flags = (writable ? VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VIRTQ_DESC_F_NEXT);
    if (int(20) === 0) flags ^= 1 << int(3);
    if (int(40) === 0) flags = u32() & 0xffff;
    let next = (i + 1) % count;
    if (int(12) === 0) next = pick([i, 0, count, count + 1, 0xffff, int(count)]); // loops and out of range
    const at = table + 16 * i;
    m.writeU64(at, addr);
    m.writeU32(at + 8, len >>> 0);
    m.writeU16(at + 12, flags);
    m.writeU16(at + 14, next);
    if (!writable && first && addr < BigInt(ARENA_END) && addr >= BigInt(DATA) && len >= 16 && Number(addr) + 16 <= ARENA_END) header(Number(addr));
  };

  /** Builds a chain at head `h` in the main table (or through an indirect table) and offers it. */
  const chain = (): void => {
    const n = 1 + int(Math.min(qsize, 6));
    const h = int(qsize);
    const indirect = int(6) === 0;
    if (indirect) {
      const table = 0x80000 + 16 * int(64);
      const entries = 1 + int(8);
      for (let i = 0; i < entries; i++) descriptor(table, i, entries, i === 0, i === entries - 1, i >= 1 && int(2) === 0);
      const nested = int(10) === 0;
      if (nested) m.writeU16(table + 12, VIRTQ_DESC_F_INDIRECT);
      const tlen = pick([16 * entries, 16 * entries, 0, 15, 17, 16 * 2000, 0xfffffff0]);
      const taddr = int(8) === 0 ? badAddr() : BigInt(table);
      m.writeU64(DESC + 16 * h, taddr);
      m.writeU32(DESC + 16 * h + 8, tlen >>> 0);
      m.writeU16(DESC + 16 * h + 12, VIRTQ_DESC_F_INDIRECT | (int(10) === 0 ? VIRTQ_DESC_F_NEXT : 0));
      m.writeU16(DESC + 16 * h + 14, 0);
    } else if (int(2) === 0) {
      // A well-formed request (header, whole sectors, status; for the rng a writable buffer) with rare damage,
      // so that many chains get past the ring checks and reach the device's own checks.
      const parts: [number, number, boolean][] = t.name === 'blk'
        ? [[arenaAddr(16), 16, false], ...Array.from({ length: int(3) }, (): [number, number, boolean] => [arenaAddr(1024), pick([512, 1024, 512]), int(2) === 0]), [arenaAddr(1), 1, true]]
        : [[arenaAddr(512), 1 + int(512), true]];
      // Device-readable data (an OUT) comes before anything writable.
      parts.sort((a, b) => Number(a[2]) - Number(b[2]));
      parts.forEach(([addr, len, w], k) => {
        const i = (h + k) % qsize;
        const at = DESC + 16 * i;
        m.writeU64(at, BigInt(addr));
        m.writeU32(at + 8, len);
        m.writeU16(at + 12, (w ? VIRTQ_DESC_F_WRITE : 0) | (k < parts.length - 1 ? VIRTQ_DESC_F_NEXT : 0));
        m.writeU16(at + 14, (i + 1) % qsize);
        if (k === 0 && t.name === 'blk') header(addr);
      });
      // Damage one length: a huge one (past RAM) or one that still fits the arena.
      if (int(10) === 0) m.writeU32(DESC + 16 * ((h + int(parts.length)) % qsize) + 8, pick([0, 1, 511, 513, 0x7fffffff, 0xffffffff, RAM]));
    } else {
      const firstWritable = int(n + 1);
      for (let k = 0; k < n; k++) {
        const i = (h + k) % qsize;
        descriptor(DESC, i, qsize, k === 0, k === n - 1, k >= Math.max(1, firstWritable) !== (int(25) === 0));
      }
    }
    const head = int(15) === 0 ? pick([qsize, 0xffff, u32() & 0xffff]) : h;
    m.writeU16(AVAIL + 4 + 2 * (d.avail % qsize), head);
    d.avail = (d.avail + 1) & 0xffff;
    chains++;
  };

  for (let op = 0; op < ops; op++) {
    const r = int(20);
    try {
      if (r < 2) {
        // Any register, any width, any value (config space included); 8-byte accesses as the bus splits them.
        const off = int(0x200);
        const size = pick([1, 2, 4, 4, 4] as const);
        if (int(2) === 0) d.dev.write(off, size, size === 4 ? u32() : u32() & ((1 << (8 * size)) - 1));
        else d.dev.read(off, size);
      } else if (r === 2) {
        // Config space: every offset in turn, every width.
        d.dev.write(0x100 + (op % 0x100), pick([1, 2, 4] as const), u32() & 0xff);
      } else if (r === 3) {
        // Queue configuration out of range, then QueueReady.
        d.w(REG.queueSel, pick([0, 0, 1, 0xffff, u32()]));
        d.w(REG.queueNum, pick([0, qsize, qsize + 1, 0xffff, 0x10000, 0xffffffff, u32() & 0xffff]));
        const which = pick([REG.queueDescLow, REG.queueDescHigh, REG.queueDriverLow, REG.queueDriverHigh, REG.queueDeviceLow, REG.queueDeviceHigh]);
        // Misaligned, crossing the end of RAM, outside it; a random one only in the high word
        // (in RAM, the rings may legitimately sit anywhere, canary included).
        const low = which === REG.queueDescLow || which === REG.queueDriverLow || which === REG.queueDeviceLow;
        d.w(which, low ? pick([1, 2, 0xfff, RAM - 4, RAM, 0xfeb00000, 0xffffffff]) : pick([0, 1, 0xffffffff, u32() | 1]));
        d.w(REG.queueReady, int(4) === 0 ? 0 : 1);
      } else if (r === 4) {
        // A status write: any bits, any order (FEATURES_OK/DRIVER_OK without the handshake, FAILED, ...).
        d.w(REG.status, pick([0, STATUS.DRIVER_OK, STATUS.FEATURES_OK, 0xff, u32() & 0xff]));
      } else if (r === 5) {
        d.w(REG.queueNotify, pick([1, 2, 0xffff, 0x10000, u32()]));
      } else if (r === 6) {
        d.w(REG.interruptAck, u32());
      } else if (r < 9 || (r < 12 && (d.dev.needsReset || !(d.dev.status & STATUS.DRIVER_OK)))) {
        // A fresh, valid bring-up (so that the chains below reach the device), sometimes with odd features.
        d.avail = 0;
        m.view8(AVAIL, 0x10000).fill(0);
        m.view8(USED, 0x10000).fill(0);
        const f = feature(VIRTIO_F_VERSION_1) | (int(2) ? feature(VIRTIO_F_INDIRECT_DESC) : 0n) | (int(10) === 0 ? BigInt(u32()) : 0n);
        d.bringUp(f);
      } else if (r === 9) {
        // The available index far ahead, or wrapped, then a notify.
        d.avail = pick([(d.avail + qsize + 1) & 0xffff, (d.avail + 0x8000) & 0xffff, 0xffff, (d.avail - 1) & 0xffff, u32() & 0xffff]);
        m.writeU16(AVAIL + 2, d.avail);
        d.w(REG.queueNotify, 0);
        notifies++;
      } else {
        // One or more chains, then the index and a notify.
        const k = 1 + int(3);
        for (let i = 0; i < k; i++) chain();
        m.writeU16(AVAIL + 2, d.avail);
        if (int(8) === 0) m.writeU16(AVAIL, 1); // VIRTQ_AVAIL_F_NO_INTERRUPT
        d.w(REG.queueNotify, 0);
        notifies++;
      }
    } catch (e) {
      assert.fail(`${t.name} seed ${seed} op ${op}: an exception escaped the device: ${(e as Error).stack}`);
    }
  }
  return { ops, notifies, chains };
}

/** After the fuzzing: reset, a clean bring-up, and requests that must work. */
function cleanRequests(t: Target): void {
  const { d } = t;
  const m = d.memory;
  d.avail = 0;
  m.view8(DESC, 0x30000 + 0x10000).fill(0);
  d.bringUp(feature(VIRTIO_F_VERSION_1));
  assert.equal(d.dev.needsReset, false, `${t.name}: a reset and a clean handshake clear DEVICE_NEEDS_RESET`);
  const before = d.usedIdx();
  if (t.name === 'rng') {
    d.desc(0, { addr: DATA, len: 64, flags: VIRTQ_DESC_F_WRITE });
    m.view8(DATA, 64).fill(0);
    d.offer(0);
    assert.equal(d.usedIdx(), (before + 1) & 0xffff);
    assert.equal(d.used(before).len, 64);
    assert.ok(m.view8(DATA, 64).some((b) => b !== 0), 'random bytes arrived');
    return;
  }
  // Write sector 3 of the scratch area, read it back, flush.
  const pattern = new Uint8Array(SECTOR).map((_, i) => (i * 7 + 1) & 0xff);
  const req = (type: number, sector: number, data: number, dataLen: number, writable: boolean): number => {
    m.writeU32(DATA, type); m.writeU32(DATA + 4, 0); m.writeU64(DATA + 8, BigInt(sector));
    m.writeU8(DATA + 0x3000, 0xff);
    d.desc(0, { addr: DATA, len: 16, flags: VIRTQ_DESC_F_NEXT, next: 1 });
    if (dataLen) {
      d.desc(1, { addr: data, len: dataLen, flags: VIRTQ_DESC_F_NEXT | (writable ? VIRTQ_DESC_F_WRITE : 0), next: 2 });
      d.desc(2, { addr: DATA + 0x3000, len: 1, flags: VIRTQ_DESC_F_WRITE });
    } else {
      d.desc(1, { addr: DATA + 0x3000, len: 1, flags: VIRTQ_DESC_F_WRITE });
    }
    d.offer(0);
    return m.readU8(DATA + 0x3000);
  };
  m.write(DATA + 0x1000, pattern);
  assert.equal(req(VIRTIO_BLK_T_OUT, 3, DATA + 0x1000, SECTOR, false), VIRTIO_BLK_S_OK);
  assert.equal(req(VIRTIO_BLK_T_FLUSH, 0, 0, 0, false), VIRTIO_BLK_S_OK);
  m.view8(DATA + 0x2000, SECTOR).fill(0);
  assert.equal(req(VIRTIO_BLK_T_IN, 3, DATA + 0x2000, SECTOR, true), VIRTIO_BLK_S_OK);
  assert.deepEqual(m.view8(DATA + 0x2000, SECTOR), pattern);
  assert.deepEqual(readFileSync(t.file!).subarray(3 * SECTOR, 4 * SECTOR), Buffer.from(pattern));
}

for (const kind of ['blk', 'rng'] as const) {
  for (const queueSize of [4, 64]) {
    test(`virtqueue fuzz: virtio-${kind}, queue size ${queueSize}, ${OPS} hostile operations: no escape, no write outside the given buffers or the disk's writable sectors, bounded log, still works`, () => {
      const seed = fuzzSeed(kind === 'blk' ? 7 + queueSize : 11 + queueSize, 0x71);
      const t = makeTarget(kind, queueSize);
      try {
        const t0 = Date.now();
        const stats = fuzz(t, seed, OPS);
        const damage = canaryDamage(t.d.memory);
        assert.equal(damage, 0, `seed ${seed}: ${damage} canary bytes outside the buffers changed`);
        // The transport logs MAX_LOGGED guest errors, the device's own lines go through it too.
        assert.ok(t.d.log.errors.length <= MAX_LOGGED, `seed ${seed}: ${t.d.log.errors.length} guest-error lines; the log is not rate-limited:\n${t.d.log.errors.slice(0, 40).join('\n')}`);
        assert.ok(t.d.log.infos.length <= MAX_LOGGED, `seed ${seed}: ${t.d.log.infos.length} info lines`);
        if (t.file) {
          const disk = readFileSync(t.file);
          assert.equal(statSync(t.file).size, DISK_SECTORS * SECTOR + DISK_TAIL, 'the image did not grow or shrink');
          // Every write the device made lies inside the disk's whole sectors ...
          const end = DISK_SECTORS * SECTOR;
          for (const [pos, len] of t.writes) assert.ok(pos >= 0 && pos + len <= end, `seed ${seed}: a write of ${len} bytes at ${pos}, past the disk's ${end}`);
          // ... and nothing else changed: outside scratch, only where the device wrote (a header that
          // the fuzzer split across buffers may name any sector; that is still a valid request).
          const wrote = new Uint8Array(disk.length);
          for (const [pos, len] of t.writes) wrote.fill(1, pos, pos + len);
          let changed = 0;
          for (let i = SCRATCH_SECTORS * SECTOR; i < disk.length; i++) if (disk[i] !== diskByte(i) && !wrote[i]) changed++;
          assert.equal(changed, 0, `seed ${seed}: ${changed} bytes changed where the device did not write`);
          const blk = t.blk!.stats;
          console.log(`virtio-blk q${queueSize} seed ${seed}: ${stats.ops} ops, ${stats.notifies} notifies, ${stats.chains} chains, `
            + `reads ${blk.reads} writes ${blk.writes} flushes ${blk.flushes} errors ${blk.errors}, ${t.d.log.errors.length} log lines, ${Date.now() - t0} ms`);
        } else {
          console.log(`virtio-rng q${queueSize} seed ${seed}: ${stats.ops} ops, ${stats.notifies} notifies, ${stats.chains} chains, ${t.d.log.errors.length} log lines, ${Date.now() - t0} ms`);
        }
        cleanRequests(t);
      } finally {
        t.blk?.close();
        if (t.dir) rmSync(t.dir, { recursive: true, force: true });
      }
    });
  }
}

// Regression (found by this fuzzer): virtio-blk's own refusals went to the log unthrottled, so a
// guest looping on bad requests flooded the terminal with one line per request.
test('virtio-blk refusals count against the transport\'s log limit: 500 bad requests, at most MAX_LOGGED lines', () => {
  const t = makeTarget('blk', 4);
  try {
    t.d.bringUp(feature(VIRTIO_F_VERSION_1));
    const m = t.d.memory;
    for (let i = 0; i < 500; i++) {
      m.writeU32(DATA, VIRTIO_BLK_T_IN); m.writeU64(DATA + 8, BigInt(DISK_SECTORS + i));
      t.d.desc(0, { addr: DATA, len: 16, flags: VIRTQ_DESC_F_NEXT, next: 1 });
      t.d.desc(1, { addr: DATA + 0x1000, len: 512, flags: VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, next: 2 });
      t.d.desc(2, { addr: DATA + 0x2000, len: 1, flags: VIRTQ_DESC_F_WRITE });
      t.d.offer(0);
    }
    assert.equal(t.blk!.stats.errors, 500, 'every request was answered (IOERR)');
    assert.equal(t.d.log.errors.length, MAX_LOGGED);
    assert.match(t.d.log.errors[0], /^virtio-test: virtio-blk \(.*\): read refused with IOERR: sectors 64\+1 are past the disk's 64$/);
    assert.match(t.d.log.errors[MAX_LOGGED - 1], /further errors are not logged/);
  } finally {
    t.blk?.close();
    rmSync(t.dir!, { recursive: true, force: true });
  }
});
