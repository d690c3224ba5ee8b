// Scenario C: C data, with cdata-gcc-O0.elf (test/guests/kernel/cdata.c,
// CDATA.md) and a launch.json. Quick Open cdata.c, Ctrl+G to the
// `/* bp:leaf */` line, F9, F5; then: the Variables view's Locals show
// sum = 405 and its Arguments a = 5, b = 400; hovering `value` in
// `n->next->value` / `n->value` shows 20 / 10 (the whole member chain is
// evaluated: `value` alone is no variable there); right-click fib_result in
// Statics -> Add to Watch, and the Watch view shows 6765; right-click
// mix_hits (written after leaf returns, in the inlined mix) -> Break on
// Value Change, F5, and the debugger stops in mix on a data breakpoint.
const path = require('path');
const { log, check, oneLine } = require('./report');
const { markerLine } = require('./sources');

// The path cdata-gcc-O0.elf's DWARF names (it was built in this tree).
const C_SOURCE = process.env.E2E_C_SOURCE || path.resolve(__dirname, '../../guests/kernel/cdata.c');

module.exports = async function scenarioCdata(w, wsC) {
  const { page, SEC, MIN, SLOW, shot, text, waitText, visible, retry, quickInput, activeEditor, cursorLine, focusEditor, openWorkbench, debuggerKnown, debugging, openSource, goToLine, toggleBreakpoint, startWithF5, endSession, revealRow, contextMenu, textPoint, mouseAway, hover } = w;
  const leafBp = markerLine(C_SOURCE, 'leaf');
  const mixBp = markerLine(C_SOURCE, 'inline');
  log(`C: breakpoint target: ${C_SOURCE}:${leafBp.line} (${leafBp.text})`);
  if (!await openWorkbench(wsC, 'C', 'cdata-gcc-O0.elf')) return;
  await debuggerKnown('C', 'c-00-debugger-unknown');
  const opened = await openSource(C_SOURCE);
  check('C: Quick Open opened cdata.c in the editor', !!opened, oneLine(opened));
  const atLine = await goToLine(leafBp.line);
  check(`C: Ctrl+G put the cursor on line ${leafBp.line} (bp:leaf)`, !!atLine, `status bar: Ln ${await cursorLine()}`);
  const dot = await toggleBreakpoint();
  check(`C: F9 shows a breakpoint dot on line ${leafBp.line}`, dot.shown && dot.line === leafBp.line, `dot level with line number ${dot.line}`);
  await startWithF5('C: ');

  const stack = await waitText('.debug-call-stack', /\bleaf\b[\s\S]*\bcaller\b[\s\S]*\bkernel_main\b/, 6 * MIN);
  check('C: Call Stack shows leaf, caller, kernel_main', !!stack, oneLine(stack || await text('.debug-call-stack')));
  await page.waitForTimeout(2000);
  const stoppedLine = await cursorLine();
  check(`C: the editor stopped on the bp:leaf line ${leafBp.line}`, stoppedLine === leafBp.line, `status bar: Ln ${stoppedLine}`);

  // 1. Variables: Locals (VS Code expands the first scope) with sum = 405, then Arguments a = 5, b = 400.
  const V = '.debug-variables';
  let vars = await waitText(V, /\bLocals\b[\s\S]*\bsum\s*[:=]\s*405\b/, 60 * SEC);
  if (!vars) {
    log('C: Locals not expanded: clicking it');
    const locals = await revealRow(V, /^\s*Locals\s*$/);
    if (locals) await locals.click();
    vars = await waitText(V, /\bLocals\b[\s\S]*\bsum\s*[:=]\s*405\b/, 30 * SEC);
  }
  check('C: Variables view: the Locals scope shows sum = 405', !!vars, oneLine(vars || await text(V), 300));
  const argsRow = await revealRow(V, /^\s*Arguments\s*$/);
  if (argsRow) await argsRow.click();
  const args = await waitText(V, /\bArguments\b[\s\S]*\ba\s*[:=]\s*5\b[\s\S]*\bb\s*[:=]\s*400\b/, 30 * SEC);
  check('C: Variables view: the Arguments scope shows a = 5, b = 400', !!args, oneLine(args || await text(V), 300));
  await shot('c-01-locals-arguments');

  // Inline values (kvmdbg's InlineValuesProvider): `sum = 405` at the end of sum's line.
  const sumLine = leafBp.body.find((l) => /\bint sum\s*=/.test(l.text));
  const inline = sumLine && await (async () => {
    const end = Date.now() + 20 * SEC * SLOW;
    let t = '';
    while (Date.now() < end) {
      const p = await textPoint(sumLine.line, 'sum = 405', 'sum').catch(() => ({ error: 'page' }));
      if (!p.error) return true;
      t = p.error;
      await page.waitForTimeout(1000);
    }
    log(`C: inline value: ${t}`);
    return false;
  })();
  check(`C: the editor shows the inline value "sum = 405" on line ${sumLine ? sumLine.line : '?'}`, !!inline);

  // 2. Hover member chains in leaf: `value` alone is no variable there, only the whole chain has a value.
  for (const [needle, want] of [['n->next->value', 20], ['n->value', 10]]) {
    const src = leafBp.body.find((l) => l.text.replace(/\/\*.*$/, '').includes(needle));
    if (!src) { check(`C: hovering ${needle} shows ${want}`, false, `no line of leaf has ${needle}`); continue; }
    const shown = await retry(`hover ${needle}`, 4, async (i) => { const t = await hover(src.line, needle, 'value', i); return new RegExp(`(^|\\D)${want}(\\D|$)`).test(t) ? t : undefined; });
    check(`C: hovering "value" in ${needle} (line ${src.line}) shows ${want} in the hover`, !!shown, oneLine(shown || await text('.debug-hover-widget')));
    if (needle === 'n->next->value') await shot('c-02-hover-member-chain');
  }
  await mouseAway();

  // 3. Add to Watch from the Variables view: Statics -> fib_result -> Add to Watch.
  const statics = await revealRow(V, /^\s*Statics\s*$/);
  if (statics) await statics.click();
  const fibRow = await revealRow(V, /^\s*fib_result\b/);
  const added = fibRow && await contextMenu(fibRow, 'Add to Watch');
  log(`C: Add to Watch on fib_result: ${fibRow ? (added ? 'picked' : 'no such menu item') : 'no fib_result row in Statics'}`);
  const watch = await waitText('.debug-watch', /\bfib_result\s*[:=]\s*6765\b/, 30 * SEC);
  check('C: Add to Watch (fib_result from Statics): the Watch view shows fib_result = 6765', !!watch, oneLine(watch || await text('.debug-watch')));
  await shot('c-03-watch');

  // 4. Break on Value Change on mix_hits (written in the inlined mix, after leaf returns), then F5.
  const mixRow = await revealRow(V, /^\s*mix_hits\b/);
  const armed = mixRow && await contextMenu(mixRow, 'Break on Value Change');
  check('C: the Variables view offers "Break on Value Change" on mix_hits', !!armed, mixRow ? '' : 'no mix_hits row in Statics');
  // (the view lists the exception filters first, Linux's too: the row may be below them, out of the virtual list)
  const bpRow = await revealRow('.debug-breakpoints', /mix_hits/, 40);
  const bps = bpRow ? await bpRow.innerText().catch(() => 'mix_hits') : undefined;
  check('C: the Breakpoints view lists the data breakpoint on mix_hits', !!bps, oneLine(bps || await text('.debug-breakpoints'), 300));
  await shot('c-04-data-breakpoint-set');
  await page.keyboard.press('Escape');
  log('C: continuing (F5)');
  await page.keyboard.press('F5');
  const callStackPane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: /call stack/i }) }).first();
  const paneText = async () => await callStackPane.innerText({ timeout: 5 * SEC }).catch(() => '');
  let why = '';
  const e5 = Date.now() + 2 * MIN * SLOW;
  while (Date.now() < e5) { why = await paneText(); if (/paused on data breakpoint/i.test(why)) break; await page.waitForTimeout(1000); }
  check('C: F5 runs on and the debugger stops on the data breakpoint (Call Stack: "Paused on data breakpoint")', /paused on data breakpoint/i.test(why), oneLine(why, 300));
  // (the header says why before the frames are listed)
  const stack2 = await waitText('.debug-call-stack', /\S[\s\S]*\bcaller\b/, 30 * SEC) || await text('.debug-call-stack');
  const frames2 = stack2.split('\n').map((l) => l.trim()).filter(Boolean);
  const mixLast = mixBp.body[mixBp.body.length - 1].line;
  await page.waitForTimeout(1500);
  const line2 = await cursorLine();
  check(`C: it stopped in mix (the write of mix_hits, lines ${mixBp.line}-${mixLast})`, /^mix\b/.test(frames2[0] || '') && line2 >= mixBp.line && line2 <= mixLast,
    `top frame ${frames2[0]}, status bar Ln ${line2}`);
  await shot('c-05-data-breakpoint-stop');
  check('C: Shift+F5 ends the session', await endSession());
};
