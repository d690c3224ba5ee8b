/**
 * The 36-byte header every ACPI system description table starts with, and
 * a small little-endian writer for table bodies. Tables are built as byte
 * arrays (no guest memory), so they are testable on their own.
 */
import { setChecksum } from './checksum';

export const SDT_HEADER_SIZE = 36;
export const SDT_CHECKSUM_OFFSET = 9;
export const OEM_ID = 'KVMDBG';
export const OEM_TABLE_ID = 'KVMDBGPC';
export const CREATOR_ID = 'KDBG';

/** Writes little-endian fields into a fixed-size byte array. */
export class ByteWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.view = new DataView(this.bytes.buffer);
  }

  u8(at: number, v: number): void { this.view.setUint8(at, v); }
  u16(at: number, v: number): void { this.view.setUint16(at, v, true); }
  u32(at: number, v: number): void { this.view.setUint32(at, v >>> 0, true); }
  u64(at: number, v: number | bigint): void { this.view.setBigUint64(at, BigInt(v), true); }
  ascii(at: number, s: string, width: number): void {
    for (let i = 0; i < width; i++) this.bytes[at + i] = i < s.length ? s.charCodeAt(i) : 0x20;
  }
  set(at: number, data: Uint8Array): void { this.bytes.set(data, at); }
}

/** A table of `length` bytes with its header filled in; call finishSdt() after writing the body. */
export function sdt(signature: string, length: number, revision: number): ByteWriter {
  const w = new ByteWriter(length);
  w.ascii(0, signature, 4);
  w.u32(4, length);
  w.u8(8, revision);
  w.ascii(10, OEM_ID, 6);
  w.ascii(16, OEM_TABLE_ID, 8);
  w.u32(24, 1);
  w.ascii(28, CREATOR_ID, 4);
  w.u32(32, 1);
  return w;
}

export function finishSdt(w: ByteWriter): Uint8Array {
  setChecksum(w.bytes, SDT_CHECKSUM_OFFSET);
  return w.bytes;
}

/** ACPI Generic Address Structure (12 bytes): a register in system I/O space. */
export const GAS_SIZE = 12;
export const GAS_SYSTEM_IO = 1;
export const ACCESS_BYTE = 1;
export const ACCESS_WORD = 2;
export const ACCESS_DWORD = 3;

export function writeIoGas(w: ByteWriter, at: number, port: number, bits: number, access: number): void {
  w.u8(at, GAS_SYSTEM_IO);
  w.u8(at + 1, bits);
  w.u8(at + 2, 0);
  w.u8(at + 3, access);
  w.u64(at + 4, port);
}
