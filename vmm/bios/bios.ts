/**
 * kvmdbg's BIOS services, one object per machine: which service a vector
 * is, and the state the services share (the BDA, the boot disk). Plain
 * code on guest memory and the board's ports, no KVM: the vCPU side is
 * bios-calls.ts.
 */
import type { DiskFile } from '../virtio/blk';
import { ClockBios } from './clock';
import { DISK_OK, DiskBios } from './disk';
import { BOOT_SECTOR_ADDR } from './layout';
import type { DiskGeometry } from './geometry';
import type { BiosContext } from './guest-access';
import { KeyboardBios } from './keyboard';
import type { BiosRegs } from './regs';
import { SystemBios } from './system';
import { VideoBios } from './video';

/** What a call asks of the ROM afterwards: return to the caller, wait for a key and call again, or run POST again (the boot sector reloaded). */
export type BiosOutcome = 'return' | 'wait' | 'reboot';

export class Bios {
  readonly video: VideoBios;
  readonly disk: DiskBios;
  readonly system: SystemBios;
  readonly keyboard: KeyboardBios;
  readonly clock: ClockBios;

  constructor(private readonly ctx: BiosContext, disk: DiskFile, geometry: DiskGeometry, now?: () => Date) {
    this.video = new VideoBios(ctx);
    this.disk = new DiskBios(ctx, disk, geometry);
    this.system = new SystemBios(ctx);
    this.keyboard = new KeyboardBios(ctx);
    this.clock = new ClockBios(ctx, now);
  }

  /** What POST leaves in the BDA and on the screen (the static tables are the loader's, bios-boot.ts). */
  start(): void {
    this.video.init();
    this.keyboard.init();
    this.clock.init();
  }

  /**
   * INT 19h, and the reset vector (F000:FFF0, where `jmp FFFF:0000` goes):
   * the boot sector read again to 0000:7C00 and the services' state as at
   * power-on; POST then runs. A sector that cannot be read leaves memory as it is.
   */
  private bootstrap(): BiosOutcome {
    if (this.disk.transfer(0, 1, BOOT_SECTOR_ADDR, false) !== DISK_OK) this.ctx.log.guestError('INT 19h: the boot sector could not be read again; POST runs with what is at 0x7c00');
    this.start();
    return 'reboot';
  }

  call(vector: number, r: BiosRegs): BiosOutcome {
    switch (vector) {
      case 0x08: this.clock.tick(); break;
      case 0x09: this.keyboard.irq(); break;
      case 0x10: this.video.call(r); break;
      case 0x11: this.system.equipment(r); break;
      case 0x12: this.system.baseMemory(r); break;
      case 0x13: this.disk.call(r); break;
      case 0x15: this.system.call(r); break;
      case 0x16: return this.keyboard.call(r) ?? 'return';
      case 0x1a: this.clock.call(r); break;
      case 0x19: return this.bootstrap();
      default: break;
    }
    return 'return';
  }
}
