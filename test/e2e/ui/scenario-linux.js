// Scenario E: Linux-aware debugging, with kvmdbg's small Linux (bzImage,
// vmlinux, an initramfs whose /init runs `insmod /kvmdbg_mod.ko`) and a
// launch.json with "modulePaths". Quick Open the module's source
// (kvmdbg_mod.c), Ctrl+G to its `/* bp:mod-return */` line, F9 before the
// module exists, F5; when insmod runs, the debugger stops there with n = 10
// and total = 385. Then the views, each given the side bar's room:
// Modules lists vmlinux and kvmdbg_mod with its address range and "Symbols
// loaded"; Linux: Tasks lists init with pid 1, and clicking it shows its
// stack in the Call Stack; Linux: Kernel Log has the kernel's boot messages
// and /init's own line; F5 on, and the log shows the module's message.
const { log, check, oneLine } = require('./report');
const { markerLine } = require('./sources');

module.exports = async function scenarioLinux(w, wsE) {
  const { page, SEC, MIN, shot, text, waitText, revealRow, openWorkbench, debuggerKnown, openSource, goToLine, toggleBreakpoint, startWithF5, endSession, cursorLine, soloPane } = w;
  const source = process.env.E2E_LINUX_MODULE_SOURCE;
  if (!source) { check('E: the module source is known (E2E_LINUX_MODULE_SOURCE from e2e.sh)', false); return; }
  const bp = markerLine(source, 'mod-return');
  log(`E: breakpoint target: ${source}:${bp.line} (${bp.text})`);
  if (!await openWorkbench(wsE, 'E', 'bzImage')) return;
  await debuggerKnown('E', 'e-00-debugger-unknown');
  check('E: Quick Open opened kvmdbg_mod.c', !!await openSource(source));
  check(`E: Ctrl+G put the cursor on line ${bp.line} (bp:mod-return)`, !!await goToLine(bp.line), `status bar: Ln ${await cursorLine()}`);
  const dot = await toggleBreakpoint();
  check(`E: F9 shows a breakpoint dot on line ${bp.line} (the module is not loaded yet)`, dot.shown && dot.line === bp.line, `dot level with line number ${dot.line}`);
  await startWithF5('E: ');

  // Linux boots (nested and emulated in the sandbox: minutes), /init runs insmod.
  const stack = await waitText('.debug-call-stack', /\bkvmdbg_mod_sum\b[\s\S]*\bkvmdbg_mod_init\b/, 12 * MIN);
  check('E: insmod stops at the breakpoint in the module: Call Stack shows kvmdbg_mod_sum <- kvmdbg_mod_init', !!stack, oneLine(stack || await text('.debug-call-stack')));
  await page.waitForTimeout(2000);
  check(`E: the editor stopped on the bp:mod-return line ${bp.line}`, await cursorLine() === bp.line, `status bar: Ln ${await cursorLine()}`);
  const V = '.debug-variables';
  const vars = await waitText(V, /\bLocals\b[\s\S]*\btotal\s*[:=]\s*385\b/, 60 * SEC);
  check('E: Variables view: the module\'s Locals show total = 385', !!vars, oneLine(vars || await text(V), 300));
  const argsRow = await revealRow(V, /^\s*Arguments\s*$/);
  if (argsRow) await argsRow.click();
  const args = await waitText(V, /\bArguments\b[\s\S]*\bn\s*[:=]\s*10\b/, 30 * SEC);
  check('E: Variables view: its Arguments show n = 10', !!args, oneLine(args || await text(V), 300));
  await shot('e-01-stopped-in-module');

  // Modules.
  const modules = await soloPane('Modules');
  const modText = async () => await modules.innerText({ timeout: 5 * SEC }).catch(() => '');
  const modRe = /vmlinux[\s\S]*Symbols loaded[\s\S]*kvmdbg_mod\s*0xffffffff[0-9a-f]{8}-0xffffffff[0-9a-f]{8}\s+Symbols loaded/;
  let mods = '';
  for (const end = Date.now() + 60 * SEC; Date.now() < end && !modRe.test(mods); await page.waitForTimeout(1000)) mods = await modText();
  check('E: the Modules view lists vmlinux and kvmdbg_mod with its address range, both "Symbols loaded"', modRe.test(mods), oneLine(mods, 300));
  await shot('e-02-modules-view');

  // Tasks, and init's stack.
  const tasks = await soloPane('Linux: Tasks');
  const taskText = async () => await tasks.innerText({ timeout: 5 * SEC }).catch(() => '');
  // A row reads "1  init" and then its description "S  CPU 0" with no space between: "1  initS  CPU 0".
  const initRow = /^\s*1\s+init(?:[A-Z]\b|\s|$)/m;
  let list = '';
  for (const end = Date.now() + 60 * SEC; Date.now() < end && !initRow.test(list); await page.waitForTimeout(1000)) list = await taskText();
  check('E: the Linux: Tasks view lists init with pid 1', initRow.test(list), oneLine(list, 300));
  const row = tasks.locator('.monaco-list-row', { hasText: initRow }).first();
  await row.click({ timeout: 10 * SEC }).catch((e) => log(`E: clicking init's row: ${e.message.split('\n')[0]}`));
  const initStack = await waitText('.debug-call-stack', /\btask 1 init\b[\s\S]*\b__?schedule\b/, 60 * SEC);
  check('E: clicking init shows its stack in the Call Stack (a thread "task 1 init" down from the scheduler)', !!initStack, oneLine(initStack || await text('.debug-call-stack'), 300));
  await shot('e-03-tasks-view-init-stack');

  // The kernel log: boot messages and /init's line. The view follows the newest records and
  // renders only the rows in sight: the kernel's own lines just before /init runs (run_init_process's
  // "with environment:", "HOME=/") are the boot messages that are.
  const kernelLog = await soloPane('Linux: Kernel Log');
  const logText = async () => await kernelLog.innerText({ timeout: 5 * SEC }).catch(() => '');
  const logRe = /(?:Run \/init as init process|with environment:)[\s\S]*HOME=\/[\s\S]*KVMDBG-INIT-UP/;
  let dmesg = '';
  for (const end = Date.now() + 60 * SEC; Date.now() < end && !logRe.test(dmesg); await page.waitForTimeout(1000)) dmesg = await logText();
  check('E: the Linux: Kernel Log view shows the kernel\'s boot messages (run_init_process\'s "with environment:", "HOME=/") and /init\'s "KVMDBG-INIT-UP"', logRe.test(dmesg), oneLine(dmesg, 400));
  await shot('e-04-kernel-log-view');
  log('E: continuing (F5): the module\'s init prints its sum');
  await page.keyboard.press('F5');
  const newer = /kvmdbg_mod: sum of squares to 10 is 385/;
  for (const end = Date.now() + 3 * MIN; Date.now() < end && !newer.test(dmesg); await page.waitForTimeout(2000)) dmesg = await logText();
  check('E: while the guest runs, the Kernel Log view shows the module\'s "sum of squares to 10 is 385"', newer.test(dmesg), oneLine(dmesg, 400));
  await shot('e-05-kernel-log-live');
  check('E: Shift+F5 ends the session', await endSession());
};
