/**
 * Pure shaping for the kvm/* requests (custom-requests.ts): descriptor
 * decoding (GDT, IDT), exit statistics, recent exits, page walks. No VM,
 * no KVM: everything here is unit-tested on plain values.
 */
import type {
  DescriptorTable, ExitKindStats, ExitStatsBody, PageWalkBody, PageWalkLevel, RecentExit,
} from './protocol-extensions';
import type { WalkResult, PageFlags } from '../vmm/debug/page-walk';
import type { RingExit } from '../vmm/machine/exit-ring';

const hex = (v: bigint | number): string => '0x' + v.toString(16);

// ---- descriptor tables ----------------------------------------------------------------------

/** The guest chooses the limits: never decode more than this many entries. */
export const MAX_GDT_ENTRIES = 8192;
export const MAX_IDT_ENTRIES = 256;

/** Bytes of guest memory at a linear address: data plus a per-byte readable mask. */
export type LinearReader = (address: bigint, length: number) => { data: Uint8Array; readable: Uint8Array };

function u64(data: Uint8Array, at: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(data[at + i]);
  return v;
}

const field = (v: bigint, lo: number, width: number): number => Number((v >> BigInt(lo)) & ((1n << BigInt(width)) - 1n));

const SYSTEM_TYPES_64: Record<number, string> = { 2: 'LDT', 9: 'TSS64 available', 0xb: 'TSS64 busy', 0xc: 'call gate64', 0xe: 'interrupt gate64', 0xf: 'trap gate64' };
const SYSTEM_TYPES_32: Record<number, string> = {
  1: 'TSS16 available', 2: 'LDT', 3: 'TSS16 busy', 4: 'call gate16', 5: 'task gate', 6: 'interrupt gate16', 7: 'trap gate16',
  9: 'TSS32 available', 0xb: 'TSS32 busy', 0xc: 'call gate32', 0xe: 'interrupt gate32', 0xf: 'trap gate32',
};

export interface SegmentDescriptor {
  base: bigint;
  /** Effective limit in bytes - 1 (granularity applied). */
  limit: number;
  type: number;
  /** S: code/data (true) or system (false). */
  s: boolean;
  dpl: number;
  present: boolean;
  avl: boolean;
  l: boolean;
  db: boolean;
  g: boolean;
}

export function parseSegmentDescriptor(raw: bigint): SegmentDescriptor {
  const g = field(raw, 55, 1) === 1;
  const rawLimit = field(raw, 0, 16) | (field(raw, 48, 4) << 16);
  return {
    base: BigInt(field(raw, 16, 24)) | (BigInt(field(raw, 56, 8)) << 24n),
    limit: g ? rawLimit * 4096 + 0xfff : rawLimit,
    type: field(raw, 40, 4), s: field(raw, 44, 1) === 1, dpl: field(raw, 45, 2), present: field(raw, 47, 1) === 1,
    avl: field(raw, 52, 1) === 1, l: field(raw, 53, 1) === 1, db: field(raw, 54, 1) === 1, g,
  };
}

/**
 * One line for a GDT (or LDT) entry. In long mode, system descriptors (TSS,
 * LDT, call gates) are 16 bytes: `high` is the next 8 bytes (base 63:32).
 */
