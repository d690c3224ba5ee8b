import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { loadKernel } from '../../vmm/boot/detect';
import { PagingState, pagingMode, walk, WalkResult } from '../../vmm/debug/page-walk';
import { readVirtual } from '../../vmm/debug/virtual-memory';
import { walk as referenceWalk } from './helpers/page-walk';
import { rng } from './helpers/fuzz-budget';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const P = 1n, W = 2n, U = 4n, PWT = 8n, PCD = 0x10n, A = 0x20n, D = 0x40n, PS = 0x80n, G = 0x100n, NX = 1n << 63n;

const CR0_PE = 1n, CR0_PG = 1n << 31n;
const CR4_PSE = 1n << 4n, CR4_PAE = 1n << 5n, CR4_LA57 = 1n << 12n;
const EFER_LME = 1n << 8n, EFER_LMA = 1n << 10n, EFER_NXE = 1n << 11n;

const state = (mode: 'none' | '32-bit' | 'pae' | '4-level' | '5-level', cr3: number | bigint, extra: { pse?: boolean; nxe?: boolean } = {}): PagingState => {
  const nxe = extra.nxe ? EFER_NXE : 0n;
  switch (mode) {
    case 'none': return { cr0: CR0_PE, cr3: BigInt(cr3), cr4: 0n, efer: nxe };
    case '32-bit': return { cr0: CR0_PE | CR0_PG, cr3: BigInt(cr3), cr4: extra.pse ? CR4_PSE : 0n, efer: nxe };
    case 'pae': return { cr0: CR0_PE | CR0_PG, cr3: BigInt(cr3), cr4: CR4_PAE, efer: nxe };
    case '4-level': return { cr0: CR0_PE | CR0_PG, cr3: BigInt(cr3), cr4: CR4_PAE, efer: EFER_LME | EFER_LMA | nxe };
    case '5-level': return { cr0: CR0_PE | CR0_PG, cr3: BigInt(cr3), cr4: CR4_PAE | CR4_LA57, efer: EFER_LME | EFER_LMA | nxe };
  }
};

function ok(r: WalkResult): Extract<WalkResult, { ok: true }> {
  if (!r.ok) assert.fail(`walk of 0x${r.virtual.toString(16)} failed: ${r.reason}`);
  return r;
}
function fail(r: WalkResult): Extract<WalkResult, { ok: false }> {
  if (r.ok) assert.fail(`walk of 0x${r.virtual.toString(16)} unexpectedly gave 0x${r.physical.toString(16)}`);
  return r;
}

test('pagingMode from CR0.PG, CR4.PAE, EFER.LMA and CR4.LA57', () => {
  assert.equal(pagingMode(state('none', 0)), 'none');
  assert.equal(pagingMode(state('32-bit', 0)), '32-bit');
  assert.equal(pagingMode(state('32-bit', 0, { pse: true })), '32-bit');
  assert.equal(pagingMode(state('pae', 0)), 'pae');
  assert.equal(pagingMode(state('4-level', 0)), '4-level');
  assert.equal(pagingMode(state('5-level', 0)), '5-level');
  assert.equal(pagingMode({ cr0: CR0_PE, cr3: 0n, cr4: CR4_PAE | CR4_LA57, efer: EFER_LME }), 'none', 'PG off wins');
  assert.equal(pagingMode({ cr0: CR0_PG, cr3: 0n, cr4: CR4_LA57, efer: 0n }), '32-bit', 'LA57 without PAE is not 5-level');
});

test('no paging: identity, truncated to 32 bits outside long mode', () => {
  const m = GuestMemory.allocate(16 * MiB);
  const r = ok(walk(m, state('none', 0), 0x1234n));
  assert.equal(r.physical, 0x1234);
  assert.equal(r.mode, 'none');
  assert.deepEqual(r.levels, []);
  assert.equal(ok(walk(m, state('none', 0), 0x1_0000_5678n)).physical, 0x5678);
  assert.equal(ok(walk(m, state('none', 0), 0xffff_fff0n)).physical, 0xffff_fff0, 'not RAM, but a translation still');
  assert.equal(ok(walk(m, state('none', 0), -1n)).physical, 0xffff_ffff);
});

