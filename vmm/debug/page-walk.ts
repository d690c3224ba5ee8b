/**
 * The x86 page-table walker: virtual -> physical through the guest's own
 * page tables, for every paging mode the CPU has (none, 32-bit, PAE,
 * 4-level, 5-level). One implementation below both the debug adapter and
 * the GDB stub.
 *
 * The tables belong to the guest, so everything in them is hostile: a table
 * address outside guest RAM, a reserved bit, a non-canonical address or a
 * physical address JavaScript cannot hold exactly is a failed walk with one
 * sentence, never an exception. Each walk reads at most one entry per level,
 * so self-referencing (recursive) tables cannot make it loop.
 */
import { GuestMemory } from '../memory/guest-memory';

export interface PagingState { cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint }
export type PagingMode = 'none' | '32-bit' | 'pae' | '4-level' | '5-level';

import { CR0_PG, CR4_LA57, CR4_PAE, CR4_PSE, EFER_LMA, EFER_NXE } from '../cpu/control-bits';
export { CR0_PG, CR4_LA57, CR4_PAE, CR4_PSE, EFER_LMA, EFER_NXE };

/** Physical address bits 51..12 of a 64-bit entry (MAXPHYADDR 52). */
const ADDR_MASK_64 = 0x000f_ffff_ffff_f000n;
const TWO_POW_32 = 1n << 32n;
const TWO_POW_53 = 1n << 53n;
const TWO_POW_64 = 1n << 64n;

export function pagingMode(p: PagingState): PagingMode {
  if ((p.cr0 & CR0_PG) === 0n) return 'none';
  if ((p.cr4 & CR4_PAE) === 0n) return '32-bit';
  if ((p.efer & EFER_LMA) === 0n) return 'pae';
  return (p.cr4 & CR4_LA57) !== 0n ? '5-level' : '4-level';
}

/** True when linear addresses are 64 bits wide (long mode); otherwise they are 32 bits and wrap at 4 GiB. */
export function isLongMode(p: PagingState): boolean {
  return (p.efer & EFER_LMA) !== 0n;
}

/** One past the highest linear address: 2^64 in long mode, 2^32 otherwise. */
export function addressSpaceEnd(p: PagingState): bigint {
  return isLongMode(p) ? TWO_POW_64 : TWO_POW_32;
}

export interface PageFlags {
  present: boolean; writable: boolean; user: boolean; writeThrough: boolean; cacheDisable: boolean;
  accessed: boolean;
  /** Leaf entries only (ignored by the CPU elsewhere, reported false). */
  dirty: boolean;
  /** PS: this entry maps a large page (false for PTEs, where bit 7 is PAT, and for PAE PDPTEs). */
  pageSize: boolean;
  /** Leaf entries only. */
  global: boolean;
  /** XD (bit 63), only when EFER.NXE is set and the entry is 8 bytes. */
  noExecute: boolean;
}

export type LevelName = 'PML5E' | 'PML4E' | 'PDPTE' | 'PDE' | 'PTE';

export interface WalkLevel {
  name: LevelName;
  tableAddress: number;
  index: number;
  entryAddress: number;
  entry: bigint;
  flags: PageFlags;
  /** For the leaf level: the page it maps (physical base and size). */
  maps?: { physical: number; size: number };
}

export type WalkResult =
  | { ok: true; mode: PagingMode; virtual: bigint; physical: number; pageSize: number; writable: boolean; user: boolean; noExecute: boolean; levels: WalkLevel[] }
  | { ok: false; mode: PagingMode; virtual: bigint; levels: WalkLevel[]; reason: string };

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;
const bit = (e: bigint, n: number): boolean => ((e >> BigInt(n)) & 1n) === 1n;
/** Mask of bits hi..lo inclusive. */
const bits = (hi: number, lo: number): bigint => ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);

export function decodeFlags(entry: bigint, opts: { leaf: boolean; hasPageSize: boolean; nxe: boolean; wide: boolean }): PageFlags {
  return {
    present: bit(entry, 0),
    writable: bit(entry, 1),
    user: bit(entry, 2),
    writeThrough: bit(entry, 3),
    cacheDisable: bit(entry, 4),
    accessed: bit(entry, 5),
    dirty: opts.leaf && bit(entry, 6),
    pageSize: opts.hasPageSize && bit(entry, 7),
    global: opts.leaf && bit(entry, 8),
    noExecute: opts.wide && opts.nxe && bit(entry, 63),
  };
}

