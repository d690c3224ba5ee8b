/**
 * Names for addresses and addresses for names: from an ELF symbol table
 * (functions and data objects with sizes), or from a System.map / `nm`
 * listing ("ffffffff81000000 T _text"), which has names and addresses only.
 */

export interface SymbolEntry {
  name: string;
  address: bigint;
  /** 0 when unknown (System.map, assembler labels without .size). */
  size: bigint;
  kind: 'function' | 'object' | 'other';
  global: boolean;
}

/** The minimal shape of an ELF symbol this table needs (vmm/boot/elf.ts's ElfSymbol fits). */
export interface ElfSymbolLike {
  name: string;
  value: bigint;
  size: bigint;
  type: string;
  bind: string;
  shndx: number;
}

export interface Symbolized {
  name: string;
  offset: bigint;
  symbol: SymbolEntry;
}

const cmp = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);
const rank = (s: SymbolEntry): number => (s.kind === 'function' ? 4 : s.kind === 'object' ? 2 : 0) + (s.global ? 1 : 0);

export class SymbolTable {
  /** Sorted by address; among equal addresses the best name first (global function first). */
  readonly entries: readonly SymbolEntry[];
  private readonly byName = new Map<string, SymbolEntry>();

  constructor(entries: SymbolEntry[], readonly source: 'elf' | 'System.map' | 'none' = 'elf') {
    this.entries = [...entries].sort((a, b) => cmp(a.address, b.address) || rank(b) - rank(a));
    for (const e of this.entries) {
      const have = this.byName.get(e.name);
      if (!have || rank(e) > rank(have)) this.byName.set(e.name, e);
    }
  }

  static empty(): SymbolTable { return new SymbolTable([], 'none'); }

  /** Defined, named function/object/untyped symbols of an ELF symtab. */
  static fromElf(symbols: readonly ElfSymbolLike[]): SymbolTable {
    const out: SymbolEntry[] = [];
    for (const s of symbols) {
      if (s.shndx === 0 || s.name === '' || !(s.type === 'func' || s.type === 'object' || s.type === 'notype')) continue;
      // Local labels of the assembler (".L...") are not names a person wants to see.
      if (s.name.startsWith('.L')) continue;
      out.push({
        name: s.name, address: s.value, size: s.size,
        kind: s.type === 'func' ? 'function' : s.type === 'object' ? 'object' : 'other',
        global: s.bind === 'global' || s.bind === 'weak',
      });
    }
    return new SymbolTable(out, 'elf');
  }

  /**
   * A System.map or `nm` listing: "address type name" per line. Undefined
   * (U), absolute (A/a) and debugging (N/n) symbols are left out; lines that
   * do not parse are ignored. Text symbols (T/t/W/w) are functions.
   */
  static fromSystemMap(text: string): SymbolTable {
    const out: SymbolEntry[] = [];
    for (const line of text.split('\n')) {
      const m = /^\s*([0-9a-fA-F]{1,16})\s+([A-Za-z?-])\s+(\S+)/.exec(line);
      if (!m) continue;
      const type = m[2];
      if ('UuAaNn?-'.includes(type)) continue;
      out.push({
        name: m[3], address: BigInt(`0x${m[1]}`), size: 0n,
        kind: 'TtWw'.includes(type) ? 'function' : 'DdBbRrVvGgSs'.includes(type) ? 'object' : 'other',
        global: type === type.toUpperCase(),
      });
    }
    return new SymbolTable(out, 'System.map');
  }

  get size(): number { return this.entries.length; }

  get functionCount(): number {
    let n = 0;
    for (const e of this.entries) if (e.kind === 'function') n++;
    return n;
  }

  /** The symbol by name (a global function wins over a local one of the same name). */
  lookup(name: string): SymbolEntry | undefined {
    return this.byName.get(name);
  }

  /**
   * `name+offset` for an address: the closest symbol at or below it. A sized
   * symbol that ends at or before the address does not claim it; an unsized
   * one (label, System.map entry) claims up to the next symbol.
   */
  symbolize(address: bigint): Symbolized | undefined {
    const e = this.entries;
    let lo = 0;
    let hi = e.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (e[mid].address <= address) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    const at = e[found].address;
    while (found > 0 && e[found - 1].address === at) found--;
    // Among the symbols at this address, the best one that covers the address.
    for (let i = found; i < e.length && e[i].address === at; i++) {
      const s = e[i];
      if (s.size === 0n || address - at < s.size) return { name: s.name, offset: address - at, symbol: s };
    }
    return undefined;
  }

  /** "fib+0x13", or undefined when no symbol claims the address. */
  format(address: bigint): string | undefined {
    const s = this.symbolize(address);
    if (!s) return undefined;
    return s.offset === 0n ? s.name : `${s.name}+0x${s.offset.toString(16)}`;
  }

  /** The function containing `address` as [start, end), when its size is known. */
  functionRange(address: bigint): [bigint, bigint] | undefined {
    const s = this.symbolize(address);
    if (!s || s.symbol.size === 0n) return undefined;
    return [s.symbol.address, s.symbol.address + s.symbol.size];
  }
}
