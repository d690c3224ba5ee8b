/**
 * A small printk-style formatter: what panic("...%s...", ...) would have
 * printed, from its format string and its arguments as the x86-64 calling
 * convention passed them (rsi, rdx, rcx, r8, r9, then the stack). The
 * kernel's conversions: %d %i %u %x %X %o %c %s %p (with %pS/%ps/%pB
 * symbolized, other %p extensions shown as the pointer), %%, flags, width,
 * precision (also `*`), length modifiers h hh l ll z t j L.
 *
 * Hostile input: the format and each %s string are read with bounds, at
 * most MAX_ARGS arguments are taken, and the output stops at MAX_OUTPUT
 * characters; an argument that cannot be read shows as `<?>`.
 */
export interface PrintkArgs {
  /** The next argument (a 64-bit register or stack slot), or undefined when there is none readable. */
  next(): bigint | undefined;
  /** A NUL-terminated string at `address`, at most `max` bytes, or undefined when unreadable. */
  string(address: bigint, max: number): string | undefined;
  /** `name+0x1a/0x40`-style text for a code address, when the symbols know it. */
  symbolize?(address: bigint): string | undefined;
}

export const MAX_OUTPUT = 1024;
const MAX_ARGS = 32;
const MAX_STRING = 512;

export function formatPrintk(fmt: string, args: PrintkArgs): string {
  let out = '';
  let taken = 0;
  const next = (): bigint | undefined => (taken++ < MAX_ARGS ? args.next() : undefined);
  // KERN_* prefixes: SOH and a level character at the start.
  let i = 0;
  while (fmt.charCodeAt(i) === 1 && i + 1 < fmt.length) i += 2;
  for (; i < fmt.length && out.length < MAX_OUTPUT; i++) {
    const c = fmt[i];
    if (c !== '%') { out += c; continue; }
    const m = /^%([-+ #0]*)(\*|\d+)?(?:\.(\*|\d+))?(hh|h|ll|l|z|t|j|L)?([diouxXcsp%])/.exec(fmt.slice(i));
    if (!m) { out += c; continue; }
    i += m[0].length - 1;
    const [, flags, widthText, precisionText, length, conv] = m;
    if (conv === '%') { out += '%'; continue; }
    const width = widthText === '*' ? Number(BigInt.asIntN(32, next() ?? 0n)) : widthText ? Number(widthText) : undefined;
    const precision = precisionText === '*' ? Number(BigInt.asIntN(32, next() ?? 0n)) : precisionText !== undefined ? Number(precisionText) : undefined;
    const arg = next();
    let text: string;
    if (arg === undefined) text = '<?>';
    else if (conv === 's') {
      const max = Math.min(precision !== undefined && precision >= 0 ? precision : MAX_STRING, MAX_STRING);
      text = arg === 0n ? '(null)' : args.string(arg, max) ?? `<unreadable string at 0x${arg.toString(16)}>`;
    } else if (conv === 'c') {
      text = String.fromCharCode(Number(arg & 0xffn));
    } else if (conv === 'p') {
      // The kernel's %p extensions: a letter (and more) after the p.
      const ext = /^[a-zA-Z]+/.exec(fmt.slice(i + 1))?.[0] ?? '';
      i += ext.length;
      const sym = /^[SsBFf]/.test(ext) ? args.symbolize?.(arg) : undefined;
      text = sym ?? '0x' + arg.toString(16).padStart(16, '0');
    } else {
      text = integer(arg, conv, length, flags, precision);
    }
    out += pad(text, width, flags);
  }
  return out.length > MAX_OUTPUT ? out.slice(0, MAX_OUTPUT) + '...' : out;
}

function integer(raw: bigint, conv: string, length: string | undefined, flags: string, precision: number | undefined): string {
  const bits = length === 'hh' ? 8 : length === 'h' ? 16 : length === 'l' || length === 'll' || length === 'z' || length === 't' || length === 'j' || length === 'L' ? 64 : 32;
  const signed = conv === 'd' || conv === 'i';
  const v = signed ? BigInt.asIntN(bits, raw) : BigInt.asUintN(bits, raw);
  const negative = v < 0n;
  const magnitude = negative ? -v : v;
  let digits = conv === 'x' ? magnitude.toString(16) : conv === 'X' ? magnitude.toString(16).toUpperCase() : conv === 'o' ? magnitude.toString(8) : magnitude.toString(10);
  if (precision !== undefined && precision >= 0) digits = digits.padStart(precision, '0');
  let prefix = negative ? '-' : signed && flags.includes('+') ? '+' : signed && flags.includes(' ') ? ' ' : '';
  if (flags.includes('#') && magnitude !== 0n) prefix += conv === 'x' ? '0x' : conv === 'X' ? '0X' : conv === 'o' ? '0' : '';
  return prefix + digits;
}

function pad(text: string, width: number | undefined, flags: string): string {
  if (width === undefined || text.length >= Math.abs(width)) return text;
  const w = Math.min(Math.abs(width), MAX_OUTPUT);
  if (flags.includes('-') || width < 0) return text.padEnd(w, ' ');
  if (flags.includes('0') && /^[-+ ]?(0[xX])?[0-9a-fA-F]+$/.test(text)) {
    const sign = /^[-+ ]?(0[xX])?/.exec(text)![0];
    return sign + text.slice(sign.length).padStart(w - sign.length, '0');
  }
  return text.padStart(w, ' ');
}

/**
 * The arguments of a variadic function at its first instruction: after
 * `fixed` named register arguments, the rest of rdi, rsi, rdx, rcx, r8, r9,
 * then the stack above the return address.
 */
export function variadicArgs(regs: { rdi: bigint; rsi: bigint; rdx: bigint; rcx: bigint; r8: bigint; r9: bigint; rsp: bigint }, fixed: number,
  readU64: (address: bigint) => bigint | undefined): () => bigint | undefined {
  const inRegs = [regs.rdi, regs.rsi, regs.rdx, regs.rcx, regs.r8, regs.r9].slice(fixed);
  let stack = 0;
  return () => {
    if (inRegs.length > 0) return inRegs.shift();
    return readU64(regs.rsp + 8n + BigInt(8 * stack++));
  };
}
