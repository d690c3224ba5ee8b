/**
 * 4-level x86-64 page tables built from 2 MiB pages, allocated from the
 * PAGE_TABLES area. 2 MiB pages keep the tables small (one 4 KiB page
 * directory a GiB) and need no CPU feature beyond long mode itself, unlike
 * 1 GiB pages, which nested or older hosts may lack.
 */
import { BootError } from './boot-state';
import { hex } from './format';
import { PAGE_TABLES_ADDR, PAGE_TABLES_END } from './layout';
import { GuestMemory, PAGE_SIZE } from '../memory/guest-memory';

export const PTE_PRESENT = 1n;
export const PTE_WRITE = 2n;
export const PTE_USER = 4n;
export const PTE_LARGE = 0x80n;
export const PTE_ADDR_MASK = 0x000f_ffff_ffff_f000n;
export const LARGE_PAGE = 0x20_0000;
const LARGE = BigInt(LARGE_PAGE);

export class PageTables {
  readonly pml4: number;
  private next = PAGE_TABLES_ADDR;

  constructor(private readonly memory: GuestMemory, private readonly file: string) {
    this.pml4 = this.alloc('the PML4');
  }

  private alloc(why: string): number {
    if (this.next + PAGE_SIZE > PAGE_TABLES_END) {
      throw new BootError(this.file, `the long-mode page tables (${why}) do not fit in the ${(PAGE_TABLES_END - PAGE_TABLES_ADDR) / 1024} KiB kvmdbg reserves for them; use less --memory or a smaller virtual range`);
    }
    const page = this.next;
    this.memory.fill(page, PAGE_SIZE);
    this.next += PAGE_SIZE;
    return page;
  }

  /** The next-level table an entry points at, created on first use. */
  private child(table: number, index: number, why: string): number {
    const at = table + index * 8;
    const e = this.memory.readU64(at);
    if (e & PTE_PRESENT) return Number(e & PTE_ADDR_MASK);
    const page = this.alloc(why);
    this.memory.writeU64(at, BigInt(page) | PTE_PRESENT | PTE_WRITE);
    return page;
  }

  /** Maps the 2 MiB page at `virt` (canonical, aligned) to `phys`; a different existing mapping is an error. */
  map2M(virt: bigint, phys: number, what: string): void {
    const idx = (shift: bigint): number => Number((virt >> shift) & 511n);
    const pdpt = this.child(this.pml4, idx(39n), 'a page-directory-pointer table');
    const pd = this.child(pdpt, idx(30n), 'a page directory');
    const at = pd + idx(21n) * 8;
    const want = BigInt(phys) | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
    const have = this.memory.readU64(at);
    if (have & PTE_PRESENT && have !== want) {
      throw new BootError(this.file, `${what}: virtual ${hex(virt)} is already mapped to physical ${hex(have & PTE_ADDR_MASK)}, not ${hex(phys)}`);
    }
    this.memory.writeU64(at, want);
  }

  /** Maps [virt, virt+size) to [phys, ...) in 2 MiB pages; both must be 2 MiB aligned. */
  mapRange(virt: bigint, phys: number, size: number, what: string): void {
    for (let off = 0; off < size; off += LARGE_PAGE) this.map2M(virt + BigInt(off), phys + off, what);
  }
}

/** Bits 63..47 all equal: the only addresses x86-64 4-level paging can map. */
export function isCanonical(v: bigint): boolean {
  const top = v >> 47n;
  return top === 0n || top === (1n << 17n) - 1n;
}

export function alignDown2M(v: bigint): bigint { return v & ~(LARGE - 1n); }
export function alignUp2M(v: bigint): bigint { return (v + LARGE - 1n) & ~(LARGE - 1n); }
