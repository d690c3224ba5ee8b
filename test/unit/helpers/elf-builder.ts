/**
 * Builds small little-endian ELF32/ELF64 images for the boot and ELF tests:
 * program headers for the given segments (plus a PT_NOTE for the notes),
 * and section headers (.note, one PROGBITS a segment, .symtab, .strtab,
 * .shstrtab). The returned offsets let tests corrupt exact fields.
 */

export interface SegmentSpec {
  paddr: number | bigint;
  vaddr?: number | bigint;
  data: Uint8Array;
  memsz?: number;
  /** The segment's section name (default .segN). */
  section?: string;
}

export interface NoteSpec { name: string; type: number; desc: Uint8Array }

export interface SymbolSpec {
  name: string;
  value: number | bigint;
  size?: number;
  /** STT_*: 0 notype, 1 object, 2 func. */
  type?: number;
  /** STB_*: 0 local, 1 global, 2 weak. */
  bind?: number;
  /** Section index; defaults to the first segment's section. */
  shndx?: number;
}

export interface ElfSpec {
  bits: 32 | 64;
  machine?: number;
  entry: number | bigint;
  segments: SegmentSpec[];
  notes?: NoteSpec[];
  symbols?: SymbolSpec[];
}

export interface BuiltElf {
  bytes: Uint8Array;
  phoff: number;
  phentsize: number;
  shoff: number;
  shentsize: number;
  /** File offset of each segment's data. */
  segmentOffsets: number[];
  noteOffset: number;
  symtabOffset: number;
  strtabOffset: number;
}

class Writer {
  bytes = new Uint8Array(0x4000);
  view = new DataView(this.bytes.buffer);
  length = 0;

  ensure(n: number): void {
    if (n <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(n, this.bytes.length * 2));
    next.set(this.bytes);
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }
  align(a: number): number { this.length = Math.ceil(this.length / a) * a; this.ensure(this.length); return this.length; }
  put(data: Uint8Array): number { const at = this.length; this.ensure(at + data.length); this.bytes.set(data, at); this.length += data.length; return at; }
  reserve(n: number): number { const at = this.length; this.ensure(at + n); this.length += n; return at; }
  u8(o: number, v: number): void { this.view.setUint8(o, v); }
  u16(o: number, v: number): void { this.view.setUint16(o, v, true); }
  u32(o: number, v: number): void { this.view.setUint32(o, v >>> 0, true); }
  u64(o: number, v: number | bigint): void { this.view.setBigUint64(o, BigInt.asUintN(64, BigInt(v)), true); }
  word(bits: number, o: number, v: number | bigint): void { if (bits === 64) this.u64(o, v); else this.u32(o, Number(v)); }
}

class StrTab {
  bytes: number[] = [0];
  add(s: string): number {
    if (s === '') return 0;
    const at = this.bytes.length;
    this.bytes.push(...Buffer.from(s, 'latin1'), 0);
    return at;
  }
  data(): Uint8Array { return Uint8Array.from(this.bytes); }
}

export function encodeNotes(notes: NoteSpec[]): Uint8Array {
  const parts: number[] = [];
  const pad = (): void => { while (parts.length % 4) parts.push(0); };
  for (const n of notes) {
    const name = Buffer.from(n.name + '\0', 'latin1');
    const hdr = Buffer.alloc(12);
    hdr.writeUInt32LE(name.length, 0); hdr.writeUInt32LE(n.desc.length, 4); hdr.writeUInt32LE(n.type >>> 0, 8);
    parts.push(...hdr, ...name); pad();
    parts.push(...n.desc); pad();
  }
  return Uint8Array.from(parts);
}

