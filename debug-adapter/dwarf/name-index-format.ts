/**
 * The name index's data: names -> DIE section offsets by kind, what a
 * builder collects (name-index-build.ts, debug-names.ts), its compact,
 * versioned binary form (the on-disk cache, ~/.cache/kvmdbg/index/<build-id>.idx)
 * and the lookups served from those bytes without unpacking them:
 *
 *   "KVDBGNX\0" u32 version u32 headerBytes u32 names u32 blobBytes u32 postings
 *   u32 crc32(body) f64 debugInfoBytes u32 buildIdBytes ... (64 bytes)
 *   build-id bytes (padded to 4), then the body:
 *   u32 nameStart[names+1] | names, sorted, UTF-8 (padded to 4)
 *   u32 postStart[names+1] | u32 dieOffset[postings] | u8 kind[postings]
 *
 * Per name and kind class (variables, functions, types) only definitions
 * are kept where there are any (a struct is defined in every unit that
 * includes its header, and declared in many more), else a few declarations.
 */
import { crc32 } from 'node:zlib';

export const INDEX_VERSION = 1;
const MAGIC = 'KVDBGNX\0';
const HEADER_BYTES = 64;
const MAX_DECLARATIONS = 4;

export const DW_TAG = {
  class_type: 0x02, enumeration_type: 0x04, structure_type: 0x13, typedef: 0x16, union_type: 0x17,
  base_type: 0x24, subprogram: 0x2e, variable: 0x34,
} as const;

/** What a posting names (low 4 bits of its kind byte; bit 4 = a declaration only). */
export const KIND = { variable: 1, function: 2, struct: 3, union: 4, enum: 5, typedef: 6, base: 7 } as const;
const DECLARATION = 0x10;
const TYPE_KINDS: Record<string, number> = { struct: KIND.struct, union: KIND.union, enum: KIND.enum };
const classOf = (kind: number): number => (kind >= KIND.struct ? 3 : kind);

/** What the DWARF readers ask of the index (the dwarf-reader branch's shape): DIE section offsets. */
export interface NameLookup {
  /** Global and file-static variables named `name`: definitions (with a location) first. */
  variables(name: string): number[];
  /** Types named `name` ("task_struct": any kind; "struct task_struct", "union x", "enum y": that kind only). */
  types(name: string): number[];
}

const grow = <T extends Uint32Array | Uint8Array>(a: T, need: number): T => {
  if (need <= a.length) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2));
  b.set(a);
  return b;
};

export class NameIndexBuilder {
  private readonly names: string[] = [];
  private readonly byString = new Map<string, number>();
  private readonly byOffset = [new Map<number, number>(), new Map<number, number>()];
  private ids = new Uint32Array(1 << 16);
  private offsets = new Uint32Array(1 << 16);
  private kinds = new Uint8Array(1 << 16);
  private count = 0;
  private readonly decoder = new TextDecoder();

  /** The name id of the string at `offset` of a string section (0 .debug_str, 1 .debug_line_str); -1 if none. */
  internStr(section: Uint8Array | undefined, offset: number, which: 0 | 1): number {
    const map = this.byOffset[which];
    const have = map.get(offset);
    if (have !== undefined) return have;
    if (!section || offset >= section.length) return -1;
    const end = section.indexOf(0, offset);
    if (end < 0) return -1;
    const id = this.internBytes(section.subarray(offset, end));
    map.set(offset, id);
    return id;
  }

  internBytes(bytes: Uint8Array): number { return this.intern(this.decoder.decode(bytes)); }

  intern(name: string): number {
    let id = this.byString.get(name);
    if (id === undefined) { id = this.names.length; this.names.push(name); this.byString.set(name, id); }
    return id;
  }

  add(nameId: number, kind: number, dieOffset: number, declaration: boolean): void {
    if (dieOffset > 0xffffffff) return; // past 4 GiB of .debug_info: not indexed (u32 offsets)
    const n = this.count + 1;
    this.ids = grow(this.ids, n);
    this.offsets = grow(this.offsets, n);
    this.kinds = grow(this.kinds, n);
    this.ids[this.count] = nameId;
    this.offsets[this.count] = dieOffset;
    this.kinds[this.count] = kind | (declaration ? DECLARATION : 0);
    this.count = n;
  }

