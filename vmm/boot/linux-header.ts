/**
 * The Linux/x86 bzImage setup header (Documentation/arch/x86/boot.rst,
 * "THE REAL-MODE KERNEL HEADER"): read from the file and checked before
 * anything is written to guest memory. Every field we rely on is checked
 * against the file's length and the protocol version that defines it.
 */
import { BootError } from './boot-state';
import { hex, size } from './format';

/** Offsets in the file (and in boot_params, where the header is copied to the same place). */
export const HDR = {
  setupSects: 0x1f1, syssize: 0x1f4, bootFlag: 0x1fe, jump: 0x200, magic: 0x202, version: 0x206,
  typeOfLoader: 0x210, loadflags: 0x211, code32Start: 0x214, ramdiskImage: 0x218, ramdiskSize: 0x21c,
  heapEndPtr: 0x224, cmdLinePtr: 0x228, initrdAddrMax: 0x22c, kernelAlignment: 0x230,
  relocatableKernel: 0x234, xloadflags: 0x236, cmdlineSize: 0x238, prefAddress: 0x258, initSize: 0x260,
} as const;

/** Where struct setup_header starts, and where boot_params' next field (edd_mbr_sig_buffer) begins. */
export const SETUP_HEADER_START = 0x1f1;
export const SETUP_HEADER_LIMIT = 0x290;

export const HDRS_MAGIC = 0x53726448; // "HdrS"
export const BOOT_FLAG = 0xaa55;
/** 2.10 brought init_size-era fields (kernel_alignment, relocatable) we rely on; 2.12 the 64-bit entry flag. */
export const MIN_PROTOCOL = 0x20a;

export const LOADED_HIGH = 0x01;
export const CAN_USE_HEAP = 0x80;
export const XLF_KERNEL_64 = 0x1;
export const XLF_CAN_BE_LOADED_ABOVE_4G = 0x2;

export interface LinuxHeader {
  version: number;
  /** Bytes of real-mode setup code before the protected-mode kernel ((setup_sects + 1) * 512). */
  setupBytes: number;
  /** The protected-mode kernel's bytes in the file. */
  pmOffset: number;
  pmSize: number;
  /** End of the setup header in the file (0x202 + the jump's displacement), capped at SETUP_HEADER_LIMIT. */
  headerEnd: number;
  loadflags: number;
  xloadflags: number;
  relocatable: boolean;
  kernelAlignment: number;
  initrdAddrMax: number;
  /** Longest command line the kernel accepts, NUL excluded. */
  cmdlineSize: number;
  prefAddress: bigint;
  /** Memory the kernel needs from its load address while it decompresses and boots. */
  initSize: number;
}

function versionText(v: number): string {
  return `${v >> 8}.${(v & 0xff).toString().padStart(2, '0')}`;
}

export function parseLinuxHeader(file: string, data: Uint8Array): LinuxHeader {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const u8 = (o: number) => data[o];
  const u16 = (o: number) => view.getUint16(o, true);
  const u32 = (o: number) => view.getUint32(o, true);
  if (data.length < HDR.magic + 4 || u32(HDR.magic) !== HDRS_MAGIC) {
    throw new BootError(file, 'is not a Linux bzImage (no "HdrS" at 0x202), so the Linux boot protocol cannot load it');
  }
  // The jump at 0x200 skips the header: its short displacement says where the header ends.
  const headerEnd = Math.min(HDR.magic + u8(HDR.jump + 1), SETUP_HEADER_LIMIT);
  const need = (end: number, what: string) => {
    if (data.length < end) throw new BootError(file, `is truncated: ${size(data.length)}, too short for ${what}`);
  };
  need(HDR.version + 2, 'the setup header');
  const version = u16(HDR.version);
  if (version < MIN_PROTOCOL) {
    throw new BootError(file, `uses Linux boot protocol ${versionText(version)}; kvmdbg needs 2.10 or newer (Linux 2.6.31 and later)`);
  }
  need(HDR.initSize + 4, 'the setup header');
  if (headerEnd < HDR.initSize + 4) {
    throw new BootError(file, `has a setup header that ends at ${hex(headerEnd)}, before the fields protocol ${versionText(version)} defines`);
  }
  if (u16(HDR.bootFlag) !== BOOT_FLAG) throw new BootError(file, `has no boot flag 0xaa55 at 0x1fe (found ${hex(u16(HDR.bootFlag))}); the setup header is damaged`);
  const loadflags = u8(HDR.loadflags);
  if (!(loadflags & LOADED_HIGH)) throw new BootError(file, 'is a zImage loaded low (LOADED_HIGH clear); kvmdbg boots bzImages only');
  const xloadflags = version >= 0x20c ? u16(HDR.xloadflags) : 0;
  if (!(xloadflags & XLF_KERNEL_64)) {
    throw new BootError(file, 'has no 64-bit entry point (XLF_KERNEL_64 clear in xloadflags): kvmdbg enters Linux in long mode, so build an x86-64 kernel (protocol 2.12 or newer)');
  }
  const sects = u8(HDR.setupSects) || 4;
  const setupBytes = (sects + 1) * 512;
  const syssize = u32(HDR.syssize) * 16;
  need(setupBytes + 1, `the ${setupBytes}-byte setup code and a kernel after it`);
  const pmSize = syssize > 0 ? syssize : data.length - setupBytes;
  if (setupBytes + pmSize > data.length) {
    throw new BootError(file, `is truncated: ${size(data.length)}, but its header says the kernel after the ${setupBytes}-byte setup code is ${size(pmSize)} (ends at ${hex(setupBytes + pmSize)})`);
  }
  const initSize = u32(HDR.initSize);
  const kernelAlignment = u32(HDR.kernelAlignment);
  const relocatable = u8(HDR.relocatableKernel) !== 0;
  if (relocatable && (kernelAlignment === 0 || (kernelAlignment & (kernelAlignment - 1)) !== 0)) {
    throw new BootError(file, `has kernel_alignment ${hex(kernelAlignment)}, which is not a power of two`);
  }
  return {
    version, setupBytes, pmOffset: setupBytes, pmSize, headerEnd, loadflags, xloadflags, relocatable, kernelAlignment,
    initrdAddrMax: u32(HDR.initrdAddrMax),
    cmdlineSize: version >= 0x206 ? u32(HDR.cmdlineSize) : 255,
    prefAddress: view.getBigUint64(HDR.prefAddress, true),
    initSize: Math.max(initSize, pmSize),
  };
}

export { versionText as linuxProtocolText };
