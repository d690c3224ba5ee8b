// Scenario A (main): a workspace with pvh64.elf and a .vscode/launch.json.
// Quick Open the kernel's main.c (the absolute path in its DWARF), Ctrl+G to
// the first line of compute_checksum's body, F9, F5; then: the editor
// highlights the stopped line, the Call Stack shows compute_checksum and its
// caller, the Variables view shows registers (its General scope, after the C
// scopes), the guest console terminal shows the serial output printed before
// the breakpoint, the KVM: VM Exits view has rows, the status bar shows the VM.
const path = require('path');
const { log, check, pending, oneLine } = require('./report');
const { firstStatementLine } = require('./sources');

const SOURCE = process.env.E2E_SOURCE || path.resolve(__dirname, '../../guests/kernel/main.c');
const FUNC = 'compute_checksum';

module.exports = async function scenarioMain(w, wsA) {
  const { page, SEC, MIN, SLOW, shot, text, waitText, visible, retry, quickInput, activeEditor, cursorLine, focusEditor, openWorkbench, debuggerKnown, debugging, openSource, goToLine, toggleBreakpoint, startWithF5, endSession, revealRow, contextMenu, textPoint, mouseAway, hover } = w;
  const bp = firstStatementLine(SOURCE, FUNC);
  log(`breakpoint target: ${SOURCE}:${bp.line} (${bp.text}); ${FUNC} ends at line ${bp.end}`);
  if (!await openWorkbench(wsA, 'A')) throw new Error('the workbench did not load');
  await shot('01-workbench');

  await debuggerKnown('A', '01b-debugger-unknown');

  // Quick Open main.c by the absolute path its DWARF names.
  const opened = await openSource(SOURCE);
  check('Quick Open opened main.c in the editor', !!opened, oneLine(opened));
  const atLine = await goToLine(bp.line);
  check(`Ctrl+G put the cursor on line ${bp.line}`, !!atLine, `status bar: Ln ${await cursorLine()}`);
  const dot = await toggleBreakpoint();
  check('F9 shows a breakpoint dot in the gutter', dot.shown);
  check(`the dot is on line ${bp.line}`, dot.line === bp.line, `dot level with line number ${dot.line}`);
  await shot('02-breakpoint-set');
  await startWithF5('');
  await shot('03-session-started');

  // Stopped at the breakpoint.
  log(`waiting for the stop in ${FUNC} (emulated KVM: minutes)`);
  const stack = await waitText('.debug-call-stack', new RegExp(`${FUNC}[\\s\\S]*\\n\\s*\\S`), 6 * MIN);
  const frames = (stack || '').split('\n').map((s) => s.trim()).filter(Boolean);
  const at = frames.findIndex((f) => f.includes(FUNC));
  const caller = at >= 0 ? frames.slice(at + 1).find((f) => /default_run|kernel_main/.test(f)) : undefined;
  check(`Call Stack shows ${FUNC}`, at >= 0, oneLine(stack));
  check('Call Stack shows its caller (default_run / kernel_main)', !!caller, caller || '');
  await page.waitForTimeout(2000);
  const tabs = await text(`${activeEditor} .tabs-container .tab.active`);
  check('the editor shows main.c at the stop', /main\.c/.test(tabs), oneLine(tabs));
  const topFrame = `${activeEditor} .margin .glyph-margin-widgets [class*="debug-stackframe"]`;
  const hl = await visible(`${activeEditor} .debug-top-stack-frame-line, ${topFrame}`, 30 * SEC);
  const stoppedLine = await cursorLine();
  check('the editor highlights the stopped line (top stack frame decoration)', hl);
  check(`the stopped line is the breakpoint's line ${bp.line} (in ${FUNC})`, stoppedLine === bp.line, `status bar: Ln ${stoppedLine}`);

  // Variables: the register scope, rip/rax with hex values. A C frame's scopes come
  // first (Locals, Arguments, Statics; VS Code expands only the first), the
  // registers after them in "General": open it as a person would, by clicking it.
  const regsRe = /\brip\b[\s\S]*0x[0-9a-f]+|\brax\b[\s\S]*0x[0-9a-f]+/i;
  let vars = await waitText('.debug-variables', /\bGeneral\b|\brax\b/, 45 * SEC) && await waitText('.debug-variables', regsRe, 3 * SEC);
  if (!vars) {
    log('registers not listed: expanding the General scope in the Variables view');
    const general = await revealRow('.debug-variables', /^\s*General\s*$/);
    if (general) await general.click().catch((e) => log('clicking General failed:', e.message.split('\n')[0]));
    vars = await waitText('.debug-variables', regsRe, 45 * SEC);
  }
  const rip = (vars || '').match(/\brip\b\s*[:=]?\s*(0x[0-9a-f]+)/i);
  check('Variables view shows registers (rip/rax with values)', !!vars, rip ? `rip = ${rip[1]}` : oneLine(await text('.debug-variables')));
  await shot('04-stopped-at-breakpoint');

  // The guest console terminal: output printed before the breakpoint.
  const term = await waitText('.terminal-wrapper .xterm-rows, .xterm-screen', /fib\(20\) = 6765/, 60 * SEC);
  check('guest console terminal shows the serial output "fib(20) = 6765"', !!term,
    oneLine(term ? term.split('\n').filter((l) => l.trim()).slice(-6).join('\n') : await text('.xterm-rows')));
  const termTabs = await text('.terminal-tabs-entry, .single-terminal-tab, .terminal-tab, .panel .composite-title');
  log('terminal panel:', oneLine(termTabs, 160));
  // No check on "checksum = ..." being absent: it is printed after compute_checksum returns.
  check('the guest has not run past the breakpoint (no "checksum =" line yet)', !!term && !/checksum = 0x/.test(term));

  // The KVM: VM Exits view in the Run and Debug side bar.
  const exitsPane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'KVM: VM Exits' }) }).first();
  // The view may start collapsed: open it as a person would, by clicking its title.
  const exitsHeader = exitsPane.locator('.pane-header').first();
  if ((await exitsHeader.getAttribute('aria-expanded').catch(() => 'true')) === 'false') await exitsHeader.click().catch(() => {});
  const exitsText = async () => (await exitsPane.innerText({ timeout: 5 * SEC }).catch(() => ''));
  let exits = '';
  const end = Date.now() + 40 * SEC * SLOW;
  while (Date.now() < end) { exits = await exitsText(); if (/By kind|does not provide|Not available/.test(exits)) break; await page.waitForTimeout(1000); }
  const rows = await exitsPane.locator('.monaco-list-row').count().catch(() => 0);
  if (/does not provide|Not available/.test(exits) && process.env.E2E_STRICT !== '1') {
    pending('KVM: VM Exits view shows rows', `the view says "${oneLine(exits, 160)}" (the adapter does not answer kvm/exitStats yet)`);
  } else {
    check('KVM: VM Exits view shows rows (By kind + at least one exit kind)', /By kind/.test(exits) && rows >= 2, `${rows} rows: ${oneLine(exits, 200)}`);
  }
  await shot('05-views');

  const status = await text('.statusbar-item');
  check('status bar shows the VM paused', /KVM paused|paused/i.test((status.match(/[^\n]*KVM[^\n]*/) || [''])[0]), (status.match(/[^\n]*KVM[^\n]*/) || ['(no KVM item)'])[0]);

  check('Shift+F5 ends the session', await endSession());
  await shot('06-session-ended');
};
