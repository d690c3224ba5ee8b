/**
 * A bounds-checked reader for little-endian ELF32/ELF64 files: the boot
 * loaders use the header, program headers and notes; the debugger uses the
 * sections and the symbol table. Every offset and size taken from the file
 * is checked (with bigint arithmetic, so nothing overflows) before a byte is
 * read, and nothing is allocated from a length field: a bad field is one
 * BootError sentence naming the file and the field.
 *
 * The bytes are a Uint8Array (boot loaders) or a ByteSource (the debugger:
 * an open file read on demand, so a 600 MB debug vmlinux is never read
 * whole: the headers, section table, string and symbol tables are read when
 * first needed, a section's bytes when asked for).
 */
import { BootError } from './boot-state';
import { ByteSource, isByteSource, memorySource, windowOf } from './byte-source';
import { hex } from './format';

export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EM_386 = 3;
export const EM_X86_64 = 62;

export const PT_LOAD = 1;
export const PT_NOTE = 4;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;

const SHN_UNDEF = 0;
const SHN_XINDEX = 0xffff;
const PN_XNUM = 0xffff;

const MACHINE_NAMES: Record<number, string> = {
  2: 'SPARC', 3: 'i386', 8: 'MIPS', 20: 'PowerPC', 21: 'PowerPC64', 22: 's390',
  40: 'ARM', 62: 'x86-64', 183: 'AArch64', 243: 'RISC-V', 258: 'LoongArch',
};

/** "AArch64 (machine 183)" for messages. */
export function machineName(machine: number): string {
  return `${MACHINE_NAMES[machine] ?? 'an unknown machine'} (machine ${machine})`;
}

export interface ElfHeader {
  bits: 32 | 64;
  type: number;
  machine: number;
  entry: bigint;
  flags: number;
  phoff: number;
  phentsize: number;
  phnum: number;
  shoff: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

export interface ProgramHeader {
  index: number;
  type: number;
  flags: number;
  /** File offset and size: checked to lie inside the file. */
  offset: number;
  filesz: number;
  /** Memory addresses and size, as the file says (not checked against anything here). */
  vaddr: bigint;
  paddr: bigint;
  memsz: bigint;
  align: bigint;
}

export interface SectionHeader {
  index: number;
  name: string;
  type: number;
  flags: bigint;
  addr: bigint;
  /** File offset; [offset, offset+size) is inside the file unless type is SHT_NOBITS. */
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: bigint;
  entsize: number;
}

export interface ElfNote {
  /** Owner name without its NUL, e.g. "Xen", "GNU". */
  name: string;
  type: number;
  desc: Uint8Array;
  /** File offset of the note header (notes in both a PT_NOTE and a SHT_NOTE are listed once). */
  offset: number;
}

export type SymbolType = 'notype' | 'object' | 'func' | 'section' | 'file' | 'common' | 'tls' | 'other';
export type SymbolBinding = 'local' | 'global' | 'weak' | 'other';

export interface ElfSymbol {
  name: string;
  value: bigint;
  size: bigint;
  type: SymbolType;
  bind: SymbolBinding;
  /** Section index (0 = undefined symbol, 0xfff1 = absolute). */
  shndx: number;
}

const SYMBOL_TYPES: SymbolType[] = ['notype', 'object', 'func', 'section', 'file', 'common', 'tls'];
const SYMBOL_BINDS: SymbolBinding[] = ['local', 'global', 'weak'];

export class ElfFile {
  readonly header: ElfHeader;
  readonly programHeaders: readonly ProgramHeader[];
  private readonly src: ByteSource;
  private readonly memory?: Uint8Array;
  /** String tables by section index, read once. */
  private readonly tables = new Map<number, Uint8Array>();
  private sectionCache?: SectionHeader[];
  private symbolCache?: ElfSymbol[];
  private byName?: Map<string, ElfSymbol>;
  private byAddress?: ElfSymbol[];
  /** e_shoff as the file says, for messages (header.shoff is -1 when the table is unusable). */
  private rawShoff = 0n;

  /** Parses the header and program headers; sections and symbols are read on first use. */
  constructor(readonly file: string, bytes: Uint8Array | ByteSource) {
    if (isByteSource(bytes)) this.src = bytes;
    else { this.memory = bytes; this.src = memorySource(bytes); }
    this.header = this.readHeader();
    this.programHeaders = this.readProgramHeaders();
  }

