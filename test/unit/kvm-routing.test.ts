// Unit tier: how npm test routes KVM-tier files (scripts/kvm-routing.mjs):
// by the `// kvm-needs:` line of each file's source against the host probe's
// report; a host without KVM sends everything to the sandbox; every KVM-tier
// file names only capabilities the probe measures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MEANINGS, type CapabilityResult, type HostReport } from '../../vmm/host/probe/capabilities';

const ROOT = join(__dirname, '..', '..', '..');
type Routing = {
  needsOf(file: string): string[];
  route(files: string[], report: HostReport): { here: string[]; away: { file: string; missing: string[] }[] };
};
const routing = (): Promise<Routing> => import(join(ROOT, 'scripts', 'kvm-routing.mjs'));

const cap = (id: CapabilityResult['id'], works: boolean, detail = works ? 'measured yes' : 'measured no'): CapabilityResult => ({ id, works, detail });

test('needsOf reads the kvm-needs line and adds the base (a 64-bit guest, single steps)', async () => {
  const { needsOf } = await routing();
  process.chdir(ROOT);
  assert.deepEqual(needsOf('out/test/kvm/smp.test.js'), ['long-mode', 'single-step', 'linux']);
  assert.deepEqual(needsOf('out/test/kvm/dap-software-breakpoints.test.js'), ['long-mode', 'single-step', 'software-breakpoints']);
  assert.deepEqual(needsOf('out/test/kvm/cli.test.js'), ['long-mode', 'single-step']);
});

test('route: a PVM-like report keeps what it can run here and sends the rest away with the measured reason; no KVM sends all', async () => {
  const { route } = await routing();
  process.chdir(ROOT);
  const files = ['out/test/kvm/cli.test.js', 'out/test/kvm/smp.test.js', 'out/test/kvm/exit-filters.test.js'];
  const pvm: HostReport = {
    flavour: 'pvm', probeMs: 70,
    capabilities: [cap('long-mode', true), cap('single-step', true), cap('msr-exits', false, 'WRMSR EFER did not complete'), cap('linux', false, 'INT 0x80 gave internal error')],
  };
  const r = route(files, pvm);
  assert.deepEqual(r.here, ['out/test/kvm/cli.test.js']);
  assert.deepEqual(r.away, [
    { file: 'out/test/kvm/smp.test.js', missing: ['linux (INT 0x80 gave internal error)'] },
    { file: 'out/test/kvm/exit-filters.test.js', missing: ['msr-exits (WRMSR EFER did not complete)'] },
  ]);
  const none = route(files, { flavour: 'none', problem: 'no /dev/kvm here', capabilities: [], probeMs: 0 });
  assert.deepEqual([none.here, none.away.map((a) => a.missing)], [[], [['no /dev/kvm here'], ['no /dev/kvm here'], ['no /dev/kvm here']]]);
});

test('every KVM-tier file names only capabilities the probe measures', async () => {
  const { needsOf } = await routing();
  process.chdir(ROOT);
  for (const f of readdirSync(join(ROOT, 'test', 'kvm')).filter((n) => n.endsWith('.test.ts'))) {
    for (const need of needsOf(`out/test/kvm/${f.replace(/\.ts$/, '.js')}`)) assert.ok(need in MEANINGS, `${f} needs '${need}', which the host probe does not measure`);
  }
});

test('the per-file table lists a file that never got a verdict (its sandbox died) as failed, not left out', async () => {
  const { summary } = await import(join(ROOT, 'scripts', 'kvm-tier-summary.mjs')) as { summary(rows: unknown[], expected?: string[]): string };
  const text = summary([{ file: 'out/test/kvm/a.test.js', where: 'the sandbox', verdict: 'ok', seconds: 60, notes: [] }],
    ['out/test/kvm/a.test.js', 'out/test/kvm/b.test.js']);
  assert.match(text, /^NO VERDICT \(never ended\)\s+0 s\s+out\/test\/kvm\/b\.test\.js$/m);
  assert.match(text, /^1 of 2 files failed, 1\.0 min$/m);
});
