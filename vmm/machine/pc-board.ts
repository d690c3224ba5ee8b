/**
 * The PC our VMM emulates in user space: which device sits at which port.
 * The interrupt controllers and the PIT are KVM's in-kernel ones; everything
 * here is a plain device on a bus (ARCHITECTURE rule 4). The board owns its
 * devices: two machines in one process do not share anything.
 */
import { Bus, NoopDevice } from '../bus/bus';
import type { DeviceLog, IrqLine, MachineControl } from '../bus/device';
import type { ByteSink } from '../devices/byte-sink';
import { COM1_BASE, COM1_IRQ, UART_PORT_COUNT, Uart16550 } from '../devices/serial';
import { I8042, I8042_COMMAND_OFFSET, I8042_COMMAND_PORT, I8042_DATA_PORT } from '../devices/i8042';
import { CmosRtc, RTC_INDEX_PORT, RTC_PORT_COUNT } from '../devices/rtc';
import { DEBUGCON_PORT, DebugCon } from '../devices/debugcon';
import { DEBUG_EXIT_PORT, DEBUG_EXIT_PORT_COUNT, DebugExit } from '../devices/debug-exit';
import { AcpiPm, PM_BASE, PM_PORT_COUNT } from '../devices/pm';
import type { GuestMemory } from '../memory/guest-memory';
import type { VirtioSlot } from '../virtio/layout';
import { attachVirtio } from '../virtio/board';
import type { VirtioMmioDevice } from '../virtio/mmio-transport';
import { Vga, VGA_PORT_BASE, VGA_PORT_COUNT } from '../devices/vga';
import { BochsDisplayPci, BochsVbe, VBE_DISPI_IOPORT_INDEX, VBE_DISPI_PORT_COUNT } from '../devices/bochs-vbe';
import type { Display } from '../devices/display';
import { attachAta } from '../devices/ata-attach';
import type { AtaChannel } from '../devices/ata-channel';
import type { DiskSpec } from '../virtio/layout';
import { PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_PORT_COUNT, PciBus, PciConfigIo, PciHostBridge } from '../devices/pci';

/** The keyboard's ISA interrupt. */
export const KBD_IRQ = 1;

export interface BoardOptions {
  ramBytes: number;
  debugExit: boolean;
  log: DeviceLog;
  control: MachineControl;
  /** Drives an ISA interrupt line of the in-kernel PIC/IOAPIC. */
  irq(line: number): IrqLine;
  /** Guest console bytes (COM1 and the 0xE9 debug console). */
  console: ByteSink;
  /** virtio-mmio devices (vmm/virtio/layout.ts) and the guest RAM they use; none without. */
  virtio?: { slots: readonly VirtioSlot[]; memory: GuestMemory };
  /** Disk images on the primary ATA channel (master, slave). */
  ide?: readonly DiskSpec[];
  /** The screen: VGA text registers, the dispi framebuffer and its PCI function; none without. */
  display?: {
    display: Display;
    /** Maps the framebuffer's memory slot at a guest physical address (undefined: unmaps); false when it cannot go there. */
    moveFramebuffer(gpa: number | undefined): boolean;
  };
}

export interface PcBoard {
  pio: Bus;
  mmio: Bus;
  uart: Uart16550;
  kbd: I8042;
  vga?: Vga;
  vbe?: BochsVbe;
  pci: PciBus;
  virtio: VirtioMmioDevice[];
  ata: AtaChannel;
}

export function buildPcBoard(o: BoardOptions): PcBoard {
  const pio = new Bus('pio', o.log);
  const mmio = new Bus('mmio', o.log);
  const uart = new Uart16550({ name: 'serial@0x3f8', irq: o.irq(COM1_IRQ), log: o.log, output: o.console });
  pio.register(COM1_BASE, UART_PORT_COUNT, uart);
  const kbd = new I8042({ control: o.control, log: o.log, irq: o.irq(KBD_IRQ) });
  pio.register(I8042_DATA_PORT, 1, kbd);
  pio.register(I8042_COMMAND_PORT, 1, kbd, I8042_COMMAND_OFFSET);
  pio.register(RTC_INDEX_PORT, RTC_PORT_COUNT, new CmosRtc({ ramBytes: o.ramBytes, log: o.log }));
  pio.register(DEBUGCON_PORT, 1, new DebugCon(o.console));
  if (o.debugExit) pio.register(DEBUG_EXIT_PORT, DEBUG_EXIT_PORT_COUNT, new DebugExit(o.control));
  pio.register(PM_BASE, PM_PORT_COUNT, new AcpiPm({ control: o.control, log: o.log }));
  const pci = new PciBus();
  pci.register(0, 0, new PciHostBridge());
  let vga: Vga | undefined, vbe: BochsVbe | undefined;
  if (o.display) {
    const d = o.display.display;
    vga = new Vga(d.vga);
    pio.register(VGA_PORT_BASE, VGA_PORT_COUNT, vga);
    vbe = new BochsVbe({ state: d.dispi, vram: d.vram, log: o.log });
    pio.register(VBE_DISPI_IOPORT_INDEX, VBE_DISPI_PORT_COUNT, vbe);
    // 00:02.0, where QEMU puts its VGA.
    pci.register(2, 0, new BochsDisplayPci(o.display.moveFramebuffer, o.log));
  }
  pio.register(PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_PORT_COUNT, new PciConfigIo(pci, { control: o.control, log: o.log }));
  // Noisy legacy ports kernels poke for timing or POST codes: handled, silent.
  pio.register(0x80, 1, new NoopDevice('post-code'));
  pio.register(0xed, 1, new NoopDevice('io-delay'));
  const ata = attachAta({ pio, disks: o.ide ?? [], irq: o.irq, log: o.log });
  const virtio = o.virtio ? attachVirtio({ slots: o.virtio.slots, mmio, memory: o.virtio.memory, log: o.log, irq: o.irq, console: o.console }) : [];
  return { pio, mmio, uart, kbd, vga, vbe, pci, virtio, ata };
}
