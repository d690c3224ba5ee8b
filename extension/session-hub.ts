/**
 * One place that watches kvm debug sessions: a DebugAdapterTracker sees
 * every DAP message, turns the ones views care about into events (stopped,
 * continued, console bytes, state), and sends our typed custom requests.
 */
import * as vscode from 'vscode';
import type { KvmEvents, KvmRequestName, KvmRequests, StateEventBody } from '../debug-adapter/protocol-extensions';

export type RunState = StateEventBody['state'];

export interface SessionState {
  session: vscode.DebugSession;
  state: RunState;
  vcpus: number;
  exitsPerSecond?: number;
  /** Thread of the last stop. */
  stoppedThreadId?: number;
  /** The adapter sent kvm/console: the terminal takes only those (not 'output' too). */
  hasConsoleEvent: boolean;
  /** Custom requests the adapter answered "unknown"/failed for: stop asking. */
  unsupported: Set<string>;
}

export class SessionHub implements vscode.Disposable {
  private readonly states = new Map<string, SessionState>();
  private readonly changed = new vscode.EventEmitter<SessionState>();
  private readonly consoleBytes = new vscode.EventEmitter<{ session: vscode.DebugSession; data: Uint8Array }>();
  private readonly ended = new vscode.EventEmitter<vscode.DebugSession>();
  private readonly screenFrames = new vscode.EventEmitter<{ session: vscode.DebugSession; frame: KvmEvents['kvm/screen'] }>();
  private readonly modulesChanged = new vscode.EventEmitter<vscode.DebugSession>();
  private readonly disposables: vscode.Disposable[] = [];

  /** Any state change of a kvm session (start, stop, continue, rates, end). */
  readonly onDidChange = this.changed.event;
  /** Guest serial console output. */
  readonly onConsole = this.consoleBytes.event;
  readonly onDidEnd = this.ended.event;
  /** A changed frame of the guest's screen (while a Guest Screen view watches). */
  readonly onScreen = this.screenFrames.event;
  /** A DAP `module` event: a module was loaded or unloaded (the Modules view asks again). */
  readonly onModule = this.modulesChanged.event;

  constructor() {
    this.disposables.push(
      vscode.debug.registerDebugAdapterTrackerFactory('kvm', { createDebugAdapterTracker: (s) => this.tracker(s) }),
      vscode.debug.onDidTerminateDebugSession((s) => {
        const st = this.states.get(s.id);
        if (!st) return;
        st.state = 'exited';
        this.changed.fire(st);
        this.states.delete(s.id);
        this.ended.fire(s);
      }),
      this.changed, this.consoleBytes, this.ended, this.screenFrames, this.modulesChanged,
    );
  }

  /** The kvm session the user is looking at (the active one if it is kvm, else any). */
  current(): SessionState | undefined {
    const active = vscode.debug.activeDebugSession;
    if (active && this.states.has(active.id)) return this.states.get(active.id);
    return [...this.states.values()].at(-1);
  }

  /** Every kvm session running now. */
  all(): SessionState[] {
    return [...this.states.values()];
  }

  /** Sends a typed kvm/* request; undefined when the adapter does not support it (asked once). */
  async request<K extends KvmRequestName>(st: SessionState, command: K, args: KvmRequests[K]['args']): Promise<KvmRequests[K]['body'] | undefined> {
    if (st.unsupported.has(command)) return undefined;
    try {
      return (await st.session.customRequest(command, args)) as KvmRequests[K]['body'];
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (/unrecognized|unknown|not supported|unsupported/i.test(msg)) st.unsupported.add(command);
      throw e;
    }
  }

  private tracker(session: vscode.DebugSession): vscode.DebugAdapterTracker {
    const st: SessionState = { session, state: 'starting', vcpus: 0, hasConsoleEvent: false, unsupported: new Set() };
    this.states.set(session.id, st);
    this.changed.fire(st);
    return {
      onDidSendMessage: (m: { type?: string; event?: string; body?: any; command?: string; success?: boolean }) => {
        if (m.type !== 'event') return;
        switch (m.event) {
          case 'stopped':
            st.state = 'paused';
            st.stoppedThreadId = m.body?.threadId;
            st.exitsPerSecond = undefined;
            this.changed.fire(st);
            void this.countThreads(st);
            break;
          case 'continued':
            st.state = 'running';
            this.changed.fire(st);
            break;
          case 'initialized':
          case 'process':
            if (st.state === 'starting') st.state = 'running';
            this.changed.fire(st);
            break;
          case 'thread':
            if (m.body?.reason === 'started') st.vcpus = Math.max(st.vcpus, 1);
            this.changed.fire(st);
            break;
          case 'exited':
          case 'terminated':
            st.state = 'exited';
            this.changed.fire(st);
            break;
          case 'output':
            if (!st.hasConsoleEvent && (m.body?.category === 'stdout' || m.body?.category === undefined) && typeof m.body?.output === 'string') {
              this.consoleBytes.fire({ session, data: Buffer.from(m.body.output, 'utf8') });
            }
            break;
          case 'kvm/console': {
            const body = m.body as KvmEvents['kvm/console'];
            st.hasConsoleEvent = true;
            this.consoleBytes.fire({ session, data: Buffer.from(body.data, 'base64') });
            break;
          }
          case 'module':
            this.modulesChanged.fire(session);
            break;
          case 'kvm/screen':
            this.screenFrames.fire({ session, frame: m.body as KvmEvents['kvm/screen'] });
            break;
          case 'kvm/state': {
            const body = m.body as KvmEvents['kvm/state'];
            st.state = body.state;
            st.vcpus = body.vcpus;
            st.exitsPerSecond = body.exitsPerSecond;
            this.changed.fire(st);
            break;
          }
        }
      },
    };
  }

  private async countThreads(st: SessionState): Promise<void> {
    try {
      const r = await st.session.customRequest('threads');
      st.vcpus = Array.isArray(r?.threads) ? r.threads.length : st.vcpus;
      this.changed.fire(st);
    } catch { /* the session may have ended */ }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