test('32-bit paging: 4 KiB pages, flags, not present', () => {
  const m = GuestMemory.allocate(16 * MiB);
  // PD at 0x1000, PT at 0x2000; 0x00401234 -> 0x5234.
  m.writeU32(0x1000 + 1 * 4, 0x2000 | Number(P | W | U | A));
  m.writeU32(0x2000 + 1 * 4, 0x5000 | Number(P | U | A | D | G | PCD | PWT | PS /* PAT here */));
  const s = state('32-bit', 0xffff_0000_0000_1fffn);   // high and low CR3 bits ignored
  const r = ok(walk(m, s, 0x0040_1234n));
  assert.equal(r.physical, 0x5234);
  assert.equal(r.pageSize, 4096);
  assert.equal(r.writable, false, 'PTE is read-only');
  assert.equal(r.user, true);
  assert.equal(r.noExecute, false);
  assert.deepEqual(r.levels.map((l) => [l.name, l.tableAddress, l.index, l.entryAddress]), [['PDE', 0x1000, 1, 0x1004], ['PTE', 0x2000, 1, 0x2004]]);
  assert.equal(r.levels[1].entry, BigInt(0x5000 | 0x1fd));
  assert.deepEqual(r.levels[1].flags, {
    present: true, writable: false, user: true, writeThrough: true, cacheDisable: true, accessed: true, dirty: true, pageSize: false, global: true, noExecute: false,
  });
  assert.deepEqual(r.levels[1].maps, { physical: 0x5000, size: 4096 });
  assert.equal(r.levels[0].maps, undefined);
  assert.equal(r.levels[0].flags.dirty, false, 'dirty is a leaf bit');
  const f = fail(walk(m, s, 0x0040_2000n));
  assert.equal(f.reason, 'PTE at 0x2008 is not present');
  assert.equal(f.levels.length, 2);
  assert.equal(fail(walk(m, s, 0x0080_0000n)).reason, 'PDE at 0x1008 is not present');
  assert.equal(ok(walk(m, s, 0x1_0040_1234n)).physical, 0x5234, 'linear addresses are 32 bits');
});

test('32-bit paging: 4 MiB pages with CR4.PSE, PSE-36 high bits, reserved bit 21', () => {
  const m = GuestMemory.allocate(16 * MiB);
  m.writeU32(0x1000 + 2 * 4, 0x00c0_0000 | (0x12 << 13) | Number(P | W | PS | D));
  const r = ok(walk(m, state('32-bit', 0x1000, { pse: true }), 0x0081_2345n));
  assert.equal(r.physical, 0x12_00c1_2345);
  assert.equal(r.pageSize, 4 * MiB);
  assert.equal(r.writable, true);
  assert.equal(r.user, false);
  assert.equal(r.levels.length, 1);
  assert.equal(r.levels[0].flags.pageSize, true);
  assert.equal(r.levels[0].flags.dirty, true);
  assert.deepEqual(r.levels[0].maps, { physical: 0x12_00c0_0000, size: 4 * MiB });
  // Without CR4.PSE the PS bit is ignored: the entry points at a page table (0x00c24000 here, zeroed: not present).
  assert.equal(fail(walk(m, state('32-bit', 0x1000), 0x0081_2345n)).reason, 'PTE at 0xc24048 is not present');
  m.writeU32(0x1000 + 3 * 4, 0x0100_0000 | (1 << 21) | Number(P | PS));
  assert.match(fail(walk(m, state('32-bit', 0x1000, { pse: true }), 0x00c0_0000n)).reason, /^reserved bit set in PDE at 0x100c/);
});

