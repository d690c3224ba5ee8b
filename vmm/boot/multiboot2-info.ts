/**
 * The multiboot2 boot information kvmdbg hands over in EBX, tag by tag as
 * GRUB writes it (u32 total_size, u32 reserved, then 8-byte aligned tags,
 * an end tag last): command line, loader name, modules, basic memory,
 * memory map, framebuffer, ELF section headers, the ACPI RSDPs and the
 * image's load base. Multiboot2 builds no page tables, so the information
 * lives where long-mode page tables would, [0x30000, 0x90000) of the boot
 * area, clear of the kernel (at or above 1 MiB) and its modules.
 */
import { BootError } from './boot-state';
import { PAGE_TABLES_ADDR, PAGE_TABLES_END, PlacedModule } from './layout';
import { MB2I } from './multiboot2-header';
import { size } from './format';
import { GuestMemory } from '../memory/guest-memory';
import { EBDA_START, highMemoryEntry, MemoryMapEntry } from '../memory/memory-map';

export const MULTIBOOT2_BOOTLOADER_MAGIC = 0x36d76289;
export const MB2_INFO_ADDR = PAGE_TABLES_ADDR;
export const MB2_INFO_END = PAGE_TABLES_END;
export const MB2_MMAP_ENTRY_SIZE = 24;
export const MB2_FB_TYPE_RGB = 1;
export const MB2_FB_TYPE_EGA_TEXT = 2;

/** A framebuffer as the kernel is told of it (type 8). */
export type Mb2Framebuffer =
  | { kind: 'rgb'; addr: number; pitch: number; width: number; height: number; bpp: number;
    red: [number, number]; green: [number, number]; blue: [number, number] }
  | { kind: 'ega-text'; addr: number; pitch: number; width: number; height: number; bpp: number };

export interface Mb2ElfSections {
  num: number;
  entsize: number;
  shndx: number;
  /** The section header table, sh_addr filled in for the sections kvmdbg loaded. */
  headers: Uint8Array;
}

export interface Multiboot2InfoInput {
  kernelPath: string;
  cmdline: string;
  loaderName: string;
  modules: readonly PlacedModule[];
  map: readonly MemoryMapEntry[];
  framebuffer?: Mb2Framebuffer;
  elfSections?: Mb2ElfSections;
  /** The RSDP kvmdbg built (36 bytes, ACPI 2.0): tag 14 gets its first 20 bytes, tag 15 all of it. */
  rsdp?: Uint8Array;
  loadBase: number;
}

/** Writes tags one after another, each 8-byte aligned, bounds-checked against the information area. */
class TagWriter {
  private at: number;

  constructor(private readonly memory: GuestMemory, private readonly file: string, readonly start: number, private readonly end: number) {
    this.at = start + 8;
  }

  /** Reserves a tag of `bytes` (header included) and writes its type and size; returns its address. */
  tag(type: number, bytes: number): number {
    const addr = this.at;
    if (addr + bytes > this.end) {
      throw new BootError(this.file, `the multiboot2 boot information (more than ${size(addr + bytes - this.start)}) does not fit the ${size(this.end - this.start)} kvmdbg reserves for it; pass fewer or shorter modules and command lines`);
    }
    this.memory.fill(addr, Math.ceil(bytes / 8) * 8);
    this.memory.writeU32(addr, type);
    this.memory.writeU32(addr + 4, bytes);
    this.at = addr + Math.ceil(bytes / 8) * 8;
    return addr;
  }

  string(type: number, s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    const addr = this.tag(type, 8 + bytes.length + 1);
    this.memory.write(addr + 8, bytes);
    this.memory.writeU8(addr + 8 + bytes.length, 0);
  }

  finish(): number {
    this.tag(MB2I.end, 8);
    const total = this.at - this.start;
    this.memory.writeU32(this.start, total);
    this.memory.writeU32(this.start + 4, 0);
    return total;
  }
}

/** Builds the information at MB2_INFO_ADDR; returns its address (EBX) and total size. */
export function writeMultiboot2Info(memory: GuestMemory, input: Multiboot2InfoInput): { addr: number; size: number } {
  const w = new TagWriter(memory, input.kernelPath, MB2_INFO_ADDR, MB2_INFO_END);
  w.string(MB2I.cmdline, input.cmdline);
  w.string(MB2I.bootLoaderName, input.loaderName);
  for (const m of input.modules) {
    const text = Buffer.from(m.cmdline ?? m.path, 'utf8');
    const addr = w.tag(MB2I.module, 16 + text.length + 1);
    memory.writeU32(addr + 8, m.addr);
    memory.writeU32(addr + 12, m.addr + m.size);
    memory.write(addr + 16, text);
  }
  const high = highMemoryEntry(input.map);
  const meminfo = w.tag(MB2I.basicMeminfo, 16);
  memory.writeU32(meminfo + 8, EBDA_START / 1024);
  memory.writeU32(meminfo + 12, high ? Math.min(0xffffffff, Math.floor(high.size / 1024)) : 0);
  const mmap = w.tag(MB2I.mmap, 16 + input.map.length * MB2_MMAP_ENTRY_SIZE);
  memory.writeU32(mmap + 8, MB2_MMAP_ENTRY_SIZE);
  memory.writeU32(mmap + 12, 0);
  input.map.forEach((e, i) => {
    const at = mmap + 16 + i * MB2_MMAP_ENTRY_SIZE;
    memory.writeU64(at, BigInt(e.addr));
    memory.writeU64(at + 8, BigInt(e.size));
    memory.writeU32(at + 16, e.type);
  });
  if (input.framebuffer) writeFramebuffer(memory, w, input.framebuffer);
  if (input.elfSections) {
    const s = input.elfSections;
    const addr = w.tag(MB2I.elfSections, 20 + s.headers.length);
    memory.writeU32(addr + 8, s.num);
    memory.writeU32(addr + 12, s.entsize);
    memory.writeU32(addr + 16, s.shndx);
    memory.write(addr + 20, s.headers);
  }
  if (input.rsdp) {
    memory.write(w.tag(MB2I.acpiOld, 8 + 20) + 8, input.rsdp.subarray(0, 20));
    memory.write(w.tag(MB2I.acpiNew, 8 + input.rsdp.length) + 8, input.rsdp);
  }
  memory.writeU32(w.tag(MB2I.loadBaseAddr, 12) + 8, input.loadBase);
  return { addr: w.start, size: w.finish() };
}

/** Tag 8: the common part (u64 address, pitch, width, height, u8 bpp, u8 type, u16 reserved), then RGB field positions and sizes. */
function writeFramebuffer(memory: GuestMemory, w: TagWriter, fb: Mb2Framebuffer): void {
  const addr = w.tag(MB2I.framebuffer, fb.kind === 'rgb' ? 32 + 6 : 32);
  memory.writeU64(addr + 8, BigInt(fb.addr));
  memory.writeU32(addr + 16, fb.pitch);
  memory.writeU32(addr + 20, fb.width);
  memory.writeU32(addr + 24, fb.height);
  memory.writeU8(addr + 28, fb.bpp);
  memory.writeU8(addr + 29, fb.kind === 'rgb' ? MB2_FB_TYPE_RGB : MB2_FB_TYPE_EGA_TEXT);
  if (fb.kind !== 'rgb') return;
  const fields = [...fb.red, ...fb.green, ...fb.blue];
  fields.forEach((v, i) => memory.writeU8(addr + 32 + i, v));
}
