/**
 * ATA commands: what the command register's opcode asks of a drive, decided
 * from the task file (ATA/ATAPI-7 volume 1). Each command becomes an
 * action the channel carries out (ata-channel.ts runs the PIO protocol);
 * anything unsupported, out of range or malformed is an error action with
 * the error register bit a real drive sets (ABRT, IDNF). Pure: no I/O here.
 */
import { ATA_SECTOR, chsToLba, type AtaDisk, type Geometry } from './ata-disk';
import { buildIdentify, MAX_MULTIPLE } from './ata-identify';

/** Status register bits. */
export const ATA_SR_BSY = 0x80;
export const ATA_SR_DRDY = 0x40;
export const ATA_SR_DF = 0x20;
export const ATA_SR_DSC = 0x10;
export const ATA_SR_DRQ = 0x08;
export const ATA_SR_ERR = 0x01;
/** Error register bits. */
export const ATA_ER_UNC = 0x40;
export const ATA_ER_IDNF = 0x10;
export const ATA_ER_ABRT = 0x04;

export const ATA_CMD = {
  NOP: 0x00,
  RECALIBRATE: 0x10,
  READ_SECTORS: 0x20, READ_SECTORS_NORETRY: 0x21, READ_SECTORS_EXT: 0x24,
  READ_NATIVE_MAX_EXT: 0x27, READ_MULTIPLE_EXT: 0x29,
  WRITE_SECTORS: 0x30, WRITE_SECTORS_NORETRY: 0x31, WRITE_SECTORS_EXT: 0x34, WRITE_MULTIPLE_EXT: 0x39,
  READ_VERIFY: 0x40, READ_VERIFY_NORETRY: 0x41, READ_VERIFY_EXT: 0x42,
  SEEK: 0x70,
  EXECUTE_DIAGNOSTIC: 0x90, INITIALIZE_PARAMETERS: 0x91,
  IDENTIFY_PACKET: 0xa1,
  READ_MULTIPLE: 0xc4, WRITE_MULTIPLE: 0xc5, SET_MULTIPLE: 0xc6,
  STANDBY_IMMEDIATE: 0xe0, IDLE_IMMEDIATE: 0xe1, STANDBY: 0xe2, IDLE: 0xe3, CHECK_POWER_MODE: 0xe5,
  FLUSH_CACHE: 0xe7, IDENTIFY: 0xec, FLUSH_CACHE_EXT: 0xea, SET_FEATURES: 0xef, READ_NATIVE_MAX: 0xf8,
} as const;

/** What one drive keeps across commands (besides its disk). */
export interface AtaDrive {
  disk: AtaDisk;
  serial: string;
  /** READ/WRITE MULTIPLE block size in sectors; 0 until SET MULTIPLE MODE. */
  multiple: number;
  /** The CHS translation INITIALIZE DEVICE PARAMETERS set (the default one until then). */
  geometry: Geometry;
}

/**
 * The command block registers as the drive latched them: cur[r] the last
 * write to register r (1 features ... 6 device), hob[r] the one before it
 * (the "previous content" LBA48 commands read as the high bytes).
 */
export interface TaskFile {
  cur: Uint8Array;
  hob: Uint8Array;
}
export const REG_FEATURES = 1;
export const REG_COUNT = 2;
export const REG_LBA_LOW = 3;
export const REG_LBA_MID = 4;
export const REG_LBA_HIGH = 5;
export const REG_DEVICE = 6;
export const DEVICE_LBA = 0x40;

export type AtaAction =
  | { kind: 'read'; lba: number; count: number; block: number }
  | { kind: 'write'; lba: number; count: number; block: number }
  | { kind: 'data-in'; data: Uint8Array }
  | { kind: 'done'; flush?: boolean; outputs?: { count?: number; lba?: number; lba48?: boolean } }
  | { kind: 'diagnostic' }
  | { kind: 'error'; error: number; why: string };

const ok = (outputs?: { count?: number; lba?: number; lba48?: boolean }): AtaAction => ({ kind: 'done', outputs });
const abort = (why: string): AtaAction => ({ kind: 'error', error: ATA_ER_ABRT, why });

function lba48(t: TaskFile): number {
  const { cur, hob } = t;
  return ((hob[REG_LBA_HIGH] * 256 + hob[REG_LBA_MID]) * 256 + hob[REG_LBA_LOW]) * 2 ** 24
    + (cur[REG_LBA_HIGH] << 16 | cur[REG_LBA_MID] << 8 | cur[REG_LBA_LOW]);
}

/** The LBA28 address (or the CHS address translated), undefined when the CHS address is not on the disk's geometry. */
function lba28(t: TaskFile, drive: AtaDrive): number | undefined {
  const { cur } = t;
  if (cur[REG_DEVICE] & DEVICE_LBA) return ((cur[REG_DEVICE] & 0xf) << 24 | cur[REG_LBA_HIGH] << 16 | cur[REG_LBA_MID] << 8 | cur[REG_LBA_LOW]) >>> 0;
  return chsToLba(drive.geometry, cur[REG_LBA_HIGH] << 8 | cur[REG_LBA_MID], cur[REG_DEVICE] & 0xf, cur[REG_LBA_LOW]);
}

const count28 = (t: TaskFile) => t.cur[REG_COUNT] || 256;
const count48 = (t: TaskFile) => (t.hob[REG_COUNT] << 8 | t.cur[REG_COUNT]) || 65536;