test('PAE paging: 4 PDPTEs at CR3 & ~0x1f, 2 MiB and 4 KiB pages, NX, reserved bits', () => {
  const m = GuestMemory.allocate(16 * MiB);
  const pdpt = 0x1020;
  m.writeU64(pdpt + 1 * 8, 0x3000n | P);
  m.writeU64(0x3000 + 0 * 8, 0x4000n | P | W | U);
  m.writeU64(0x4000 + 3 * 8, 0x7000n | P | W | NX);
  m.writeU64(0x3000 + 1 * 8, 0x60_0000n | P | U | PS | NX);
  const s = state('pae', 0x1038, { nxe: true });
  const r = ok(walk(m, s, 0x4000_3123n));
  assert.equal(r.physical, 0x7123);
  assert.equal(r.writable, true);
  assert.equal(r.user, false);
  assert.equal(r.noExecute, true);
  assert.deepEqual(r.levels.map((l) => [l.name, l.tableAddress, l.entryAddress]), [['PDPTE', 0x1020, 0x1028], ['PDE', 0x3000, 0x3000], ['PTE', 0x4000, 0x4018]]);
  const big = ok(walk(m, s, 0x4021_2345n));
  assert.equal(big.physical, 0x61_2345);
  assert.equal(big.pageSize, 2 * MiB);
  assert.equal(big.user, true);
  assert.equal(big.writable, false);
  assert.equal(big.noExecute, true);
  assert.deepEqual(big.levels[1].maps, { physical: 0x60_0000, size: 2 * MiB });
  assert.equal(fail(walk(m, s, 0x0000_1000n)).reason, 'PDPTE at 0x1020 is not present');
  // Without EFER.NXE bit 63 is reserved.
  assert.match(fail(walk(m, state('pae', 0x1020), 0x4000_3123n)).reason, /^reserved bit set in PTE at 0x4018/);
  // PDPTE R/W is reserved in PAE mode.
  m.writeU64(pdpt + 2 * 8, 0x3000n | P | W);
  assert.match(fail(walk(m, s, 0x8000_0000n)).reason, /^reserved bit set in PDPTE at 0x1030 \(entry 0x3003, reserved bits 0x2\)/);
  // Bits 62:52 are reserved in PAE PDEs; low address bits 20:13 of a 2 MiB PDE too.
  m.writeU64(0x3000 + 2 * 8, 0x5000n | P | (1n << 55n));
  assert.match(fail(walk(m, s, 0x4040_0000n)).reason, /^reserved bit set in PDE at 0x3010/);
  m.writeU64(0x3000 + 3 * 8, 0x80_0000n | (1n << 13n) | P | PS);
  assert.match(fail(walk(m, s, 0x4060_0000n)).reason, /^reserved bit set in PDE at 0x3018/);
});

/** A 4-level hierarchy: PML4 0x10000, PDPT 0x11000, PD 0x12000, PT 0x13000. */
function fourLevel(): GuestMemory {
  const m = GuestMemory.allocate(16 * MiB);
  m.writeU64(0x10000 + 0 * 8, 0x11000n | P | W | U);
  m.writeU64(0x11000 + 0 * 8, 0x12000n | P | W | U);
  m.writeU64(0x12000 + 0 * 8, 0x13000n | P | W | U);
  m.writeU64(0x13000 + 5 * 8, 0x9000n | P | W | U | A | D | G);       // 0x5000 -> 0x9000
  m.writeU64(0x13000 + 6 * 8, 0xa000n | P | NX);                       // 0x6000 -> 0xa000, supervisor, RO, NX
  m.writeU64(0x12000 + 1 * 8, 0x40_0000n | P | W | PS);                 // 2 MiB at 2 MiB -> 4 MiB
  m.writeU64(0x11000 + 1 * 8, 0x8000_0000n | P | W | U | PS);          // 1 GiB at 1 GiB -> 2 GiB
  m.writeU64(0x10000 + 256 * 8, 0x11000n | P | W);                     // 0xffff800000000000 shares the PDPT
  return m;
}

