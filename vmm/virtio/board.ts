/**
 * Puts the virtio-mmio devices of a layout (layout.ts) on a board's MMIO
 * bus, on the vCPU thread: opens the disk images, wires each transport to
 * its interrupt line.
 */
import type { Bus } from '../bus/bus';
import type { DeviceLog, IrqLine } from '../bus/device';
import type { ByteSink } from '../devices/byte-sink';
import type { GuestMemory } from '../memory/guest-memory';
import { openDiskFile, VirtioBlk } from './blk';
import { VirtioConsole } from './console';
import type { VirtioSlot } from './layout';
import { VirtioMmioDevice } from './mmio-transport';
import { VirtioRng } from './rng';

export function attachVirtio(o: {
  slots: readonly VirtioSlot[];
  mmio: Bus;
  memory: GuestMemory;
  log: DeviceLog;
  irq(gsi: number): IrqLine;
  /** Where the virtio console's output goes: the serial port's console. */
  console: ByteSink;
}): VirtioMmioDevice[] {
  const opened: VirtioBlk[] = [];
  try {
    return o.slots.map((slot) => {
      const hexBase = slot.base.toString(16);
      let backend;
      if (slot.kind === 'blk') {
        const blk = new VirtioBlk(openDiskFile(slot.disk.path, slot.disk.readOnly), o.memory);
        opened.push(blk);
        backend = blk;
      } else if (slot.kind === 'console') {
        backend = new VirtioConsole(o.memory, o.console);
      } else {
        backend = new VirtioRng(o.memory);
      }
      const dev = new VirtioMmioDevice({
        name: `virtio-${slot.kind}@0x${hexBase}`, backend, memory: o.memory, irq: o.irq(slot.gsi), log: o.log,
      });
      o.mmio.register(slot.base, slot.size, dev);
      return dev;
    });
  } catch (e) {
    for (const b of opened) b.close();
    throw e;
  }
}
