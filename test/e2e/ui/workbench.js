// The workbench as a person works it: Quick Open, Ctrl+G, F9, F5, the views,
// context menus and hovers, each with the waits and retries a slow (emulated)
// remote extension host needs. workbench(page, { server, outDir }) returns
// the helpers the scenarios use.
const path = require('path');
const { log, check, oneLine } = require('./report');

const SEC = 1000, MIN = 60 * SEC;
const SLOW = Number(process.env.E2E_SLOW || 1);            // multiplies every timeout

function workbench(page, { server, outDir }) {
  const shot = async (name) => {
    await page.screenshot({ path: path.join(outDir, `${name}.png`) }).then(() => log(`screenshot ${name}.png`), (e) => log('screenshot failed', e.message));
  };
  const text = async (sel) => (await page.locator(sel).allInnerTexts().catch(() => [])).join('\n');
  // Polls until the text under sel matches re; undefined on timeout.
  const waitText = async (sel, re, timeout) => {
    const end = Date.now() + timeout * SLOW;
    for (;;) {
      const s = await text(sel);
      if (re.test(s)) return s;
      if (Date.now() > end) return undefined;
      await page.waitForTimeout(1000);
    }
  };
  const visible = (sel, timeout) => page.locator(sel).first().waitFor({ state: 'visible', timeout: timeout * SLOW }).then(() => true, () => false);
  // Runs fn up to n times; fn returns truthy on success.
  const retry = async (what, n, fn) => {
    for (let i = 1; i <= n; i++) {
      const r = await fn(i).catch((e) => { log(`${what}: attempt ${i} threw ${e.message.split('\n')[0]}`); return undefined; });
      if (r) return r;
      log(`${what}: attempt ${i}/${n} did not succeed${i < n ? ', retrying' : ''}`);
      await page.keyboard.press('Escape').catch(() => {});
      await page.waitForTimeout(2000);
    }
    return undefined;
  };
  const quickInput = '.quick-input-widget';
  const activeEditor = '.editor-group-container.active';
  const cursorLine = async () => Number(((await text('.statusbar-item')).match(/Ln (\d+), Col \d+/) || [])[1] || 0);
  // Clicks into the open editor, if there is one (a click on a missing element would wait the page timeout).
  const focusEditor = async () => {
    const lines = page.locator(`${activeEditor} .monaco-editor .view-lines`).first();
    if (await lines.count()) await lines.click({ position: { x: 400, y: 5 }, timeout: 10 * SEC }).catch(() => {});
  };
  const openWorkbench = async (ws, label, file = 'pvh64.elf') => {
    log(`${label}: opening the workbench on ${ws}`);
    await page.goto(`${server}/?folder=${encodeURIComponent(ws)}`, { timeout: 6 * MIN * SLOW, waitUntil: 'commit' });
    await page.locator('.monaco-workbench .part.activitybar').waitFor({ timeout: 10 * MIN * SLOW });
    log(`${label}: workbench rendered`);
    // The explorer shows the folder's files once the remote connection works.
    const ok = await waitText('.explorer-folders-view, .explorer-viewlet', new RegExp(file.replace(/[.]/g, '\\.')), 4 * MIN);
    check(`${label}: workbench shows the workspace (explorer lists ${file})`, !!ok);
    return !!ok;
  };
  // The window is usable before the remote extension host has registered the
  // extensions; until then C files take no breakpoints and F5 knows no kvm
  // debugger. A person sees the debugger in Quick Open's "debug " list once it is
  // known: wait for that, as the UI says it.
  const debuggerKnown = async (label, shotName) => {
    const known = await retry('the kvm debugger is known (Quick Open "debug " lists KVM (kvmdbg))', 40, async () => {
      await page.keyboard.press('Control+P');
      const input = page.locator(`${quickInput} input`);
      await input.waitFor({ state: 'visible', timeout: MIN * SLOW });
      await input.fill('debug ');
      const ok = await visible(`${quickInput} .monaco-list-row:has-text("KVM (kvmdbg)")`, 10 * SEC);
      await page.keyboard.press('Escape');
      return ok;
    });
    check(`${label}: VS Code knows the kvm debugger (Quick Open "debug " lists KVM (kvmdbg)...)`, !!known,
      known ? '' : `notifications: ${oneLine(await text('.notifications-toasts, .notifications-center'), 400)}`);
    if (!known) await shot(shotName);
    return !!known;
  };
  // (isVisible does not wait; a waitFor with timeout 0 would wait forever)
  const debugging = async () => await page.locator('.debug-toolbar').first().isVisible().catch(() => false)
    || /debugging|KVM (paused|running)/i.test(await text('.statusbar'));

  // Quick Open a source by its absolute path (what its DWARF names); the active tab's text, or undefined.
  const openSource = (file) => {
    const base = path.basename(file);
    return retry(`Quick Open ${base}`, 3, async () => {
      await focusEditor();
      await page.keyboard.press('Control+P');
      const input = page.locator(`${quickInput} input`);
      await input.waitFor({ state: 'visible', timeout: MIN * SLOW });
      await input.fill(file);
      await page.locator('.quick-input-list .monaco-list-row', { hasText: base }).first().waitFor({ timeout: MIN * SLOW });
      await page.keyboard.press('Enter');
      return waitText(`${activeEditor} .tabs-container .tab.active`, new RegExp(base.replace(/[.]/g, '\\.')), 30 * SEC);
    });
  };
  // Ctrl+G to the line, as a person does. (click: into the editor first; Ctrl+G itself needs only an
  // active editor, and while stopped a click there may land on sticky scroll lines or the debug toolbar.)
  const goToLine = (line, click = true) => retry(`Go to line ${line}`, 3, async () => {
    if (click) await focusEditor();
    await page.keyboard.press('Control+G');
    const input = page.locator(`${quickInput} input`);
    await input.waitFor({ state: 'visible', timeout: MIN * SLOW });
    await input.fill(`:${line}`);
    await page.waitForTimeout(500);
    await page.keyboard.press('Enter');
    const end = Date.now() + 20 * SEC * SLOW;
    while (Date.now() < end) { if (await cursorLine() === line) return true; await page.waitForTimeout(500); }
    return false;
  });
  // F9: a red dot in the gutter of the cursor's line. VS Code >= 1.85 draws breakpoint and
  // stack-frame glyphs as widgets in the editor margin's .glyph-margin-widgets layer,
  // not in .margin-view-overlays (looking there made every F9 look ineffective, and
  // the retry then toggled the breakpoint off again). { shown, line: the line number level with the dot }.
  const toggleBreakpoint = async () => {
    const glyph = `${activeEditor} .margin .glyph-margin-widgets .codicon-debug-breakpoint`;
    // The gutter only takes breakpoints once the workbench knows the C breakpoint
    // contribution (the remote extension host's scan: slow when emulated): F9 is
    // pressed again only while no dot is there, so it can never toggle one off.
    const shown = !!await retry('F9 toggles a breakpoint', 8, async () => {
      if (await page.locator(glyph).count()) return true;
      await page.keyboard.press('F9');
      return visible(glyph, 20 * SEC);
    });
    const line = await page.evaluate(({ sel, ed }) => {
      const dot = document.querySelector(sel);
      if (!dot) return 0;
      const y = dot.getBoundingClientRect().top + dot.getBoundingClientRect().height / 2;
      const nums = [...document.querySelectorAll(`${ed} .margin-view-overlays .line-numbers`)];
      const hit = nums.find((n) => { const r = n.getBoundingClientRect(); return y >= r.top && y < r.bottom; });
      return hit ? Number(hit.textContent.trim()) : -1;
    }, { sel: glyph, ed: activeEditor });
    return { shown, line };
  };
  // F5 with the launch.json: the session starts (checked). prefix: the scenario's label for the check.
  const startWithF5 = async (prefix) => {
    log(`${prefix}pressing F5`);
    await page.keyboard.press('F5');
    const started = await (async () => {
      const end = Date.now() + 2 * MIN * SLOW;
      while (Date.now() < end) { if (await debugging()) return true; await page.waitForTimeout(1000); }
      return false;
    })();
    check(`${prefix}F5 started a debug session (debug toolbar shown)`, started);
    if (!started) {
      // Still get the rest of the picture: start it the other way, so the later checks mean something.
      log('F5 showed no session: starting it with the Run and Debug view\'s start button to see the rest');
      await page.keyboard.press('Control+Shift+D');
      await page.locator('.part.sidebar .codicon-debug-start').first().click({ timeout: MIN * SLOW }).catch((e) => log('start button route failed:', e.message.split('\n')[0]));
    }
    return started;
  };
  const endSession = async () => {
    await page.keyboard.press('Shift+F5');
    const e2 = Date.now() + MIN * SLOW;
    while (Date.now() < e2) { if (!await debugging()) return true; await page.waitForTimeout(1000); }
    return false;
  };


  // A row of the tree in `view` (.debug-variables, .debug-watch) whose text matches re, scrolled
  // (mouse wheel, as a person does) until it is wholly inside the view; undefined if it never is.
  // The trees are virtual lists: a row out of view is not in the page at all.
  const revealRow = async (view, re, tries = 80) => {
    const pane = page.locator(view).first();
    const row = page.locator(`${view} .monaco-list-row`).filter({ hasText: re }).first();
    for (let i = 0; i < tries; i++) {
      const pb = await pane.boundingBox().catch(() => null);
      if (!pb) return undefined;
      const rb = await row.count() ? await row.boundingBox().catch(() => null) : null;
      if (rb && rb.y >= pb.y - 1 && rb.y + rb.height <= pb.y + pb.height + 1) return row;
      await page.mouse.move(pb.x + pb.width / 2, pb.y + Math.min(pb.height / 2, 30));
      await page.mouse.wheel(0, rb && rb.y < pb.y ? -44 : 44);
      await page.waitForTimeout(300);
    }
    return undefined;
  };
  // Right-clicks row and picks the context menu item named item; whether it was there to pick.
  const contextMenu = async (row, item) => {
    await row.click({ button: 'right' });
    const entry = page.locator('.context-view .monaco-menu .action-item .action-label').filter({ hasText: new RegExp(`^\\s*${item}\\s*$`) }).first();
    if (!await visible('.context-view .monaco-menu', 45 * SEC)) return false;
    const items = oneLine(await text('.context-view .monaco-menu .action-label'), 300);
    log(`context menu: ${items}`);
    if (!await entry.count()) { await page.keyboard.press('Escape'); return false; }
    // A menu item takes clicks only from 100 ms after the menu is drawn (VS Code's
    // menu ignores the mouseup of the right-click that opened it that way): a click
    // before then does nothing, and the menu stays open. Click until it closes.
    for (let i = 0; i < 5; i++) {
      await page.waitForTimeout(500);
      if (!await page.locator('.context-view .monaco-menu').first().isVisible().catch(() => false)) return true;
      await entry.click().catch((e) => log(`clicking ${item}: ${e.message.split('\n')[0]}`));
    }
    await page.waitForTimeout(500);
    return !await page.locator('.context-view .monaco-menu').first().isVisible().catch(() => false);
  };
  // Where on screen the editor shows character `within` (its middle) of the first `needle` on source line `line`.
  const textPoint = (line, needle, within, k = -1) => page.evaluate(({ ed, line, needle, within, k }) => {
    const nums = [...document.querySelectorAll(`${ed} .margin-view-overlays .line-numbers`)];
    const num = nums.find((n) => n.textContent.trim() === String(line));
    if (!num) return { error: `line ${line} is not on screen` };
    const nr = num.getBoundingClientRect();
    const y = nr.top + nr.height / 2;
    const vl = [...document.querySelectorAll(`${ed} .view-lines .view-line`)].find((v) => { const r = v.getBoundingClientRect(); return y >= r.top && y < r.bottom; });
    if (!vl) return { error: `no view line level with line number ${line}` };
    const at = vl.textContent.replace(/\u00a0/g, ' ').indexOf(needle);
    if (at < 0) return { error: `"${needle}" is not on line ${line}: ${vl.textContent}` };
    let target = at + needle.lastIndexOf(within) + (k >= 0 ? Math.min(k, within.length - 1) : Math.floor(within.length / 2));
    const walker = document.createTreeWalker(vl, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (target < n.length) {
        const r = document.createRange();
        r.setStart(n, target); r.setEnd(n, target + 1);
        const b = r.getBoundingClientRect();
        return { x: b.left + b.width / 2, y: b.top + b.height / 2 };
      }
      target -= n.length;
    }
    return { error: 'offset past the line' };
  }, { ed: activeEditor, line, needle, within, k });
  const mouseAway = async () => {
    const bar = await page.locator('.part.activitybar').first().boundingBox().catch(() => null);
    await page.mouse.move(bar ? bar.x + bar.width / 2 : 5, bar ? bar.y + bar.height * 0.6 : 500);
    await page.keyboard.press('Escape');
  };
  // Hovers the mouse over `within` in `needle` on `line`; the debug hover's text, or '' with why in the log.
  // attempt (1, 2, ...) picks a different character of `within` each time, so a retry is a new mouse position.
  const hover = async (line, needle, within, attempt = 1) => {
    const widget = '.debug-hover-widget';
    // The editor takes the keyboard with the line in view (Ctrl+G to it; Escape there closes an
    // earlier hover; a click into the editor would do, but may scroll: sticky scroll lines), then
    // the mouse goes off it and comes back straight onto the word: ONE move. VS Code 1.100 starts a
    // hover for every word the pointer crosses and never cancels the timers; when two hovers'
    // evaluatable-expression requests overlap (a slow extension host: the sandbox), the older one's
    // cancellation hides the newer, and no hover shows at all. A hand crossing words fast sees that too.
    await goToLine(line, false);
    await page.keyboard.press('Escape');
    await mouseAway();
    await page.waitForTimeout(700);
    const p = await textPoint(line, needle, within, [-1, 1, within.length - 2, 0][(attempt - 1) % 4]);
    if (p.error) { log(`hover ${needle}: ${p.error}`); return ''; }
    await page.mouse.move(p.x, p.y);
    if (!await visible(widget, 20 * SEC)) {
      const under = await page.evaluate(({ x, y }) => { const e = document.elementFromPoint(x, y); return e ? `${e.tagName}.${e.className} "${(e.textContent || '').slice(0, 40)}"` : 'nothing'; }, p);
      log(`hover ${needle}: no debug hover widget (mouse at ${Math.round(p.x)},${Math.round(p.y)} over ${under})`);
      await shot(`c-02x-hover-failed-${needle.replace(/\W+/g, '_')}-${attempt}`);
      return '';
    }
    await page.waitForTimeout(1000);  // its value arrives after the widget
    return (await text(widget)).trim();
  };
  // The text of the side-bar pane whose header matches title ('' when it is not there).
  const paneText = async (title) => {
    const pane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: title }) }).first();
    return await pane.innerText({ timeout: 5 * SEC }).catch(() => '');
  };
  // Gives the side-bar pane titled `title` the room: every other expanded pane but those in `keep`
  // collapsed (a person's click on their titles), this one expanded. Its locator.
  const soloPane = async (title, keep = ['Call Stack']) => {
    const panes = page.locator('.part.sidebar .pane');
    for (let i = 0; i < await panes.count(); i++) {
      const header = panes.nth(i).locator('.pane-header').first();
      const name = (await header.innerText({ timeout: 2 * SEC }).catch(() => '')).split('\n')[0].trim();
      const open = (await header.getAttribute('aria-expanded').catch(() => 'false')) === 'true';
      const want = name.toUpperCase() === title.toUpperCase() || keep.some((k) => k.toUpperCase() === name.toUpperCase());
      if (open !== want && (want || open)) await header.click({ timeout: 5 * SEC }).catch(() => {});
    }
    return page.locator('.pane', { has: page.locator('.pane-header', { hasText: title }) }).first();
  };
  // Runs a command by its title from the Command Palette (F1), as a person does; whether it was listed.
  const command = (title) => retry(`F1 ${title}`, 3, async () => {
    await page.keyboard.press('F1');
    const input = page.locator(`${quickInput} input`);
    await input.waitFor({ state: 'visible', timeout: MIN * SLOW });
    await input.fill(`>${title}`);
    const row = page.locator(`${quickInput} .monaco-list-row`, { hasText: title }).first();
    if (!await visible(`${quickInput} .monaco-list-row:has-text("${title}")`, 20 * SEC)) return false;
    await row.click();
    return true;
  });
  return {
    page, SEC, MIN, SLOW, shot, text, waitText, visible, retry, quickInput, activeEditor, cursorLine, focusEditor,
    openWorkbench, debuggerKnown, debugging, openSource, goToLine, toggleBreakpoint, startWithF5, endSession,
    revealRow, contextMenu, textPoint, mouseAway, hover, paneText, soloPane, command,
  };
}
module.exports = { workbench, SEC, MIN, SLOW };
