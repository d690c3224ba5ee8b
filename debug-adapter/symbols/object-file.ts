/**
 * What the symbol layer needs from an object file, and the one adapter that
 * provides it from vmm/boot/elf.ts. Everything else in debug-adapter/symbols
 * depends on the ObjectFile interface only.
 *
 * The file may be bytes in memory or an open file (vmm/boot/byte-source.ts):
 * a section's `data` is read whole when first asked for (the small ones:
 * symbol and string tables, .debug_line, .debug_frame); `source` reads it
 * piecewise (.debug_info of a distro kernel is hundreds of MB and is only
 * ever read a unit at a time).
 */
import type { ByteSource } from '../../vmm/boot/byte-source';
import { ElfFile, SHT_NOBITS, SHT_STRTAB, SHT_SYMTAB } from '../../vmm/boot/elf';
import { describeError } from './dwarf-reader';
import type { RawSymtab } from './elf-symtab';
import type { ElfSymbolLike } from './symbol-table';

/** A section's load address (0 for debug sections) and file bytes. */
export interface SectionData {
  addr: bigint;
  size: number;
  /** The whole section (read on first use, then kept). */
  readonly data: Uint8Array;
  /** The section read piecewise, without holding it. */
  source: ByteSource;
}

export interface ObjectFile {
  /** For messages: the file name. */
  name: string;
  bits: 32 | 64;
  machine: number;
  section(name: string): SectionData | undefined;
  symbols(): readonly ElfSymbolLike[];
  /**
   * The symbol table's raw bytes (elf-symtab.ts reads them in place): null
   * when there is none, undefined when they cannot be had this way (then
   * `symbols()` reads them and says what is wrong).
   */
  rawSymtab?(): RawSymtab | null | undefined;
  /** The GNU build-id note's bytes as hex, when the file has one. */
  buildId(): string | undefined;
  /** Problems met while reading the container (a bad section or symbol table). */
  problems: string[];
}

const NT_GNU_BUILD_ID = 3;

/** Opens ELF bytes or a file source; throws (one sentence from elf.ts) when they are not a usable ELF file. */
export function objectFileFromElf(name: string, bytes: Uint8Array | ByteSource): ObjectFile {
  const elf = new ElfFile(name, bytes);
  const problems: string[] = [];
  const sections = (): ReturnType<ElfFile['sections']> => {
    try {
      return elf.sections();
    } catch (e) {
      if (problems.length === 0) problems.push(describeError(e));
      return [];
    }
  };
  const made = new Map<string, SectionData | undefined>();
  return {
    name,
    bits: elf.bits,
    machine: elf.header.machine,
    problems,
    section(sectionName: string): SectionData | undefined {
      if (made.has(sectionName)) return made.get(sectionName);
      const s = sections().find((x) => x.name === sectionName);
      let out: SectionData | undefined;
      if (s && s.type !== SHT_NOBITS) {
        let whole: Uint8Array | undefined;
        const source = elf.sectionSource(s);
        out = {
          addr: s.addr, size: s.size, source,
          get data(): Uint8Array { return (whole ??= source.bytes(0, source.size)); },
        };
      }
      made.set(sectionName, out);
      return out;
    },
    symbols(): readonly ElfSymbolLike[] {
      try {
        return elf.symbols();
      } catch (e) {
        problems.push(describeError(e));
        return [];
      }
    },
    rawSymtab(): RawSymtab | null | undefined {
      try {
        // The checks of ElfFile.symbols(), without reading a symbol.
        const all = elf.sections();
        const symtab = all.find((x) => x.type === SHT_SYMTAB);
        if (!symtab) return null;
        const strtab = all[symtab.link];
        const entsize = symtab.entsize === 0 ? (elf.bits === 64 ? 24 : 16) : symtab.entsize;
        if (symtab.type === SHT_NOBITS || symtab.link === 0 || !strtab || strtab.type !== SHT_STRTAB) return undefined;
        return { symtab: elf.sectionData(symtab), strtab: elf.sectionData(strtab), entsize, bits: elf.bits };
      } catch {
        return undefined;
      }
    },
    buildId(): string | undefined {
      try {
        const n = elf.findNote('GNU', NT_GNU_BUILD_ID);
        return n && n.desc.length > 0 ? Buffer.from(n.desc).toString('hex') : undefined;
      } catch {
        return undefined;
      }
    },
  };
}


