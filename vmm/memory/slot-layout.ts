/**
 * KVM memory slots for guest RAM with some pages read-only or unmapped
 * (page-protection watchpoints, vmm/debug/page-watch.ts): each RAM region
 * is cut around the protected pages into read-write and read-only runs, one
 * slot each, with holes where pages are unmapped. KVM
 * cannot move or resize a slot in place, so a new layout deletes the old
 * slots and creates the new ones (only while every vCPU is stopped).
 */
import type { MemoryRegionSpec, Vm } from '../../native';
import type { RamRegion } from './guest-memory';

const PAGE = 4096;

export type SlotSpec = Omit<MemoryRegionSpec, 'buffer'>;

/**
 * The slots for `regions` with the page frames `readOnly` read-only and
 * `unmapped` in no slot at all (both sorted; a page in both is unmapped).
 */
export function slotLayout(regions: readonly RamRegion[], readOnly: readonly number[], unmapped: readonly number[] = []): SlotSpec[] {
  const slots: SlotSpec[] = [];
  const add = (guestPhys: number, size: number, region: RamRegion, readonly: boolean) => {
    if (size > 0) slots.push({ slot: slots.length, guestPhys, size, offset: region.offset + (guestPhys - region.guestPhys), ...(readonly ? { readonly } : {}) });
  };
  const gone = new Set(unmapped);
  const kind = new Map<number, 'ro' | 'none'>([...readOnly.filter((p) => !gone.has(p)).map((p) => [p, 'ro'] as const), ...unmapped.map((p) => [p, 'none'] as const)]);
  const protectedPages = [...kind.keys()].sort((a, b) => a - b);
  for (const r of regions) {
    let at = r.guestPhys;
    const end = r.guestPhys + r.size;
    const inside = protectedPages.filter((p) => p * PAGE >= r.guestPhys && p * PAGE < end);
    for (let i = 0; i < inside.length;) {
      // A run of adjacent pages of one kind is one read-only slot, or one hole.
      let j = i;
      while (j + 1 < inside.length && inside[j + 1] === inside[j] + 1 && kind.get(inside[j + 1]) === kind.get(inside[i])) j++;
      const start = inside[i] * PAGE;
      add(at, start - at, r, false);
      if (kind.get(inside[i]) === 'ro') add(start, (inside[j] + 1) * PAGE - start, r, true);
      at = (inside[j] + 1) * PAGE;
      i = j + 1;
    }
    add(at, end - at, r, false);
  }
  return slots;
}

/** Replaces the VM's slots `old` by `next`. */
export function applySlots(vm: Vm, buffer: SharedArrayBuffer, old: readonly SlotSpec[], next: readonly SlotSpec[]): void {
  for (const s of old) vm.setUserMemoryRegion({ ...s, buffer, size: 0 });
  for (const s of next) vm.setUserMemoryRegion({ ...s, buffer });
}