  get postings(): number { return this.count; }

  /** The index's bytes (see the file comment). */
  serialize(buildId: string, debugInfoBytes: number): Uint8Array {
    // Postings grouped by name (counting sort), in DIE order within a name.
    const starts = new Uint32Array(this.names.length + 1);
    for (let i = 0; i < this.count; i++) starts[this.ids[i] + 1]++;
    for (let i = 0; i < this.names.length; i++) starts[i + 1] += starts[i];
    const fill = starts.slice(0, this.names.length);
    const order = new Uint32Array(this.count);
    for (let i = 0; i < this.count; i++) order[fill[this.ids[i]]++] = i;
    const sorted = this.names.map((_, i) => i).filter((i) => starts[i + 1] > starts[i]);
    sorted.sort((a, b) => (this.names[a] < this.names[b] ? -1 : this.names[a] > this.names[b] ? 1 : 0));
    const encoded = sorted.map((i) => Buffer.from(this.names[i], 'utf8'));
    const blobBytes = encoded.reduce((n, b) => n + b.length, 0);
    const keepOffsets: number[] = [];
    const keepKinds: number[] = [];
    const postStart = new Uint32Array(sorted.length + 1);
    sorted.forEach((id, k) => {
      const defined = [false, false, false, false];
      for (let j = starts[id]; j < starts[id + 1]; j++) if (!(this.kinds[order[j]] & DECLARATION)) defined[classOf(this.kinds[order[j]] & 0xf)] = true;
      const declarations = [0, 0, 0, 0];
      for (let j = starts[id]; j < starts[id + 1]; j++) {
        const p = order[j];
        const kind = this.kinds[p];
        const c = classOf(kind & 0xf);
        if (kind & DECLARATION) { if (defined[c] || declarations[c]++ >= MAX_DECLARATIONS) continue; }
        keepOffsets.push(this.offsets[p]);
        keepKinds.push(kind);
      }
      postStart[k + 1] = keepOffsets.length;
    });
    const pad = (n: number): number => (n + 3) & ~3;
    const idBytes = Buffer.from(buildId, 'utf8');
    const names = sorted.length;
    const bodyStart = HEADER_BYTES + pad(idBytes.length);
    const blobAt = bodyStart + 4 * (names + 1);
    const postAt = blobAt + pad(blobBytes);
    const offAt = postAt + 4 * (names + 1);
    const kindAt = offAt + 4 * keepOffsets.length;
    const out = new Uint8Array(kindAt + keepKinds.length);
    const v = new DataView(out.buffer);
    out.set(Buffer.from(MAGIC, 'latin1'), 0);
    v.setUint32(8, INDEX_VERSION, true);
    v.setUint32(12, HEADER_BYTES, true);
    v.setUint32(16, names, true);
    v.setUint32(20, blobBytes, true);
    v.setUint32(24, keepOffsets.length, true);
    v.setFloat64(32, debugInfoBytes, true);
    v.setUint32(40, idBytes.length, true);
    out.set(idBytes, HEADER_BYTES);
    let at = 0;
    encoded.forEach((b, k) => { v.setUint32(bodyStart + 4 * k, at, true); out.set(b, blobAt + at); at += b.length; });
    v.setUint32(bodyStart + 4 * names, at, true);
    for (let k = 0; k <= names; k++) v.setUint32(postAt + 4 * k, postStart[k], true);
    keepOffsets.forEach((o, k) => v.setUint32(offAt + 4 * k, o, true));
    out.set(keepKinds, kindAt);
    v.setUint32(28, crc32(out.subarray(bodyStart)), true);
    return out;
  }
}

/** The index served from its bytes (a cache file's or a fresh build's). */
export class NameIndex implements NameLookup {
  private readonly nameStart: Uint32Array;
  private readonly blob: Buffer;
  private readonly postStart: Uint32Array;
  private readonly offsets: Uint32Array;
  private readonly kinds: Uint8Array;
  readonly nameCount: number;
  readonly postingCount: number;

