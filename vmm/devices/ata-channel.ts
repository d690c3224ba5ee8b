/**
 * The primary ATA channel (ports 0x1F0-0x1F7 and the device control /
 * alternate status register at 0x3F6, IRQ 14) with a master and a slave
 * drive: the register file, device selection, the PIO data-in and data-out
 * protocols with their DRQ blocks and interrupts, software reset and nIEN
 * (ATA/ATAPI-7 volume 2). What each command means is ata-commands.ts.
 *
 * Commands finish at once (BSY is never seen): a read's first block is in
 * the buffer with DRQ set when the command write returns, as a disk with
 * a very fast cache would have it. The guest is hostile: a command during
 * a transfer, data accesses without DRQ, addresses past the end and counts
 * up to 65536 sectors are error statuses or ignored accesses, each logged
 * (a limited number of times), never an exception; memory use is one
 * DRQ block (at most 16 sectors) a drive, whatever the count.
 */
import type { AccessSize, Device, DeviceLog, IrqLine } from '../bus/device';
import { ATA_SECTOR } from './ata-disk';
import {
  ATA_ER_ABRT, ATA_ER_UNC, ATA_SR_BSY, ATA_SR_DRDY, ATA_SR_DRQ, ATA_SR_DSC, ATA_SR_ERR, decodeCommand,
  REG_COUNT, REG_DEVICE, REG_LBA_HIGH, REG_LBA_LOW, REG_LBA_MID, type AtaAction, type AtaDrive, type TaskFile,
} from './ata-commands';

export const ATA0_BASE = 0x1f0;
export const ATA0_CONTROL_PORT = 0x3f6;
export const ATA0_IRQ = 14;
export const ATA_PORT_COUNT = 8;
/** Where the control register sits in the channel's offsets (the bus maps 0x3F6 there). */
export const ATA_CONTROL_OFFSET = 8;

/** Device control register bits. */
export const ATA_DC_NIEN = 0x02;
export const ATA_DC_SRST = 0x04;
export const ATA_DC_HOB = 0x80;
const DEVICE_DEV = 0x10;
/** Reads of the device register have the obsolete bits 7 and 5 set, as drives return them. */
const DEVICE_OBSOLETE = 0xa0;
const READY = ATA_SR_DRDY | ATA_SR_DSC;
/** Guest errors logged per channel; the rest are counted. */
export const ATA_MAX_LOGGED = 16;

interface Transfer {
  dir: 'in' | 'out';
  /** The current DRQ block. */
  buf: Uint8Array;
  pos: number;
  /** Disk transfers: the block's first sector, sectors left including this block, sectors a block. IDENTIFY: no disk. */
  disk?: { lba: number; remaining: number; block: number };
}

interface Unit {
  drive?: AtaDrive;
  status: number;
  error: number;
  /** The drive's interrupt is pending (INTRQ while selected and nIEN clear); reading the status register clears it. */
  pending: boolean;
  transfer?: Transfer;
}

export interface AtaChannelOptions {
  name?: string;
  /** [master, slave]; either may be absent. */
  drives: readonly (AtaDrive | undefined)[];
  irq: IrqLine;
  log: DeviceLog;
}

export class AtaChannel implements Device {
  readonly name: string;
  private readonly units: [Unit, Unit];
  private readonly tf: TaskFile = { cur: new Uint8Array(8), hob: new Uint8Array(8) };
  private control = 0;
  private irqLevel = false;
  private logged = 0;
  /** Counters for views and tests. */
  readonly stats = { commands: 0, sectorsRead: 0, sectorsWritten: 0, errors: 0, guestErrors: 0 };

  constructor(private readonly o: AtaChannelOptions) {
    this.name = o.name ?? 'ata0@0x1f0';
    const unit = (drive?: AtaDrive): Unit => ({ drive, status: drive ? READY : 0, error: drive ? 1 : 0, pending: false });
    this.units = [unit(o.drives[0]), unit(o.drives[1])];
    this.signature();
  }

