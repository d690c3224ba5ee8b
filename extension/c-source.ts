/**
 * What a C source line says to a debugger, without a C parser: the member
 * chain under the mouse (`rq->curr->comm`, `p->se.vruntime`, `arr[i].x`)
 * for hovers, and the variables named on the lines of the function the
 * debugger stopped in, for inline values. Pure text functions (no vscode),
 * unit-tested; extension/c-language.ts hands them to VS Code.
 */

export interface TextSpan { start: number; end: number; text: string }

const IDENT = /[A-Za-z_$][A-Za-z0-9_$]*/y;

/** C keywords and common macros that are never variables: no inline value, no hover. */
const NOT_VARIABLES = new Set([
  'auto', 'break', 'case', 'char', 'const', 'continue', 'default', 'do', 'double', 'else', 'enum', 'extern',
  'float', 'for', 'goto', 'if', 'inline', 'int', 'long', 'register', 'restrict', 'return', 'short', 'signed',
  'sizeof', 'static', 'struct', 'switch', 'typedef', 'union', 'unsigned', 'void', 'volatile', 'while',
  '_Bool', 'bool', 'true', 'false', 'NULL', '__attribute__', 'asm', '__asm__', 'typeof', '__typeof__',
  'likely', 'unlikely', 'u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'size_t',
  'uint8_t', 'uint16_t', 'uint32_t', 'uint64_t', 'int8_t', 'int16_t', 'int32_t', 'int64_t',
]);

/**
 * The expression to evaluate for a hover at `column` of `line`: the member
 * chain from its first identifier up to and including the identifier under
 * the cursor (hovering `curr` in `rq->curr->comm` gives `rq->curr`), with
 * subscripts kept when they are plain (`arr[3].x`, `a[i]`). Undefined when
 * the cursor is not on an identifier, or is in a comment or a string.
 */
export function hoverExpression(line: string, column: number): TextSpan | undefined {
  if (insideCommentOrString(line, column)) return undefined;
  const word = identifierAt(line, column);
  if (!word || NOT_VARIABLES.has(word.text) || /^[0-9]/.test(word.text)) return undefined;
  let start = word.start;
  // Walk left over `.name`, `->name` and `[subscript]` links.
  for (;;) {
    let at = skipSpaceLeft(line, start);
    let link = '';
    if (line.slice(at - 2, at) === '->') link = '->';
    else if (line[at - 1] === '.' && !/[0-9]/.test(line[at - 2] ?? '')) link = '.';
    if (link) {
      at = skipSpaceLeft(line, at - link.length);
      const prev = endingBefore(line, at);
      if (!prev) break;
      start = prev;
      continue;
    }
    break;
  }
  const text = line.slice(start, word.end).replace(/\s+/g, '');
  return { start, end: word.end, text };
}

/** The identifier (with any subscripts and links before it resolved by the caller) covering `column`. */
function identifierAt(line: string, column: number): TextSpan | undefined {
  let start = Math.min(column, line.length);
  while (start > 0 && /[A-Za-z0-9_$]/.test(line[start - 1])) start--;
  IDENT.lastIndex = start;
  const m = IDENT.exec(line);
  if (!m || m.index !== start || start + m[0].length < column) return undefined;
  return { start, end: start + m[0].length, text: m[0] };
}

/** Where the operand that ends at `end` starts: an identifier, optionally followed by plain subscripts (`a[i][2]`). */
function endingBefore(line: string, end: number): number | undefined {
  let at = end;
  while (line[at - 1] === ']') {
    const open = line.lastIndexOf('[', at - 1);
    if (open < 0 || !/^[A-Za-z0-9_$ +\-*]*$/.test(line.slice(open + 1, at - 1))) return undefined;
    at = skipSpaceLeft(line, open);
  }
  let start = at;
  while (start > 0 && /[A-Za-z0-9_$]/.test(line[start - 1])) start--;
  if (start === at || /[0-9]/.test(line[start])) return undefined;
  return start;
}

function skipSpaceLeft(line: string, at: number): number {
  while (at > 0 && (line[at - 1] === ' ' || line[at - 1] === '\t')) at--;
  return at;
}

/** Whether `column` is inside a // or /* comment or a string/char literal that starts on this line. */
function insideCommentOrString(line: string, column: number): boolean {
  let quote = '';
  for (let i = 0; i < column && i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === '\'') quote = c;
    else if (line.startsWith('//', i)) return true;
    else if (line.startsWith('/*', i)) {
      const close = line.indexOf('*/', i + 2);
      if (close < 0 || close + 2 > column) return true;
      i = close + 1;
    }
  }
  return quote !== '';
}

/** One name to show an inline value for: line (0-based) and its span on the line. */
export interface InlineName { line: number; start: number; end: number; name: string }

/**
 * The variables worth an inline value while stopped at `stoppedLine`
 * (0-based): every identifier on the lines from the start of the enclosing
 * function body (the nearest line above that opens a brace in column 0, or
 * a function header ending in `{`) to the stopped line, once per line, not
 * keywords, not called functions (`foo(`), not members after `.`/`->`
 * (their chains are the hover's job), not in comments or strings.
 * VS Code looks each name up in the frame's Variables, so names that are
 * not variables there simply show nothing.
 */
export function inlineValueNames(lines: readonly string[], stoppedLine: number, maxLines = 200): InlineName[] {
  const last = Math.min(stoppedLine, lines.length - 1);
  let first = last;
  while (first > 0 && last - first < maxLines && !opensFunctionBody(lines[first])) first--;
  const out: InlineName[] = [];
  let inBlockComment = false;
  for (let l = first; l <= last; l++) {
    const line = lines[l];
    const seen = new Set<string>();
    let i = 0;
    let quote = '';
    while (i < line.length) {
      if (inBlockComment) {
        const close = line.indexOf('*/', i);
        if (close < 0) { i = line.length; break; }
        inBlockComment = false;
        i = close + 2;
        continue;
      }
      const c = line[i];
      if (quote) {
        if (c === '\\') i++;
        else if (c === quote) quote = '';
        i++;
        continue;
      }
      if (c === '"' || c === '\'') { quote = c; i++; continue; }
      if (line.startsWith('//', i) || /^\s*#/.test(line)) break;
      if (line.startsWith('/*', i)) { inBlockComment = true; i += 2; continue; }
      IDENT.lastIndex = i;
      const m = /[A-Za-z_$]/.test(c) ? IDENT.exec(line) : null;
      if (!m) { i++; continue; }
      const name = m[0];
      const before = line.slice(0, i).trimEnd();
      const after = line.slice(i + name.length).trimStart();
      const isMember = before.endsWith('.') || before.endsWith('->');
      const isCall = after.startsWith('(');
      if (!isMember && !isCall && !NOT_VARIABLES.has(name) && !seen.has(name)) {
        seen.add(name);
        out.push({ line: l, start: i, end: i + name.length, name });
      }
      i += name.length;
    }
  }
  return out;
}

function opensFunctionBody(line: string): boolean {
  return /^\{/.test(line) || /^[A-Za-z_].*\)\s*\{\s*$/.test(line);
}
