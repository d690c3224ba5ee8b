/**
 * A view's poll while the guest runs: every `ms` while the current session
 * is running, never while it is paused or after it ended (a stop refreshes
 * the view itself, exactly, from the stopped guest).
 */
import type * as vscode from 'vscode';
import type { SessionHub, SessionState } from '../session-hub';

export class WhileRunning implements vscode.Disposable {
  private timer?: NodeJS.Timeout;

  constructor(private readonly hub: SessionHub, private readonly ms: number, private readonly poll: (st: SessionState) => void) {}

  /** Polls from a 'running' state on; stops at 'paused' or 'exited'. */
  follow(st: SessionState): void {
    if (st.state === 'running') this.start();
    else if (st.state === 'paused' || st.state === 'exited') this.dispose();
  }

  private start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      const st = this.hub.current();
      if (!st || st.state !== 'running') return this.dispose();
      this.poll(st);
    }, this.ms);
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