/** How one level of a mode looks. */
interface LevelSpec {
  name: LevelName;
  /** Bit position of the lowest virtual-address bit that indexes this level. */
  shift: number;
  /** Index width in bits (9 for 8-byte entries, 10 for 32-bit paging, 2 for the PAE PDPT). */
  indexBits: number;
  /** Page size when PS is set (0: PS is not a large-page bit here). */
  largePage: number;
  /** Bit 7 must be zero (PML4E, PML5E). */
  psReserved: boolean;
}

class WalkFailure {
  constructor(readonly reason: string) {}
}

interface Ctx {
  memory: GuestMemory;
  nxe: boolean;
  levels: WalkLevel[];
}

/** Reads the entry; a table outside guest RAM is a WalkFailure. */
function readEntry(ctx: Ctx, name: LevelName, table: bigint, index: number, size: 4 | 8): { entryAddress: number; entry: bigint; tableAddress: number } {
  const entryAddr = table + BigInt(index * size);
  if (table >= TWO_POW_53 || entryAddr + BigInt(size) > TWO_POW_53) {
    throw new WalkFailure(`page table at ${hex(table)} (for the ${name}) is outside guest RAM`);
  }
  const entryAddress = Number(entryAddr);
  if (!ctx.memory.contains(entryAddress, size)) {
    throw new WalkFailure(`page table at ${hex(table)} (for the ${name}) is outside guest RAM`);
  }
  const entry = size === 8 ? ctx.memory.readU64(entryAddress) : BigInt(ctx.memory.readU32(entryAddress));
  return { entryAddress, entry, tableAddress: Number(table) };
}

function safePhysical(base: bigint, what: string): number {
  if (base >= TWO_POW_53) throw new WalkFailure(`${what} maps physical ${hex(base)}, beyond the 2^53 bytes kvmdbg can address`);
  return Number(base);
}

/** A physical address = page base | offset, checked for JS number safety. */
function finish(ctx: Ctx, mode: PagingMode, virtual: bigint, va: bigint, base: bigint, size: number, perms: { writable: boolean; user: boolean; noExecute: boolean }): WalkResult {
  const leaf = ctx.levels[ctx.levels.length - 1];
  const phys = base | (va & BigInt(size - 1));
  const physical = safePhysical(phys, leaf.name);
  leaf.maps = { physical: Number(base), size };
  return { ok: true, mode, virtual, physical, pageSize: size, ...perms, levels: ctx.levels };
}

export function walk(memory: GuestMemory, paging: PagingState, virtual: bigint): WalkResult {
  const mode = pagingMode(paging);
  const ctx: Ctx = { memory, nxe: (paging.efer & EFER_NXE) !== 0n, levels: [] };
  try {
    switch (mode) {
      case 'none': return walkNone(paging, mode, virtual);
      case '32-bit': return walk32(ctx, paging, mode, virtual);
      case 'pae': return walkPae(ctx, paging, mode, virtual);
      case '4-level': case '5-level': return walkLong(ctx, paging, mode, virtual);
    }
  } catch (e) {
    if (e instanceof WalkFailure) return { ok: false, mode, virtual, levels: ctx.levels, reason: e.reason };
    // Not expected; still a failed walk with a sentence, never an exception for the caller.
    const msg = e instanceof Error ? e.message : String(e);
    return { ok: false, mode, virtual, levels: ctx.levels, reason: `internal error in kvmdbg's page walker (${msg}); please report it` };
  }
}

function walkNone(paging: PagingState, mode: PagingMode, virtual: bigint): WalkResult {
  const va = isLongMode(paging) ? BigInt.asUintN(64, virtual) : BigInt.asUintN(32, virtual);
  if (va >= TWO_POW_53) {
    return { ok: false, mode, virtual, levels: [], reason: `physical address ${hex(va)} is beyond the 2^53 bytes kvmdbg can address` };
  }
  return { ok: true, mode, virtual, physical: Number(va), pageSize: 4096, writable: true, user: true, noExecute: false, levels: [] };
}

