/**
 * The kernel log (what `dmesg` prints) read from guest memory, as gdb's
 * lx-dmesg does but through this kernel's DWARF: the lockless printk ring
 * buffer of 5.10+ (`prb` -> desc_ring + text_data_ring, each record's
 * `struct printk_info` with seq, ts_nsec, level, facility, caller_id), and
 * the older `log_buf` of `struct printk_log` records when there is no `prb`.
 * It needs no console: the records are in memory from the first printk.
 *
 * Hostile memory: the ring sizes are bounded (at most 2^24 descriptors and
 * 2^30 bytes of text), every descriptor whose id or state does not say
 * "committed/finalized record N" is skipped, text offsets are clamped to
 * the data ring, and the walk visits each descriptor at most once.
 */
import { sizeOf, strip } from '../variables/ctype';
import { rvalue, type Value } from '../variables/value';
import { Kernel, LinuxError } from './kernel';

export interface LogRecord {
  seq: number;
  /** Nanoseconds since boot (local_clock). */
  tsNsec: bigint;
  /** 0 (KERN_EMERG) .. 7 (KERN_DEBUG). */
  level: number;
  facility: number;
  /** The task (or CPU with bit 31) that logged it, when the kernel records it. */
  callerId?: number;
  text: string;
}

export interface LogRead {
  records: LogRecord[];
  /** The sequence number the next record will have (ask again with afterSeq = this - 1). */
  nextSeq: number;
  /** Which buffer was read. */
  source: 'printk_ringbuffer' | 'log_buf';
}

export interface LogOptions {
  /** Only records with a greater sequence number (incremental reads). */
  afterSeq?: number;
  /** Only the last `last` records. */
  last?: number;
}

const FEATURE = 'dmesg';
const MAX_DESC_BITS = 24;
const MAX_TEXT_BITS = 30;
const MAX_RECORD_TEXT = 4096;

// The descriptor state in the top two bits of state_var (kernel/printk/printk_ringbuffer.h).
const DESC_COMMITTED = 1n;
const DESC_FINALIZED = 2n;
const LEVELS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

export function levelName(level: number): string {
  return LEVELS[level] ?? `level ${level}`;
}

/** The kernel log, from whichever buffer this kernel has. */
export function readKernelLog(k: Kernel, options: LogOptions = {}): LogRead {
  const prb = k.global('prb');
  if (prb) return readRingBuffer(k, k.deref(prb, "the kernel's 'prb'"), options);
  const logBuf = k.global('log_buf');
  if (logBuf) return readLogBuf(k, options);
  throw new LinuxError("dmesg needs the kernel's printk buffer ('prb' or 'log_buf'), which its DWARF does not describe");
}