test('4-level paging: 4 KiB, 2 MiB and 1 GiB pages; combined permissions', () => {
  const m = fourLevel();
  const s = state('4-level', 0x10000, { nxe: true });
  const r = ok(walk(m, s, 0x5abcn));
  assert.equal(r.physical, 0x9abc);
  assert.equal(r.mode, '4-level');
  assert.deepEqual(r.levels.map((l) => l.name), ['PML4E', 'PDPTE', 'PDE', 'PTE']);
  assert.deepEqual(r.levels.map((l) => l.entryAddress), [0x10000, 0x11000, 0x12000, 0x13028]);
  assert.equal(r.writable && r.user && !r.noExecute, true);
  assert.equal(r.levels[3].flags.global, true);
  const ro = ok(walk(m, s, 0x6000n));
  assert.deepEqual([ro.physical, ro.writable, ro.user, ro.noExecute], [0xa000, false, false, true]);
  const mid = ok(walk(m, s, 0x2f_ffffn));
  assert.deepEqual([mid.physical, mid.pageSize, mid.levels.length, mid.user], [0x4f_ffff, 2 * MiB, 3, false]);
  const huge = ok(walk(m, s, BigInt(GiB + 0x1234_5678)));
  assert.deepEqual([huge.physical, huge.pageSize, huge.levels.length], [2 * GiB + 0x1234_5678, GiB, 2]);
  assert.deepEqual(huge.levels[1].maps, { physical: 2 * GiB, size: GiB });
  const high = ok(walk(m, s, 0xffff_8000_0000_5010n));
  assert.deepEqual([high.physical, high.user], [0x9010, false]);
  assert.equal(high.levels[0].index, 256);
  assert.equal(ok(walk(m, s, -0x7fff_ffff_aff0n)).physical, 0x9010, 'negative bigints are two\'s complement');
});

test('4-level paging failures: each a sentence', () => {
  const m = fourLevel();
  const s = state('4-level', 0x10000, { nxe: true });
  assert.equal(fail(walk(m, s, 0x7000n)).reason, 'PTE at 0x13038 is not present');
  assert.equal(fail(walk(m, s, 0x60_0000n)).reason, 'PDE at 0x12018 is not present');
  assert.equal(fail(walk(m, s, 0x80_0000_0000n)).reason, 'PML4E at 0x10008 is not present');
  const nc = fail(walk(m, s, 0x0000_8000_0000_0000n));
  assert.match(nc.reason, /^non-canonical address 0x800000000000/);
  assert.deepEqual(nc.levels, []);
  assert.match(fail(walk(m, s, 0x8000_0000_0000_0000n)).reason, /^non-canonical address/);
  // PS in a PML4E is reserved.
  m.writeU64(0x10000 + 2 * 8, 0x11000n | P | PS);
  assert.match(fail(walk(m, s, 0x100_0000_0000n)).reason, /^reserved bit set in PML4E at 0x10010/);
  // NX without EFER.NXE is reserved.
  assert.match(fail(walk(m, state('4-level', 0x10000), 0x6000n)).reason, /^reserved bit set in PTE at 0x13030 \(entry 0x800000000000a001, reserved bits 0x8000000000000000\)/);
  // A 1 GiB page with address bits 29:13 set.
  m.writeU64(0x11000 + 2 * 8, 0x8000_0000n | (1n << 20n) | P | PS);
  assert.match(fail(walk(m, s, BigInt(2 * GiB))).reason, /^reserved bit set in PDPTE at 0x11010/);
  // Tables outside guest RAM, and CR3 outside it.
  m.writeU64(0x11000 + 3 * 8, 0x4000_0000n | P);
  const out = fail(walk(m, s, BigInt(3 * GiB)));
  assert.equal(out.reason, 'page table at 0x40000000 (for the PDE) is outside guest RAM');
  assert.equal(out.levels.length, 2);
  m.writeU64(0x11000 + 4 * 8, 0x000f_ffff_ffff_f000n | P);
  assert.equal(fail(walk(m, s, BigInt(4 * GiB))).reason, 'page table at 0xffffffffff000 (for the PDE) is outside guest RAM');
  assert.equal(fail(walk(m, state('4-level', 0xfff_0000_0000n), 0n)).reason, 'page table at 0xfff00000000 (for the PML4E) is outside guest RAM');
  assert.equal(fail(walk(m, state('4-level', 16 * MiB - 4096 + 4096), 0n)).reason, 'page table at 0x1000000 (for the PML4E) is outside guest RAM');
  // Bits 58:52 are ignored in long mode (MAXPHYADDR 52): the highest page is still a safe number.
  m.writeU64(0x11000 + 5 * 8, (1n << 53n) | P | PS);
  assert.equal(ok(walk(m, s, BigInt(5 * GiB) + 3n)).physical, 3);
  m.writeU64(0x11000 + 6 * 8, 0x000f_ffff_c000_0000n | P | PS);
  assert.equal(ok(walk(m, s, BigInt(6 * GiB) + 7n)).physical, 0xf_ffff_c000_0007);
  // Only an inconsistent state (EFER.LMA without paging) can name a physical address >= 2^53: a failure, not a rounding.
  const noPagingLong: PagingState = { cr0: CR0_PE, cr3: 0n, cr4: 0n, efer: EFER_LMA };
  assert.equal(fail(walk(m, noPagingLong, 1n << 53n)).reason, 'physical address 0x20000000000000 is beyond the 2^53 bytes kvmdbg can address');
  assert.equal(ok(walk(m, noPagingLong, (1n << 53n) - 1n)).physical, 2 ** 53 - 1);
});