/** 32-bit paging: 4-byte entries, 4 KiB pages, 4 MiB pages with CR4.PSE (PSE-36 bits 20:13 = physical 39:32). */
function walk32(ctx: Ctx, paging: PagingState, mode: PagingMode, virtual: bigint): WalkResult {
  const va = BigInt.asUintN(32, virtual);
  const pse = (paging.cr4 & CR4_PSE) !== 0n;
  const pdTable = paging.cr3 & 0xffff_f000n;
  const pdIndex = Number((va >> 22n) & 0x3ffn);
  const pd = readEntry(ctx, 'PDE', pdTable, pdIndex, 4);
  const large = pse && bit(pd.entry, 7);
  const pde: WalkLevel = { name: 'PDE', ...pd, index: pdIndex, flags: decodeFlags(pd.entry, { leaf: large, hasPageSize: true, nxe: false, wide: false }) };
  ctx.levels.push(pde);
  if (!pde.flags.present) throw new WalkFailure(`PDE at ${hex(pd.entryAddress)} is not present`);
  if (large) {
    if (bit(pd.entry, 21)) throw new WalkFailure(`reserved bit set in PDE at ${hex(pd.entryAddress)} (entry ${hex(pd.entry)}, reserved bits ${hex(pd.entry & bits(21, 21))})`);
    const base = (pd.entry & 0xffc0_0000n) | (((pd.entry >> 13n) & 0xffn) << 32n);
    return finish(ctx, mode, virtual, va, base, 4 << 20, { writable: pde.flags.writable, user: pde.flags.user, noExecute: false });
  }
  const ptTable = pd.entry & 0xffff_f000n;
  const ptIndex = Number((va >> 12n) & 0x3ffn);
  const pt = readEntry(ctx, 'PTE', ptTable, ptIndex, 4);
  const pte: WalkLevel = { name: 'PTE', ...pt, index: ptIndex, flags: decodeFlags(pt.entry, { leaf: true, hasPageSize: false, nxe: false, wide: false }) };
  ctx.levels.push(pte);
  if (!pte.flags.present) throw new WalkFailure(`PTE at ${hex(pt.entryAddress)} is not present`);
  return finish(ctx, mode, virtual, va, pt.entry & 0xffff_f000n, 4096, {
    writable: pde.flags.writable && pte.flags.writable, user: pde.flags.user && pte.flags.user, noExecute: false,
  });
}

function checkReserved(name: LevelName, entryAddress: number, entry: bigint, reserved: bigint): void {
  const set = entry & reserved;
  if (set !== 0n) throw new WalkFailure(`reserved bit set in ${name} at ${hex(entryAddress)} (entry ${hex(entry)}, reserved bits ${hex(set)})`);
}

/** PAE paging: 4 PDPTEs at CR3 & ~0x1f, then 8-byte PDEs (2 MiB pages) and PTEs. */
function walkPae(ctx: Ctx, paging: PagingState, mode: PagingMode, virtual: bigint): WalkResult {
  const va = BigInt.asUintN(32, virtual);
  const nxBit = ctx.nxe ? 0n : 1n << 63n;
  const pdpt = paging.cr3 & 0xffff_ffe0n;
  const i3 = Number((va >> 30n) & 3n);
  const e3 = readEntry(ctx, 'PDPTE', pdpt, i3, 8);
  const pdpte: WalkLevel = { name: 'PDPTE', ...e3, index: i3, flags: decodeFlags(e3.entry, { leaf: false, hasPageSize: false, nxe: false, wide: false }) };
  ctx.levels.push(pdpte);
  if (!pdpte.flags.present) throw new WalkFailure(`PDPTE at ${hex(e3.entryAddress)} is not present`);
  // PAE PDPTEs: bits 2:1, 8:5 and 63:52 are reserved.
  checkReserved('PDPTE', e3.entryAddress, e3.entry, bits(2, 1) | bits(8, 5) | bits(63, 52));

  const i2 = Number((va >> 21n) & 511n);
  const e2 = readEntry(ctx, 'PDE', e3.entry & ADDR_MASK_64, i2, 8);
  const large = bit(e2.entry, 7);
  const pde: WalkLevel = { name: 'PDE', ...e2, index: i2, flags: decodeFlags(e2.entry, { leaf: large, hasPageSize: true, nxe: ctx.nxe, wide: true }) };
  ctx.levels.push(pde);
  if (!pde.flags.present) throw new WalkFailure(`PDE at ${hex(e2.entryAddress)} is not present`);
  checkReserved('PDE', e2.entryAddress, e2.entry, bits(62, 52) | nxBit | (large ? bits(20, 13) : 0n));
  if (large) {
    return finish(ctx, mode, virtual, va, e2.entry & ADDR_MASK_64 & ~bits(20, 0), 2 << 20, { writable: pde.flags.writable, user: pde.flags.user, noExecute: pde.flags.noExecute });
  }
  const i1 = Number((va >> 12n) & 511n);
  const e1 = readEntry(ctx, 'PTE', e2.entry & ADDR_MASK_64, i1, 8);
  const pte: WalkLevel = { name: 'PTE', ...e1, index: i1, flags: decodeFlags(e1.entry, { leaf: true, hasPageSize: false, nxe: ctx.nxe, wide: true }) };
  ctx.levels.push(pte);
  if (!pte.flags.present) throw new WalkFailure(`PTE at ${hex(e1.entryAddress)} is not present`);
  checkReserved('PTE', e1.entryAddress, e1.entry, bits(62, 52) | nxBit);
  return finish(ctx, mode, virtual, va, e1.entry & ADDR_MASK_64, 4096, {
    writable: pde.flags.writable && pte.flags.writable,
    user: pde.flags.user && pte.flags.user,
    noExecute: pde.flags.noExecute || pte.flags.noExecute,
  });
}

