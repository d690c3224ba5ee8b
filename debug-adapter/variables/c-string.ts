/**
 * C characters and strings as C source writes them: escapes for what is
 * not printable ASCII (gdb's octal `\303`, so every byte is shown exactly),
 * and reading a NUL-terminated string from guest memory a page at a time
 * (a string may end just before an unmapped page).
 */
import type { FrameContext } from '../dwarf/model';
import { unreadable } from './value';

const NAMED: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 92: '\\\\' };

/** One byte inside quotes `quote` (`'` or `"`): the other quote is left alone. */
export function escapeByte(byte: number, quote: string): string {
  if (NAMED[byte]) return NAMED[byte];
  if (byte === quote.charCodeAt(0)) return '\\' + quote;
  if (byte >= 0x20 && byte < 0x7f) return String.fromCharCode(byte);
  return '\\' + byte.toString(8).padStart(3, '0');
}

export function quoteString(bytes: Uint8Array, truncated: boolean): string {
  let s = '"';
  for (const b of bytes) s += escapeByte(b, '"');
  return s + '"' + (truncated ? '...' : '');
}

export function quoteChar(byte: number): string {
  return `'${escapeByte(byte & 0xff, "'")}'`;
}

export interface CString { bytes: Uint8Array; /** Cut at the length limit (no NUL seen). */ truncated: boolean }

const PAGE = 4096n;

/** Up to `max` bytes of the NUL-terminated string at `address`; throws ValueError when its first byte cannot be read. */
export function readCString(frame: FrameContext, address: bigint, max: number): CString {
  const out: number[] = [];
  let at = address;
  while (out.length < max) {
    const chunk = Math.min(max - out.length, Number(PAGE - (at % PAGE)));
    const bytes = frame.readMemory(at, chunk);
    if (!bytes || bytes.length < chunk) {
      if (out.length === 0) throw unreadable(at, 1);
      // The rest lies in an unmapped page: what was read is the string.
      return { bytes: Uint8Array.from(out), truncated: true };
    }
    for (const b of bytes) {
      if (b === 0) return { bytes: Uint8Array.from(out), truncated: false };
      out.push(b);
    }
    at += BigInt(chunk);
  }
  // Exactly `max` characters and then a NUL is not truncated.
  const next = frame.readMemory(at, 1);
  return { bytes: Uint8Array.from(out), truncated: !(next && next[0] === 0) };
}