export function decodeSegmentDescriptor(raw: bigint, longMode: boolean, high?: bigint): string {
  if (raw === 0n) return 'null';
  const d = parseSegmentDescriptor(raw);
  const p = d.present ? 'P' : 'not present';
  const bl = (base: bigint) => `base ${hex(base)} limit ${hex(d.limit)}`;
  if (d.s) {
    const code = (d.type & 8) !== 0;
    let kind: string;
    const attrs: string[] = [];
    if (code) {
      kind = longMode && d.l ? 'code64' : d.db ? 'code32' : 'code16';
      if (d.l && d.db) attrs.push('L+D (invalid)');
      if (d.type & 4) attrs.push('conforming');
      attrs.push(d.type & 2 ? 'readable' : 'execute-only');
    } else {
      kind = d.db ? 'data32' : 'data16';
      attrs.push(d.type & 2 ? 'writable' : 'read-only');
      if (d.type & 4) attrs.push('expand-down');
    }
    if (d.type & 1) attrs.push('accessed');
    if (d.l && !code) attrs.push('L');
    if (d.g) attrs.push('G');
    // 64-bit code segments ignore base and limit: say so instead of showing numbers that do nothing.
    const where = kind === 'code64' ? 'flat' : bl(d.base);
    return `${kind} DPL${d.dpl} ${p}, ${where}${attrs.length ? ', ' + attrs.join(' ') : ''}`;
  }
  const names = longMode ? SYSTEM_TYPES_64 : SYSTEM_TYPES_32;
  const name = names[d.type] ?? `reserved system type ${d.type}`;
  if (/gate/.test(name)) {
    const g = decodeGate(raw, high, longMode && high !== undefined);
    return `${name} -> ${g}`;
  }
  const base = longMode && high !== undefined ? d.base | (BigInt.asUintN(32, high) << 32n) : d.base;
  return `${name} DPL${d.dpl} ${p}, ${bl(base)}${d.g ? ', G' : ''}`;
}

function decodeGate(raw: bigint, high: bigint | undefined, wide: boolean): string {
  const selector = field(raw, 16, 16);
  const dpl = field(raw, 45, 2);
  const present = field(raw, 47, 1) === 1;
  const type = field(raw, 40, 4);
  const tail = `DPL${dpl}${present ? '' : ' not present'}`;
  if (type === 5) return `TSS selector ${hex(selector)} ${tail}`;
  let offset = BigInt(field(raw, 0, 16)) | (BigInt(field(raw, 48, 16)) << 16n);
  if (wide && high !== undefined) offset |= BigInt.asUintN(32, high) << 32n;
  const ist = wide ? ` IST${field(raw, 32, 3)}` : '';
  return `${hex(selector)}:${hex(offset)}${ist} ${tail}`;
}

/** One line for an IDT gate. In long mode gates are 16 bytes (`high`: offset 63:32). */
export function decodeGateDescriptor(raw: bigint, longMode: boolean, high?: bigint): string {
  if (raw === 0n && (high ?? 0n) === 0n) return 'empty';
  const type = field(raw, 40, 4);
  const s = field(raw, 44, 1);
  const present = field(raw, 47, 1) === 1;
  const kinds: Record<number, string> = longMode
    ? { 0xe: 'interrupt gate', 0xf: 'trap gate' }
    : { 5: 'task gate', 6: 'interrupt gate16', 7: 'trap gate16', 0xe: 'interrupt gate', 0xf: 'trap gate' };
  const kind = s === 0 ? kinds[type] : undefined;
  if (!kind) return `invalid gate type ${type}${s ? ' (S set)' : ''}${present ? '' : ', not present'}`;
  const selector = field(raw, 16, 16);
  const dpl = field(raw, 45, 2);
  const tail = `DPL${dpl}${present ? '' : ' not present'}`;
  if (type === 5) return `${kind} -> TSS selector ${hex(selector)} ${tail}`;
  let offset = BigInt(field(raw, 0, 16)) | (BigInt(field(raw, 48, 16)) << 16n);
  if (longMode) offset |= BigInt.asUintN(32, high ?? 0n) << 32n;
  const ist = longMode ? ` IST${field(raw, 32, 3)}` : '';
  return `${kind} -> ${hex(offset)} selector ${hex(selector)}${ist} ${tail}`;
}

/**
 * Reads and decodes a GDT or IDT. The base and limit come from the guest:
 * the entry count is capped, and entries in unmapped memory are marked
 * unreadable instead of failing the whole table.
 */
