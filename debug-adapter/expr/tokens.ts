/**
 * C's tokens, as far as expressions use them, plus the debugger's own:
 * `$rip` (registers, `$task`), and `'sym.cold'` quoting an ELF symbol whose
 * name C cannot spell (gdb's convention). Numbers keep their C suffixes and
 * radix, which decide their type (0xffffffff is unsigned int, 4294967296 long).
 */
import { ExprError } from './errors';

export type Token =
  | { kind: 'int'; value: bigint; unsigned: boolean; long: boolean; decimal: boolean; pos: number; text: string }
  | { kind: 'float'; value: number; single: boolean; pos: number; text: string }
  | { kind: 'char'; value: number; pos: number; text: string }
  | { kind: 'string'; bytes: Uint8Array; pos: number; text: string }
  | { kind: 'id'; name: string; pos: number; text: string }
  | { kind: 'op'; op: string; pos: number; text: string }
  | { kind: 'end'; pos: number; text: string };

const OPS = [
  '->', '++', '--', '<<', '>>', '<=', '>=', '==', '!=', '&&', '||',
  '+', '-', '*', '/', '%', '&', '|', '^', '~', '!', '<', '>', '(', ')', '[', ']', '.', ',', '?', ':', '=',
];

const ESCAPES: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, e: 27, '\\': 92, "'": 39, '"': 34, '?': 63 };

export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) { i++; continue; }
    const rest = text.slice(i);
    const num = /^(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)([a-zA-Z_]*)/.exec(rest);
    if (num) {
      out.push(number(num[0], num[1], i, text));
      i += num[0].length;
      continue;
    }
    const id = /^\$?[A-Za-z_][A-Za-z0-9_]*|^\$[0-9A-Za-z_]+/.exec(rest);
    if (id) { out.push({ kind: 'id', name: id[0], pos: i, text: id[0] }); i += id[0].length; continue; }
    if (c === "'" || c === '"') {
      const end = closing(text, i);
      const body = text.slice(i + 1, end);
      const bytes = unescape(body, i, text);
      const raw = text.slice(i, end + 1);
      if (c === '"') out.push({ kind: 'string', bytes, pos: i, text: raw });
      else if (bytes.length === 1) out.push({ kind: 'char', value: bytes[0], pos: i, text: raw });
      else if (/^[A-Za-z_.$][\w.$@]*$/.test(body)) out.push({ kind: 'id', name: body, pos: i, text: raw });
      else throw new ExprError(`${raw} is neither one character nor a symbol name`);
      i = end + 1;
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (!op) throw new ExprError(`unexpected "${c}" at position ${i + 1} of "${text.trim()}"`);
    out.push({ kind: 'op', op, pos: i, text: op });
    i += op.length;
  }
  out.push({ kind: 'end', pos: text.length, text: '' });
  return out;
}

function number(raw: string, suffix: string, pos: number, source: string): Token {
  const body = raw.slice(0, raw.length - suffix.length).replace(/_/g, '');
  const isHex = /^0x/i.test(body);
  if (!isHex && /[.eE]/.test(body) || (/^[fF]$/.test(suffix) && !isHex)) {
    if (!/^[fFlL]?$/.test(suffix)) throw new ExprError(`"${raw}": "${suffix}" is not a floating suffix`);
    return { kind: 'float', value: Number(body), single: /f/i.test(suffix), pos, text: raw };
  }
  const s = suffix.toLowerCase();
  if (!/^(u|l|ul|lu|ll|ull|llu)?$/.test(s)) throw new ExprError(`"${source.slice(pos, pos + raw.length)}": a number cannot run into a name`);
  let value: bigint;
  if (/^0[bB]/.test(body)) value = BigInt(body);
  else if (isHex) value = BigInt(body);
  else if (/^0[0-7]+$/.test(body)) value = BigInt('0o' + body.slice(1));
  else if (/^0\d+$/.test(body)) throw new ExprError(`"${raw}" is not an octal number`);
  else value = BigInt(body);
  return { kind: 'int', value, unsigned: s.includes('u'), long: s.includes('l'), decimal: !/^0./.test(body), pos, text: raw };
}

/** The index of the quote closing the literal that opens at `start`. */
function closing(text: string, start: number): number {
  const q = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') { i++; continue; }
    if (text[i] === q) return i;
  }
  throw new ExprError(`the ${q === '"' ? 'string' : 'character'} at position ${start + 1} is not closed`);
}

function unescape(body: string, pos: number, source: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      for (const b of Buffer.from(c, 'utf8')) out.push(b);
      continue;
    }
    const e = body[++i];
    if (e === undefined) throw new ExprError(`a "\\" ends the literal at position ${pos + 1} of "${source.trim()}"`);
    if (e in ESCAPES) { out.push(ESCAPES[e]); continue; }
    const oct = /^[0-7]{1,3}/.exec(body.slice(i));
    if (oct) { out.push(parseInt(oct[0], 8) & 0xff); i += oct[0].length - 1; continue; }
    const hx = /^x([0-9a-fA-F]{1,2})/.exec(body.slice(i));
    if (hx) { out.push(parseInt(hx[1], 16)); i += hx[0].length - 1; continue; }
    throw new ExprError(`"\\${e}" is not an escape C knows`);
  }
  return Uint8Array.from(out);
}
