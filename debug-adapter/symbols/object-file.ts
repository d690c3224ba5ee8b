/**
 * What the symbol layer needs from an object file, and the one adapter that
 * provides it from vmm/boot/elf.ts. Everything else in debug-adapter/symbols
 * depends on the ObjectFile interface only.
 */
import { ElfFile, SHT_NOBITS } from '../../vmm/boot/elf';
import { describeError } from './dwarf-reader';
import type { ElfSymbolLike } from './symbol-table';

/** A section's load address (0 for debug sections) and file bytes. */
export interface SectionData {
  addr: bigint;
  data: Uint8Array;
}

export interface ObjectFile {
  /** For messages: the file name. */
  name: string;
  bits: 32 | 64;
  machine: number;
  section(name: string): SectionData | undefined;
  symbols(): readonly ElfSymbolLike[];
  /** Problems met while reading the container (a bad section or symbol table). */
  problems: string[];
}

/** Opens ELF bytes; throws (one sentence from elf.ts) when they are not a usable ELF file. */
export function objectFileFromElf(name: string, bytes: Uint8Array): ObjectFile {
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
  return {
    name,
    bits: elf.bits,
    machine: elf.header.machine,
    problems,
    section(sectionName: string): SectionData | undefined {
      const s = sections().find((x) => x.name === sectionName);
      if (!s || s.type === SHT_NOBITS) return undefined;
      return { addr: s.addr, data: elf.sectionData(s) };
    },
    symbols(): readonly ElfSymbolLike[] {
      try {
        return elf.symbols();
      } catch (e) {
        problems.push(describeError(e));
        return [];
      }
    },
  };
}
