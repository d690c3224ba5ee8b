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
export const rank = (s: SymbolEntry): number => (s.kind === 'function' ? 4 : s.kind === 'object' ? 2 : 0) + (s.global ? 1 : 0);

/**
 * What a symbol table can answer before its entries are built (a distro
 * vmlinux has 130k symbols: sorting them costs hundreds of ms): the exact
 * count, and lookups by name (elf-symtab.ts answers both from the raw ELF
 * .symtab).
 */
export interface QuickSymbols {
  readonly count: number;
  lookup(name: string): SymbolEntry | undefined;
}

/** The symbols a table keeps of an ELF symtab: defined, named functions, objects and untyped ones, no ".L" labels. */
export function entriesFromElf(symbols: readonly ElfSymbolLike[]): SymbolEntry[] {
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
  return out;
}

/** By address; at one address the best rank first; otherwise the input order (the sort is stable). */
function sortEntries(entries: readonly SymbolEntry[]): SymbolEntry[] {
  return [...entries].sort((a, b) => cmp(a.address, b.address) || rank(b) - rank(a));
}

export class SymbolTable {
  private sorted?: readonly SymbolEntry[];
  private names?: Map<string, SymbolEntry>;
  private load?: () => SymbolEntry[];
  private readonly looked = new Map<string, SymbolEntry | undefined>();

  /**
   * `entries`, or a function that makes them on first use (then `quick`
   * answers the count and lookups by name until then).
   */
  constructor(entries: SymbolEntry[] | (() => SymbolEntry[]), readonly source: 'elf' | 'System.map' | 'none' = 'elf', private readonly quick?: QuickSymbols) {
    if (typeof entries === 'function') this.load = entries;
    else this.sorted = sortEntries(entries);
  }

  /** Sorted by address; among equal addresses the best name first (global function first). */
  get entries(): readonly SymbolEntry[] {
    if (!this.sorted) {
      const load = this.load!;
      this.load = undefined;
      this.sorted = sortEntries(load());
    }
    return this.sorted;
  }

  private byName(): Map<string, SymbolEntry> {
    if (!this.names) {
      const m = new Map<string, SymbolEntry>();
      for (const e of this.entries) {
        const have = m.get(e.name);
        if (!have || rank(e) > rank(have)) m.set(e.name, e);
      }
      this.names = m;
    }
    return this.names;
  }

  static empty(): SymbolTable { return new SymbolTable([], 'none'); }

  /** Defined, named function/object/untyped symbols of an ELF symtab (elf-symtab.ts counts and finds the same ones). */
  static fromElf(symbols: readonly ElfSymbolLike[]): SymbolTable {
    return new SymbolTable(entriesFromElf(symbols), 'elf');
  }

  /** An ELF symtab read when first needed; `quick` answers the count and lookups by name until then. */
  static lazyFromElf(symbols: () => readonly ElfSymbolLike[], quick: QuickSymbols): SymbolTable {
    return new SymbolTable(() => entriesFromElf(symbols()), 'elf', quick);
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

  get size(): number { return !this.sorted && this.quick ? this.quick.count : this.entries.length; }

  get functionCount(): number {
    let n = 0;
    for (const e of this.entries) if (e.kind === 'function') n++;
    return n;
  }

  /** The symbol by name (a global function wins over a local one of the same name). */
  lookup(name: string): SymbolEntry | undefined {
    if (this.sorted || !this.quick) return this.byName().get(name);
    if (this.looked.has(name)) return this.looked.get(name);
    const e = this.quick.lookup(name);
    if (this.looked.size >= 4096) this.looked.clear();
    this.looked.set(name, e);
    return e;
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

  /** Every symbol at exactly `address` (aliases: module_init's init_module beside the function's own name). */
  at(address: bigint): SymbolEntry[] {
    const e = this.entries;
    let lo = 0;
    let hi = e.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (e[mid].address < address) lo = mid + 1; else hi = mid; }
    const out: SymbolEntry[] = [];
    for (let i = lo; i < e.length && e[i].address === address; i++) out.push(e[i]);
    return out;
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
