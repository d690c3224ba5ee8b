/**
 * The guest's serial console as an interactive terminal: output as the
 * guest sent it (escape sequences and colours untouched, LF -> CRLF only
 * when the guest sends bare LF), keystrokes to the guest via kvm/consoleInput.
 * One terminal per session; it stays across pause/continue and after the end.
 */
import * as vscode from 'vscode';
import type { SessionHub } from './session-hub';
import { toTerminalText } from './terminal-text';

class GuestConsole implements vscode.Pseudoterminal {
  private readonly write = new vscode.EventEmitter<string>();
  readonly onDidWrite = this.write.event;
  private opened = false;
  private pending: string[] = [];
  private lastCr = false;
  private readonly decoder = new TextDecoder('utf-8');
  ended = false;

  constructor(private readonly send: (data: string) => void) {}

  open(): void {
    this.opened = true;
    for (const p of this.pending) this.write.fire(p);
    this.pending = [];
  }

  close(): void {
    this.opened = false;
  }

  handleInput(data: string): void {
    if (this.ended) return;
    this.send(data);
  }

  output(bytes: Uint8Array): void {
    const text = this.decoder.decode(bytes, { stream: true });
    if (!text) return;
    const t = toTerminalText(text, this.lastCr);
    this.lastCr = text.endsWith('\r');
    if (this.opened) this.write.fire(t);
    else this.pending.push(t);
  }

  note(line: string): void {
    const t = `\r\n\x1b[2m${line}\x1b[0m\r\n`;
    if (this.opened) this.write.fire(t);
    else this.pending.push(t);
  }
}

export class ConsoleTerminals implements vscode.Disposable {
  private readonly bySession = new Map<string, { pty: GuestConsole; terminal: vscode.Terminal }>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly hub: SessionHub) {
    this.disposables.push(
      hub.onConsole(({ session, data }) => this.forSession(session).pty.output(data)),
      hub.onDidEnd((session) => {
        const t = this.bySession.get(session.id);
        if (!t) return;
        t.pty.ended = true;
        t.pty.note('[the VM has ended: this console is read-only now]');
        this.bySession.delete(session.id);
      }),
      vscode.debug.onDidStartDebugSession((s) => { if (s.type === 'kvm') this.forSession(s); }),
    );
  }

  private forSession(session: vscode.DebugSession): { pty: GuestConsole; terminal: vscode.Terminal } {
    let t = this.bySession.get(session.id);
    if (t) return t;
    const pty = new GuestConsole((data) => {
      const st = this.hub.current();
      const target = st && st.session.id === session.id ? st : undefined;
      if (!target) return;
      this.hub.request(target, 'kvm/consoleInput', { data }).catch(() => undefined);
    });
    const terminal = vscode.window.createTerminal({ name: `Guest console (${session.name})`, pty, iconPath: new vscode.ThemeIcon('vm') });
    terminal.show(true);
    t = { pty, terminal };
    this.bySession.set(session.id, t);
    return t;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
