/**
 * The one-line text VS Code shows for a value (the Variables view, hovers,
 * the debug console): gdb's conventions where people know them (`65 'A'`,
 * `0x... <symbol+0x10>`, `(RED | BLUE)`, `<optimized out>`), and short
 * summaries of aggregates (`{a = 1, b = 2, ...}`, `[300] {0, 1, 4, ...}`)
 * since their members are one click away.
 *
 * A value that cannot be read is shown as why (`<cannot read 8 bytes at
 * 0x...>`); inside a summary only that member says so.
 */
import type { ArrayType, CType, EnumType, RecordType } from '../dwarf/model';
import { arrayCount, arrayElement, flatMembers, isCharType, sizeOf, strip } from './ctype';
import { quoteChar, quoteString, readCString } from './c-string';
import { loadConfig, type LoadConfig } from './load-config';
import { elementValue, floatValue, hex, intValue, memberValue, readBytes, subLocation, ValueError, type Value } from './value';

export interface FormatOptions {
  /** DAP ValueFormat.hex: integers in hex. */
  hex?: boolean;
  /** `start_kernel` or `start_kernel+0x10` for an address inside a symbol, else undefined. */
  symbolize?(address: bigint): string | undefined;
  limits?: Partial<LoadConfig>;
}

export function formatValue(v: Value, options: FormatOptions = {}): string {
  return format(v, options, loadConfig(options.limits), 0);
}

/** The text for a reading problem: `<optimized out>`, `<cannot read 8 bytes at 0x1000>`. */
export function problemText(e: unknown): string {
  if (!(e instanceof ValueError)) throw e;
  return `<${e.message.replace(/ \(not mapped\)$/, '')}>`;
}

function format(v: Value, o: FormatOptions, limits: LoadConfig, depth: number): string {
  try {
    const t = strip(v.type);
    switch (t.kind) {
      case 'base': return formatBase(v, t.encoding, o);
      case 'enum': return formatEnum(t, intValue(v), o);
      case 'pointer': return formatPointer(v, t.target(), o, limits);
      case 'struct': case 'union': return depth >= limits.maxSummaryDepth + 1 ? '{...}' : formatRecord(v, t, o, limits, depth);
      case 'array': return formatArray(v, t, o, limits, depth);
      case 'void': return 'void';
      case 'function': return v.location.kind === 'memory' ? withSymbol(v.location.address, o) : '{function}';
    }
  } catch (e) {
    return problemText(e);
  }
  return '?';
}

function formatBase(v: Value, encoding: string, o: FormatOptions): string {
  switch (encoding) {
    case 'float': return formatFloat(floatValue(v), sizeOf(v.type));
    case 'complex-float': {
      const half = sizeOf(v.type) / 2;
      const part = (at: number): number => floatValue({ ...v, type: { kind: 'base', name: 'float', size: half, encoding: 'float' }, location: subLocation(v.location, at, half) });
      const im = part(half);
      return `${formatFloat(part(0), half)} ${im < 0 || Object.is(im, -0) ? '-' : '+'} ${formatFloat(Math.abs(im), half)}i`;
    }
    case 'bool': {
      const n = intValue(v);
      return n === 0n ? 'false' : n === 1n ? 'true' : n.toString();
    }
  }
  const n = intValue(v);
  const text = formatInt(n, v.bits ? v.bits.size : sizeOf(v.type) * 8, o.hex);
  return isCharType(v.type) && !v.bits ? `${text} ${quoteChar(Number(BigInt.asUintN(8, n)))}` : text;
}

/** Decimal, or hex as the type's bits hold it (an int -1 is 0xffffffff, as gdb's p/x shows it). */
export function formatInt(n: bigint, bits: number, asHex?: boolean): string {
  return asHex ? '0x' + BigInt.asUintN(bits, n).toString(16) : n.toString();
}

/** The shortest text that reads back as the same float (or double). */
export function formatFloat(x: number, size: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x < 0 ? '-inf' : 'inf';
  if (size === 4) {
    for (let p = 1; p <= 9; p++) {
      const s = Number(x.toPrecision(p));
      if (Math.fround(s) === x) return String(s);
    }
  }
  return String(x);
}