const LONG_LEVELS: LevelSpec[] = [
  { name: 'PML5E', shift: 48, indexBits: 9, largePage: 0, psReserved: true },
  { name: 'PML4E', shift: 39, indexBits: 9, largePage: 0, psReserved: true },
  { name: 'PDPTE', shift: 30, indexBits: 9, largePage: 1 << 30, psReserved: false },
  { name: 'PDE', shift: 21, indexBits: 9, largePage: 2 << 20, psReserved: false },
  { name: 'PTE', shift: 12, indexBits: 9, largePage: 0, psReserved: false },
];

/** 4-level and 5-level paging (IA-32e). */
function walkLong(ctx: Ctx, paging: PagingState, mode: PagingMode, virtual: bigint): WalkResult {
  const va = BigInt.asUintN(64, virtual);
  const five = mode === '5-level';
  const topBit = five ? 56n : 47n;
  const top = va >> topBit;
  if (top !== 0n && top !== (1n << (64n - topBit)) - 1n) {
    throw new WalkFailure(`non-canonical address ${hex(va)}: with ${mode} paging bits 63..${topBit} must all equal bit ${topBit}`);
  }
  const nxBit = ctx.nxe ? 0n : 1n << 63n;
  let table = paging.cr3 & ADDR_MASK_64;
  let writable = true;
  let user = true;
  let noExecute = false;
  for (const spec of five ? LONG_LEVELS : LONG_LEVELS.slice(1)) {
    const index = Number((va >> BigInt(spec.shift)) & ((1n << BigInt(spec.indexBits)) - 1n));
    const e = readEntry(ctx, spec.name, table, index, 8);
    const large = spec.largePage !== 0 && bit(e.entry, 7);
    const leaf = large || spec.name === 'PTE';
    const level: WalkLevel = {
      name: spec.name, ...e, index,
      flags: decodeFlags(e.entry, { leaf, hasPageSize: spec.name !== 'PTE', nxe: ctx.nxe, wide: true }),
    };
    ctx.levels.push(level);
    if (!level.flags.present) throw new WalkFailure(`${spec.name} at ${hex(e.entryAddress)} is not present`);
    // MAXPHYADDR is 52, so only the PS bit (where it is not a page size), the
    // large-page address bits below the page and XD without EFER.NXE are reserved.
    let reserved = nxBit;
    if (spec.psReserved) reserved |= 1n << 7n;
    if (large) reserved |= bits(Math.log2(spec.largePage) - 1, 13);
    checkReserved(spec.name, e.entryAddress, e.entry, reserved);
    writable &&= level.flags.writable;
    user &&= level.flags.user;
    noExecute ||= level.flags.noExecute;
    if (leaf) {
      const size = large ? spec.largePage : 4096;
      return finish(ctx, mode, virtual, va, e.entry & ADDR_MASK_64 & ~BigInt(size - 1), size, { writable, user, noExecute });
    }
    table = e.entry & ADDR_MASK_64;
  }
  throw new WalkFailure('the page walk ended without a leaf entry');
}