test('5-level paging: canonical at bit 56, PML5E level', () => {
  const m = fourLevel();
  m.writeU64(0x20000 + 1 * 8, 0x10000n | P | W | U);     // PML5[1] -> the 4-level PML4
  m.writeU64(0x20000 + 511 * 8, 0x10000n | P | W);       // top of the address space too
  const s = state('5-level', 0x20000, { nxe: true });
  const r = ok(walk(m, s, (1n << 48n) | 0x5123n));
  assert.equal(r.physical, 0x9123);
  assert.equal(r.mode, '5-level');
  assert.deepEqual(r.levels.map((l) => l.name), ['PML5E', 'PML4E', 'PDPTE', 'PDE', 'PTE']);
  assert.equal(fail(walk(m, s, 0x5000n)).reason, 'PML5E at 0x20000 is not present');
  assert.equal(ok(walk(m, s, 0xffff_0000_0000_5000n)).physical, 0x9000);
  assert.match(fail(walk(m, s, 0x0100_0000_0000_0000n)).reason, /^non-canonical address 0x100000000000000: with 5-level paging bits 63\.\.56/);
  assert.equal(fail(walk(m, s, 0x0000_8000_0000_0000n)).reason, 'PML5E at 0x20000 is not present', 'canonical under LA57');
  m.writeU64(0x20000 + 2 * 8, 0x10000n | P | PS);
  assert.match(fail(walk(m, s, 2n << 48n)).reason, /^reserved bit set in PML5E/);
});

test('self-referencing (recursive) page tables terminate', () => {
  const m = GuestMemory.allocate(16 * MiB);
  m.writeU64(0x10000 + 511 * 8, 0x10000n | P | W);
  const r = ok(walk(m, state('4-level', 0x10000), 0xffff_ffff_ffff_f008n));
  assert.equal(r.physical, 0x10008, 'the PML4 maps itself at the top page');
  assert.equal(r.levels.length, 4);
  assert.ok(r.levels.every((l) => l.tableAddress === 0x10000));
  const five = ok(walk(m, state('5-level', 0x10000), 0xffff_ffff_ffff_f000n));
  assert.equal(five.levels.length, 5);
  // 32-bit: the PD as its own page table.
  m.writeU32(0x1000 + 1023 * 4, 0x1000 | Number(P | W));
  assert.equal(ok(walk(m, state('32-bit', 0x1000), 0xffff_f004n)).physical, 0x1004);
  // PAE: PDPTE -> PD that points at itself.
  m.writeU64(0x2000 + 3 * 8, 0x3000n | P);
  m.writeU64(0x3000 + 511 * 8, 0x3000n | P | W);
  assert.equal(ok(walk(m, state('pae', 0x2000), 0xffff_f000n)).physical, 0x3000);
});


