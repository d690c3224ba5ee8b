/**
 * A relocatable object (ET_REL: a Linux .ko) as an ObjectFile at the
 * addresses it was loaded at. A module's sections are placed by the kernel's
 * loader, one by one; its .debug_* sections, .eh_frame/.debug_frame, line
 * program and symbol table hold section offsets, and RELA relocations say
 * which bytes refer to which section or symbol. Given each loaded section's
 * address (the kernel's sect_attrs), this applies them to copies of the
 * sections as asked for (lazily, each once), and gives symbols their run-time
 * addresses, so the ordinary readers (index.ts: lines, DWARF, CFI, symbol
 * table) see an object linked where the module is.
 *
 * The file is hostile input: a relocation outside its section, a symbol
 * index past the table or a type we do not know is skipped and counted,
 * one sentence per section in `problems`; nothing is thrown past
 * `relocatableObject` except for a file that is not an ELF at all.
 */
import { memorySource } from '../../vmm/boot/byte-source';
import { ElfFile, EM_X86_64, SHT_NOBITS, type SectionHeader } from '../../vmm/boot/elf';
import type { ObjectFile, SectionData } from './object-file';
import type { ElfSymbolLike } from './symbol-table';

export const ET_REL = 1;
const SHT_RELA = 4;
const SHT_REL = 9;
const SHF_ALLOC = 0x2n;
const SHF_COMPRESSED = 0x800n;
const SHN_ABS = 0xfff1;
const SHN_LORESERVE = 0xff00;

/** x86-64 relocation types (the psABI's numbers) we apply, with their width. */
const R_X86_64_NONE = 0;
const R_X86_64_64 = 1;
const R_X86_64_PC32 = 2;
const R_X86_64_PLT32 = 4;
const R_X86_64_32 = 10;
const R_X86_64_32S = 11;
const R_X86_64_PC64 = 24;

export interface RelocateOptions {
  /** Run-time addresses of undefined symbols (a module's references to the kernel), when known. */
  resolve?(name: string): bigint | undefined;
}

export interface RelocatedObject extends ObjectFile {
  /** Loaded sections of the file that no address was given for (not placed by the loader: .modinfo, __versions). */
  unplaced: string[];
}

const hex = (v: bigint | number): string => '0x' + v.toString(16);

/** True when `bytes` are a relocatable ELF object (a .ko before loading). */
export function isRelocatable(bytes: Uint8Array): boolean {
  return bytes.length >= 18 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46 && (bytes[16] | (bytes[17] << 8)) === ET_REL;
}

/**
 * The object in `bytes` with every SHF_ALLOC section at the address `loads` gives for its name
 * (non-allocated sections, the debug ones, at 0), relocated. Throws one sentence when `bytes`
 * is not a usable 64-bit x86 relocatable ELF.
 */