  /** True when `data` starts with the ELF magic. */
  static isElf(data: Uint8Array): boolean {
    return data.length >= 4 && data[0] === 0x7f && data[1] === 0x45 && data[2] === 0x4c && data[3] === 0x46;
  }

  get bits(): 32 | 64 { return this.header.bits; }

  /** The file's size in bytes. */
  get size(): number { return this.src.size; }

  /** The whole file (in memory already for a Uint8Array; read whole from a ByteSource: boot loaders only). */
  get data(): Uint8Array { return this.memory ?? this.src.bytes(0, this.src.size); }

  /** A DataView over [offset, offset+length) of the file (checked by the caller). */
  private at(offset: number, length: number): DataView {
    const b = this.src.bytes(offset, length);
    return new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  private fail(problem: string): never {
    throw new BootError(this.file, problem);
  }

  /** Checks [offset, offset+size) lies in the file and returns offset as a number. */
  private span(offset: bigint, size: bigint, what: string): number {
    const len = BigInt(this.src.size);
    if (offset < 0n || size < 0n || offset > len || size > len - offset) {
      this.fail(`${what} extends past the end of the file (offset ${hex(offset)}, size ${hex(size)}, file size ${hex(len)})`);
    }
    return Number(offset);
  }

  /** A native-width word: 4 bytes in ELF32, 8 in ELF64. */
  private word(v: DataView, o: number): bigint { return this.header.bits === 64 ? v.getBigUint64(o, true) : BigInt(v.getUint32(o, true)); }

  private readHeader(): ElfHeader {
    const size = this.src.size;
    if (size === 0) this.fail('is empty');
    const d = this.src.bytes(0, Math.min(size, 64));
    if (!ElfFile.isElf(d)) this.fail('is not an ELF file (no \\x7fELF magic)');
    if (size < 16) this.fail(`is truncated: ${size} bytes, shorter than an ELF identification`);
    const cls = d[4];
    if (cls !== ELFCLASS32 && cls !== ELFCLASS64) this.fail(`has an invalid ELF class ${cls} (expected 1 for ELF32 or 2 for ELF64)`);
    if (d[5] !== ELFDATA2LSB) this.fail(`is a big-endian or unknown-endian ELF (EI_DATA ${d[5]}); kvmdbg boots little-endian x86 kernels only`);
    if (d[6] !== 1) this.fail(`has an unknown ELF version ${d[6]} (expected 1)`);
    const bits = cls === ELFCLASS64 ? 64 : 32;
    const ehsize = bits === 64 ? 64 : 52;
    if (size < ehsize) this.fail(`is truncated: ${size} bytes, shorter than the ${ehsize}-byte ELF${bits} header`);
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const u16 = (o: number): number => v.getUint16(o, true);
    const u32 = (o: number): number => v.getUint32(o, true);
    const u64 = (o: number): bigint => v.getBigUint64(o, true);
    const h = { bits } as ElfHeader;
    h.type = u16(16);
    h.machine = u16(18);
    h.flags = u32(bits === 64 ? 48 : 36);
    if (bits === 64) {
      h.entry = u64(24);
      const phoff = u64(32);
      const shoff = u64(40);
      h.phentsize = u16(54); h.phnum = u16(56);
      h.shentsize = u16(58); h.shnum = u16(60); h.shstrndx = u16(62);
      h.phoff = this.tableOffset(phoff, h.phnum, h.phentsize, 56, 'program header table');
      h.shoff = this.sectionTableOffset(shoff, h.shnum, h.shentsize, 64);
      this.rawShoff = shoff;
    } else {
      h.entry = BigInt(u32(24));
      const phoff = BigInt(u32(28));
      const shoff = BigInt(u32(32));
      h.phentsize = u16(42); h.phnum = u16(44);
      h.shentsize = u16(46); h.shnum = u16(48); h.shstrndx = u16(50);
      h.phoff = this.tableOffset(phoff, h.phnum, h.phentsize, 32, 'program header table');
      h.shoff = this.sectionTableOffset(shoff, h.shnum, h.shentsize, 40);
      this.rawShoff = shoff;
    }
    if (h.phnum === PN_XNUM) this.fail('uses the extended program header count (PN_XNUM), which kvmdbg does not support');
    return h;
  }

  private tableOffset(offset: bigint, count: number, entsize: number, minEntsize: number, what: string): number {
    if (count === 0) return 0;
    if (entsize < minEntsize) this.fail(`has a ${what} entry size of ${entsize} bytes, smaller than the ${minEntsize} the ELF format requires`);
    return this.span(offset, BigInt(count) * BigInt(entsize), what);
  }

  /** Section headers are only checked for size here; a bad table fails when sections are read. */
  private sectionTableOffset(offset: bigint, count: number, entsize: number, minEntsize: number): number {
    if (offset === 0n) return 0;
    if (entsize < minEntsize) return -1;
    const len = BigInt(this.src.size);
    // shnum 0 with a table means the real count is in section 0 (read later); at least one entry must fit.
    const need = BigInt(Math.max(count, 1)) * BigInt(entsize);
    return offset <= len && need <= len - offset ? Number(offset) : -1;
  }

  private readProgramHeaders(): ProgramHeader[] {
    const { phoff, phnum, phentsize, bits } = this.header;
    const out: ProgramHeader[] = [];
    if (phnum === 0) return out;
    const v = this.at(phoff, phnum * phentsize);
    const u32 = (o: number): number => v.getUint32(o, true);
    const u64 = (o: number): bigint => v.getBigUint64(o, true);
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      const ph = bits === 64
        ? {
          index: i, type: u32(o), flags: u32(o + 4), offsetRaw: u64(o + 8),
          vaddr: u64(o + 16), paddr: u64(o + 24), fileszRaw: u64(o + 32),
          memsz: u64(o + 40), align: u64(o + 48),
        }
        : {
          index: i, type: u32(o), offsetRaw: BigInt(u32(o + 4)), vaddr: BigInt(u32(o + 8)),
          paddr: BigInt(u32(o + 12)), fileszRaw: BigInt(u32(o + 16)), memsz: BigInt(u32(o + 20)),
          flags: u32(o + 24), align: BigInt(u32(o + 28)),
        };
      const offset = ph.fileszRaw === 0n ? 0 : this.span(ph.offsetRaw, ph.fileszRaw, `program header ${i}`);
      out.push({
        index: i, type: ph.type, flags: ph.flags, offset, filesz: Number(ph.fileszRaw),
        vaddr: ph.vaddr, paddr: ph.paddr, memsz: ph.memsz, align: ph.align,
      });
    }
    return out;
  }

