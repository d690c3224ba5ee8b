// ATA fuzzer: the primary channel (vmm/devices/ata-channel.ts) with a
// writable master and a read-only slave on real temporary images, driven the
// way a hostile guest would: random bytes at every register and width,
// every opcode, well-formed command blocks with huge or past-the-end LBA28,
// LBA48 and CHS addresses and counts, data bursts with and without DRQ,
// SRST/nIEN/HOB at any moment. The KVM tier's hammer64 with an ATA disk
// does the same from inside a real VM (test/kvm/pc-legacy.test.ts).
// Invariants:
//   - no exception escapes the device;
//   - guest-error lines are rate-limited (ATA_MAX_LOGGED);
//   - the IRQ line only ever changes level (no repeated edges);
//   - the read-only image is unchanged, the writable one keeps its size;
//   - afterwards, a software reset and a clean READ SECTORS return the image's bytes.
// Budget: KVMDBG_FUZZ_ROUNDS / KVMDBG_FUZZ_SEED (helpers/fuzz-budget.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccessSize } from '../../vmm/bus/device';
import { AtaDisk } from '../../vmm/devices/ata-disk';
import { ATA_CONTROL_OFFSET, ATA_MAX_LOGGED, AtaChannel } from '../../vmm/devices/ata-channel';
import { openDiskFile } from '../../vmm/virtio/blk';
import { fuzzRounds, fuzzSeed, rng } from './helpers/fuzz-budget';

const OPS = fuzzRounds(20000);
const SECTORS = 80;
const OPCODES = [0x20, 0x21, 0x24, 0x29, 0x30, 0x31, 0x34, 0x39, 0xc4, 0xc5, 0xc6, 0xec, 0xa1, 0xef, 0x91, 0x40, 0x41, 0x42,
  0xe7, 0xea, 0xf8, 0x27, 0x90, 0x00, 0x10, 0x70, 0xe5, 0xe0, 0x08];

test(`ATA channel: ${OPS} hostile operations, no exception, logs bounded, the read-only image untouched, a clean read works after`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-fuzz-ata-'));
  const rand = rng(fuzzSeed(0xa7a0, 16));
  const int = (n: number) => Math.floor(rand() * n);
  try {
    const rw = join(dir, 'rw.img'), ro = join(dir, 'ro.img');
    writeFileSync(rw, Buffer.alloc(SECTORS * 512 + 100, 0x11));
    const roBytes = Buffer.alloc(SECTORS * 512, 0x22);
    writeFileSync(ro, roBytes);
    const errors: string[] = [];
    const levels: boolean[] = [];
    const drive = (path: string, readOnly: boolean, i: number) => {
      const disk = new AtaDisk(openDiskFile(path, readOnly));
      return { disk, serial: `F${i}`, multiple: 0, geometry: disk.defaultGeometry };
    };
    const ch = new AtaChannel({
      drives: [drive(rw, false, 0), drive(ro, true, 1)],
      irq: { set: (l) => levels.push(l) },
      log: { guestError: (m) => errors.push(m), info: () => {} },
    });
    const size = (): AccessSize => ([1, 2, 4] as const)[int(3)];
    for (let op = 0; op < OPS; op++) {
      switch (int(10)) {
        case 0: ch.write(1 + int(6), size(), int(2 ** 32)); break;
        case 1: ch.write(7, 1, OPCODES[int(OPCODES.length)]); break;
        case 2: ch.write(7, size(), int(256)); break;
        case 3: for (let n = int(300); n > 0; n--) ch.read(0, 2); break;
        case 4: for (let n = int(300); n > 0; n--) ch.write(0, size(), int(2 ** 32)); break;
        case 5: ch.write(ATA_CONTROL_OFFSET, 1, int(256)); break;
        case 6: ch.read(int(9), size()); break;
        case 7: ch.write(int(16), size(), int(2 ** 32)); ch.read(int(16), size()); break;
        default: {
          // A well-formed block: device (either drive, LBA or CHS), LBA48 high bytes then low, a command.
          ch.write(6, 1, (int(2) << 4) | (int(2) << 6) | int(16));
          for (const r of [2, 3, 4, 5]) ch.write(r, 1, int(256));
          for (const r of [2, 3, 4, 5]) ch.write(r, 1, rand() < 0.5 ? 0 : int(256));
          ch.write(7, 1, OPCODES[int(10)]);
        }
      }
    }
    // The fuzzer reaches the transfers, not only the error paths.
    assert.ok(ch.stats.sectorsRead > 0 && ch.stats.sectorsWritten > 0 && ch.stats.errors > 0, JSON.stringify(ch.stats));
    assert.ok(errors.length <= ATA_MAX_LOGGED, `${errors.length} guest-error lines`);
    for (let i = 1; i < levels.length; i++) assert.notEqual(levels[i], levels[i - 1], `IRQ line set to ${levels[i]} twice in a row at change ${i}`);
    assert.ok(readFileSync(ro).equals(roBytes), 'the read-only image is unchanged');
    assert.equal(statSync(rw).size, SECTORS * 512 + 100, 'the writable image keeps its size');
    // Clean up as a driver would: reset, select the master, read sector 7.
    ch.write(ATA_CONTROL_OFFSET, 1, 0x06); ch.write(ATA_CONTROL_OFFSET, 1, 0x02);
    assert.equal(ch.read(7, 1), 0x50);
    ch.write(6, 1, 0xe0); ch.write(2, 1, 1); ch.write(3, 1, 7); ch.write(4, 1, 0); ch.write(5, 1, 0); ch.write(7, 1, 0x20);
    assert.equal(ch.read(7, 1), 0x58);
    const got = Buffer.alloc(512);
    for (let i = 0; i < 256; i++) got.writeUInt16LE(ch.read(0, 2), i * 2);
    assert.ok(got.equals(readFileSync(rw).subarray(7 * 512, 8 * 512)), 'sector 7 reads as the image holds it');
    assert.equal(ch.read(7, 1), 0x50);
    ch.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