/** The lockless ring buffer (5.10+): descriptors from tail_id to head_id, each naming its text block. */
function readRingBuffer(k: Kernel, rb: Value, options: LogOptions): LogRead {
  const descRing = k.field(rb, 'desc_ring', FEATURE);
  const textRing = k.field(rb, 'text_data_ring', FEATURE);
  const countBits = Number(k.int(k.field(descRing, 'count_bits', FEATURE), 'the descriptor count of the printk ring'));
  const sizeBits = Number(k.int(k.field(textRing, 'size_bits', FEATURE), 'the text size of the printk ring'));
  if (countBits < 0 || countBits > MAX_DESC_BITS || sizeBits < 0 || sizeBits > MAX_TEXT_BITS) {
    throw new LinuxError(`the printk ring buffer looks damaged (2^${countBits} descriptors, 2^${sizeBits} bytes of text)`);
  }
  const count = 1n << BigInt(countBits);
  const textSize = 1n << BigInt(sizeBits);
  const descsPtr = k.field(descRing, 'descs', FEATURE);
  const infosPtr = k.field(descRing, 'infos', FEATURE);
  const descs = k.int(descsPtr, 'the printk descriptors');
  const infos = k.int(infosPtr, 'the printk infos');
  const textData = k.int(k.field(textRing, 'data', FEATURE), 'the printk text');
  const descType = pointee(descsPtr, 'struct prb_desc');
  const infoType = pointee(infosPtr, 'struct printk_info');
  const descSize = sizeOf(descType);
  const infoSize = sizeOf(infoType);
  if (descSize === 0 || infoSize === 0) throw new LinuxError("dmesg: this kernel's DWARF gives struct prb_desc or struct printk_info no size");
  const longSize = BigInt(k.frame.addressSize);
  const bits = longSize * 8n;
  const idMask = (1n << (bits - 2n)) - 1n;
  const headId = k.int(k.field(descRing, 'head_id', FEATURE), 'the printk head id') & idMask;
  const tailId = k.int(k.field(descRing, 'tail_id', FEATURE), 'the printk tail id') & idMask;

  const records: LogRecord[] = [];
  let nextSeq = 0;
  // From head back to tail, each id once (at most `count` descriptors), so a
  // poll for what is new (afterSeq) or the last N reads only those.
  let id = headId;
  for (let n = 0n; n < count; n++) {
    const index = id & (count - 1n);
    const descBytes = k.mustRead(descs + index * BigInt(descSize), descSize, `printk descriptor ${index}`);
    const desc = rvalue(descType, descBytes, k.frame);
    const stateVar = BigInt.asUintN(Number(bits), k.int(k.field(desc, 'state_var', FEATURE), 'a printk descriptor state'));
    const state = stateVar >> (bits - 2n);
    const valid = (stateVar & idMask) === id && (state === DESC_COMMITTED || state === DESC_FINALIZED);
    if (valid) {
      const info = rvalue(infoType, k.mustRead(infos + index * BigInt(infoSize), infoSize, `printk info ${index}`), k.frame);
      const seq = Number(k.int(k.field(info, 'seq', FEATURE), 'a printk record number'));
      nextSeq = Math.max(nextSeq, seq + 1);
      if (options.afterSeq !== undefined && seq <= options.afterSeq) break;
      const lpos = k.field(desc, 'text_blk_lpos', FEATURE);
      const begin = k.int(k.field(lpos, 'begin', FEATURE), 'a printk text position');
      const next = k.int(k.field(lpos, 'next', FEATURE), 'a printk text position');
      const textLen = Number(k.int(k.field(info, 'text_len', FEATURE), 'a printk text length'));
      records.push({
        seq,
        tsNsec: k.int(k.field(info, 'ts_nsec', FEATURE), 'a printk timestamp'),
        level: Number(k.int(k.field(info, 'level', FEATURE), 'a printk level')),
        facility: Number(k.int(k.field(info, 'facility', FEATURE), 'a printk facility')),
        callerId: optionalInt(k, info, 'caller_id'),
        text: blockText(k, textData, textSize, begin, next, textLen, longSize),
      });
      if (options.last !== undefined && records.length >= options.last) break;
    }
    if (id === tailId) break;
    id = (id - 1n) & idMask;
  }
  records.sort((a, b) => a.seq - b.seq);
  return { records: lastOf(records, options.last), nextSeq, source: 'printk_ringbuffer' };
}

/**
 * A record's text in the data ring, as the kernel's get_data() finds it: a
 * block starts with the descriptor id (an unsigned long), then the text; a
 * block that would wrap is stored whole at the ring's start, its `begin`
 * one wrap behind its `next`. Odd positions (FAILED_LPOS, NO_LPOS) mean
 * the record has no data.
 */
function blockText(k: Kernel, data: bigint, size: bigint, begin: bigint, next: bigint, textLen: number, longSize: bigint): string {
  if ((begin & 1n) !== 0n) return '';
  // Positions are unsigned longs that start one ring below 2^64 (BLK0_LPOS) and wrap around.
  const mask = (1n << (longSize * 8n)) - 1n;
  const wraps = (lpos: bigint): bigint => (lpos & mask) / size;
  let start: bigint;
  let dataSize: bigint;
  if (wraps(begin) === wraps(next) && begin < next) {
    start = begin & (size - 1n);
    dataSize = next - begin;
  } else if (wraps(begin + size) === wraps(next)) {
    start = 0n;
    dataSize = next & (size - 1n);
  } else {
    return '<damaged record>';
  }
  if (dataSize < longSize || start + dataSize > size) return '<damaged record>';
  const length = Math.min(textLen, Number(dataSize - longSize), MAX_RECORD_TEXT);
  if (length <= 0) return '';
  const at = data + start + longSize;
  const bytes = k.bytes(at, length);
  if (!bytes) return `<text unreadable at 0x${at.toString(16)}>`;
  return Buffer.from(bytes).toString('utf8');
}

