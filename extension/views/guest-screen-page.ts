/**
 * The Guest Screen view's page (no VS Code API here, so it is testable
 * alone): the guest's picture, a status line, the text screen's rows for
 * screen readers, and key events while it has focus.
 */
/** The view's page: the picture scaled to fit (pixels kept sharp), a status line, key events while focused. */
export function screenPage(nonce: string): string {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<style nonce="${nonce}">
  body { margin: 0; padding: 4px; }
  #screen { outline: none; display: block; }
  #screen:focus { outline: 1px solid var(--vscode-focusBorder); }
  img { display: block; width: 100%; image-rendering: pixelated; background: #000; }
  #status { font-size: 11px; opacity: 0.8; padding: 2px 0; }
  /* The text screen's characters, for screen readers and copying: off screen, not hidden. */
  #text { position: absolute; left: -10000px; width: 1px; height: 1px; overflow: hidden; }
</style></head>
<body>
<div id="screen" tabindex="0" title="Click here, then type: keys go to the guest's PS/2 keyboard"><img id="img" alt="guest screen"></div>
<div id="status">No VM running: start a kvm debug session (F5).</div>
<pre id="text" aria-label="guest screen text"></pre>
<script nonce="${nonce}">
  const vscode = acquireVsCodeApi();
  const img = document.getElementById('img'), status = document.getElementById('status'), screen = document.getElementById('screen');
  const text = document.getElementById('text');
  let focused = false;
  window.addEventListener('message', (e) => {
    const m = e.data;
    if (m.type === 'frame') {
      img.src = 'data:image/png;base64,' + m.png;
      img.alt = m.rows ? 'guest screen: ' + m.text : 'guest screen (' + m.text + ')';
      text.textContent = m.rows ? m.rows.join('\\n') : '';
      status.textContent = m.text + (focused ? ' - typing goes to the guest' : ' - click to type');
    }
    if (m.type === 'status') status.textContent = m.text;
  });
  const key = (down) => (e) => {
    if (!e.code) return;
    e.preventDefault();
    // A held key repeats its press, as a keyboard's typematic repeat does.
    vscode.postMessage({ type: 'key', code: e.code, down });
  };
  screen.addEventListener('keydown', key(true));
  screen.addEventListener('keyup', key(false));
  screen.addEventListener('focus', () => { focused = true; });
  screen.addEventListener('blur', () => { focused = false; });
  vscode.postMessage({ type: 'ready' });
</script>
</body></html>`;
}
