// BIOS fuzzer: kvmdbg's BIOS services (vmm/bios) called the way a hostile
// boot sector would call them, without KVM: every vector, functions near the
// implemented ones, registers and segment bases anywhere (inside RAM, at its
// end, over the ROM, far outside), disk address packets and result buffers
// full of garbage, and the BDA fields the services keep (cursor, page, key
// ring pointers, ticks) overwritten between calls. Invariants:
//   - no exception escapes a service (BiosCalls would turn one into a guest
//     error and CF; here it is a bug);
//   - the BIOS area (0xF0000-0xFFFFF: the ROM and the ACPI tables) is unchanged;
//   - a read-only disk image is unchanged, a writable one keeps its size;
//   - afterwards the services still work: a CHS read and a teletype.
// Budget: KVMDBG_FUZZ_ROUNDS / KVMDBG_FUZZ_SEED (helpers/fuzz-budget.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { Bios } from '../../vmm/bios/bios';
import { diskGeometry } from '../../vmm/bios/geometry';
import { buildRom } from '../../vmm/bios/rom';
import { emptyRegs, FLAG_CF } from '../../vmm/bios/regs';
import { ROM_ADDR } from '../../vmm/bios/layout';
import type { DiskFile } from '../../vmm/virtio/blk';
import { fuzzRounds, fuzzSeed, rng } from './helpers/fuzz-budget';

const MiB = 2 ** 20;
const RAM = 8 * MiB;
const VECTORS = [0x08, 0x09, 0x10, 0x11, 0x12, 0x13, 0x15, 0x16, 0x1a];
const FUNCTIONS: Record<number, number[]> = {
  0x10: [0x00, 0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0e, 0x0f, 0x13, 0x1a],
  0x13: [0x00, 0x01, 0x02, 0x03, 0x08, 0x15, 0x41, 0x42, 0x43, 0x48],
  0x15: [0x24, 0x86, 0x88, 0xe8],
  0x16: [0x00, 0x01, 0x02, 0x10, 0x11, 0x12],
  0x1a: [0x00, 0x01, 0x02, 0x04],
};

for (const readOnly of [true, false]) {
  test(`BIOS fuzzer (${readOnly ? 'read-only' : 'writable'} disk): hostile calls, garbage packets and BDA fields; no exception, the ROM and the disk intact`, () => {
    const rand = rng(fuzzSeed(0xb105, readOnly ? 1 : 2));
    const int = (n: number) => Math.floor(rand() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
    const memory = GuestMemory.allocate(RAM);
    const { rom, ivt } = buildRom({ drive: 0x80, sectorsPerTrack: 63 });
    memory.write(0, ivt);
    memory.write(ROM_ADDR, rom);
    const biosArea = memory.read(0xf0000, 0x10000);
    const image = new Uint8Array(64 * 1024).map((_, i) => (i * 7) & 0xff);
    const original = image.slice();
    const disk: DiskFile = {
      path: 'fuzz.img', readOnly, bytes: image.length,
      read(into, position) { into.set(image.subarray(position, position + into.length)); if (position + into.length > image.length) throw new Error('read past the image'); },
      write(from, position) { if (position + from.length > image.length) throw new Error('write past the image'); image.set(from, position); },
      flush() {}, close() {},
    };
    let pending = 0;
    const ports = {
      read: (port: number) => (port === 0x64 ? (pending > 0 ? 0x01 | (int(4) === 0 ? 0x20 : 0) : 0) : port === 0x60 ? (pending--, int(256)) : 0xff),
      write: () => {},
    };
    const bios = new Bios({ memory, ports, log: { guestError: () => {} } }, disk, diskGeometry(image.length), () => new Date(int(2) ? 0 : 8.64e15));
    bios.start();
    const segBase = () => pick([0, int(0x10000) * 16, RAM - int(0x20000), 0xf0000, RAM + int(MiB), 0xffff0, 2 ** 31]);
    const rounds = fuzzRounds(20000);
    for (let i = 0; i < rounds; i++) {
      // Garbage where packets, buffers and the BDA live.
      if (int(4) === 0) for (let k = 0; k < 16; k++) memory.writeU8(pick([0x400, 0x600, 0x7000]) + int(0x100), int(256));
      if (int(8) === 0) memory.write(0x600, Uint8Array.from([pick([0, 0x10, 0x18, 0xff]), 0, int(256), int(2), int(256), int(256), int(256), int(256),
        ...Array.from({ length: 16 }, () => (int(3) ? 0 : int(256)))]));
      if (int(16) === 0) pending = int(8);
      const vector = int(10) === 0 ? int(256) : pick(VECTORS);
      const fn = FUNCTIONS[vector] ? pick(FUNCTIONS[vector]) : int(256);
      const r = emptyRegs({
        eax: ((fn << 8) | int(256)) | (int(8) === 0 ? 0xe820 << 0 : 0), ebx: int(2 ** 32), ecx: int(2) ? int(0x10000) : int(2 ** 32),
        edx: int(2) ? pick([0x80, 0x00, 0x81]) | (int(256) << 8) : int(2 ** 32), esi: pick([0x600, int(0x10000)]), edi: int(0x10000), ebp: int(0x10000),
        dsBase: int(2) ? 0 : segBase(), esBase: int(2) ? 0 : segBase(), flags: 0x202,
      });
      if (vector === 0x15 && int(3) === 0) { r.eax = 0xe820; r.edx = 0x534d4150; }
      r.ds = r.dsBase >>> 4; r.es = r.esBase >>> 4;
      try {
        bios.call(vector, r);
      } catch (e) {
        assert.fail(`round ${i}: INT ${vector.toString(16)}h AX=${(r.eax & 0xffff).toString(16)} threw ${(e as Error).stack}`);
      }
    }
    assert.deepEqual(memory.read(0xf0000, 0x10000), biosArea, 'the BIOS area is unchanged');
    if (readOnly) assert.deepEqual(image, original, 'a read-only disk is unchanged');
    assert.equal(image.length, 64 * 1024);
    // Still a BIOS: a CHS read of sector 1 and a teletype.
    const r = emptyRegs({ eax: 0x0201, ecx: 0x0002, edx: 0x0080, ebx: 0x3000 });
    memory.fill(0x400, 0x100);
    bios.start();
    bios.call(0x13, r);
    assert.equal(r.flags & FLAG_CF, 0);
    assert.deepEqual(memory.read(0x3000, 512), image.subarray(512, 1024));
    bios.call(0x10, emptyRegs({ eax: 0x0e41 }));
    assert.equal(memory.readU8(0xb8000), 0x41);
  });
}
