/**
 * The screen and keyboard side of `kvmdbg run`: --screenshot FILE.png (at
 * the end and on SIGUSR1), --screen (the VGA text screen drawn into this
 * terminal as it changes, terminal keys to the PS/2 keyboard) and --keys
 * (typed at once, or once the text screen shows --keys-when).
 */
import { renameSync, writeFileSync } from 'node:fs';
import type { Machine } from '../machine/machine';
import { captureScreen } from '../screen/screen';
import { encodePng } from '../screen/png';
import { textLines, textSnapshot, type TextSnapshot } from '../screen/text-mode';
import { cp437Char } from '../screen/cp437';
import { paintText, releaseRows, reserveRows } from '../screen/terminal';
import { typeText, type KeyEvent } from '../devices/scancodes';
import type { RunArgs } from './args';

/** How often --screen and --keys-when look at the screen: 20 times a second is smooth and costs nothing. */
const POLL_MS = 50;

export interface ScreenCli {
  /** Terminal bytes for the guest's keyboard (--screen); false when the serial console should get them. */
  input(chunk: Buffer): boolean;
  /** The VM ended: last screenshot, terminal back to normal. */
  finish(): void;
}

export function startScreenCli(machine: Machine, args: RunArgs, say: (msg: string) => void): ScreenCli {
  const timers: NodeJS.Timeout[] = [];
  const shot = () => {
    if (!args.screenshot) return;
    try {
      // Written aside and renamed: a script watching for the file never reads half a PNG.
      const part = `${args.screenshot}.${process.pid}.part`;
      writeFileSync(part, encodePng(captureScreen(machine.memory, machine.display).image));
      renameSync(part, args.screenshot);
    } catch (e) {
      say(`--screenshot ${args.screenshot}: ${(e as Error).message}`);
    }
  };
  const onUsr1 = () => shot();
  if (args.screenshot) process.on('SIGUSR1', onUsr1);

  const out = process.stdout;
  const tty = args.screen && out.isTTY === true;
  let painted = '';
  let reserved = 0;
  if (tty) {
    timers.push(setInterval(() => {
      const t = textSnapshot(machine.memory, machine.display.vga);
      const picture = paintText(t);
      if (picture === painted) return;
      if (reserved !== t.rows && out.rows > t.rows + 2) { out.write(reserveRows(t.rows, out.rows)); reserved = t.rows; }
      painted = picture;
      out.write(picture);
    }, POLL_MS));
  }

  if (args.keys !== undefined) {
    const keys = typeText(args.keys);
    const send = () => { try { machine.sendKeys(keys); } catch (e) { say(`--keys: ${(e as Error).message}`); } };
    if (args.keysWhen === undefined) {
      send();
    } else {
      const waitFor = args.keysWhen;
      const t = setInterval(() => {
        if (!screenShows(textSnapshot(machine.memory, machine.display.vga), waitFor)) return;
        clearInterval(t);
        send();
      }, POLL_MS);
      timers.push(t);
    }
  }

  return {
    input(chunk) {
      if (!args.screen) return false;
      try { machine.sendKeys(terminalKeys(chunk)); } catch { /* a full ring: the guest is not reading its keyboard */ }
      return true;
    },
    finish() {
      for (const t of timers) clearInterval(t);
      process.off('SIGUSR1', onUsr1);
      shot();
      if (tty && reserved) out.write(releaseRows(out.rows));
      // Not a terminal: the final text screen, for logs and scripts.
      if (args.screen && !tty) out.write(textLines(textSnapshot(machine.memory, machine.display.vga)).join('\n').replace(/\n+$/, '') + '\n');
    },
  };
}

/**
 * Whether the text screen shows `text` (--keys-when). Rows keep their
 * trailing blanks here: a shell's prompt ends in one ("$ "), and trimmed
 * rows would never show it.
 */
export function screenShows(t: TextSnapshot, text: string): boolean {
  const rows: string[] = [];
  for (let r = 0; r < t.rows; r++) {
    let s = '';
    for (let c = 0; c < t.columns; c++) s += cp437Char(t.cells[r * t.columns + c] & 0xff);
    rows.push(s);
  }
  return rows.join('\n').includes(text);
}

const ARROWS: Record<string, string> = { A: 'ArrowUp', B: 'ArrowDown', C: 'ArrowRight', D: 'ArrowLeft', H: 'Home', F: 'End' };

/** What a terminal sends, as key presses: characters, Enter, Backspace and the arrow keys. */
export function terminalKeys(chunk: Buffer): KeyEvent[] {
  const s = chunk.toString('utf8');
  const keys: KeyEvent[] = [];
  const press = (code: string) => keys.push({ code, down: true }, { code, down: false });
  for (let i = 0; i < s.length; i++) {
    const arrow = s[i] === '\x1b' && s[i + 1] === '[' ? ARROWS[s[i + 2]] : undefined;
    if (arrow) { press(arrow); i += 2; continue; }
    if (s[i] === '\x7f') { press('Backspace'); continue; }
    if (s[i] === '{') { keys.push(...typeText('{{')); continue; }
    try { keys.push(...typeText(s[i])); } catch { /* a character no US key types: not sent */ }
  }
  return keys;
}
