/**
 * PC keyboard scan codes, by key. Keys are named as the DOM's
 * KeyboardEvent.code names physical keys ("KeyA", "Enter", "ArrowUp"), so
 * a webview's key events map straight through. Each key has its set 1 code
 * (XT, what a guest reads through the i8042's translation) and its set 2
 * code (AT, what it reads with translation off); 0xE0xx = E0-prefixed.
 * Release: set 1 sets bit 7 of the last byte, set 2 puts F0 before it.
 * PrintScreen and Pause have sequences of their own (makeCodes below).
 */

// [code, set 1, set 2]
const TABLE: [string, number, number][] = [
  ['Escape', 0x01, 0x76], ['Digit1', 0x02, 0x16], ['Digit2', 0x03, 0x1e], ['Digit3', 0x04, 0x26],
  ['Digit4', 0x05, 0x25], ['Digit5', 0x06, 0x2e], ['Digit6', 0x07, 0x36], ['Digit7', 0x08, 0x3d],
  ['Digit8', 0x09, 0x3e], ['Digit9', 0x0a, 0x46], ['Digit0', 0x0b, 0x45], ['Minus', 0x0c, 0x4e],
  ['Equal', 0x0d, 0x55], ['Backspace', 0x0e, 0x66], ['Tab', 0x0f, 0x0d], ['KeyQ', 0x10, 0x15],
  ['KeyW', 0x11, 0x1d], ['KeyE', 0x12, 0x24], ['KeyR', 0x13, 0x2d], ['KeyT', 0x14, 0x2c],
  ['KeyY', 0x15, 0x35], ['KeyU', 0x16, 0x3c], ['KeyI', 0x17, 0x43], ['KeyO', 0x18, 0x44],
  ['KeyP', 0x19, 0x4d], ['BracketLeft', 0x1a, 0x54], ['BracketRight', 0x1b, 0x5b], ['Enter', 0x1c, 0x5a],
  ['ControlLeft', 0x1d, 0x14], ['KeyA', 0x1e, 0x1c], ['KeyS', 0x1f, 0x1b], ['KeyD', 0x20, 0x23],
  ['KeyF', 0x21, 0x2b], ['KeyG', 0x22, 0x34], ['KeyH', 0x23, 0x33], ['KeyJ', 0x24, 0x3b],
  ['KeyK', 0x25, 0x42], ['KeyL', 0x26, 0x4b], ['Semicolon', 0x27, 0x4c], ['Quote', 0x28, 0x52],
  ['Backquote', 0x29, 0x0e], ['ShiftLeft', 0x2a, 0x12], ['Backslash', 0x2b, 0x5d], ['KeyZ', 0x2c, 0x1a],
  ['KeyX', 0x2d, 0x22], ['KeyC', 0x2e, 0x21], ['KeyV', 0x2f, 0x2a], ['KeyB', 0x30, 0x32],
  ['KeyN', 0x31, 0x31], ['KeyM', 0x32, 0x3a], ['Comma', 0x33, 0x41], ['Period', 0x34, 0x49],
  ['Slash', 0x35, 0x4a], ['ShiftRight', 0x36, 0x59], ['NumpadMultiply', 0x37, 0x7c], ['AltLeft', 0x38, 0x11],
  ['Space', 0x39, 0x29], ['CapsLock', 0x3a, 0x58], ['F1', 0x3b, 0x05], ['F2', 0x3c, 0x06],
  ['F3', 0x3d, 0x04], ['F4', 0x3e, 0x0c], ['F5', 0x3f, 0x03], ['F6', 0x40, 0x0b],
  ['F7', 0x41, 0x83], ['F8', 0x42, 0x0a], ['F9', 0x43, 0x01], ['F10', 0x44, 0x09],
  ['NumLock', 0x45, 0x77], ['ScrollLock', 0x46, 0x7e], ['Numpad7', 0x47, 0x6c], ['Numpad8', 0x48, 0x75],
  ['Numpad9', 0x49, 0x7d], ['NumpadSubtract', 0x4a, 0x7b], ['Numpad4', 0x4b, 0x6b], ['Numpad5', 0x4c, 0x73],
  ['Numpad6', 0x4d, 0x74], ['NumpadAdd', 0x4e, 0x79], ['Numpad1', 0x4f, 0x69], ['Numpad2', 0x50, 0x72],
  ['Numpad3', 0x51, 0x7a], ['Numpad0', 0x52, 0x70], ['NumpadDecimal', 0x53, 0x71], ['IntlBackslash', 0x56, 0x61],
  ['F11', 0x57, 0x78], ['F12', 0x58, 0x07],
  ['NumpadEnter', 0xe01c, 0xe05a], ['ControlRight', 0xe01d, 0xe014], ['NumpadDivide', 0xe035, 0xe04a],
  ['AltRight', 0xe038, 0xe011], ['Home', 0xe047, 0xe06c], ['ArrowUp', 0xe048, 0xe075], ['PageUp', 0xe049, 0xe07d],
  ['ArrowLeft', 0xe04b, 0xe06b], ['ArrowRight', 0xe04d, 0xe074], ['End', 0xe04f, 0xe069], ['ArrowDown', 0xe050, 0xe072],
  ['PageDown', 0xe051, 0xe07a], ['Insert', 0xe052, 0xe070], ['Delete', 0xe053, 0xe071], ['MetaLeft', 0xe05b, 0xe01f],
  ['MetaRight', 0xe05c, 0xe027], ['ContextMenu', 0xe05d, 0xe02f],
  // Sequences of their own (makeCodes): the table only gives them an index.
  ['PrintScreen', 0, 0], ['Pause', 0, 0],
];

