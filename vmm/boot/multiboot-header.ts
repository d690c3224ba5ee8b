/**
 * Finding and checking a multiboot v1 header: magic 0x1BADB002 on a 4-byte
 * boundary within the first 8 KiB, with magic + flags + checksum == 0 (mod 2^32).
 */
import { BootError } from './boot-state';
import { hex } from './format';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_SEARCH_BYTES = 8192;
/** Header flag bits (the low 16 are requirements, the high 16 optional). */
export const MBH_PAGE_ALIGN = 1 << 0;
export const MBH_MEMORY_INFO = 1 << 1;
export const MBH_VIDEO_MODE = 1 << 2;
export const MBH_AOUT_KLUDGE = 1 << 16;
/** Requirements kvmdbg honours (page-aligned modules, memory info) or may ignore (video mode). */
const SUPPORTED_REQUIRED = MBH_PAGE_ALIGN | MBH_MEMORY_INFO | MBH_VIDEO_MODE;

export interface MultibootHeader {
  /** File offset of the magic. */
  offset: number;
  flags: number;
  /** The a.out kludge address fields, when flag 16 is set. */
  aout?: { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number };
}

/** The first valid multiboot header, or undefined; throws BootError when it is unusable. */
export function findMultibootHeader(file: string, data: Uint8Array): MultibootHeader | undefined {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const limit = Math.min(data.length, MULTIBOOT_SEARCH_BYTES);
  for (let o = 0; o + 12 <= limit; o += 4) {
    if (view.getUint32(o, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = view.getUint32(o + 4, true);
    if (((MULTIBOOT_HEADER_MAGIC + flags + view.getUint32(o + 8, true)) >>> 0) !== 0) continue;
    const unsupported = flags & 0xffff & ~SUPPORTED_REQUIRED;
    if (unsupported) {
      const bits = [...Array(16).keys()].filter((b) => unsupported & (1 << b)).join(', ');
      throw new BootError(file, `multiboot header (at offset ${hex(o)}) requires features kvmdbg does not provide (flag bits ${bits}); only bits 0-2 and 16 are supported`);
    }
    const header: MultibootHeader = { offset: o, flags };
    if (flags & MBH_AOUT_KLUDGE) {
      if (o + 32 > data.length) {
        throw new BootError(file, `multiboot header (at offset ${hex(o)}) sets the a.out kludge (flag 16) but its address fields are cut off by the end of the file`);
      }
      header.aout = {
        headerAddr: view.getUint32(o + 12, true), loadAddr: view.getUint32(o + 16, true),
        loadEndAddr: view.getUint32(o + 20, true), bssEndAddr: view.getUint32(o + 24, true),
        entryAddr: view.getUint32(o + 28, true),
      };
    }
    return header;
  }
  return undefined;
}