export function relocatableObject(name: string, bytes: Uint8Array, loads: ReadonlyMap<string, bigint>, options: RelocateOptions = {}): RelocatedObject {
  const elf = new ElfFile(name, bytes);
  if (elf.header.type !== ET_REL) throw new Error(`${name} is not a relocatable object (ELF type ${elf.header.type}, not ET_REL): it is not a kernel module`);
  if (elf.bits !== 64 || elf.header.machine !== EM_X86_64) throw new Error(`${name} is not an x86-64 object: its relocations cannot be applied here`);
  const sections = elf.sections();
  const problems: string[] = [];
  const symbols = safe(() => elf.symbols(), problems) ?? [];

  // Where each section is at run time: SHF_ALLOC ones by name, in file order for repeated names.
  const base = new Map<number, bigint>();
  const placed = new Map<string, number>();
  const unplaced: string[] = [];
  for (const s of sections) {
    if (s.index === 0 || (s.flags & SHF_ALLOC) === 0n || s.type === SHT_RELA || s.type === SHT_REL) continue;
    const a = loads.get(s.name);
    if (a === undefined) { if (s.size > 0) unplaced.push(s.name); continue; }
    // The loader names sections by name: a second ".text" (rare) cannot be told apart.
    if (placed.has(s.name)) { problems.push(`${name} has more than one section named ${s.name}: only the first is placed`); continue; }
    placed.set(s.name, s.index);
    base.set(s.index, a);
  }
  const addressOf = (s: SectionHeader): bigint => base.get(s.index) ?? 0n;

  // The value of symbol i (1-based as relocations name them); undefined = not resolvable.
  const undefinedMissed = new Set<string>();
  const symbolValue = (i: number): bigint | undefined => {
    const sym = symbols[i - 1];
    if (!sym) return undefined;
    if (sym.shndx === 0) {
      const v = options.resolve?.(sym.name);
      if (v === undefined) undefinedMissed.add(sym.name);
      return v ?? 0n;
    }
    if (sym.shndx === SHN_ABS) return sym.value;
    if (sym.shndx >= SHN_LORESERVE) return sym.value;
    const target = sections[sym.shndx];
    if (!target) return undefined;
    return BigInt.asUintN(64, addressOf(target) + sym.value);
  };

  const relaFor = new Map<number, SectionHeader>();
  for (const s of sections) {
    if (s.type === SHT_RELA) relaFor.set(s.info, s);
    else if (s.type === SHT_REL && !relaFor.has(s.info)) problems.push(`${name}: ${s.name} is a REL section (x86-64 objects use RELA): not applied`);
  }

  const relocate = (target: SectionHeader, data: Uint8Array): void => {
    const rela = relaFor.get(target.index);
    if (!rela) return;
    const table = safe(() => elf.sectionData(rela), problems);
    if (!table) return;
    const count = Math.floor(table.length / 24);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const rv = new DataView(table.buffer, table.byteOffset, table.byteLength);
    const here = addressOf(target);
    let outside = 0; let badSymbol = 0; let overflow = 0;
    const unknownTypes = new Map<number, number>();
    let firstOutside = '';
    for (let k = 0; k < count; k++) {
      const o = k * 24;
      const offset = rv.getBigUint64(o, true);
      const info = rv.getBigUint64(o + 8, true);
      const addend = rv.getBigInt64(o + 16, true);
      const type = Number(info & 0xffff_ffffn);
      const symIndex = Number(info >> 32n);
      if (type === R_X86_64_NONE) continue;
      const width = type === R_X86_64_64 || type === R_X86_64_PC64 ? 8
        : type === R_X86_64_PC32 || type === R_X86_64_PLT32 || type === R_X86_64_32 || type === R_X86_64_32S ? 4 : 0;
      if (width === 0) { unknownTypes.set(type, (unknownTypes.get(type) ?? 0) + 1); continue; }
      if (offset > BigInt(data.length - width) || data.length < width) {
        if (outside++ === 0) firstOutside = `relocation ${k} at offset ${hex(offset)}`;
        continue;
      }
      const s = symIndex === 0 ? 0n : symbolValue(symIndex);
      if (s === undefined) { badSymbol++; continue; }
      const at = Number(offset);
      const pcRelative = type === R_X86_64_PC32 || type === R_X86_64_PLT32 || type === R_X86_64_PC64;
      let v = s + addend - (pcRelative ? here + offset : 0n);
      if (width === 8) { view.setBigUint64(at, BigInt.asUintN(64, v), true); continue; }
      if (type === R_X86_64_32) { if (v < 0n || v > 0xffff_ffffn) overflow++; }
      else {
        if (!pcRelative) v = BigInt.asIntN(64, v);
        if (v < -0x8000_0000n || v > 0x7fff_ffffn) overflow++;
      }
      view.setUint32(at, Number(BigInt.asUintN(32, v)), true);
    }
    if (outside > 0) problems.push(`${name}: ${outside} relocation${outside === 1 ? '' : 's'} of ${target.name} point outside its ${target.size} bytes (first: ${firstOutside}): skipped`);
    if (badSymbol > 0) problems.push(`${name}: ${badSymbol} relocation${badSymbol === 1 ? '' : 's'} of ${target.name} name symbols past the end of the symbol table (${symbols.length} symbols): skipped`);
    if (overflow > 0) problems.push(`${name}: ${overflow} relocation${overflow === 1 ? '' : 's'} of ${target.name} do not fit their 4 bytes: truncated`);
    for (const [t, n] of unknownTypes) problems.push(`${name}: ${n} relocation${n === 1 ? '' : 's'} of ${target.name} have type ${t}, which kvmdbg does not apply: left as in the file`);
  };

  const made = new Map<string, SectionData | undefined>();
  const object: RelocatedObject = {
    name,
    bits: 64,
    machine: elf.header.machine,
    problems,
    unplaced,
    section(sectionName: string): SectionData | undefined {
      if (made.has(sectionName)) return made.get(sectionName);
      const s = sections.find((x) => x.name === sectionName && x.type !== SHT_NOBITS && x.type !== SHT_RELA && x.type !== SHT_REL);
      let out: SectionData | undefined;
      if (s && (s.flags & SHF_COMPRESSED) !== 0n) {
        problems.push(`${name}: ${s.name} is compressed (SHF_COMPRESSED), which kvmdbg does not read yet`);
      } else if (s) {
        let whole: Uint8Array | undefined;
        const addr = addressOf(s);
        const data = (): Uint8Array => {
          if (!whole) {
            whole = new Uint8Array(elf.sectionData(s));   // a copy: the file's bytes stay as they are
            relocate(s, whole);
            if (undefinedMissed.size > 0) {
              const names = [...undefinedMissed].slice(0, 3).join(', ');
              problems.push(`${name}: ${s.name} refers to ${undefinedMissed.size} symbol${undefinedMissed.size === 1 ? '' : 's'} the kernel's symbols do not have (${names}): taken as 0`);
              undefinedMissed.clear();
            }
          }
          return whole;
        };
        out = {
          addr, size: s.size,
          get data(): Uint8Array { return data(); },
          get source() { return memorySource(data()); },
        };
      }
      made.set(sectionName, out);
      return out;
    },
    symbols(): readonly ElfSymbolLike[] {
      // Symbols of placed sections, at run time; the rest (debug sections, .modinfo, undefined) are no addresses.
      const out: ElfSymbolLike[] = [];
      for (const sym of symbols) {
        const at = base.get(sym.shndx);
        if (sym.shndx === 0 || sym.shndx >= SHN_LORESERVE || at === undefined || sym.type === 'section' || sym.type === 'file') continue;
        out.push({ ...sym, value: BigInt.asUintN(64, at + sym.value) });
      }
      return out;
    },
    buildId(): string | undefined {
      try {
        const n = elf.findNote('GNU', 3);
        return n && n.desc.length > 0 ? Buffer.from(n.desc).toString('hex') : undefined;
      } catch {
        return undefined;
      }
    },
  };
  return object;
}

function safe<T>(f: () => T, problems: string[]): T | undefined {
  try {
    return f();
  } catch (e) {
    problems.push(e instanceof Error ? e.message : String(e));
    return undefined;
  }
}
