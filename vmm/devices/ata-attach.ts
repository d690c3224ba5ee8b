/**
 * Puts the primary ATA channel on a board's port bus: the disks given with
 * bus "ide" (--disk FILE,ide), in order ata0 master then ata0 slave, opened
 * on the vCPU thread as virtio-blk's are (vmm/virtio/board.ts). The channel
 * is there without disks too, reading as an empty ISA channel (0xFF).
 */
import type { Bus } from '../bus/bus';
import type { DeviceLog, IrqLine } from '../bus/device';
import { openDiskFile } from '../virtio/blk';
import type { DiskSpec } from '../virtio/layout';
import { AtaDisk } from './ata-disk';
import type { AtaDrive } from './ata-commands';
import { ATA0_BASE, ATA0_CONTROL_PORT, ATA0_IRQ, ATA_CONTROL_OFFSET, ATA_PORT_COUNT, AtaChannel } from './ata-channel';

/** Drives on the one (primary) channel. */
export const ATA_MAX_DISKS = 2;

/** Fails with one sentence when more disks ask for the IDE bus than the primary channel holds. */
export function checkAtaDisks(disks: readonly DiskSpec[]): void {
  if (disks.length > ATA_MAX_DISKS) {
    throw new Error(`${disks.length} disks on the IDE bus: the primary channel holds ${ATA_MAX_DISKS} (master and slave); put the others on virtio`);
  }
}

export function attachAta(o: { pio: Bus; disks: readonly DiskSpec[]; irq(line: number): IrqLine; log: DeviceLog }): AtaChannel {
  checkAtaDisks(o.disks);
  const drives: AtaDrive[] = [];
  try {
    o.disks.forEach((d, i) => {
      const disk = new AtaDisk(openDiskFile(d.path, d.readOnly));
      drives.push({ disk, serial: `KVMDBG-ATA0-${i}`, multiple: 0, geometry: disk.defaultGeometry });
    });
  } catch (e) {
    for (const d of drives) d.disk.close();
    throw e;
  }
  const channel = new AtaChannel({ drives, irq: o.irq(ATA0_IRQ), log: o.log });
  o.pio.register(ATA0_BASE, ATA_PORT_COUNT, channel);
  o.pio.register(ATA0_CONTROL_PORT, 1, channel, ATA_CONTROL_OFFSET);
  return channel;
}