/** The sectors a read/write/verify addresses, or the IDNF error when they are not all on the disk. */
function range(t: TaskFile, drive: AtaDrive, ext: boolean): { lba: number; count: number } | AtaAction {
  const lba = ext ? lba48(t) : lba28(t, drive);
  const count = ext ? count48(t) : count28(t);
  if (lba === undefined) return { kind: 'error', error: ATA_ER_IDNF, why: `CHS address ${t.cur[REG_LBA_HIGH] << 8 | t.cur[REG_LBA_MID]}/${t.cur[REG_DEVICE] & 0xf}/${t.cur[REG_LBA_LOW]} is not on the disk's geometry` };
  if (!drive.disk.holds(lba, count)) return { kind: 'error', error: ATA_ER_IDNF, why: `sectors ${lba}+${count} are past the disk's ${drive.disk.sectors}` };
  return { lba, count };
}

function transfer(kind: 'read' | 'write', t: TaskFile, drive: AtaDrive, ext: boolean, multiple: boolean): AtaAction {
  if (multiple && drive.multiple === 0) return abort(`READ/WRITE MULTIPLE before SET MULTIPLE MODE`);
  if (kind === 'write' && drive.disk.readOnly) return abort(`the disk is read-only (${drive.disk.path})`);
  const r = range(t, drive, ext);
  if ('kind' in r) return r;
  return { kind, lba: r.lba, count: r.count, block: multiple ? drive.multiple : 1 };
}

/** Decides command `opcode` for `drive` (may change the drive's multiple count and geometry). */
export function decodeCommand(opcode: number, t: TaskFile, drive: AtaDrive): AtaAction {
  const C = ATA_CMD;
  switch (opcode) {
    case C.READ_SECTORS: case C.READ_SECTORS_NORETRY: return transfer('read', t, drive, false, false);
    case C.READ_SECTORS_EXT: return transfer('read', t, drive, true, false);
    case C.READ_MULTIPLE: return transfer('read', t, drive, false, true);
    case C.READ_MULTIPLE_EXT: return transfer('read', t, drive, true, true);
    case C.WRITE_SECTORS: case C.WRITE_SECTORS_NORETRY: return transfer('write', t, drive, false, false);
    case C.WRITE_SECTORS_EXT: return transfer('write', t, drive, true, false);
    case C.WRITE_MULTIPLE: return transfer('write', t, drive, false, true);
    case C.WRITE_MULTIPLE_EXT: return transfer('write', t, drive, true, true);
    case C.READ_VERIFY: case C.READ_VERIFY_NORETRY: case C.READ_VERIFY_EXT: {
      const r = range(t, drive, opcode === C.READ_VERIFY_EXT);
      return 'kind' in r ? r : ok();
    }
    case C.IDENTIFY:
      return { kind: 'data-in', data: buildIdentify({ sectors: drive.disk.sectors, serial: drive.serial, defaultGeometry: drive.disk.defaultGeometry, currentGeometry: drive.geometry, multiple: drive.multiple }) };
    case C.IDENTIFY_PACKET: return abort('IDENTIFY PACKET DEVICE to an ATA (not ATAPI) drive');
    case C.SET_MULTIPLE: {
      const n = t.cur[REG_COUNT];
      if (n > MAX_MULTIPLE || (n & (n - 1)) !== 0) return abort(`SET MULTIPLE MODE ${n}: 0 or a power of two up to ${MAX_MULTIPLE}`);
      drive.multiple = n;
      return ok();
    }
    case C.INITIALIZE_PARAMETERS: {
      const sectorsPerTrack = t.cur[REG_COUNT];
      const heads = (t.cur[REG_DEVICE] & 0xf) + 1;
      if (sectorsPerTrack === 0) return abort('INITIALIZE DEVICE PARAMETERS with 0 sectors a track');
      const cylinders = Math.max(1, Math.min(65535, Math.floor(drive.disk.sectors / (heads * sectorsPerTrack))));
      drive.geometry = { cylinders, heads, sectorsPerTrack };
      return ok();
    }
    case C.SET_FEATURES: {
      const f = t.cur[REG_FEATURES];
      // Transfer mode: PIO default (0x00, 0x01) or PIO flow control modes (0x08-0x0f); DMA modes are not emulated.
      if (f === 0x03) return (t.cur[REG_COUNT] & 0xf8) === 0 || (t.cur[REG_COUNT] & 0xf8) === 0x08 ? ok() : abort(`SET FEATURES transfer mode 0x${t.cur[REG_COUNT].toString(16)} (only PIO is emulated)`);
      if (f === 0x02 || f === 0x82 || f === 0x66 || f === 0xcc || f === 0xaa || f === 0x55) return ok();
      return abort(`SET FEATURES 0x${f.toString(16)}`);
    }
    case C.FLUSH_CACHE: case C.FLUSH_CACHE_EXT: return { kind: 'done', flush: true };
    case C.READ_NATIVE_MAX: return ok({ lba: Math.min(drive.disk.sectors, 0x1000_0000) - 1 });
    case C.READ_NATIVE_MAX_EXT: return ok({ lba: drive.disk.sectors - 1, lba48: true });
    case C.CHECK_POWER_MODE: return ok({ count: 0xff });
    case C.STANDBY_IMMEDIATE: case C.IDLE_IMMEDIATE: case C.STANDBY: case C.IDLE: return ok();
    case C.EXECUTE_DIAGNOSTIC: return { kind: 'diagnostic' };
    default:
      if ((opcode & 0xf0) === C.RECALIBRATE || (opcode & 0xf0) === C.SEEK) return ok();
      return abort(opcode === C.NOP ? 'NOP (it always aborts)' : `command 0x${opcode.toString(16).padStart(2, '0')} is not supported`);
  }
}

export { ATA_SECTOR };
