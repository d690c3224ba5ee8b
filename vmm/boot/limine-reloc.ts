/**
 * Relocations of a position-independent Limine kernel (ELF type DYN: Rust's
 * x86_64-unknown-none target and `-static-pie` C kernels build these).
 * Limine slides such a kernel so its lowest address is at or above
 * 0xffffffff80000000 and applies its dynamic relocations; kvmdbg does the
 * same, with no randomisation: the slide is the smallest that works (0 for
 * one already linked there, whose relocations still must be applied: lld
 * leaves RELA places zero). Supported: R_X86_64_RELATIVE, _64, _GLOB_DAT and
 * _JUMP_SLOT from DT_RELA and DT_JMPREL. Every table, entry and place is
 * checked to lie inside the loaded image; anything else is a sentence.
 */
import { BootError } from './boot-state';
import { ElfFile } from './elf';
import { hex } from './format';
import { imagePhysical, LimineImage } from './limine-image';
import { GuestMemory } from '../memory/guest-memory';

const PT_DYNAMIC = 2;
const DT_NULL = 0n, DT_PLTRELSZ = 2n, DT_SYMTAB = 6n, DT_RELA = 7n, DT_RELASZ = 8n, DT_RELAENT = 9n, DT_SYMENT = 11n;
const DT_REL = 17n, DT_JMPREL = 23n, DT_RELRSZ = 35n, DT_RELR = 36n;
const R_NONE = 0, R_64 = 1, R_GLOB_DAT = 6, R_JUMP_SLOT = 7, R_RELATIVE = 8;
const RELA_BYTES = 24;
const SYM_BYTES = 24;

export function applyRelocations(elf: ElfFile, image: LimineImage, memory: GuestMemory): number {
  const file = elf.file;
  const dynamic = elf.programHeaders.find((p) => p.type === PT_DYNAMIC);
  if (!dynamic) return 0;
  const slide = image.slide;
  const at = (vaddr: bigint, length: number, what: string): number => {
    const p = imagePhysical(image, vaddr + slide, length);
    if (p === undefined) throw new BootError(file, `${what} at ${hex(vaddr)} (${length} bytes) is outside the loaded kernel image`);
    return p;
  };
  const tags = new Map<bigint, bigint>();
  const count = Math.floor(Number(dynamic.memsz > 0x10000n ? 0x10000n : dynamic.memsz) / 16);
  const table = at(dynamic.vaddr, count * 16, 'the dynamic section');
  for (let i = 0; i < count; i++) {
    const tag = memory.readU64(table + i * 16);
    if (tag === DT_NULL) break;
    if (!tags.has(tag)) tags.set(tag, memory.readU64(table + i * 16 + 8));
  }
  if (tags.has(DT_REL)) throw new BootError(file, 'has REL relocations (DT_REL), which x86-64 kernels do not use; kvmdbg applies RELA relocations only');
  if (tags.has(DT_RELR) || tags.has(DT_RELRSZ)) throw new BootError(file, 'has packed relative relocations (DT_RELR), which kvmdbg does not apply yet; link without -z pack-relative-relocs');
  if ((tags.get(DT_RELAENT) ?? BigInt(RELA_BYTES)) !== BigInt(RELA_BYTES)) throw new BootError(file, `has a RELA entry size of ${tags.get(DT_RELAENT)} bytes; ELF64 RELA entries are 24`);
  const symtab = tags.get(DT_SYMTAB);
  if ((tags.get(DT_SYMENT) ?? BigInt(SYM_BYTES)) !== BigInt(SYM_BYTES)) throw new BootError(file, `has a symbol entry size of ${tags.get(DT_SYMENT)} bytes; ELF64 symbols are 24`);
  const symbol = (index: number): bigint => {
    if (symtab === undefined) throw new BootError(file, 'has a relocation against a symbol but no dynamic symbol table (DT_SYMTAB)');
    const s = at(symtab + BigInt(index * SYM_BYTES), SYM_BYTES, `dynamic symbol ${index}`);
    if (memory.readU16(s + 6) === 0) throw new BootError(file, `has a relocation against dynamic symbol ${index}, which is undefined; a kernel has nobody to link it against`);
    return memory.readU64(s + 8) + slide;
  };
  let applied = 0;
  const run = (start: bigint | undefined, bytes: bigint | undefined, what: string) => {
    if (start === undefined || bytes === undefined || bytes === 0n) return;
    if (bytes > BigInt(image.size)) throw new BootError(file, `its ${what} (${hex(bytes)} bytes) is larger than the kernel image`);
    const n = Number(bytes) / RELA_BYTES;
    const rela = at(start, n * RELA_BYTES, `the ${what}`);
    for (let i = 0; i < Math.floor(n); i++) {
      const e = rela + i * RELA_BYTES;
      const offset = memory.readU64(e);
      const info = memory.readU64(e + 8);
      const addend = memory.readU64(e + 16);
      const type = Number(info & 0xffff_ffffn);
      const sym = Number(info >> 32n);
      if (type === R_NONE) continue;
      const place = at(offset, 8, `relocation ${i} of the ${what}`);
      let value: bigint;
      switch (type) {
        case R_RELATIVE: value = slide + addend; break;
        case R_64: value = symbol(sym) + addend; break;
        case R_GLOB_DAT: case R_JUMP_SLOT: value = symbol(sym); break;
        default: throw new BootError(file, `has relocation type ${type} (entry ${i} of the ${what}), which kvmdbg does not apply; Limine kernels need RELATIVE, 64, GLOB_DAT and JUMP_SLOT only`);
      }
      memory.writeU64(place, BigInt.asUintN(64, value));
      applied++;
    }
  };
  run(tags.get(DT_RELA), tags.get(DT_RELASZ), 'RELA relocation table');
  run(tags.get(DT_JMPREL), tags.get(DT_PLTRELSZ), 'PLT relocation table');
  return applied;
}
