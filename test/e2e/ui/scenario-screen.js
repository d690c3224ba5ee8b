// Scenario D: the Guest Screen, with screen64.elf (test/guests/kernel/screen.c)
// and a launch.json. Quick Open screen.c, Ctrl+G to the `/* bp:screen-ready */`
// line (after the kernel drew its text screen), F9, F5; at the breakpoint
// "Show Guest Screen" opens the KVM: Guest Screen view, which shows the
// screen the guest drew (its text, as the view gives it to screen readers);
// F5 on, click into the view and type: the keys reach the guest's PS/2
// keyboard, the guest echoes them on its screen ("> hello" in the view) and,
// after Enter, prints "typed: hello" on its serial console.
const path = require('path');
const { log, check, oneLine } = require('./report');
const { markerLine } = require('./sources');

const SCREEN_SOURCE = process.env.E2E_SCREEN_SOURCE || path.resolve(__dirname, '../../guests/kernel/screen.c');
const TITLE = 'kvmdbg screen64: VGA text mode';

module.exports = async function scenarioScreen(w, wsD) {
  const { page, SEC, MIN, SLOW, shot, text, waitText, openWorkbench, debuggerKnown, openSource, goToLine, toggleBreakpoint, startWithF5, endSession, cursorLine, command, paneText } = w;
  const bp = markerLine(SCREEN_SOURCE, 'screen-ready');
  if (!await openWorkbench(wsD, 'D', 'screen64.elf')) return;
  await debuggerKnown('D', 'd-00-debugger-unknown');
  check('D: Quick Open opened screen.c', !!await openSource(SCREEN_SOURCE));
  check(`D: Ctrl+G put the cursor on line ${bp.line} (bp:screen-ready)`, !!await goToLine(bp.line), `status bar: Ln ${await cursorLine()}`);
  const dot = await toggleBreakpoint();
  check(`D: F9 shows a breakpoint dot on line ${bp.line}`, dot.shown && dot.line === bp.line, `dot level with line number ${dot.line}`);
  await startWithF5('D: ');
  const stack = await waitText('.debug-call-stack', /\bkernel_main\b/, 6 * MIN);
  check('D: stopped at the breakpoint in kernel_main', !!stack, oneLine(stack || await text('.debug-call-stack')));
  await page.waitForTimeout(1500);
  check(`D: the editor stopped on the bp:screen-ready line ${bp.line}`, await cursorLine() === bp.line, `status bar: Ln ${await cursorLine()}`);

  // The screen's page lives in nested iframes (VS Code's webview host): the frames that have its #screen,
  // the biggest first (the editor tab's, once it is open; else the side bar's).
  const screenFrames = async () => {
    const found = [];
    for (const f of page.frames()) {
      const box = await f.locator('#screen').boundingBox({ timeout: 2 * SEC }).catch(() => null);
      if (box) found.push({ f, area: box.width * box.height });
    }
    return found.sort((a, b) => b.area - a.area).map((x) => x.f);
  };
  const inView = async (selector, which = 0) => {
    const f = (await screenFrames())[which];
    return f ? await f.locator(selector).textContent({ timeout: 5 * SEC }).catch(() => '') : '';
  };
  const screenText = () => inView('#text');
  const waitScreen = async (re, timeout) => {
    const end = Date.now() + timeout * SLOW;
    for (;;) {
      const s = await screenText();
      if (re.test(s)) return s;
      if (Date.now() > end) return undefined;
      await page.waitForTimeout(1000);
    }
  };
  check('D: the Command Palette runs "Show Guest Screen"', !!await command('Show Guest Screen'));
  const shown = await waitScreen(new RegExp(`${TITLE}[\\s\\S]*scan code set 1[\\s\\S]*\\n>`), 60 * SEC);
  check('D: at the breakpoint, the Guest Screen view shows the screen the guest drew (its title, "scan code set 1", the "> " prompt)', !!shown,
    oneLine(shown || await screenText() || `view: ${await paneText('KVM: Guest Screen')}`, 300));
  const status = await inView('#status');
  check('D: the view says what it shows (80x25 text)', /80x25 text/.test(status), oneLine(status));
  await shot('d-01-guest-screen-at-breakpoint');
  // A side bar is small for a screen: the same screen in an editor tab.
  check('D: the Command Palette runs "Open Guest Screen in Editor"', !!await command('Open Guest Screen in Editor'));
  const tab = await waitText('.tabs-container', /Guest Screen/, 30 * SEC);
  const bigger = tab && await waitScreen(new RegExp(`${TITLE}[\\s\\S]*scan code set 1`), 30 * SEC);
  check('D: an editor tab "Guest Screen" shows the same screen', !!bigger && (await screenFrames()).length >= 2, oneLine(tab || await text('.tabs-container'), 200));
  await shot('d-01b-guest-screen-in-editor');

  log('D: continuing (F5), then typing into the view');
  await page.keyboard.press('F5');
  const term = await waitText('.terminal-wrapper .xterm-rows, .xterm-screen', /screen ready/, MIN);
  check('D: the guest runs on to its prompt (console: "screen ready")', !!term);
  const f = (await screenFrames())[0];
  if (f) await f.locator('#screen').click({ timeout: 20 * SEC }).catch((e) => log(`D: clicking the screen: ${e.message.split('\n')[0]}`));
  await page.keyboard.type('hello', { delay: 80 });
  const echoed = await waitScreen(/\n> hello/, 60 * SEC);
  check('D: keys typed into the Guest Screen view reach the guest: the view shows "> hello"', !!echoed, oneLine(echoed || await screenText(), 300));
  await shot('d-02-typed-into-guest-screen');
  await page.keyboard.press('Enter');
  const typed = await waitText('.terminal-wrapper .xterm-rows, .xterm-screen', /typed: hello/, MIN);
  check('D: after Enter the guest prints "typed: hello" on its console', !!typed, oneLine(typed && typed.split('\n').filter((l) => l.trim()).slice(-3).join('\n')));
  await shot('d-03-after-enter');
  await endSession();
};