/**
 * An enum by its enumerator's name; a "flag enum" (enumerators on disjoint
 * bits) as the names of its set bits, `(RED | BLUE)`, with what is left
 * as `unknown: 0x8`; any other value as its number.
 */
export function formatEnum(t: EnumType, n: bigint, o: FormatOptions = {}): string {
  const exact = t.enumerators.find((e) => e.value === n);
  if (exact) return exact.name;
  const number = formatInt(n, t.size * 8, o.hex);
  if (n <= 0n || !isFlagEnum(t)) return number;
  const names: string[] = [];
  let rest = n;
  for (const e of t.enumerators) {
    if (e.value !== 0n && (n & e.value) === e.value) {
      names.push(e.name);
      rest &= ~e.value;
    }
  }
  if (names.length === 0) return number;
  if (rest !== 0n) names.push(`unknown: ${hex(rest)}`);
  return `(${names.join(' | ')})`;
}

function isFlagEnum(t: EnumType): boolean {
  let seen = 0n;
  for (const e of t.enumerators) {
    if (e.value < 0n) return false;
    if ((seen & e.value) !== 0n) return false;
    seen |= e.value;
  }
  return seen !== 0n;
}

function withSymbol(address: bigint, o: FormatOptions): string {
  const sym = address === 0n ? undefined : o.symbolize?.(address);
  return sym ? `${hex(address)} <${sym}>` : hex(address);
}

function formatPointer(v: Value, target: CType, o: FormatOptions, limits: LoadConfig): string {
  const address = BigInt.asUintN(sizeOf(v.type) * 8, intValue(v));
  if (address === 0n) return '0x0';
  if (isCharType(target)) {
    let s: string;
    try {
      const str = readCString(v.frame, address, limits.maxStringLength);
      s = quoteString(str.bytes, str.truncated);
    } catch (e) {
      s = problemText(e);
    }
    return `${hex(address)} ${s}`;
  }
  return withSymbol(address, o);
}

/** A summary: `{a = 1, b = 2, ...}`, each member formatted on its own (one unreadable member does not hide the others). */
function formatRecord(v: Value, t: RecordType, o: FormatOptions, limits: LoadConfig, depth: number): string {
  if (t.declaration) return `<incomplete type ${t.kind} ${t.name ?? ''}>`.replace(' >', '>');
  const items: string[] = [];
  const members = flatMembers(t);
  for (const m of members) {
    const child: Value = memberValue(v, m);
    items.push(`${m.name} = ${format(child, o, limits, depth + 1)}`);
    if (overBudget(items, limits) && items.length < members.length) return summary(items, true);
  }
  return summary(items, false);
}

function formatArray(v: Value, t: ArrayType, o: FormatOptions, limits: LoadConfig, depth: number): string {
  const element = arrayElement(t);
  const count = arrayCount(t);
  if (isCharType(element) && t.counts.length === 1) {
    const n = Math.min(count ?? limits.maxStringLength, limits.maxStringLength);
    const bytes = readBytes(v, n);
    const nul = bytes.indexOf(0);
    return quoteString(nul >= 0 ? bytes.subarray(0, nul) : bytes, nul < 0 && (count === undefined || count > n));
  }
  if (count === undefined) return '[] {...}';
  if (depth >= limits.maxSummaryDepth + 1) return `[${count}] {...}`;
  const items: string[] = [];
  for (let i = 0; i < count; i++) {
    items.push(format(elementValue(v, element, i), o, limits, depth + 1));
    if (overBudget(items, limits) && i + 1 < count) return `[${count}] ${summary(items, true)}`;
  }
  return `[${count}] ${summary(items, false)}`;
}

function overBudget(items: string[], limits: LoadConfig): boolean {
  return items.length >= limits.maxSummaryItems || items.join(', ').length >= limits.maxSummaryLength;
}

function summary(items: string[], more: boolean): string {
  return `{${items.join(', ')}${more ? ', ...' : ''}}`;
}