export function buildElf(spec: ElfSpec): BuiltElf {
  const { bits } = spec;
  const b64 = bits === 64;
  const ehsize = b64 ? 64 : 52;
  const phentsize = b64 ? 56 : 32;
  const shentsize = b64 ? 64 : 40;
  const notes = spec.notes ?? [];
  const phnum = spec.segments.length + (notes.length ? 1 : 0);
  const w = new Writer();
  w.reserve(ehsize);
  const phoff = w.reserve(phnum * phentsize);
  const noteBytes = encodeNotes(notes);
  w.align(4);
  const noteOffset = notes.length ? w.put(noteBytes) : 0;
  const segmentOffsets = spec.segments.map((s) => { w.align(16); return w.put(s.data); });

  const shstr = new StrTab();
  const str = new StrTab();
  interface Sec { name: number; type: number; flags: number; addr: bigint; offset: number; size: number; link: number; info: number; align: number; entsize: number }
  const secs: Sec[] = [{ name: 0, type: 0, flags: 0, addr: 0n, offset: 0, size: 0, link: 0, info: 0, align: 0, entsize: 0 }];
  if (notes.length) secs.push({ name: shstr.add('.note'), type: 7, flags: 2, addr: 0n, offset: noteOffset, size: noteBytes.length, link: 0, info: 0, align: 4, entsize: 0 });
  const firstSegSection = secs.length;
  spec.segments.forEach((s, i) => {
    secs.push({ name: shstr.add(s.section ?? `.seg${i}`), type: 1, flags: 6, addr: BigInt(s.vaddr ?? s.paddr), offset: segmentOffsets[i], size: s.data.length, link: 0, info: 0, align: 16, entsize: 0 });
  });
  let symtabOffset = 0;
  let strtabOffset = 0;
  const syms = spec.symbols ?? [];
  if (syms.length) {
    const symsize = b64 ? 24 : 16;
    w.align(8);
    symtabOffset = w.reserve((syms.length + 1) * symsize);
    syms.forEach((s, i) => {
      const o = symtabOffset + (i + 1) * symsize;
      const info = ((s.bind ?? 1) << 4) | (s.type ?? 2);
      const shndx = s.shndx ?? firstSegSection;
      w.u32(o, str.add(s.name));
      if (b64) { w.u8(o + 4, info); w.u8(o + 5, 0); w.u16(o + 6, shndx); w.u64(o + 8, s.value); w.u64(o + 16, s.size ?? 0); }
      else { w.u32(o + 4, Number(s.value)); w.u32(o + 8, s.size ?? 0); w.u8(o + 12, info); w.u8(o + 13, 0); w.u16(o + 14, shndx); }
    });
    const strData = str.data();
    strtabOffset = w.put(strData);
    const strtabIndex = secs.length + 1;
    secs.push({ name: shstr.add('.symtab'), type: 2, flags: 0, addr: 0n, offset: symtabOffset, size: (syms.length + 1) * symsize, link: strtabIndex, info: 1, align: 8, entsize: symsize });
    secs.push({ name: shstr.add('.strtab'), type: 3, flags: 0, addr: 0n, offset: strtabOffset, size: strData.length, link: 0, info: 0, align: 1, entsize: 0 });
  }
  const shstrName = shstr.add('.shstrtab');
  const shstrData = shstr.data();
  const shstrOffset = w.put(shstrData);
  secs.push({ name: shstrName, type: 3, flags: 0, addr: 0n, offset: shstrOffset, size: shstrData.length, link: 0, info: 0, align: 1, entsize: 0 });
  w.align(8);
  const shoff = w.reserve(secs.length * shentsize);
  secs.forEach((s, i) => {
    const o = shoff + i * shentsize;
    w.u32(o, s.name); w.u32(o + 4, s.type);
    if (b64) {
      w.u64(o + 8, s.flags); w.u64(o + 16, s.addr); w.u64(o + 24, s.offset); w.u64(o + 32, s.size);
      w.u32(o + 40, s.link); w.u32(o + 44, s.info); w.u64(o + 48, s.align); w.u64(o + 56, s.entsize);
    } else {
      w.u32(o + 8, s.flags); w.u32(o + 12, Number(s.addr)); w.u32(o + 16, s.offset); w.u32(o + 20, s.size);
      w.u32(o + 24, s.link); w.u32(o + 28, s.info); w.u32(o + 32, s.align); w.u32(o + 36, s.entsize);
    }
  });

  // ELF header.
  w.bytes.set([0x7f, 0x45, 0x4c, 0x46, b64 ? 2 : 1, 1, 1, 0], 0);
  w.u16(16, 2);
  w.u16(18, spec.machine ?? (b64 ? 62 : 3));
  w.u32(20, 1);
  w.word(bits, 24, spec.entry);
  w.word(bits, b64 ? 32 : 28, phoff);
  w.word(bits, b64 ? 40 : 32, shoff);
  w.u32(b64 ? 48 : 36, 0);
  const h = b64 ? 52 : 40;
  w.u16(h, ehsize); w.u16(h + 2, phentsize); w.u16(h + 4, phnum);
  w.u16(h + 6, shentsize); w.u16(h + 8, secs.length); w.u16(h + 10, secs.length - 1);

  // Program headers: the segments, then the note segment.
  const ph = (i: number, type: number, offset: number, vaddr: number | bigint, paddr: number | bigint, filesz: number, memsz: number, flags: number, align: number): void => {
    const o = phoff + i * phentsize;
    if (b64) {
      w.u32(o, type); w.u32(o + 4, flags); w.u64(o + 8, offset); w.u64(o + 16, vaddr); w.u64(o + 24, paddr);
      w.u64(o + 32, filesz); w.u64(o + 40, memsz); w.u64(o + 48, align);
    } else {
      w.u32(o, type); w.u32(o + 4, offset); w.u32(o + 8, Number(vaddr)); w.u32(o + 12, Number(paddr));
      w.u32(o + 16, filesz); w.u32(o + 20, memsz); w.u32(o + 24, flags); w.u32(o + 28, align);
    }
  };
  spec.segments.forEach((s, i) => ph(i, 1, segmentOffsets[i], s.vaddr ?? s.paddr, s.paddr, s.data.length, s.memsz ?? s.data.length, 7, 16));
  if (notes.length) ph(spec.segments.length, 4, noteOffset, 0, 0, noteBytes.length, 0, 4, 4);

  return {
    bytes: w.bytes.slice(0, w.length), phoff, phentsize, shoff, shentsize,
    segmentOffsets, noteOffset, symtabOffset, strtabOffset,
  };
}