  /** The file bytes of a program header (a view, no copy). */
  segmentData(ph: ProgramHeader): Uint8Array {
    return this.src.bytes(ph.offset, ph.filesz);
  }

  /** All section headers with their names; [] when the file has none. */
  sections(): readonly SectionHeader[] {
    this.sectionCache ??= this.readSections();
    return this.sectionCache;
  }

  private readSections(): SectionHeader[] {
    const h = this.header;
    if (h.shoff === 0) return [];
    const minEntsize = h.bits === 64 ? 64 : 40;
    if (h.shoff < 0) {
      if (h.shentsize < minEntsize) this.fail(`has a section header entry size of ${h.shentsize} bytes, smaller than the ${minEntsize} the ELF format requires`);
      this.fail(`section header table extends past the end of the file (offset ${hex(this.rawShoff)}, ${h.shnum} entries of ${h.shentsize} bytes, file size ${hex(this.src.size)})`);
    }
    const first = this.readSectionHeader(this.at(h.shoff, h.shentsize), 0, 0);
    let count = h.shnum;
    if (count === 0) {
      // ELF extended numbering: the count lives in section 0's sh_size.
      count = first.size;
      this.span(BigInt(h.shoff), BigInt(count) * BigInt(h.shentsize), 'section header table');
    }
    const table = this.at(h.shoff, count * h.shentsize);
    const sections = [first];
    for (let i = 1; i < count; i++) sections.push(this.readSectionHeader(table, i * h.shentsize, i));
    let strndx = h.shstrndx === SHN_XINDEX ? first.link : h.shstrndx;
    if (strndx !== SHN_UNDEF && strndx >= count) this.fail(`names its section name table as section ${strndx}, but there are only ${count} sections`);
    if (strndx !== SHN_UNDEF) {
      const names = sections[strndx];
      this.checkSectionInFile(names);
      for (const s of sections) s.name = this.stringAt(names, s.nameOffset, `section ${s.index}'s name`);
    }
    return sections.map(({ nameOffset: _, ...s }) => s);
  }

