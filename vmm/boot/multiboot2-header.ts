/**
 * Finding and reading a multiboot2 header (GRUB's multiboot2 protocol):
 * magic 0xE85250D6 on an 8-byte boundary within the first 32 KiB, then
 * architecture, header_length and a checksum making the four words sum to
 * zero; then tags (u16 type, u16 flags, u32 size, each 8-byte aligned) up
 * to an end tag. Every size the file gives is checked against the header
 * and the file; a tag kvmdbg cannot honour that is not marked optional
 * (flags bit 0) is refused with one sentence naming it, as the spec asks.
 */
import { BootError } from './boot-state';
import { hex } from './format';

export const MULTIBOOT2_HEADER_MAGIC = 0xe85250d6;
export const MULTIBOOT2_SEARCH_BYTES = 32768;
export const MULTIBOOT2_ARCH_I386 = 0;
export const MULTIBOOT2_ARCH_MIPS32 = 4;
export const MB2_TAG_OPTIONAL = 1;

/** Header tag types. */
export const MB2H = {
  end: 0, informationRequest: 1, address: 2, entryAddress: 3, consoleFlags: 4, framebuffer: 5,
  moduleAlign: 6, efiBootServices: 7, entryAddressEfi32: 8, entryAddressEfi64: 9, relocatable: 10,
} as const;

export const MB2_CONSOLE_REQUIRED = 1;
export const MB2_CONSOLE_EGA_TEXT_SUPPORTED = 2;

/** Boot information tag types (what an information request names). */
export const MB2I = {
  end: 0, cmdline: 1, bootLoaderName: 2, module: 3, basicMeminfo: 4, bootdev: 5, mmap: 6, vbe: 7,
  framebuffer: 8, elfSections: 9, apm: 10, efi32: 11, efi64: 12, smbios: 13, acpiOld: 14, acpiNew: 15,
  network: 16, efiMmap: 17, efiBootServices: 18, efi32ImageHandle: 19, efi64ImageHandle: 20, loadBaseAddr: 21,
} as const;

/** What each information tag is, for the sentence that refuses one. */
export const MB2_INFO_NAMES: Record<number, string> = {
  0: 'the end tag', 1: 'the command line', 2: 'the boot loader name', 3: 'the modules', 4: 'the basic memory information',
  5: 'the BIOS boot device', 6: 'the memory map', 7: 'the VBE information', 8: 'the framebuffer information',
  9: 'the ELF section headers', 10: 'the APM table', 11: 'the EFI 32-bit system table', 12: 'the EFI 64-bit system table',
  13: 'the SMBIOS tables', 14: 'the ACPI 1.0 RSDP', 15: 'the ACPI 2.0 RSDP', 16: 'the network (DHCP ACK) information',
  17: 'the EFI memory map', 18: 'the EFI boot services not terminated tag', 19: 'the EFI 32-bit image handle',
  20: 'the EFI 64-bit image handle', 21: 'the image load base address',
};

const HEADER_TAG_NAMES: Record<number, string> = {
  1: 'information request', 2: 'address', 3: 'entry address', 4: 'console flags', 5: 'framebuffer', 6: 'module alignment',
  7: 'EFI boot services', 8: 'EFI i386 entry address', 9: 'EFI amd64 entry address', 10: 'relocatable',
};

export interface Mb2AddressTag { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number }
export interface Mb2FramebufferRequest { width: number; height: number; depth: number; optional: boolean }
export interface Mb2Relocatable { minAddr: number; maxAddr: number; align: number; preference: number }

export interface Multiboot2Header {
  /** File offset of the magic. */
  offset: number;
  /** header_length: the magic fields and every tag. */
  length: number;
  /** Information tags the kernel asks for and cannot boot without (non-optional requests). */
  requiredInfo: number[];
  address?: Mb2AddressTag;
  entry?: number;
  /** console_flags of the console flags tag (absent: EGA text accepted, no console required). */
  consoleFlags?: number;
  framebuffer?: Mb2FramebufferRequest;
  moduleAlign: boolean;
  relocatable?: Mb2Relocatable;
  /** Optional tags kvmdbg saw and ignored (EFI entry points and the like), for the boot description. */
  ignored: string[];
}