  private get selected(): Unit { return this.units[this.tf.cur[REG_DEVICE] & DEVICE_DEV ? 1 : 0]; }
  private get empty(): boolean { return !this.units[0].drive && !this.units[1].drive; }

  read(offset: number, size: AccessSize): number {
    // No drive on the channel: the ISA bus floats high, which drivers read as "nothing here".
    if (this.empty) return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    const u = this.selected;
    switch (offset) {
      case 0: return this.dataIn(u, size);
      case 1: return u.drive ? u.error : 0;
      case REG_COUNT: case REG_LBA_LOW: case REG_LBA_MID: case REG_LBA_HIGH:
        if (!u.drive) return 0;
        return this.control & ATA_DC_HOB ? this.tf.hob[offset] : this.tf.cur[offset];
      case REG_DEVICE: return this.tf.cur[REG_DEVICE] | DEVICE_OBSOLETE;
      case 7: {
        const s = this.statusOf(u);
        if (u.pending) { u.pending = false; this.updateIrq(); }
        return s;
      }
      case ATA_CONTROL_OFFSET: return this.statusOf(u);
      default: return 0xff;
    }
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (this.empty) return;
    if (offset === 0) { this.dataOut(this.selected, size, value); return; }
    const v = value & 0xff;
    if (offset === ATA_CONTROL_OFFSET) { this.deviceControl(v); return; }
    if (offset === 7) { this.command(v); return; }
    if (offset < 1 || offset > 6) return;
    // Every command block write clears HOB; registers 1-5 keep the previous byte for LBA48.
    this.control &= ~ATA_DC_HOB;
    if (offset !== REG_DEVICE) this.tf.hob[offset] = this.tf.cur[offset];
    this.tf.cur[offset] = v;
    if (offset === REG_DEVICE) this.updateIrq();
  }

  /** Closes the disk images. */
  close(): void {
    for (const u of this.units) u.drive?.disk.close();
  }

  /** One line for a devices view. */
  describe(): string {
    const d = this.units.map((u, i) => `${i ? 'slave' : 'master'} ${u.drive ? `${u.drive.disk.path} (${u.drive.disk.sectors} sectors${u.drive.disk.readOnly ? ', read-only' : ''})` : 'none'}`);
    return `ATA PIO at 0x1f0/0x3f6, IRQ 14: ${d.join(', ')}`;
  }

  /** Register state for a devices view (no side effects). */
  details(): [string, string][] {
    const hex = (v: number) => `0x${v.toString(16).padStart(2, '0')}`;
    const out: [string, string][] = [['selected', this.units[1] === this.selected ? 'slave' : 'master'], ['device control', hex(this.control)]];
    this.units.forEach((u, i) => {
      if (!u.drive) return;
      const who = i ? 'slave' : 'master';
      const t = u.transfer?.disk;
      out.push([`${who} status`, `${hex(this.statusOf(u))}, error ${hex(u.error)}${u.pending ? ', interrupt pending' : ''}`]);
      if (u.transfer) out.push([`${who} transfer`, `${u.transfer.dir === 'in' ? 'data-in' : 'data-out'} ${u.transfer.pos}/${u.transfer.buf.length} bytes${t ? `, sector ${t.lba}, ${t.remaining} left` : ''}`]);
    });
    const s = this.stats;
    out.push(['counts', `${s.commands} commands, ${s.sectorsRead} sectors read, ${s.sectorsWritten} written, ${s.errors} error statuses, ${s.guestErrors} guest errors`]);
    return out;
  }

  private statusOf(u: Unit): number {
    if (!u.drive) return 0;
    return this.control & ATA_DC_SRST ? ATA_SR_BSY : u.status;
  }

  private complain(message: string): void {
    this.stats.guestErrors++;
    if (this.logged >= ATA_MAX_LOGGED) return;
    this.logged++;
    const more = this.logged === ATA_MAX_LOGGED ? ' (further errors from this channel are counted, not logged)' : '';
    this.o.log.guestError(`${this.name}: ${message}${more}`);
  }

