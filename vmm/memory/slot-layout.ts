/**
 * KVM memory slots for guest RAM with some pages read-only (page-protection
 * watchpoints, vmm/debug/page-watch.ts): each RAM region is cut around the
 * protected pages into read-write and read-only runs, one slot each. KVM
 * cannot move or resize a slot in place, so a new layout deletes the old
 * slots and creates the new ones (only while every vCPU is stopped).
 */
import type { MemoryRegionSpec, Vm } from '../../native';
import type { RamRegion } from './guest-memory';

const PAGE = 4096;

export type SlotSpec = Omit<MemoryRegionSpec, 'buffer'>;

/** The slots for `regions` with `pages` (sorted page frame numbers) read-only. */
export function slotLayout(regions: readonly RamRegion[], pages: readonly number[]): SlotSpec[] {
  const slots: SlotSpec[] = [];
  const add = (guestPhys: number, size: number, region: RamRegion, readonly: boolean) => {
    if (size > 0) slots.push({ slot: slots.length, guestPhys, size, offset: region.offset + (guestPhys - region.guestPhys), ...(readonly ? { readonly } : {}) });
  };
  for (const r of regions) {
    let at = r.guestPhys;
    const end = r.guestPhys + r.size;
    const inside = pages.map((p) => p * PAGE).filter((a) => a >= r.guestPhys && a < end);
    for (let i = 0; i < inside.length;) {
      // A run of adjacent protected pages is one read-only slot.
      let j = i;
      while (j + 1 < inside.length && inside[j + 1] === inside[j] + PAGE) j++;
      add(at, inside[i] - at, r, false);
      add(inside[i], inside[j] + PAGE - inside[i], r, true);
      at = inside[j] + PAGE;
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
