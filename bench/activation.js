// The Playwright half of bench/activation.sh: the extension's activation time as
// VS Code itself measures it (code loading + the activate() call, the figure of
// "Developer: Show Running Extensions"), in the real extension host of
// code-server, next to a peer measured in the same window: VS Code's own
// JavaScript debugger (ms-vscode.js-debug, built in). Each is activated the way
// a person starts debugging without a launch.json: Quick Open "debug ", then
// the debugger's "<type>..." entry of dynamic configurations. "Node.js..."
// activates js-debug alone; "KVM (kvmdbg)..." then activates kvmdbg (its
// generic onDebugDynamicConfigurations event would also wake js-debug, which is
// why the peer goes first). Activation time counts only synchronous work of
// each extension, so the order does not lend one the other's cost.
//
//   node activation.js measure <serverUrl> <workspace> <results.jsonl>
//   node activation.js report <results.jsonl>
const fs = require('fs');

const SUBJECTS = {
  'js-debug': { pick: 'Node.js...', row: /JavaScript Debugger|js-debug/i },
  kvmdbg: { pick: 'KVM (kvmdbg)...', row: /kvmdbg/i },
};
const ORDER = ['js-debug', 'kvmdbg'];

async function measure(server, ws, resultsFile) {
  const { chromium } = require('playwright-core');
  const ctx = await chromium.launchPersistentContext(fs.mkdtempSync(require('os').tmpdir() + '/act-chrome-'), {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-dev-shm-usage'],
    viewport: { width: 1600, height: 1000 },
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(180_000);
  const text = async (sel) => (await page.locator(sel).allInnerTexts().catch(() => [])).join('\n');
  const palette = async (title) => {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    await input.fill('>' + title);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
    await page.keyboard.press('Enter');
  };
  try {
    await page.goto(`${server}/?folder=${encodeURIComponent(ws)}`, { waitUntil: 'commit' });
    await page.locator('.monaco-workbench .part.activitybar').waitFor();
    // The remote extension host is up once the explorer lists the folder.
    for (let i = 0; i < 240 && !/pvh64/.test(await text('.explorer-folders-view')); i++) await page.waitForTimeout(500);
    await page.waitForTimeout(3000); // let startup activations (onStartupFinished) settle first
    for (const name of ORDER) {
      // The entries appear once the remote extension host has registered the
      // extensions (well after the explorer lists the folder): reopen until then.
      let picked = false;
      for (let i = 0; i < 30 && !picked; i++) {
        await page.keyboard.press('Control+P');
        const input = page.locator('.quick-input-widget input.input');
        if (await input.waitFor({ state: 'visible', timeout: 10_000 }).then(() => true, () => false)) {
          await input.fill('debug ');
          const row = page.locator('.quick-input-list .monaco-list-row', { hasText: SUBJECTS[name].pick }).first();
          picked = await row.click({ timeout: 5000 }).then(() => true, () => false);
        }
        if (!picked) { await page.keyboard.press('Escape'); await page.waitForTimeout(2000); }
      }
      if (!picked) {
        await page.screenshot({ path: resultsFile.replace(/\.jsonl$/, '') + '-failed.png' });
        throw new Error(`Quick Open "debug " never listed ${SUBJECTS[name].pick}`);
      }
      await page.waitForTimeout(3000); // the provider's configurations (or none) are listed: nothing is started
      await page.keyboard.press('Escape');
      await page.waitForTimeout(500);
    }
    await palette('Developer: Show Running Extensions');
    const rows = page.locator('.runtime-extensions-editor .monaco-list-row');
    const result = {};
    for (const name of ORDER) {
      const row = rows.filter({ hasText: SUBJECTS[name].row }).first();
      let ms;
      for (let i = 0; i < 60 && ms === undefined; i++) {
        const m = /Activation: (\d+)ms/.exec(await row.innerText({ timeout: 5000 }).catch(() => ''));
        if (m) ms = Number(m[1]); else await page.waitForTimeout(500);
      }
      if (ms === undefined) throw new Error(`Running Extensions shows no activation time for ${name}: ${(await text('.runtime-extensions-editor')).slice(0, 600)}`);
      result[name] = ms;
    }
    await page.screenshot({ path: resultsFile.replace(/\.jsonl$/, '') + '-running-extensions.png' });
    fs.appendFileSync(resultsFile, JSON.stringify(result) + '\n');
    console.log(`kvmdbg ${result.kvmdbg} ms, js-debug ${result['js-debug']} ms`);
  } finally {
    await ctx.close();
  }
}

function report(resultsFile) {
  const rows = fs.readFileSync(resultsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  if (rows.length === 0) throw new Error('no measurements');
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  const k = median(rows.map((r) => r.kvmdbg)), p = median(rows.map((r) => r['js-debug']));
  const ratios = rows.map((r) => r.kvmdbg / r['js-debug']);
  console.log(`Extension activation in code-server's extension host (code loading + activate(), as "Show Running Extensions" reports), ${rows.length} cold windows:`);
  console.log(`  kvmdbg                    median ${k} ms   (${rows.map((r) => r.kvmdbg).join(', ')})`);
  console.log(`  js-debug (peer, built in) median ${p} ms   (${rows.map((r) => r['js-debug']).join(', ')})`);
  console.log(`  ratio kvmdbg / js-debug: median ${median(ratios).toFixed(2)} (per window: ${ratios.map((r) => r.toFixed(2)).join(', ')})`);
}

const [mode, ...args] = process.argv.slice(2);
(mode === 'measure' ? measure(...args) : mode === 'report' ? Promise.resolve(report(...args)) : Promise.reject(new Error('usage: activation.js measure|report ...')))
  .catch((e) => { console.error('kvmdbg bench activation:', e.message); process.exit(1); });