  private readSectionHeader(v: DataView, o: number, index: number): RawSection {
    const b64 = this.header.bits === 64;
    const u32 = (at: number): number => v.getUint32(at, true);
    const s: RawSection = {
      index, name: '', nameOffset: u32(o), type: u32(o + 4),
      flags: this.word(v, o + 8), addr: this.word(v, b64 ? o + 16 : o + 12),
      offset: 0, size: 0,
      link: u32(b64 ? o + 40 : o + 24), info: u32(b64 ? o + 44 : o + 28),
      addralign: this.word(v, b64 ? o + 48 : o + 32), entsize: 0,
    };
    const offset = this.word(v, b64 ? o + 24 : o + 16);
    const size = this.word(v, b64 ? o + 32 : o + 20);
    const entsize = this.word(v, b64 ? o + 56 : o + 36);
    if (s.type !== SHT_NOBITS && size !== 0n) s.offset = this.span(offset, size, `section ${index}`);
    else if (offset <= BigInt(Number.MAX_SAFE_INTEGER)) s.offset = Number(offset);
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`section ${index} has an impossible size ${hex(size)}`);
    s.size = Number(size);
    s.entsize = entsize > 0xffffn ? 0xffff : Number(entsize);
    return s;
  }

  private checkSectionInFile(s: SectionHeader): void {
    if (s.type === SHT_NOBITS) this.fail(`section ${s.index} (${s.name || 'unnamed'}) is used as a table but has no file contents (SHT_NOBITS)`);
  }

  /** The NUL-terminated string at `offset` inside string-table section `table`. */
  private stringAt(table: SectionHeader, offset: number, what: string): string {
    if (offset >= table.size) {
      if (offset === 0) return '';
      this.fail(`${what} points past the end of its string table (offset ${hex(offset)}, table size ${hex(table.size)})`);
    }
    let t = this.tables.get(table.index);
    if (!t) this.tables.set(table.index, (t = this.src.bytes(table.offset, table.size)));
    const end = t.indexOf(0, offset);
    if (end < 0) this.fail(`${what} runs past the end of its string table (no NUL before offset ${hex(table.size)})`);
    return Buffer.from(t.buffer, t.byteOffset + offset, end - offset).toString('latin1');
  }

  /** A section by name, or undefined. */
  section(name: string): SectionHeader | undefined {
    return this.sections().find((s) => s.name === name);
  }

  /** A section's bytes as a source read on demand (empty for SHT_NOBITS). */
  sectionSource(s: SectionHeader): ByteSource {
    return windowOf(this.src, s.type === SHT_NOBITS ? 0 : s.offset, s.type === SHT_NOBITS ? 0 : s.size);
  }

  /** The file bytes of a section (empty for SHT_NOBITS). */
  sectionData(s: SectionHeader): Uint8Array {
    if (s.type === SHT_NOBITS) return new Uint8Array(0);
    return this.src.bytes(s.offset, s.size);
  }

  /**
   * Notes from PT_NOTE segments and SHT_NOTE sections, each listed once.
   * Section headers are only consulted when there is no PT_NOTE segment, so
   * a kernel with a damaged section table still boots by its segments.
   */
  notes(): ElfNote[] {
    const out = new Map<number, ElfNote>();
    const segs = this.programHeaders.filter((p) => p.type === PT_NOTE);
    for (const p of segs) this.readNotes(p.offset, p.filesz, p.align === 8n ? 8 : 4, `note segment (program header ${p.index})`, out);
    if (segs.length === 0) {
      for (const s of this.sections()) {
        if (s.type === SHT_NOTE) this.readNotes(s.offset, s.size, s.addralign === 8n ? 8 : 4, `note section ${s.index} (${s.name || 'unnamed'})`, out);
      }
    }
    return [...out.values()];
  }

  private readNotes(start: number, size: number, align: number, where: string, out: Map<number, ElfNote>): void {
    const area = this.src.bytes(start, size);
    const v = new DataView(area.buffer, area.byteOffset, area.byteLength);
    const end = size;
    const up = (n: number): number => Math.ceil(n / align) * align;
    let o = 0;
    while (end - o >= 12) {
      const namesz = v.getUint32(o, true);
      const descsz = v.getUint32(o + 4, true);
      const type = v.getUint32(o + 8, true);
      const nameAt = o + 12;
      const descAt = nameAt + up(namesz);
      const next = descAt + up(descsz);
      if (descAt + descsz > end) {
        this.fail(`${where}: the note at offset ${hex(start + o)} extends past the end of its ${size}-byte note area (name ${namesz} bytes, description ${descsz} bytes)`);
      }
      let n = namesz;
      while (n > 0 && area[nameAt + n - 1] === 0) n--;
      const name = Buffer.from(area.buffer, area.byteOffset + nameAt, n).toString('latin1');
      if (!out.has(start + o)) out.set(start + o, { name, type, desc: area.subarray(descAt, descAt + descsz), offset: start + o });
      o = next;
    }
  }