/** Every key kvmdbg can press, by DOM code; a key's index is its number in the host-to-guest key ring. */
export const KEY_CODES: readonly string[] = TABLE.map(([c]) => c);
const INDEX = new Map(KEY_CODES.map((c, i) => [c, i]));

/** The release bit of a key's byte in the host-to-guest key ring (the rest is its KEY_CODES index). */
export const KEY_RELEASE = 0x80;
if (KEY_CODES.length > KEY_RELEASE) throw new Error('scancodes.ts: more keys than the key ring can name');

export function keyIndex(code: string): number | undefined {
  return INDEX.get(code);
}

const split = (c: number): number[] => (c > 0xff ? [0xe0, c & 0xff] : [c]);

/** The bytes a key sends in scan code set 1 or 2 (set 3 keyboards are rare: it reads as set 2), pressed or released. */
export function makeCodes(index: number, set: 1 | 2, down: boolean): number[] {
  const entry = TABLE[index];
  if (!entry) return [];
  const [code, s1, s2] = entry;
  if (code === 'PrintScreen') {
    if (set === 1) return down ? [0xe0, 0x2a, 0xe0, 0x37] : [0xe0, 0xb7, 0xe0, 0xaa];
    return down ? [0xe0, 0x12, 0xe0, 0x7c] : [0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12];
  }
  if (code === 'Pause') {
    // Pause sends make and break together when pressed, nothing on release.
    if (!down) return [];
    return set === 1 ? [0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5] : [0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77];
  }
  const bytes = split(set === 1 ? s1 : s2);
  if (down) return bytes;
  if (set === 1) { bytes[bytes.length - 1] |= 0x80; return bytes; }
  bytes.splice(bytes.length - 1, 0, 0xf0);
  return bytes;
}

/** One key going down or up, as the host sends it. */
export interface KeyEvent { code: string; down: boolean }

// US layout: the characters a string may hold, and the key (and Shift) that types each.
const PLAIN = '`1234567890-=qwertyuiop[]\\asdfghjkl;\'zxcvbnm,./ ';
const SHIFTED = '~!@#$%^&*()_+QWERTYUIOP{}|ASDFGHJKL:"ZXCVBNM<>? ';
const PLAIN_CODES = ['Backquote', 'Digit1', 'Digit2', 'Digit3', 'Digit4', 'Digit5', 'Digit6', 'Digit7', 'Digit8', 'Digit9',
  'Digit0', 'Minus', 'Equal', 'KeyQ', 'KeyW', 'KeyE', 'KeyR', 'KeyT', 'KeyY', 'KeyU', 'KeyI', 'KeyO', 'KeyP',
  'BracketLeft', 'BracketRight', 'Backslash', 'KeyA', 'KeyS', 'KeyD', 'KeyF', 'KeyG', 'KeyH', 'KeyJ', 'KeyK', 'KeyL',
  'Semicolon', 'Quote', 'KeyZ', 'KeyX', 'KeyC', 'KeyV', 'KeyB', 'KeyN', 'KeyM', 'Comma', 'Period', 'Slash', 'Space'];
const CONTROL: Record<string, string> = { '\n': 'Enter', '\r': 'Enter', '\t': 'Tab', '\b': 'Backspace', '\x1b': 'Escape' };

/**
 * The key presses and releases that type `text` on a US keyboard (Shift
 * held for capitals and symbols). `{Name}` presses a key by its code, e.g.
 * "ls{Enter}" or "{ArrowUp}"; "{{" types a brace. Throws on a character no
 * key types, naming it.
 */
export function typeText(text: string): KeyEvent[] {
  const out: KeyEvent[] = [];
  const press = (code: string, shift = false) => {
    if (shift) out.push({ code: 'ShiftLeft', down: true });
    out.push({ code, down: true }, { code, down: false });
    if (shift) out.push({ code: 'ShiftLeft', down: false });
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '{' && text[i + 1] !== '{') {
      const end = text.indexOf('}', i);
      const name = end < 0 ? '' : text.slice(i + 1, end);
      if (keyIndex(name) === undefined) throw new Error(`{${name}}: no such key (keys are named as KeyboardEvent.code: Enter, ArrowUp, F1, KeyA, ...)`);
      press(name);
      i = end;
      continue;
    }
    if (ch === '{') i++;
    if (CONTROL[ch]) { press(CONTROL[ch]); continue; }
    const p = PLAIN.indexOf(ch);
    if (p >= 0) { press(PLAIN_CODES[p]); continue; }
    const s = SHIFTED.indexOf(ch);
    if (s >= 0) { press(PLAIN_CODES[s], true); continue; }
    throw new Error(`cannot type ${JSON.stringify(ch)}: no key of a US keyboard types it`);
  }
  return out;
}
