/**
 * The Limine memory map and the physical ranges the HHDM covers, both from
 * the PC's e820 map (vmm/memory/memory-map.ts) and what the loader placed:
 * the kernel with its modules (EXECUTABLE_AND_MODULES), the reclaimable run
 * of boot structures, the framebuffer. Sorted by base; usable and
 * reclaimable entries page-aligned and overlapping nothing. The BIOS area
 * holding the ACPI tables is RESERVED_MAPPED from base revision 4 on (the
 * tables must lie in a mapped region then) and RESERVED before.
 */
import {
  MEMMAP_BOOTLOADER_RECLAIMABLE, MEMMAP_EXECUTABLE_AND_MODULES, MEMMAP_FRAMEBUFFER, MEMMAP_RESERVED,
  MEMMAP_RESERVED_MAPPED, MEMMAP_USABLE,
} from './limine-ids';
import { ACPI_BASE } from '../acpi/tables';
import { E820_RAM, MemoryMapEntry } from '../memory/memory-map';
import { FOUR_GIB, PAGE_SIZE } from '../memory/guest-memory';

export interface LimineMemmapEntry { base: number; length: number; type: number }
export interface Span { start: number; end: number }

export interface MemmapInput {
  e820: readonly MemoryMapEntry[];
  revision: number;
  /** Kernel, modules and the kernel file copy: one run. */
  executable: Span;
  reclaimable: Span;
  framebuffer?: Span;
}

const up = (n: number) => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
const down = (n: number) => Math.floor(n / PAGE_SIZE) * PAGE_SIZE;

/** `span` minus the `holes` (sorted or not), as page-aligned pieces. */
function subtract(span: Span, holes: readonly Span[]): Span[] {
  let pieces = [{ start: up(span.start), end: down(span.end) }];
  for (const h of holes) {
    pieces = pieces.flatMap((p) => {
      if (h.end <= p.start || h.start >= p.end) return [p];
      return [{ start: p.start, end: down(h.start) }, { start: up(h.end), end: p.end }];
    });
  }
  return pieces.filter((p) => p.end > p.start);
}

export function limineMemmap(m: MemmapInput): LimineMemmapEntry[] {
  const out: LimineMemmapEntry[] = [];
  const add = (s: Span, type: number) => { if (s.end > s.start) out.push({ base: s.start, length: s.end - s.start, type }); };
  const placed = [m.executable, m.reclaimable];
  // Base revisions up to 2 never call the first page usable.
  const firstUsable = m.revision <= 2 ? PAGE_SIZE : 0;
  for (const e of m.e820) {
    const span = { start: e.addr, end: e.addr + e.size };
    if (e.type === E820_RAM) {
      for (const p of subtract({ start: Math.max(span.start, firstUsable), end: span.end }, placed)) add(p, MEMMAP_USABLE);
    } else {
      add(span, e.addr === ACPI_BASE && m.revision >= 4 ? MEMMAP_RESERVED_MAPPED : MEMMAP_RESERVED);
    }
  }
  add(m.executable, MEMMAP_EXECUTABLE_AND_MODULES);
  add(m.reclaimable, MEMMAP_BOOTLOADER_RECLAIMABLE);
  if (m.framebuffer) add(m.framebuffer, MEMMAP_FRAMEBUFFER);
  return out.sort((a, b) => a.base - b.base);
}

/**
 * Physical ranges the HHDM maps, page-rounded and merged. Base revisions
 * 0-2: the first 4 GiB unconditionally, and above it every region (0) or
 * every region but reserved and bad memory (1, 2); 3 and later: only
 * usable, reclaimable, executable/modules and framebuffer regions (all RAM
 * here), from 4 also RESERVED_MAPPED, ACPI reclaimable and NVS.
 */
export function hhdmRanges(map: readonly LimineMemmapEntry[], revision: number): Span[] {
  const mapped = new Set([MEMMAP_USABLE, MEMMAP_BOOTLOADER_RECLAIMABLE, MEMMAP_EXECUTABLE_AND_MODULES, MEMMAP_FRAMEBUFFER]);
  if (revision >= 4) for (const t of [MEMMAP_RESERVED_MAPPED, 2 /* ACPI reclaimable */, 3 /* ACPI NVS */]) mapped.add(t);
  const spans: Span[] = revision <= 2 ? [{ start: 0, end: FOUR_GIB }] : [];
  for (const e of map) {
    const keep = revision === 0 || (revision <= 2 ? e.type !== MEMMAP_RESERVED && e.type !== 4 : mapped.has(e.type));
    if (keep && (revision >= 3 || e.base + e.length > FOUR_GIB)) spans.push({ start: down(e.base), end: up(e.base + e.length) });
  }
  return merge(spans);
}

export function merge(spans: readonly Span[]): Span[] {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push({ ...s });
  }
  return out;
}