/** A multiboot v1 header (12 bytes, or 32 with the a.out kludge fields). */
export function multibootHeader(flags: number, aout?: { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number }): Uint8Array {
  const b = Buffer.alloc(aout ? 32 : 12);
  b.writeUInt32LE(0x1badb002, 0);
  b.writeUInt32LE(flags >>> 0, 4);
  b.writeUInt32LE((-(0x1badb002 + flags)) >>> 0, 8);
  if (aout) {
    b.writeUInt32LE(aout.headerAddr, 12); b.writeUInt32LE(aout.loadAddr, 16); b.writeUInt32LE(aout.loadEndAddr, 20);
    b.writeUInt32LE(aout.bssEndAddr, 24); b.writeUInt32LE(aout.entryAddr, 28);
  }
  return new Uint8Array(b);
}

/** A Xen XEN_ELFNOTE_PHYS32_ENTRY note with a 4- or 8-byte entry. */
export function pvhNote(entry: number, width: 4 | 8 = 4): NoteSpec {
  const desc = Buffer.alloc(width);
  if (width === 4) desc.writeUInt32LE(entry, 0); else desc.writeBigUInt64LE(BigInt(entry), 0);
  return { name: 'Xen', type: 18, desc: new Uint8Array(desc) };
}

/** Bytes with a recognisable pattern (so tests can tell loaded data from zeros). */
export function pattern(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = ((i * 31 + seed * 7) & 0xff) | 1;
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
