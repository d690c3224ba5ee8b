/**
 * Software (int3) breakpoints beyond the four debug registers, for hosts
 * whose KVM delivers #BP exits (int3-probe.ts). An int3 (0xCC) is written
 * over the first byte of the instruction while the vCPUs run and the
 * original byte is put back whenever they stop, so memory views, the
 * disassembly and single steps always see the guest's own code.
 *
 * Addresses are virtual (the stopped vCPU's page tables translate them when
 * planting); what is remembered is the guest-physical byte, so lifting works
 * whatever address space the guest switched to meanwhile. An address whose
 * page is not mapped yet stays pending and is planted at a later resume,
 * once the page appears. Lifting leaves a byte alone when the guest has
 * rewritten it meanwhile (its new code wins over our old copy).
 */
import type { GuestMemory } from '../memory/guest-memory';
import { walk, type PagingState } from './page-walk';

export const INT3 = 0xcc;

/** Guest code memory: translation in the current address space, bytes by physical address. */
export interface CodeMemory {
  /** The guest-physical RAM address behind virtual `address`, or undefined (unmapped, or not RAM). */
  physical(address: bigint): number | undefined;
  readByte(physical: number): number;
  writeByte(physical: number, value: number): void;
}

/** CodeMemory over guest RAM and one paging state (the stopped vCPU's CR0/CR3/CR4/EFER). */
export function guestCode(memory: GuestMemory, paging: PagingState): CodeMemory {
  return {
    physical: (address) => {
      const w = walk(memory, paging, address);
      return w.ok && memory.contains(w.physical) ? w.physical : undefined;
    },
    readByte: (p) => memory.readU8(p),
    writeByte: (p, v) => memory.writeU8(p, v),
  };
}

export class SoftwareBreakpoints {
  private wanted = new Set<bigint>();
  /** Planted int3s: virtual address -> where it went and the guest's byte under it. */
  private readonly planted = new Map<bigint, { physical: number; original: number }>();

  /** Replaces the addresses (only while lifted, i.e. the vCPUs stopped). */
  set(addresses: Iterable<bigint>): void {
    if (this.planted.size > 0) throw new Error('software breakpoints change only while they are lifted (the vCPUs stopped)');
    this.wanted = new Set(addresses);
  }

  get addresses(): bigint[] { return [...this.wanted]; }
  get isPlanted(): boolean { return this.planted.size > 0; }

  /** Writes the int3s before the vCPUs run; returns the addresses that could not be planted yet (unmapped). */
  plant(mem: CodeMemory): bigint[] {
    const pending: bigint[] = [];
    const used = new Set([...this.planted.values()].map((p) => p.physical));
    for (const address of this.wanted) {
      if (this.planted.has(address)) continue;
      const physical = mem.physical(address);
      if (physical === undefined) { pending.push(address); continue; }
      // Two virtual aliases of one byte: plant once, or the second would remember our 0xCC as the original.
      if (used.has(physical)) continue;
      used.add(physical);
      this.planted.set(address, { physical, original: mem.readByte(physical) });
      mem.writeByte(physical, INT3);
    }
    return pending;
  }

  /** Puts the guest's bytes back when the vCPUs stop. */
  restore(mem: CodeMemory): void {
    for (const { physical, original } of this.planted.values()) {
      // Rewritten by the guest since (a module loaded over it): leave the new byte.
      if (mem.readByte(physical) === INT3) mem.writeByte(physical, original);
    }
    this.planted.clear();
  }

  /** True when a #BP exit at `address` is ours; a guest's own int3 goes back to the guest. */
  isOurs(address: bigint): boolean {
    return this.wanted.has(address);
  }
}
