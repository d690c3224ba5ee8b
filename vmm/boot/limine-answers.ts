/**
 * The responses kvmdbg gives, one builder per feature, each writing its
 * structures into bootloader-reclaimable memory and returning the
 * response's physical address, or undefined to leave the request's
 * response pointer as it is (NULL), as Limine does for what it cannot
 * answer: SMBIOS, EFI, DTB, TPM, TSC frequency, Flanterm, the RISC-V hart.
 * The memory map, MP and the stack size are built by limine.ts (they
 * depend on everything else). All pointers are HHDM addresses, except the
 * RSDP's under base revision 3, which the protocol makes physical.
 */
import { randomBytes } from 'node:crypto';
import { BootAllocator } from './limine-alloc';
import { FIRMWARE_TYPE_X86BIOS, FRAMEBUFFER_RGB, RequestName } from './limine-ids';
import { GuestMemory } from '../memory/guest-memory';

export interface FramebufferMode { address: number; width: number; height: number; bpp: number; pitch: number }
export interface PlacedFile { addr: number; size: number; path: string; string: string }

export interface AnswerWorld {
  memory: GuestMemory;
  alloc: BootAllocator;
  hhdm: bigint;
  revision: number;
  loaderVersion: string;
  cmdline: string;
  kernelFile?: PlacedFile;
  modules: readonly PlacedFile[];
  rsdp: number;
  pagingMode: number;
  bootTime: number;
  physicalBase: number;
  virtualBase: bigint;
  framebuffer?: FramebufferMode;
  /** Reads a u64 field of this request (bounds-checked by the caller). */
  field(offset: number): bigint;
}

/** Most random words the entropy answer gives (the protocol lets a loader cap it). */
export const MAX_ENTROPY_VALUES = 4096;
const FILE_BYTES = 112;

type Builder = (w: AnswerWorld) => number | undefined;

const virt = (w: AnswerWorld, p: number) => w.hhdm + BigInt(p);

function response(w: AnswerWorld, revision: number, words: readonly bigint[], what: string): number {
  const at = w.alloc.alloc(8 + words.length * 8, what, 8);
  w.memory.writeU64(at, BigInt(revision));
  words.forEach((v, i) => w.memory.writeU64(at + 8 + i * 8, v));
  return at;
}

function str(w: AnswerWorld, s: string, what: string): bigint {
  return virt(w, w.alloc.string(s, what));
}

/** A struct limine_file (revision 0; no media information: the file came from the host). */
function limineFile(w: AnswerWorld, f: PlacedFile): bigint {
  const at = w.alloc.alloc(FILE_BYTES, 'a limine_file', 8);
  w.memory.writeU64(at + 8, virt(w, f.addr));
  w.memory.writeU64(at + 16, BigInt(f.size));
  w.memory.writeU64(at + 24, str(w, f.path.startsWith('/') ? f.path : `/${f.path}`, 'a file path'));
  w.memory.writeU64(at + 32, str(w, f.string, 'a file string'));
  return virt(w, at);
}

function framebuffer(w: AnswerWorld): number | undefined {
  const fb = w.framebuffer;
  if (!fb) return undefined;
  const { memory, alloc } = w;
  // bpp, memory model and the RGB masks (size, shift) of 0x00RRGGBB pixels: the same bytes in both structures.
  const format = (at: number) => {
    memory.writeU16(at, fb.bpp);
    [FRAMEBUFFER_RGB, 8, 16, 8, 8, 8, 0].forEach((b, i) => memory.writeU8(at + 2 + i, b));
  };
  const mode = alloc.alloc(40, 'the video mode', 8);
  memory.writeU64(mode, BigInt(fb.pitch));
  memory.writeU64(mode + 8, BigInt(fb.width));
  memory.writeU64(mode + 16, BigInt(fb.height));
  format(mode + 24);
  const modes = alloc.alloc(8, 'the video mode list', 8);
  memory.writeU64(modes, virt(w, mode));
  const f = alloc.alloc(80, 'the framebuffer', 8);
  memory.writeU64(f, virt(w, fb.address));
  memory.writeU64(f + 8, BigInt(fb.width));
  memory.writeU64(f + 16, BigInt(fb.height));
  memory.writeU64(f + 24, BigInt(fb.pitch));
  format(f + 32);
  // edid_size and edid stay 0: no EDID. Response revision 1: the mode list.
  memory.writeU64(f + 64, 1n);
  memory.writeU64(f + 72, virt(w, modes));
  const list = alloc.alloc(8, 'the framebuffer list', 8);
  memory.writeU64(list, virt(w, f));
  return response(w, 1, [1n, virt(w, list)], 'the framebuffer response');
}

function modules(w: AnswerWorld): number | undefined {
  if (w.modules.length === 0) return undefined;
  const files = w.modules.map((m) => limineFile(w, m));
  const list = w.alloc.alloc(files.length * 8, 'the module list', 8);
  files.forEach((f, i) => w.memory.writeU64(list + i * 8, f));
  // Revision 0: internal modules (files the kernel names) are not loaded; the protocol ties them to revision 1.
  return response(w, 0, [BigInt(files.length), virt(w, list)], 'the module response');
}

function entropy(w: AnswerWorld): number | undefined {
  const asked = w.field(48);
  const count = asked > BigInt(MAX_ENTROPY_VALUES) ? MAX_ENTROPY_VALUES : Number(asked);
  const values = count === 0 ? 0 : w.alloc.alloc(count * 8, 'the entropy values', 8);
  if (count > 0) w.memory.write(values, randomBytes(count * 8));
  return response(w, 0, [BigInt(count), count === 0 ? 0n : virt(w, values)], 'the entropy response');
}

export const BUILDERS: Partial<Record<RequestName, Builder>> = {
  bootloaderInfo: (w) => response(w, 0, [str(w, 'kvmdbg', 'the loader name'), str(w, w.loaderVersion, 'the loader version')], 'the bootloader info response'),
  executableCmdline: (w) => response(w, 0, [str(w, w.cmdline, 'the command line')], 'the command line response'),
  firmwareType: (w) => response(w, 0, [BigInt(FIRMWARE_TYPE_X86BIOS)], 'the firmware type response'),
  stackSize: (w) => response(w, 0, [], 'the stack size response'),
  hhdm: (w) => response(w, 0, [w.hhdm], 'the HHDM response'),
  framebuffer,
  pagingMode: (w) => response(w, 0, [BigInt(w.pagingMode)], 'the paging mode response'),
  entryPoint: (w) => response(w, 0, [], 'the entry point response'),
  executableFile: (w) => (w.kernelFile ? response(w, 0, [limineFile(w, w.kernelFile)], 'the executable file response') : undefined),
  module: modules,
  rsdp: (w) => response(w, 0, [w.revision === 3 ? BigInt(w.rsdp) : virt(w, w.rsdp)], 'the RSDP response'),
  dateAtBoot: (w) => response(w, 0, [BigInt.asUintN(64, BigInt(w.bootTime))], 'the boot time response'),
  executableAddress: (w) => response(w, 0, [BigInt(w.physicalBase), w.virtualBase], 'the executable address response'),
  // No IOMMU here, so nothing is disabled: the answer is simply yes.
  keepIommu: (w) => response(w, 0, [], 'the keep-IOMMU response'),
  entropy,
};