/** The first multiboot2 header with a valid checksum, or undefined; throws BootError when it cannot be booted. */
export function findMultiboot2Header(file: string, data: Uint8Array): Multiboot2Header | undefined {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const limit = Math.min(data.length, MULTIBOOT2_SEARCH_BYTES);
  for (let o = 0; o + 16 <= limit; o += 8) {
    if (view.getUint32(o, true) !== MULTIBOOT2_HEADER_MAGIC) continue;
    const arch = view.getUint32(o + 4, true);
    const length = view.getUint32(o + 8, true);
    if (((MULTIBOOT2_HEADER_MAGIC + arch + length + view.getUint32(o + 12, true)) >>> 0) !== 0) continue;
    return parseHeader(file, view, o, arch, length);
  }
  return undefined;
}

function parseHeader(file: string, view: DataView, o: number, arch: number, length: number): Multiboot2Header {
  const fail = (problem: string): never => { throw new BootError(file, `multiboot2 header (at offset ${hex(o)}) ${problem}`); };
  if (arch === MULTIBOOT2_ARCH_MIPS32) fail('is for MIPS (architecture 4); kvmdbg boots i386 (architecture 0) kernels');
  if (arch !== MULTIBOOT2_ARCH_I386) fail(`names architecture ${arch}; kvmdbg boots i386 (architecture 0) kernels`);
  if (length < 24) fail(`has header_length ${length}, too short for the 16 bytes of magic fields and an 8-byte end tag`);
  if (o + length > view.byteLength) fail(`has header_length ${hex(length)}, which runs past the end of the file (size ${hex(view.byteLength)})`);
  const h: Multiboot2Header = { offset: o, length, requiredInfo: [], moduleAlign: false, ignored: [] };
  const end = o + length;
  let at = o + 16;
  for (;;) {
    if (at + 8 > end) fail('has no end tag (type 0, size 8) before its header_length ends');
    const type = view.getUint16(at, true);
    const flags = view.getUint16(at + 2, true);
    const size = view.getUint32(at + 4, true);
    const optional = (flags & MB2_TAG_OPTIONAL) !== 0;
    const what = `tag ${type}${HEADER_TAG_NAMES[type] ? ` (${HEADER_TAG_NAMES[type]})` : ''} at offset ${hex(at)}`;
    if (size < 8) fail(`${what} has size ${size}; a tag is at least 8 bytes`);
    if (at + size > end) fail(`${what} has size ${size}, which runs past the header's end (header_length ${hex(length)})`);
    if (type === MB2H.end) return h;
    const need = (n: number): void => { if (size < n) fail(`${what} has size ${size}; this tag is ${n} bytes`); };
    const u32 = (i: number): number => view.getUint32(at + 8 + 4 * i, true);
    switch (type) {
      case MB2H.informationRequest:
        if (size % 4 !== 0) fail(`${what} has size ${size}, not a whole number of 4-byte requests`);
        if (!optional) for (let i = 0; i < (size - 8) / 4; i++) h.requiredInfo.push(u32(i));
        break;
      case MB2H.address:
        need(24);
        h.address = { headerAddr: u32(0), loadAddr: u32(1), loadEndAddr: u32(2), bssEndAddr: u32(3) };
        break;
      case MB2H.entryAddress:
        need(12);
        h.entry = u32(0);
        break;
      case MB2H.consoleFlags:
        need(12);
        h.consoleFlags = u32(0);
        break;
      case MB2H.framebuffer:
        need(20);
        h.framebuffer = { width: u32(0), height: u32(1), depth: u32(2), optional };
        break;
      case MB2H.moduleAlign:
        h.moduleAlign = true;
        break;
      case MB2H.relocatable:
        need(24);
        h.relocatable = { minAddr: u32(0), maxAddr: u32(1), align: u32(2), preference: u32(3) };
        break;
      case MB2H.efiBootServices:
      case MB2H.entryAddressEfi32:
      case MB2H.entryAddressEfi64:
        if (!optional) {
          fail(`requires the ${HEADER_TAG_NAMES[type]} tag (${type}), which only a UEFI boot can honour; kvmdbg boots like GRUB on a BIOS PC, through the 32-bit entry: mark the tag optional (flags = 1) or drop it`);
        }
        h.ignored.push(`${HEADER_TAG_NAMES[type]} tag`);
        break;
      default:
        if (!optional) fail(`has tag type ${type} at offset ${hex(at)}, which kvmdbg does not know, marked required (flags bit 0 clear); mark it optional (flags = 1) or drop it`);
        h.ignored.push(`unknown tag ${type}`);
        break;
    }
    at += Math.ceil(size / 8) * 8;
  }
}