  /** Checks the bytes (magic, version, build-id, sizes, checksum); throws one sentence when they are not a valid index for `buildId`. */
  constructor(readonly bytes: Uint8Array, buildId: string, debugInfoBytes?: number) {
    const fail = (why: string): never => { throw new Error(`the name index is not usable: ${why}`); };
    if (bytes.length < HEADER_BYTES) fail(`${bytes.length} bytes, shorter than its header`);
    if (Buffer.from(bytes.buffer, bytes.byteOffset, 8).toString('latin1') !== MAGIC) fail('no KVDBGNX magic');
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const version = v.getUint32(8, true);
    if (version !== INDEX_VERSION) fail(`version ${version}, this kvmdbg reads version ${INDEX_VERSION}`);
    const idLength = v.getUint32(40, true);
    if (HEADER_BYTES + idLength > bytes.length) fail('its build-id runs past its end');
    const id = Buffer.from(bytes.buffer, bytes.byteOffset + HEADER_BYTES, idLength).toString('utf8');
    if (id !== buildId) fail(`it was built for build-id ${id || '(none)'}, not ${buildId}`);
    if (debugInfoBytes !== undefined && v.getFloat64(32, true) !== debugInfoBytes) fail('it was built for a .debug_info of another size');
    const names = v.getUint32(16, true);
    const blobBytes = v.getUint32(20, true);
    const postings = v.getUint32(24, true);
    const pad = (n: number): number => (n + 3) & ~3;
    const bodyStart = HEADER_BYTES + pad(idLength);
    const blobAt = bodyStart + 4 * (names + 1);
    const postAt = blobAt + pad(blobBytes);
    const offAt = postAt + 4 * (names + 1);
    const kindAt = offAt + 4 * postings;
    if (kindAt + postings !== bytes.length) fail(`its sizes (${names} names, ${postings} postings) do not add up to its ${bytes.length} bytes`);
    if (crc32(bytes.subarray(bodyStart)) !== v.getUint32(28, true)) fail('its checksum does not match (a damaged or partly written file)');
    // Typed arrays need 4-byte alignment: copy once if the bytes are not aligned.
    const b = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
    const u32 = (at: number, n: number): Uint32Array => new Uint32Array(b.buffer, b.byteOffset + at, n);
    this.nameStart = u32(bodyStart, names + 1);
    this.blob = Buffer.from(b.buffer, b.byteOffset + blobAt, blobBytes);
    this.postStart = u32(postAt, names + 1);
    this.offsets = u32(offAt, postings);
    this.kinds = b.subarray(kindAt, kindAt + postings);
    if (this.nameStart[names] !== blobBytes || this.postStart[names] !== postings) fail('its tables end past their data');
    this.nameCount = names;
    this.postingCount = postings;
  }

  private nameAt(i: number): string { return this.blob.toString('utf8', this.nameStart[i], this.nameStart[i + 1]); }

  /** The first name index >= `name` in the sorted names. */
  private lowerBound(name: string): number {
    let lo = 0;
    let hi = this.nameCount;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.nameAt(mid) < name) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  private postings(name: string, keep: (kind: number) => boolean): number[] {
    const i = this.lowerBound(name);
    if (i >= this.nameCount || this.nameAt(i) !== name) return [];
    const defs: number[] = [];
    const decls: number[] = [];
    for (let j = this.postStart[i]; j < this.postStart[i + 1]; j++) {
      const k = this.kinds[j];
      if (keep(k & 0xf)) (k & DECLARATION ? decls : defs).push(this.offsets[j]);
    }
    return [...defs, ...decls];
  }

  variables(name: string): number[] { return this.postings(name, (k) => k === KIND.variable); }

  functions(name: string): number[] { return this.postings(name, (k) => k === KIND.function); }

  types(name: string): number[] {
    const m = /^(struct|union|enum)\s+(.+)$/.exec(name.trim());
    if (m) { const want = TYPE_KINDS[m[1]]; return this.postings(m[2], (k) => k === want); }
    return this.postings(name.trim(), (k) => k >= KIND.struct);
  }

  /** Names (any kind) starting with `prefix`, sorted, at most `limit`. */
  namesStartingWith(prefix: string, limit: number): string[] {
    const out: string[] = [];
    for (let i = this.lowerBound(prefix); i < this.nameCount && out.length < limit; i++) {
      const n = this.nameAt(i);
      if (!n.startsWith(prefix)) break;
      out.push(n);
    }
    return out;
  }
}
