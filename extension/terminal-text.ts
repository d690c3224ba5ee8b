/** Console text for xterm (no VS Code here, unit-tested). */
/** Bare LF -> CRLF (a serial console usually sends CRLF already; xterm needs CR). */
export function toTerminalText(text: string, prevEndedWithCr: boolean): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n' && !(i === 0 ? prevEndedWithCr : text[i - 1] === '\r')) out += '\r';
    out += c;
  }
  return out;
}
