/**
 * The "KVM: Guest Screen" view: the guest's VGA text screen or framebuffer,
 * live while it runs (kvm/screen events, only changed frames, up to 30 a
 * second, asked for only while the view is visible) and the exact current
 * picture while it is stopped. Keys pressed while the view has focus go to
 * the guest's PS/2 keyboard (kvm/keyboard, named by KeyboardEvent.code, so
 * any layout reaches the guest as the physical keys). Also the commands
 * "Save Guest Screenshot..." and "Show Guest Screen".
 */
import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import type { KvmEvents } from '../../debug-adapter/protocol-extensions';
import type { SessionHub, SessionState } from '../session-hub';
import { screenPage } from './guest-screen-page';

export const SCREEN_VIEW = 'kvmdbg.screen';

type Frame = KvmEvents['kvm/screen'];
type FromWebview = { type: 'key'; code: string; down: boolean } | { type: 'ready' };

export class GuestScreenView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view?: vscode.WebviewView;
  private watching?: SessionState;
  private lastFrame?: Frame;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly hub: SessionHub) {
    this.disposables.push(
      vscode.window.registerWebviewViewProvider(SCREEN_VIEW, this, { webviewOptions: { retainContextWhenHidden: false } }),
      vscode.commands.registerCommand('kvmdbg.screenshot', () => this.saveScreenshot()),
      vscode.commands.registerCommand('kvmdbg.showScreen', () => vscode.commands.executeCommand(`${SCREEN_VIEW}.focus`)),
      hub.onScreen(({ session, frame }) => { if (session.id === this.watching?.session.id) this.show(frame); }),
      hub.onDidChange((st) => this.onState(st)),
      hub.onDidEnd(() => { this.watching = undefined; this.post({ type: 'status', text: 'The VM has ended: the last screen it showed.' }); }),
    );
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = { enableScripts: true };
    view.webview.html = screenPage(randomBytes(16).toString('base64'));
    view.webview.onDidReceiveMessage((m: FromWebview) => this.fromWebview(m));
    view.onDidChangeVisibility(() => void this.rewatch());
    view.onDidDispose(() => { void this.unwatch(); this.view = undefined; });
    void this.rewatch();
  }

  private onState(st: SessionState): void {
    if (st.state === 'exited') return;
    // A stop shows the exact current picture at once; a new session is watched.
    if (st.state === 'paused' || this.watching?.session.id !== st.session.id) void this.rewatch();
  }

  /** Watches the current session while the view is visible; stops asking otherwise. */
  private async rewatch(): Promise<void> {
    const st = this.hub.current();
    if (!this.view?.visible || !st || st.state === 'exited' || st.state === 'starting') return void this.unwatch();
    if (this.watching && this.watching.session.id !== st.session.id) await this.unwatch();
    this.watching = st;
    try {
      const frame = await this.hub.request(st, 'kvm/screen', { watch: true, maxFps: 30 });
      if (frame) this.show(frame);
      else this.post({ type: 'status', text: 'This debug adapter has no Guest Screen.' });
    } catch (e) {
      this.post({ type: 'status', text: (e as Error).message });
    }
  }

  private async unwatch(): Promise<void> {
    const st = this.watching;
    this.watching = undefined;
    if (st && st.state !== 'exited') await this.hub.request(st, 'kvm/screen', { watch: false }).catch(() => undefined);
  }

  private show(frame: Frame): void {
    this.lastFrame = frame;
    this.post({ type: 'frame', png: frame.png, width: frame.width, height: frame.height, text: frame.description, rows: frame.text });
  }

  private post(m: unknown): void {
    void this.view?.webview.postMessage(m);
  }

  private fromWebview(m: FromWebview): void {
    if (m.type === 'ready') { if (this.lastFrame) this.show(this.lastFrame); return; }
    const st = this.watching ?? this.hub.current();
    if (m.type !== 'key' || !st || typeof m.code !== 'string') return;
    this.hub.request(st, 'kvm/keyboard', { keys: [{ code: m.code, down: m.down === true }] }).catch(() => undefined);
  }

  private async saveScreenshot(): Promise<void> {
    const st = this.hub.current();
    if (!st) { void vscode.window.showInformationMessage('kvmdbg: no kvm debug session is running: start one (F5) to take a screenshot of its guest.'); return; }
    let frame: Frame | undefined;
    try {
      frame = await this.hub.request(st, 'kvm/screen', {});
    } catch (e) {
      void vscode.window.showErrorMessage(`kvmdbg: no screenshot: ${(e as Error).message}`);
      return;
    }
    if (!frame) return;
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const target = await vscode.window.showSaveDialog({
      defaultUri: folder ? vscode.Uri.joinPath(folder, 'guest-screen.png') : undefined,
      filters: { 'PNG image': ['png'] },
      saveLabel: 'Save Screenshot',
    });
    if (!target) return;
    await vscode.workspace.fs.writeFile(target, Buffer.from(frame.png, 'base64'));
    void vscode.window.showInformationMessage(`kvmdbg: saved the guest's screen (${frame.description}) to ${target.fsPath}`);
  }

  dispose(): void {
    void this.unwatch();
    for (const d of this.disposables) d.dispose();
  }
}