export function readDescriptorTable(read: LinearReader, kind: 'gdt' | 'idt', base: bigint, limit: number, longMode: boolean): DescriptorTable {
  const table: DescriptorTable = { base: hex(base), limit, entries: [] };
  const gateSize = kind === 'idt' && longMode ? 16 : 8;
  const cap = kind === 'gdt' ? MAX_GDT_ENTRIES : MAX_IDT_ENTRIES;
  const count = Math.min(Math.floor((limit + 1) / gateSize), cap);
  if (count <= 0) return table;
  const bytes = count * gateSize;
  const r = read(base, bytes);
  const ok = (at: number, n: number) => at + n <= r.data.length && r.readable.subarray(at, at + n).every((b) => b === 1);
  for (let i = 0, skipHigh = false; i < count; i++) {
    const at = i * gateSize;
    if (!ok(at, gateSize)) {
      table.entries.push({ index: i, raw: '??', decoded: 'unreadable (not mapped or not RAM)' });
      skipHigh = false;
      continue;
    }
    const raw = u64(r.data, at);
    if (kind === 'idt') {
      const high = gateSize === 16 ? u64(r.data, at + 8) : undefined;
      table.entries.push({ index: i, raw: rawHex(raw, high), decoded: decodeGateDescriptor(raw, longMode, high) });
      continue;
    }
    if (skipHigh) {
      table.entries.push({ index: i, raw: rawHex(raw), decoded: `upper half of the 16-byte descriptor at index ${i - 1}` });
      skipHigh = false;
      continue;
    }
    const d = parseSegmentDescriptor(raw);
    const wide = longMode && raw !== 0n && !d.s;
    const high = wide && ok(at + 8, 8) && i + 1 < count ? u64(r.data, at + 8) : undefined;
    table.entries.push({ index: i, raw: rawHex(raw, high), decoded: decodeSegmentDescriptor(raw, longMode, high) });
    skipHigh = high !== undefined;
  }
  return table;
}

function rawHex(low: bigint, high?: bigint): string {
  const l = low.toString(16).padStart(16, '0');
  return high === undefined ? '0x' + l : '0x' + high.toString(16).padStart(16, '0') + l;
}

// ---- exits ----------------------------------------------------------------------------------

/** Per-kind rates over the last sampling interval (exits a second). */
export type Rates = Partial<Record<string, number>>;

/** Counts a second between two snapshots of the exit counters. */
export function ratesBetween(before: Partial<Record<string, number>>, after: Partial<Record<string, number>>, ms: number): Rates {
  const out: Rates = {};
  if (!(ms > 0)) return out;
  for (const [kind, n] of Object.entries(after)) {
    const d = (n ?? 0) - (before[kind] ?? 0);
    if (d > 0) out[kind] = (d * 1000) / ms;
  }
  return out;
}

/** One line for an exit of the ring (exit-ring.ts encoding). */
export function describeRingExit(e: RingExit): string {
  const width = (n: number) => `${n} byte${n === 1 ? '' : 's'}`;
  const known = (v: number) => Number.isFinite(v);
  switch (e.kind) {
    case 'io': {
      const size = e.c & 0xff;
      const out = (e.c & 0x100) !== 0;
      const count = Math.floor(e.c / 0x10000);
      const rep = count > 1 ? ` x${count}` : '';
      // The character of an OUT (console output); an IN is usually a status register, not text.
      const ch = out && size === 1 && known(e.b) && e.b >= 0x20 && e.b < 0x7f ? ` '${String.fromCharCode(e.b)}'` : '';
      if (out) return `out ${hex(e.a)} <- ${known(e.b) ? hex(e.b) : '?'}${ch} (${width(size)})${rep}`;
      return `in ${hex(e.a)}${known(e.b) ? ` -> ${hex(e.b)}` : ''} (${width(size)})${rep}`;
    }
    case 'mmio': {
      const size = e.c & 0xff;
      if ((e.c & 0x100) !== 0) return `mmio write ${hex(e.a)} <- ${known(e.b) ? hex(e.b) : '?'} (${width(size)})`;
      return `mmio read ${hex(e.a)}${known(e.b) ? ` -> ${hex(e.b)}` : ''} (${width(size)})`;
    }
    case 'debug': return `debug exception ${e.b} at ${hex(e.a)}`;
    case 'hlt': return 'HLT';
    case 'shutdown': return 'shutdown (triple fault)';
    case 'interrupted': return 'interrupted (a kick from the debugger or the console)';
    default: return e.kind;
  }
}

