/**
 * Page tables for a Limine boot, 4- or 5-level, built from 4 KiB and 2 MiB
 * pages (no 1 GiB pages: nested and older hosts may lack them) in
 * bootloader-reclaimable memory. Supervisor only; the leaf says writable
 * and executable (NX), as the kernel's segment flags ask.
 */
import { hostCpuFlags } from '../host/probe/capabilities';
import { BootAllocator } from './limine-alloc';
import { hex } from './format';
import { GuestMemory, PAGE_SIZE } from '../memory/guest-memory';

const P = 1n;
const W = 2n;
const PS = 0x80n;
const NX = 1n << 63n;
const PWT = 0x8n;
const PAT_4K = 0x80n;
const PAT_LARGE = 0x1000n;
const ADDR = 0x000f_ffff_ffff_f000n;
const LARGE = 0x20_0000;

export interface PageFlags { write: boolean; exec: boolean; /** Write-combining: PAT entry 5 (PAT and PWT set), as the protocol maps framebuffers. */ wc?: boolean }
export const RWX: PageFlags = { write: true, exec: true };

export class LiminePageTables {
  readonly root: number;

  constructor(private readonly memory: GuestMemory, private readonly alloc: BootAllocator, readonly levels: 4 | 5, private readonly nx: boolean) {
    this.root = alloc.pages(1, 'the top-level page table');
  }

  private leaf(phys: number, f: PageFlags, large: boolean): bigint {
    let e = BigInt(phys) | P;
    if (f.write) e |= W;
    if (large) e |= PS;
    // PAT index 5 = PAT bit (bit 7 in a PTE, bit 12 in a large-page PDE) + PWT.
    if (f.wc) e |= PWT | (large ? PAT_LARGE : PAT_4K);
    if (!f.exec && this.nx) e |= NX;
    return e;
  }

  /** The entry slot for `virt` at the level whose pages are 2^`shift` bytes, creating tables above it. */
  private slot(virt: bigint, shift: number): number {
    let table = this.root;
    for (let s = this.levels === 5 ? 48 : 39; s > shift; s -= 9) {
      const at = table + Number((virt >> BigInt(s)) & 511n) * 8;
      const e = this.memory.readU64(at);
      if (e & P) {
        if (e & PS) throw new Error(`page tables: ${hex(virt)} is inside a large page already`);
        table = Number(e & ADDR);
      } else {
        const page = this.alloc.pages(1, 'page tables');
        this.memory.writeU64(at, BigInt(page) | P | W);
        table = page;
      }
    }
    return table + Number((virt >> BigInt(shift)) & 511n) * 8;
  }

  private set(virt: bigint, shift: number, entry: bigint): void {
    const at = this.slot(virt, shift);
    const have = this.memory.readU64(at);
    if (have & P && have !== entry) throw new Error(`page tables: ${hex(virt)} is mapped twice`);
    this.memory.writeU64(at, entry);
  }

  map4K(virt: bigint, phys: number, f: PageFlags): void {
    this.set(virt, 12, this.leaf(phys, f, false));
  }

  /** Maps [virt, virt+bytes) to [phys, ...): 2 MiB pages where both sides are aligned, 4 KiB pages at the edges. */
  mapRange(virt: bigint, phys: number, bytes: number, f: PageFlags): void {
    let off = 0;
    while (off < bytes) {
      const v = virt + BigInt(off);
      const p = phys + off;
      if (p % LARGE === 0 && v % BigInt(LARGE) === 0n && bytes - off >= LARGE) {
        this.set(v, 21, this.leaf(p, f, true));
        off += LARGE;
      } else {
        this.map4K(v, p, f);
        off += PAGE_SIZE;
      }
    }
  }
}

/** Whether the host CPU has 5-level paging (KVM passes LA57 through wherever the host has it). */
export function hostHasLa57(): boolean {
  return hostCpuFlags().includes('la57');
}