test('mutation: random tables, random states, a few thousand walks never throw', () => {
  const rand = rng(0x5eed);
  const u32 = (): bigint => BigInt(Math.floor(rand() * 2 ** 32));
  const m = GuestMemory.allocate(16 * MiB);
  const tablePages = Array.from({ length: 16 }, (_, i) => 0x10000 + i * 0x1000);
  const randomEntry = (): bigint => {
    const kind = rand();
    if (kind < 0.15) return (u32() << 32n) | u32();                                   // anything at all
    const flags = u32() & 0x1ffn | (rand() < 0.9 ? P : 0n) | (rand() < 0.1 ? NX : 0n) | (rand() < 0.05 ? u32() << 52n & ~NX : 0n);
    let target: bigint;
    if (kind < 0.75) target = BigInt(tablePages[Math.floor(rand() * tablePages.length)]);  // another table (cycles included)
    else if (kind < 0.85) target = BigInt(Math.floor(rand() * 4096)) * 0x1000n;          // somewhere in RAM
    else target = ((u32() << 32n) | u32()) & 0x000f_ffff_ffff_f000n;                     // anywhere, mostly not RAM
    return target | flags;
  };
  const modes = ['none', '32-bit', 'pae', '4-level', '5-level'] as const;
  let oks = 0, fails = 0;
  for (let round = 0; round < 40; round++) {
    for (const t of tablePages) for (let i = 0; i < 512; i++) m.writeU64(t + i * 8, randomEntry());
    for (let k = 0; k < 100; k++) {
      const mode = modes[Math.floor(rand() * modes.length)];
      const cr3 = rand() < 0.9 ? BigInt(tablePages[Math.floor(rand() * tablePages.length)]) | (u32() & 0xfffn) : (u32() << 32n) | u32();
      const s = state(mode, cr3, { pse: rand() < 0.5, nxe: rand() < 0.5 });
      const va = rand() < 0.5 ? (u32() << 32n) | u32() : BigInt.asUintN(64, BigInt.asIntN(48, (u32() << 32n) | u32()));
      const r = walk(m, s, va);
      assert.equal(r.mode, mode);
      assert.ok(r.levels.length <= 5);
      if (r.ok) {
        oks++;
        assert.ok(Number.isSafeInteger(r.physical) && r.physical >= 0);
        assert.ok([4096, 2 * MiB, 4 * MiB, GiB].includes(r.pageSize));
      } else {
        fails++;
        assert.equal(typeof r.reason, 'string');
        assert.doesNotMatch(r.reason, /internal error/);
      }
      if (k % 10 === 0) {
        const rv = readVirtual(m, s, va - 100n, 8192 + 200);
        assert.equal(rv.data.length, 8392);
      }
    }
  }
  assert.ok(oks > 100 && fails > 100, `both outcomes exercised (${oks} ok, ${fails} failed)`);
});

test('the real long-mode loader: walk test/guests/build/elf64.elf from the CR3 it returns', () => {
  const path = join(__dirname, '..', '..', '..', 'test', 'guests', 'build', 'elf64.elf');
  const kernel = readFileSync(path);
  const memory = GuestMemory.allocate(64 * MiB);
  const info = loadKernel({ kernelPath: path, kernel, memory, cmdline: '', modules: [] });
  const s = info.cpu.sregs;
  const paging: PagingState = { cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer };
  assert.equal(pagingMode(paging), '4-level');
  for (const a of [0n, 0x1234n, 0x10_0000n, info.cpu.regs.rip!, BigInt(64 * MiB - 1), BigInt(3 * GiB), BigInt(4 * GiB - 1)]) {
    const r = ok(walk(memory, paging, a));
    assert.equal(BigInt(r.physical), a, `identity at 0x${a.toString(16)}`);
    assert.equal(r.physical, referenceWalk(memory, s.cr3, a));
    assert.equal(r.pageSize, 2 * MiB);
    assert.equal(r.writable, true);
    assert.deepEqual(r.levels.map((l) => l.name), ['PML4E', 'PDPTE', 'PDE']);
  }
  const above = fail(walk(memory, paging, BigInt(4 * GiB)));
  assert.match(above.reason, /^PDPTE at 0x[0-9a-f]+ is not present$/);
  // The entry's bytes, read by virtual address, are the file's first LOAD segment.
  const entry = readVirtual(memory, paging, info.cpu.regs.rip!, 64);
  assert.equal(entry.unreadableBytes, 0);
  assert.deepEqual(entry.data, new Uint8Array(kernel.subarray(0x1000, 0x1040)));
});