  private updateIrq(): void {
    const level = this.selected.pending && !(this.control & ATA_DC_NIEN) && !this.empty;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.o.irq.set(level);
  }

  private interrupt(u: Unit): void {
    u.pending = true;
    this.updateIrq();
  }

  /** What a drive leaves in the task file after reset or diagnostics: an ATA device, DEV cleared. */
  private signature(): void {
    const c = this.tf.cur;
    c[REG_COUNT] = 1; c[REG_LBA_LOW] = 1; c[REG_LBA_MID] = 0; c[REG_LBA_HIGH] = 0; c[REG_DEVICE] = 0;
  }

  private deviceControl(v: number): void {
    const was = this.control;
    this.control = v & (ATA_DC_NIEN | ATA_DC_SRST | ATA_DC_HOB);
    // SRST set: both drives drop what they were doing; released: they come back ready, with the signature.
    if (!(was & ATA_DC_SRST) && (v & ATA_DC_SRST)) {
      for (const u of this.units) { u.transfer = undefined; u.pending = false; }
    } else if ((was & ATA_DC_SRST) && !(v & ATA_DC_SRST)) {
      for (const u of this.units) if (u.drive) { u.status = READY; u.error = 1; }
      this.signature();
    }
    this.updateIrq();
  }

  private command(opcode: number): void {
    const u = this.selected;
    if (!u.drive) { this.complain(`command 0x${opcode.toString(16)} to the ${this.units[1] === u ? 'slave' : 'master'}, which is not there; ignored`); return; }
    if (this.control & ATA_DC_SRST) { this.complain(`command 0x${opcode.toString(16)} during a software reset; ignored`); return; }
    this.stats.commands++;
    // A command write clears the drive's pending interrupt.
    u.pending = false;
    this.updateIrq();
    if (u.transfer) {
      u.transfer = undefined;
      this.fail(u, ATA_ER_ABRT, `command 0x${opcode.toString(16)} written while a data transfer (DRQ) was in progress; both aborted`);
      return;
    }
    this.run(u, decodeCommand(opcode, this.tf, u.drive));
  }

  private run(u: Unit, a: AtaAction): void {
    switch (a.kind) {
      case 'error': this.fail(u, a.error, a.why); return;
      case 'done':
        if (a.flush) {
          try { u.drive!.disk.flush(); } catch (e) { this.fail(u, ATA_ER_ABRT, `flush failed on the host: ${(e as Error).message}`); return; }
        }
        if (a.outputs) this.outputs(a.outputs);
        this.finish(u);
        return;
      case 'diagnostic':
        for (const x of this.units) if (x.drive) { x.status = READY; x.error = 1; x.transfer = undefined; x.pending = false; }
        this.signature();
        this.interrupt(this.units[0].drive ? this.units[0] : u);
        return;
      case 'data-in':
        u.transfer = { dir: 'in', buf: a.data, pos: 0 };
        u.status = READY | ATA_SR_DRQ;
        u.error = 0;
        this.interrupt(u);
        return;
      case 'read':
        u.error = 0;
        u.transfer = { dir: 'in', buf: new Uint8Array(0), pos: 0, disk: { lba: a.lba, remaining: a.count, block: a.block } };
        this.loadBlock(u);
        return;
      case 'write': {
        u.error = 0;
        const n = Math.min(a.block, a.count);
        u.transfer = { dir: 'out', buf: new Uint8Array(n * ATA_SECTOR), pos: 0, disk: { lba: a.lba, remaining: a.count, block: a.block } };
        // PIO data-out: the first block is asked for with DRQ alone, no interrupt.
        u.status = READY | ATA_SR_DRQ;
      }
    }
  }