  /** The first note with this owner and type. */
  findNote(name: string, type: number): ElfNote | undefined {
    return this.notes().find((n) => n.name === name && n.type === type);
  }

  /**
   * The symbols of .symtab (SHT_SYMTAB) with their names from the linked
   * string table, without the null symbol 0. [] when the file is stripped.
   */
  symbols(): readonly ElfSymbol[] {
    this.symbolCache ??= this.readSymbols();
    return this.symbolCache;
  }

  private readSymbols(): ElfSymbol[] {
    const sections = this.sections();
    const symtab = sections.find((s) => s.type === SHT_SYMTAB);
    if (!symtab) return [];
    this.checkSectionInFile(symtab);
    const b64 = this.bits === 64;
    const stdSize = b64 ? 24 : 16;
    const entsize = symtab.entsize === 0 ? stdSize : symtab.entsize;
    if (entsize < stdSize) this.fail(`symbol table (section ${symtab.index}) has ${entsize}-byte entries, smaller than the ${stdSize} the ELF format requires`);
    if (symtab.link === 0 || symtab.link >= sections.length) {
      this.fail(`symbol table (section ${symtab.index}) links to string table section ${symtab.link}, which does not exist`);
    }
    const strtab = sections[symtab.link];
    if (strtab.type !== SHT_STRTAB) this.fail(`symbol table (section ${symtab.index}) links to section ${strtab.index}, which is not a string table`);
    const count = Math.floor(symtab.size / entsize);
    const out: ElfSymbol[] = [];
    const v = this.at(symtab.offset, count * entsize);
    for (let i = 1; i < count; i++) {
      const o = i * entsize;
      const nameOffset = v.getUint32(o, true);
      const info = v.getUint8(b64 ? o + 4 : o + 12);
      const shndx = v.getUint16(b64 ? o + 6 : o + 14, true);
      const value = b64 ? v.getBigUint64(o + 8, true) : BigInt(v.getUint32(o + 4, true));
      const size = b64 ? v.getBigUint64(o + 16, true) : BigInt(v.getUint32(o + 8, true));
      out.push({
        name: this.stringAt(strtab, nameOffset, `symbol ${i}'s name`),
        value, size,
        type: SYMBOL_TYPES[info & 0xf] ?? 'other',
        bind: SYMBOL_BINDS[info >> 4] ?? 'other',
        shndx,
      });
    }
    return out;
  }

  /**
   * The defined symbol with this name; a global one wins over a weak one,
   * which wins over a local one (two static functions may share a name).
   */
  findSymbol(name: string): ElfSymbol | undefined {
    if (!this.byName) {
      const rank = (s: ElfSymbol): number => (s.bind === 'global' ? 3 : s.bind === 'weak' ? 2 : 1);
      this.byName = new Map();
      for (const s of this.symbols()) {
        if (s.shndx === SHN_UNDEF || s.name === '' || s.type === 'section' || s.type === 'file') continue;
        const have = this.byName.get(s.name);
        if (!have || rank(s) > rank(have)) this.byName.set(s.name, s);
      }
    }
    return this.byName.get(name);
  }

  /**
   * The symbol an address belongs to, as a debugger shows it (`name+offset`):
   * the closest defined function/object/untyped symbol at or below `address`.
   * A sized symbol that ends before `address` does not claim it.
   */
  symbolAt(address: bigint): { symbol: ElfSymbol; offset: bigint } | undefined {
    if (!this.byAddress) {
      this.byAddress = this.symbols()
        .filter((s) => s.shndx !== SHN_UNDEF && s.name !== '' && (s.type === 'func' || s.type === 'object' || s.type === 'notype'))
        .sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : (a.bind === 'global' ? -1 : 1)));
    }
    const list = this.byAddress;
    let lo = 0;
    let hi = list.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].value <= address) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    // Prefer the first (global-sorted) symbol among those sharing this value.
    while (found > 0 && list[found - 1].value === list[found].value) found--;
    const symbol = list[found];
    const offset = address - symbol.value;
    if (symbol.size > 0n && offset >= symbol.size) return undefined;
    return { symbol, offset };
  }
}

interface RawSection extends SectionHeader { nameOffset: number }
