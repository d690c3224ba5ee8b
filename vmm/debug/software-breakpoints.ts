/**
 * Software breakpoints beyond the four debug registers, for hosts where a
 * planted trap comes back to us (int3-probe.ts): an int3 (0xCC), or where
 * int3 goes to the guest, the port trap (port-trap.ts: a 2-byte OUT, only
 * over instructions that long). The trap is written over the instruction
 * while the vCPUs run and the guest's bytes are put back whenever they
 * stop, so memory views, the disassembly and single steps always see the
 * guest's own code.
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
import { readVirtual } from './virtual-memory';
import { codeBitness, instructionLength } from './instruction-length';
import { EFER_LMA } from '../cpu/control-bits';

export const INT3 = 0xcc;

/** Guest code memory: translation in the current address space, bytes by physical address. */
export interface CodeMemory {
  /** The guest-physical RAM address behind virtual `address`, or undefined (unmapped, or not RAM). */
  physical(address: bigint): number | undefined;
  readByte(physical: number): number;
  writeByte(physical: number, value: number): void;
  /** The length of the instruction at virtual `address`, or undefined (unreadable, invalid). */
  instructionLength(address: bigint): number | undefined;
}

/**
 * CodeMemory over guest RAM and one paging state (the stopped vCPU's
 * CR0/CR3/CR4/EFER). `kernelBits` 64: the kernel is 64-bit code even while
 * the vCPU has not reached long mode yet (a PVH entry stops in 32-bit mode).
 */
export function guestCode(memory: GuestMemory, paging: PagingState, kernelBits?: 64): CodeMemory {
  const bits = paging.efer & EFER_LMA ? 64 : kernelBits ?? codeBitness(paging);
  return {
    physical: (address) => {
      const w = walk(memory, paging, address);
      return w.ok && memory.contains(w.physical) ? w.physical : undefined;
    },
    readByte: (p) => memory.readU8(p),
    writeByte: (p, v) => memory.writeU8(p, v),
    instructionLength: (address) => {
      const r = readVirtual(memory, paging, address, 15);
      const readable = r.readable.indexOf(0);
      return instructionLength(r.data.subarray(0, readable < 0 ? 15 : readable), bits, address);
    },
  };
}

/** True when `trap` can stand at `address`: it covers no more than the instruction there. */
export function trapFits(mem: CodeMemory, address: bigint, trap: readonly number[]): boolean {
  if (trap.length === 1) return true;
  return (mem.instructionLength(address) ?? 0) >= trap.length;
}

export class SoftwareBreakpoints {
  private wanted = new Set<bigint>();
  /** Planted traps: virtual address -> where each byte went and the guest's byte under it. */
  private readonly planted = new Map<bigint, { physical: number; original: number; trap: number }[]>();
  /** The bytes planted: an int3, or the port trap (port-trap.ts). */
  trap: readonly number[] = [INT3];

  /** Replaces the addresses (only while lifted, i.e. the vCPUs stopped). */
  set(addresses: Iterable<bigint>): void {
    if (this.planted.size > 0) throw new Error('software breakpoints change only while they are lifted (the vCPUs stopped)');
    this.wanted = new Set(addresses);
  }

  get addresses(): bigint[] { return [...this.wanted]; }
  get isPlanted(): boolean { return this.planted.size > 0; }

  /**
   * Writes the traps before the vCPUs run. Returns the addresses not
   * planted: `pending` (unmapped yet: a later resume tries again) and
   * `tooShort` (the instruction there is shorter than the trap).
   */
  plant(mem: CodeMemory): { pending: bigint[]; tooShort: bigint[] } {
    const pending: bigint[] = [];
    const tooShort: bigint[] = [];
    const used = new Set([...this.planted.values()].flat().map((p) => p.physical));
    for (const address of this.wanted) {
      if (this.planted.has(address)) continue;
      const bytes = this.trap.map((_, i) => mem.physical(address + BigInt(i)));
      if (bytes.some((p) => p === undefined)) { pending.push(address); continue; }
      // Two virtual aliases of one byte: plant once, or the second would remember our trap as the original.
      if (bytes.some((p) => used.has(p!))) continue;
      if (!trapFits(mem, address, this.trap)) { tooShort.push(address); continue; }
      const entry = bytes.map((physical, i) => ({ physical: physical!, original: mem.readByte(physical!), trap: this.trap[i] }));
      for (const b of entry) { used.add(b.physical); mem.writeByte(b.physical, b.trap); }
      this.planted.set(address, entry);
    }
    return { pending, tooShort };
  }

  /** Puts the guest's bytes back when the vCPUs stop. */
  restore(mem: CodeMemory): void {
    for (const entry of this.planted.values()) {
      // Rewritten by the guest since (a module loaded over it): leave the new byte.
      for (const { physical, original, trap } of entry) if (mem.readByte(physical) === trap) mem.writeByte(physical, original);
    }
    this.planted.clear();
  }

  /** True when a trap at `address` is ours; a guest's own int3 goes back to the guest. */
  isOurs(address: bigint): boolean {
    return this.wanted.has(address);
  }
}
