/** An independent 4-level page walk, so tests check the tables the loader built, not its own idea of them. */
import { GuestMemory } from '../../../vmm/memory/guest-memory';

const ADDR = 0x000f_ffff_ffff_f000n;

/** The physical address `virt` translates to from `cr3`, or undefined when unmapped. */
export function walk(memory: GuestMemory, cr3: number | bigint, virt: bigint): number | undefined {
  let table = BigInt(cr3) & ADDR;
  for (const shift of [39n, 30n, 21n, 12n]) {
    const e = memory.readU64(Number(table + ((virt >> shift) & 511n) * 8n));
    if ((e & 1n) === 0n) return undefined;
    if (shift === 12n || ((shift === 30n || shift === 21n) && (e & 0x80n))) {
      const mask = (1n << shift) - 1n;
      return Number((e & ADDR & ~mask) | (virt & mask));
    }
    table = e & ADDR;
  }
  return undefined;
}