/**
 * The log_buf of kernels before 5.10: `struct printk_log` headers, each
 * followed by its text, from log_first_idx for log_next_seq - log_first_seq
 * records; a header with len 0 means "continue at the start of the buffer".
 */
function readLogBuf(k: Kernel, options: LogOptions): LogRead {
  const buf = k.int(k.need('log_buf', FEATURE), "the kernel's log_buf");
  const bufLen = k.int(k.need('log_buf_len', FEATURE), "the kernel's log_buf_len");
  let idx = k.int(k.need('log_first_idx', FEATURE), "the kernel's log_first_idx");
  const firstSeq = Number(k.int(k.need('log_first_seq', FEATURE), "the kernel's log_first_seq"));
  const nextSeq = Number(k.int(k.need('log_next_seq', FEATURE), "the kernel's log_next_seq"));
  const header = k.type('struct printk_log');
  if (!header) throw new LinuxError("dmesg needs the kernel's 'struct printk_log', which its DWARF does not describe");
  const headerSize = BigInt(sizeOf(header));
  if (bufLen <= 0n || bufLen > 1n << BigInt(MAX_TEXT_BITS) || headerSize === 0n) throw new LinuxError(`the kernel's log_buf looks damaged (${bufLen} bytes)`);
  const records: LogRecord[] = [];
  let wraps = 0;
  for (let seq = firstSeq; seq < nextSeq && records.length < 1 << 20; ) {
    if (idx + headerSize > bufLen) { idx = 0n; if (++wraps > 2) break; continue; }
    const h = rvalue(header, k.mustRead(buf + idx, Number(headerSize), `the log record at log_buf+${idx}`), k.frame);
    const len = k.int(k.field(h, 'len', FEATURE), 'a log record length');
    if (len === 0n) { idx = 0n; if (++wraps > 2) break; continue; }
    const textLen = Number(k.int(k.field(h, 'text_len', FEATURE), 'a log text length'));
    if (options.afterSeq === undefined || seq > options.afterSeq) {
      const text = k.bytes(buf + idx + headerSize, Math.min(textLen, MAX_RECORD_TEXT, Number(bufLen - idx - headerSize)));
      records.push({
        seq,
        tsNsec: k.int(k.field(h, 'ts_nsec', FEATURE), 'a log timestamp'),
        level: Number(k.int(k.field(h, 'level', FEATURE), 'a log level')),
        facility: Number(k.int(k.field(h, 'facility', FEATURE), 'a log facility')),
        callerId: optionalInt(k, h, 'caller_id'),
        text: text ? Buffer.from(text).toString('utf8') : '<text unreadable>',
      });
    }
    if (len < headerSize) break;
    idx += len;
    seq++;
  }
  return { records: lastOf(records, options.last), nextSeq, source: 'log_buf' };
}

function pointee(p: Value, name: string): ReturnType<typeof strip> {
  const t = strip(p.type);
  if (t.kind !== 'pointer') throw new LinuxError(`dmesg: the kernel's ${name} pointer is not a pointer in its DWARF`);
  const target = strip(t.target());
  if (target.kind !== 'struct') throw new LinuxError(`dmesg: this kernel's DWARF does not describe ${name}`);
  return target;
}

function optionalInt(k: Kernel, v: Value, name: string): number | undefined {
  const m = k.member(v, name);
  return m ? Number(k.int(m, name)) : undefined;
}

function lastOf<T>(items: T[], last: number | undefined): T[] {
  return last !== undefined && last >= 0 && items.length > last ? items.slice(items.length - last) : items;
}

/** `[    1.234567] text`, one line per line of the record, as dmesg prints it. */
export function formatRecord(r: LogRecord): string {
  const stamp = formatTimestamp(r.tsNsec);
  const lines = r.text.replace(/\n+$/, '').split('\n');
  return lines.map((l) => `${stamp} ${l}`).join('\n');
}

export function formatTimestamp(tsNsec: bigint): string {
  const secs = tsNsec / 1_000_000_000n;
  const micros = (tsNsec % 1_000_000_000n) / 1000n;
  return `[${secs.toString().padStart(5, ' ')}.${micros.toString().padStart(6, '0')}]`;
}
