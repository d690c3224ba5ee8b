// The Guest Screen view's page script, run as the webview runs it (against a
// minimal document): a syntax error in it left the view blank in VS Code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Script, createContext } from 'node:vm';
import { screenPage } from '../../extension/views/guest-screen-page';

interface FakeElement { textContent: string; src?: string; alt?: string; listeners: Record<string, (e: unknown) => void>; addEventListener(type: string, fn: (e: unknown) => void): void }

function element(): FakeElement {
  const el: FakeElement = { textContent: '', listeners: {}, addEventListener: (type, fn) => { el.listeners[type] = fn; } };
  return el;
}

function loadPage() {
  const html = screenPage('NONCE');
  const scripts = [...html.matchAll(/<script nonce="NONCE">([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  assert.equal(scripts.length, 1, 'one script, carrying the nonce the CSP allows');
  assert.match(html, /script-src 'nonce-NONCE'/);
  const elements: Record<string, FakeElement> = { img: element(), status: element(), screen: element(), text: element() };
  const posted: unknown[] = [];
  const windowListeners: Record<string, (e: unknown) => void> = {};
  const context = createContext({
    // (JSON: objects made in the page's context have its prototypes, which strict deepEqual tells apart)
    acquireVsCodeApi: () => ({ postMessage: (m: unknown) => posted.push(JSON.parse(JSON.stringify(m))) }),
    document: { getElementById: (id: string) => elements[id] },
    window: { addEventListener: (type: string, fn: (e: unknown) => void) => { windowListeners[type] = fn; } },
  });
  new Script(scripts[0], { filename: 'guest-screen-page.js' }).runInContext(context);
  return { elements, posted, message: (data: unknown) => windowListeners.message({ data }) };
}

test('the page script runs, says it is ready, and shows a frame: picture, status, and the text rows for screen readers', () => {
  const page = loadPage();
  assert.deepEqual(page.posted, [{ type: 'ready' }]);
  page.message({ type: 'frame', png: 'AAAA', width: 640, height: 400, text: '80x25 text', rows: ['  kvmdbg screen64: VGA text mode', '', '> hi'] });
  assert.equal(page.elements.img.src, 'data:image/png;base64,AAAA');
  assert.equal(page.elements.text.textContent, '  kvmdbg screen64: VGA text mode\n\n> hi');
  assert.equal(page.elements.status.textContent, '80x25 text - click to type');
  page.message({ type: 'frame', png: 'BBBB', width: 1024, height: 768, text: '1024x768x32' });
  assert.equal(page.elements.text.textContent, '', 'a framebuffer has no text rows');
  assert.equal(page.elements.img.alt, 'guest screen (1024x768x32)');
  page.message({ type: 'status', text: 'The VM has ended: the last screen it showed.' });
  assert.equal(page.elements.status.textContent, 'The VM has ended: the last screen it showed.');
});

test('keys pressed in the focused screen go to the guest by their physical code, presses and releases', () => {
  const page = loadPage();
  let prevented = 0;
  const key = (code: string) => ({ code, preventDefault: () => { prevented++; } });
  page.elements.screen.listeners.focus({});
  page.elements.screen.listeners.keydown(key('KeyH'));
  page.elements.screen.listeners.keyup(key('KeyH'));
  assert.deepEqual(page.posted.slice(1), [{ type: 'key', code: 'KeyH', down: true }, { type: 'key', code: 'KeyH', down: false }]);
  assert.equal(prevented, 2, 'the keys do not also act on VS Code');
  page.message({ type: 'frame', png: 'AAAA', width: 640, height: 400, text: '80x25 text', rows: [] });
  assert.equal(page.elements.status.textContent, '80x25 text - typing goes to the guest');
});
