/**
 * Where the virtio-mmio devices sit: one 0x200-byte window per device,
 * 4 KiB apart from VIRTIO_MMIO_BASE in the 32-bit MMIO hole, and one
 * IOAPIC pin each from GSI 16 up. GSIs 16-23 are IOAPIC-only pins on KVM's
 * default routing (no ISA IRQ, no PIC), so Linux takes the level-triggered,
 * active-high setting from the _CRS without clashing with the legacy ISA
 * identity mappings of IRQs 0-15 (QEMU's microvm does the same).
 * The list is computed once, on the main thread: the ACPI tables and the
 * vCPU thread's board read the same description.
 */
import { VIRTIO_MMIO_SIZE } from './mmio-transport';

// Just below the IOAPIC (0xFEC00000), clear of the low hole guests (and our
// test kernels, at 0xD0000000) probe as unassigned.
export const VIRTIO_MMIO_BASE = 0xfeb0_0000;
export const VIRTIO_MMIO_STRIDE = 0x1000;
export const VIRTIO_FIRST_GSI = 16;
/** KVM's IOAPIC has 24 pins. */
export const VIRTIO_MAX_DEVICES = 8;

export interface DiskSpec {
  path: string;
  readOnly: boolean;
  /** Where the guest sees it: virtio-blk (the default) or the primary ATA channel (vmm/devices/ata-attach.ts). */
  bus?: 'virtio' | 'ide';
}

export type VirtioSlot =
  | { kind: 'rng' | 'console'; base: number; size: number; gsi: number }
  | { kind: 'blk'; base: number; size: number; gsi: number; disk: DiskSpec };

/** Devices other than disks: the rng, then the console. */
const FIXED_DEVICES = 2;
export const VIRTIO_MAX_DISKS = VIRTIO_MAX_DEVICES - FIXED_DEVICES;

/** Disks first (so the first --disk is /dev/vda whatever the probe order), then the rng and the console. */
export function virtioLayout(disks: readonly DiskSpec[]): VirtioSlot[] {
  if (disks.length > VIRTIO_MAX_DISKS) {
    throw new Error(`${disks.length} disks: at most ${VIRTIO_MAX_DISKS} disks are supported`);
  }
  const at = (i: number) => ({ base: VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_STRIDE, size: VIRTIO_MMIO_SIZE, gsi: VIRTIO_FIRST_GSI + i });
  const slots: VirtioSlot[] = disks.map((disk, i) => ({ kind: 'blk', ...at(i), disk: { path: disk.path, readOnly: disk.readOnly } }));
  slots.push({ kind: 'rng', ...at(disks.length) }, { kind: 'console', ...at(disks.length + 1) });
  return slots;
}