/**
 * A recent exit for the view. RIP is known only for debug exits (their PC)
 * and for the exit the vCPU is stopped at (`stopRip`: the RIP when it
 * stopped); reading it for every exit would cost an ioctl each.
 */
export function recentExit(e: RingExit, stopAt?: { seq: number; rip: bigint }): RecentExit {
  const out: RecentExit = { kind: e.kind, detail: describeRingExit(e) };
  if (e.kind === 'debug' && Number.isFinite(e.a)) out.rip = hex(e.a);
  else if (stopAt && stopAt.seq === e.seq) out.rip = hex(stopAt.rip);
  return out;
}

export function exitStatsBody(o: {
  snapshot: Partial<Record<string, number>>;
  elapsedMs: number;
  /** Rates over the last interval; ignored (all 0) while paused. */
  rates: Rates;
  running: boolean;
  recent: RecentExit[];
}): ExitStatsBody {
  const byKind: ExitKindStats[] = Object.entries(o.snapshot)
    .filter(([, n]) => (n ?? 0) > 0)
    .map(([kind, n]) => ({ kind, count: n ?? 0, perSecond: o.running ? Math.round(o.rates[kind] ?? 0) : 0 }))
    .sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind));
  return { total: byKind.reduce((s, k) => s + k.count, 0), elapsedMs: Math.round(o.elapsedMs), byKind, recent: o.recent };
}

/** The `last` argument: a whole number 0..64 (default 20). */
export function recentCount(last: unknown, max: number): number {
  if (last === undefined || last === null) return Math.min(20, max);
  const n = Number(last);
  if (!Number.isFinite(n) || n < 0) throw new Error(`"last" must be a non-negative number, not ${JSON.stringify(last)}`);
  return Math.min(Math.floor(n), max);
}

// ---- page walks -----------------------------------------------------------------------------

const LEVEL_NAMES: Record<string, string> = { PML5E: 'PML5', PML4E: 'PML4', PDPTE: 'PDPT', PDE: 'PD', PTE: 'PT' };
const MODE_NAMES: Record<string, string> = { none: 'none', '32-bit': '32-bit', pae: 'PAE', '4-level': '4-level', '5-level': '5-level' };

export function pageFlagNames(f: PageFlags): string[] {
  const out: string[] = [];
  if (f.present) out.push('P');
  if (f.writable) out.push('RW');
  if (f.user) out.push('US');
  if (f.writeThrough) out.push('PWT');
  if (f.cacheDisable) out.push('PCD');
  if (f.accessed) out.push('A');
  if (f.dirty) out.push('D');
  if (f.pageSize) out.push('PS');
  if (f.global) out.push('G');
  if (f.noExecute) out.push('NX');
  return out;
}

export function pageWalkBody(w: WalkResult): PageWalkBody {
  const mode = MODE_NAMES[w.mode] ?? w.mode;
  const levels = w.levels.map((l): PageWalkLevel => ({
    name: (LEVEL_NAMES[l.name] ?? l.name) + (w.mode === '32-bit' ? ' (32-bit)' : ''),
    entryAddress: hex(l.entryAddress),
    entry: hex(l.entry),
    flags: pageFlagNames(l.flags),
    present: l.flags.present,
  }));
  const body: PageWalkBody = { address: hex(BigInt.asUintN(64, w.virtual)), mode, levels };
  if (w.ok) {
    body.physical = hex(w.physical);
    body.pageSize = w.pageSize;
  } else {
    body.fault = w.reason;
  }
  return body;
}

/** An address argument: hex (0x...) or decimal, up to 64 bits. */
export function parseAddressArg(text: unknown, what: string): bigint {
  if (typeof text === 'number' && Number.isSafeInteger(text) && text >= 0) return BigInt(text);
  const t = typeof text === 'string' ? text.trim().replace(/_/g, '') : '';
  if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(t)) throw new Error(`${what} must be a hex (0x...) or decimal address, not ${JSON.stringify(text)}`);
  const v = BigInt(t);
  if (v >= 1n << 64n) throw new Error(`${what} ${t} does not fit in 64 bits`);
  return v;
}
