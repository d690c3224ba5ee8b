// Scenario B: a folder holding only pvh64.elf, no launch.json: F5 picks the
// kernel and a notification says so; the kernel boots.
const { log, check, oneLine } = require('./report');

module.exports = async function scenarioF5(w, wsB) {
  const { page, SEC, MIN, SLOW, shot, text, waitText, visible, retry, quickInput, activeEditor, cursorLine, focusEditor, openWorkbench, debuggerKnown, debugging, openSource, goToLine, toggleBreakpoint, startWithF5, endSession, revealRow, contextMenu, textPoint, mouseAway, hover } = w;
  if (!await openWorkbench(wsB, 'B')) return;
  await debuggerKnown('B', '11b-debugger-unknown');
  await focusEditor();
  await page.locator('.part.sidebar').first().click({ position: { x: 100, y: 300 } }).catch(() => {});
  log('B: pressing F5 in a folder with only pvh64.elf and no launch.json');
  await page.keyboard.press('F5');
  // VS Code may ask which debugger when no launch.json exists: pick KVM, as a person would.
  let found;
  const e3 = Date.now() + 3 * MIN * SLOW;
  let pickedDebugger = false;
  while (Date.now() < e3) {
    const toast = await text('.notifications-toasts');
    if (/kvmdbg found/.test(toast)) { found = toast; break; }
    if (!pickedDebugger && await page.locator(`${quickInput}:visible`).count()) {
      const items = await text('.quick-input-widget .quick-input-list');
      log('B: quick pick shown:', oneLine(items, 300));
      await shot('11-debugger-pick');
      const kvm = page.locator('.quick-input-list .monaco-list-row', { hasText: /KVM/ }).first();
      if (await kvm.count()) { await kvm.click(); pickedDebugger = true; }
    }
    await page.waitForTimeout(1000);
  }
  const sentence = (found || '').split('\n').find((l) => /kvmdbg found/.test(l));
  check('B: F5 without launch.json says in a notification which kernel it picked (pvh64.elf)', !!sentence && /pvh64\.elf/.test(sentence), sentence || oneLine(await text('.notifications-toasts')));
  await shot('12-f5-picked-kernel');
  // On a fast host the kernel can boot, run and power off before we look: a session that ended
  // with the kernel's last line in its console has booted too.
  const s2 = await (async () => {
    const e4 = Date.now() + 2 * MIN * SLOW;
    while (Date.now() < e4) {
      if (await debugging()) return 'running';
      if (/step result = 0x1234abcd[\s\S]*VM has ended/.test(await text('.terminal-wrapper .xterm-rows, .xterm-screen'))) return 'ran to its end';
      await page.waitForTimeout(1000);
    }
    return undefined;
  })();
  check('B: the picked kernel boots (a debug session running, or one that ran the kernel to its end)', !!s2, s2);
  const term2 = await waitText('.terminal-wrapper .xterm-rows, .xterm-screen', /fib\(20\) = 6765/, 2 * MIN);
  check('B: guest console shows the kernel\'s output', !!term2, oneLine(term2 && term2.split('\n').filter((l) => l.trim()).slice(-4).join('\n')));
  await shot('13-f5-running');
  await page.keyboard.press('Shift+F5');
  await page.waitForTimeout(2000);
};
