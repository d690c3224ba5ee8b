/**
 * The Limine boot protocol's magic numbers and constants, as its
 * specification (PROTOCOL.md of limine-bootloader/limine-protocol, base
 * revisions 0 through 6) defines them. A request is found by its 4-word ID,
 * of which the first two words are common to every request.
 */

export const COMMON_MAGIC: readonly [bigint, bigint] = [0xc7b1dd30df4c8b88n, 0x0a82e883a194f07bn];
export const BASE_REVISION_MAGIC: readonly [bigint, bigint] = [0xf9562b2d5c95a6c8n, 0x6a7b384944536bdcn];
export const REQUESTS_START_MARKER: readonly bigint[] = [0xf6b8f4b39de7d1aen, 0xfab91a6940fcb9cfn, 0x785c6ed015d3e316n, 0x181e920a7852b9d9n];
export const REQUESTS_END_MARKER: readonly bigint[] = [0xadc0e0531bb10d03n, 0x9572709f31764c62n];

/** The highest base revision the specification documents, and the one kvmdbg implements up to. */
export const MAX_BASE_REVISION = 6;

/** The last two ID words of each request kvmdbg knows (answered or not), by name. */
export const REQUEST_IDS = {
  bootloaderInfo: [0xf55038d8e2a1202fn, 0x279426fcf5f59740n],
  executableCmdline: [0x4b161536e598651en, 0xb390ad4a2f1f303an],
  firmwareType: [0x8c2f75d90bef28a8n, 0x7045a4688eac00c3n],
  stackSize: [0x224ef0460a8e8926n, 0xe1cb0fc25f46ea3dn],
  hhdm: [0x48dcf1cb8ad2b852n, 0x63984e959a98244bn],
  framebuffer: [0x9d5827dcd881dd75n, 0xa3148604f6fab11bn],
  pagingMode: [0x95c1a0edab0944cbn, 0xa4e5cb3842f7488an],
  mp: [0x95a67b819a1b857en, 0xa0b61b723b6a73e0n],
  riscvBspHartid: [0x1369359f025525f9n, 0x2ff2a56178391bb6n],
  memmap: [0x67cf3d9d378a806fn, 0xe304acdfc50c3c62n],
  entryPoint: [0x13d86c035a1cd3e1n, 0x2b0caa89d8f3026an],
  executableFile: [0xad97e90e83f1ed67n, 0x31eb5d1c5ff23b69n],
  module: [0x3e7e279702be32afn, 0xca1c4f3bd1280ceen],
  rsdp: [0xc5e77b6b397e7b43n, 0x27637845accdcf3cn],
  smbios: [0x9e9046f11e095391n, 0xaa4a520fefbde5een],
  efiSystemTable: [0x5ceba5163eaaf6d6n, 0x0a6981610cf65fccn],
  tpmEventLog: [0x98e094fc7e76e979n, 0xee8d8775c54e1d1fn],
  efiMemmap: [0x7df62a431d6872d5n, 0xa4fcdfb3e57306c8n],
  dateAtBoot: [0x502746e184c088aan, 0xfbc5ec83e6327893n],
  executableAddress: [0x71ba76863cc55f63n, 0xb2644a48c516a487n],
  dtb: [0xb40ddb48fb54bac7n, 0x545081493f81ffb7n],
  bootloaderPerformance: [0x6b50ad9bf36d13adn, 0xdc4c7e88fc759e17n],
  keepIommu: [0x8ebaabe51f490179n, 0x2aa86a59ffb4ab0fn],
  tscFrequency: [0x10f2ee1d87d195e4n, 0xf747a2b78f6ddb31n],
  flantermFbInitParams: [0x3259399fe7c5f126n, 0xe01c1c8c5db9d1a9n],
  entropy: [0x65ea80255d5682c5n, 0x9117240723f493ebn],
} as const satisfies Record<string, readonly [bigint, bigint]>;

export type RequestName = keyof typeof REQUEST_IDS;

/** Request layout: id[4], revision, response pointer, then the request's own fields. */
export const REQUEST_REVISION = 32;
export const REQUEST_RESPONSE = 40;
export const REQUEST_FIELDS = 48;

export const MEMMAP_USABLE = 0;
export const MEMMAP_RESERVED = 1;
export const MEMMAP_ACPI_RECLAIMABLE = 2;
export const MEMMAP_ACPI_NVS = 3;
export const MEMMAP_BAD_MEMORY = 4;
export const MEMMAP_BOOTLOADER_RECLAIMABLE = 5;
export const MEMMAP_EXECUTABLE_AND_MODULES = 6;
export const MEMMAP_FRAMEBUFFER = 7;
export const MEMMAP_RESERVED_MAPPED = 8;

export const FIRMWARE_TYPE_X86BIOS = 0;
export const FRAMEBUFFER_RGB = 1;
export const PAGING_MODE_4LVL = 0;
export const PAGING_MODE_5LVL = 1;

/** HHDM bases Limine itself picks: the start of the upper half in each paging mode. */
export const HHDM_4LVL = 0xffff_8000_0000_0000n;
export const HHDM_5LVL = 0xff00_0000_0000_0000n;
/** Kernels must be linked at or above this (the top 2 GiB). */
export const KERNEL_MIN_VADDR = 0xffff_ffff_8000_0000n;
export const DEFAULT_STACK_SIZE = 64 * 1024;

const ACRONYMS = new Set(['hhdm', 'mp', 'rsdp', 'smbios', 'efi', 'dtb', 'tpm', 'tsc', 'iommu', 'riscv', 'bsp', 'fb']);

/** A request's name for sentences: "stack size", "HHDM", "executable file". */
export function requestTitle(name: RequestName): string {
  return name.replace(/([A-Z])/g, ' $1').toLowerCase().split(' ').map((w) => (ACRONYMS.has(w) ? w.toUpperCase() : w)).join(' ');
}
