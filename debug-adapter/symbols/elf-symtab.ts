/**
 * An ELF .symtab answered in place, from its raw bytes: the exact number of
 * symbols a SymbolTable keeps (entriesFromElf's filter) and lookups by name,
 * without decoding 130k names and sorting them (what the whole table costs
 * on a distro vmlinux: ~400 ms). A name is found with one search of the
 * string table for "name\0" and one pass over the fixed-size entries.
 *
 * It reads the bytes exactly as vmm/boot/elf.ts does and accepts only what
 * that reader accepts (every name inside the string table, NUL-terminated);
 * anything else answers `undefined` so the caller reads the table the slow
 * way, which reports the damage.
 */
import type { QuickSymbols, SymbolEntry } from './symbol-table';

/** A symtab section's bytes, its linked string table's, and its entry size. */
export interface RawSymtab {
  symtab: Uint8Array;
  strtab: Uint8Array;
  entsize: number;
  bits: 32 | 64;
}

const STT_NOTYPE = 0;
const STT_OBJECT = 1;
const STT_FUNC = 2;
const STB_GLOBAL = 1;
const STB_WEAK = 2;

/**
 * Counts and finds the table's symbols in place; undefined when the bytes
 * are not what elf.ts would read. `knownCount`: the count an earlier pass
 * over the same bytes made (cached by build-id): no pass now.
 */
export function quickSymbols(raw: RawSymtab, knownCount?: number): QuickSymbols | undefined {
  const { symtab, strtab, entsize, bits } = raw;
  const b64 = bits === 64;
  if (entsize < (b64 ? 24 : 16)) return undefined;
  const n = Math.floor(symtab.length / entsize);
  const v = new DataView(symtab.buffer, symtab.byteOffset, symtab.byteLength);
  // Whether entry i is one the table keeps (entriesFromElf's filter).
  const keeps = (i: number): boolean => {
    const o = i * entsize;
    const name = v.getUint32(o, true);
    const type = v.getUint8(b64 ? o + 4 : o + 12) & 0xf;
    const shndx = v.getUint16(b64 ? o + 6 : o + 14, true);
    if (shndx === 0 || name >= strtab.length || strtab[name] === 0) return false;
    if (type !== STT_NOTYPE && type !== STT_OBJECT && type !== STT_FUNC) return false;
    return !(strtab[name] === 0x2e && strtab[name + 1] === 0x4c); // ".L"
  };
  let count = knownCount ?? 0;
  if (knownCount === undefined) {
    // Every name checked as elf.ts does (inside the table, NUL-terminated), the kept ones counted.
    const lastNul = strtab.lastIndexOf(0);
    for (let i = 1; i < n; i++) {
      const name = v.getUint32(i * entsize, true);
      if (name >= strtab.length ? name !== 0 : name > lastNul) return undefined;
      if (keeps(i)) count++;
    }
  }
  const entry = (i: number, name: string): SymbolEntry => {
    const o = i * entsize;
    const info = v.getUint8(b64 ? o + 4 : o + 12);
    const type = info & 0xf;
    const bind = info >> 4;
    return {
      name,
      address: b64 ? v.getBigUint64(o + 8, true) : BigInt(v.getUint32(o + 4, true)),
      size: b64 ? v.getBigUint64(o + 16, true) : BigInt(v.getUint32(o + 8, true)),
      kind: type === STT_FUNC ? 'function' : type === STT_OBJECT ? 'object' : 'other',
      global: bind === STB_GLOBAL || bind === STB_WEAK,
    };
  };
  const strings = Buffer.from(strtab.buffer, strtab.byteOffset, strtab.byteLength);
  return {
    count,
    lookup(name: string): SymbolEntry | undefined {
      // elf.ts decodes names as latin1: a name with other characters is none of them.
      if (name === '' || [...name].some((c) => c.charCodeAt(0) > 0xff)) return undefined;
      const needle = Buffer.from(`${name}\0`, 'latin1');
      const at = new Set<number>();
      for (let p = strings.indexOf(needle); p >= 0; p = strings.indexOf(needle, p + 1)) at.add(p);
      if (at.size === 0) return undefined;
      // SymbolTable.lookup's choice: the best rank, then the lowest address, then the first in the file.
      let best: SymbolEntry | undefined;
      let bestRank = -1;
      for (let i = 1; i < n; i++) {
        if (!at.has(v.getUint32(i * entsize, true)) || !keeps(i)) continue;
        const e = entry(i, name);
        const r = (e.kind === 'function' ? 4 : e.kind === 'object' ? 2 : 0) + (e.global ? 1 : 0);
        if (r > bestRank || (r === bestRank && best !== undefined && e.address < best.address)) { best = e; bestRank = r; }
      }
      return best;
    },
  };
}