  private outputs(o: { count?: number; lba?: number; lba48?: boolean }): void {
    const { cur, hob } = this.tf;
    if (o.count !== undefined) cur[REG_COUNT] = o.count & 0xff;
    if (o.lba === undefined) return;
    const lo = o.lba % 2 ** 24, hi = Math.floor(o.lba / 2 ** 24);
    cur[REG_LBA_LOW] = lo & 0xff; cur[REG_LBA_MID] = (lo >> 8) & 0xff; cur[REG_LBA_HIGH] = (lo >> 16) & 0xff;
    if (o.lba48) {
      hob[REG_LBA_LOW] = hi & 0xff; hob[REG_LBA_MID] = (hi >> 8) & 0xff; hob[REG_LBA_HIGH] = (hi >> 16) & 0xff;
    } else {
      cur[REG_DEVICE] = (cur[REG_DEVICE] & 0xf0) | (hi & 0x0f);
    }
  }

  private finish(u: Unit): void {
    u.transfer = undefined;
    u.status = READY;
    u.error = 0;
    this.interrupt(u);
  }

  private fail(u: Unit, error: number, why: string): void {
    this.stats.errors++;
    this.complain(`${why}: error status (ERR, ${error === ATA_ER_ABRT ? 'ABRT' : error === ATA_ER_UNC ? 'UNC' : 'IDNF'})`);
    u.transfer = undefined;
    u.status = READY | ATA_SR_ERR;
    u.error = error;
    this.interrupt(u);
  }

  /** PIO data-in: the next block of a read in the buffer, DRQ and an interrupt. */
  private loadBlock(u: Unit): void {
    const t = u.transfer!, d = t.disk!;
    const n = Math.min(d.block, d.remaining);
    t.buf = new Uint8Array(n * ATA_SECTOR);
    t.pos = 0;
    try {
      u.drive!.disk.read(d.lba, t.buf);
    } catch (e) {
      this.fail(u, ATA_ER_UNC, `reading sector ${d.lba} failed on the host: ${(e as Error).message}`);
      return;
    }
    this.stats.sectorsRead += n;
    u.status = READY | ATA_SR_DRQ;
    this.interrupt(u);
  }

  private dataIn(u: Unit, size: AccessSize): number {
    const t = u.transfer;
    if (!u.drive || !t || t.dir !== 'in') {
      this.complain(`data port read without a data-in transfer (DRQ clear); reads 0`);
      return 0;
    }
    let v = 0;
    for (let i = 0; i < size && t.pos < t.buf.length; i++) v |= t.buf[t.pos++] << (8 * i);
    if (t.pos >= t.buf.length) {
      const d = t.disk;
      if (d) {
        const n = t.buf.length / ATA_SECTOR;
        d.lba += n;
        d.remaining -= n;
        if (d.remaining > 0) this.loadBlock(u);
        else { u.transfer = undefined; u.status = READY; }
      } else {
        u.transfer = undefined;
        u.status = READY;
      }
    }
    return v >>> 0;
  }

  private dataOut(u: Unit, size: AccessSize, value: number): void {
    const t = u.transfer;
    if (!u.drive || !t || t.dir !== 'out') {
      this.complain(`data port write without a data-out transfer (DRQ clear); ignored`);
      return;
    }
    for (let i = 0; i < size && t.pos < t.buf.length; i++) t.buf[t.pos++] = (value >>> (8 * i)) & 0xff;
    if (t.pos < t.buf.length) return;
    const d = t.disk!;
    const n = t.buf.length / ATA_SECTOR;
    try {
      u.drive.disk.write(d.lba, t.buf);
    } catch (e) {
      this.fail(u, ATA_ER_UNC, `writing sector ${d.lba} failed on the host: ${(e as Error).message}`);
      return;
    }
    this.stats.sectorsWritten += n;
    d.lba += n;
    d.remaining -= n;
    if (d.remaining > 0) {
      t.buf = new Uint8Array(Math.min(d.block, d.remaining) * ATA_SECTOR);
      t.pos = 0;
      u.status = READY | ATA_SR_DRQ;
      this.interrupt(u);
    } else {
      this.finish(u);
    }
  }
}
