// KVM tier: hammer64.elf (test/guests/kernel/hammer.c), a guest that makes N
// random and adversarial port, PCI config, MMIO, CMOS and i8042 accesses.
// The VMM keeps running, the guest finishes cleanly (status 0, its RAM canary
// and self-check intact), guest-error lines on stderr stay bounded (logged once
// per port/page/device, then counted), and a clean guest afterwards still works.
// KVMDBG_HAMMER_OPS (default 20000) and KVMDBG_HAMMER_SEEDS (default "1,2") set the budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BOOT_MS, GUEST_DIR, defaultOutput, kernelPath } from './helpers/guests';
import { STACK_LINE, runCli } from './helpers/cli';
import { budget, seeds } from './helpers/soak-budget';

const OPS = budget('KVMDBG_HAMMER_OPS', 20000, 200000);
const SEEDS = seeds('KVMDBG_HAMMER_SEEDS', '1,2', '1,2,3,4');
const HAMMER = join(GUEST_DIR, 'hammer64.elf');
/** stderr may name each misbehaving port/page/device once; far fewer lines than operations. */
const MAX_STDERR_LINES = 200;

for (const seed of SEEDS) {
  test(`hammer64 hammer=${OPS} seed=${seed}: the VMM survives, the guest finishes with status 0 and "hammer ok"`, async () => {
    const t0 = Date.now();
    const r = await runCli(['run', '--kernel', HAMMER, '--memory', '64M', '--cmdline', `hammer=${OPS} seed=${seed}`], BOOT_MS * 3);
    const ms = Date.now() - t0;
    const lines = r.stderr.split('\n').filter(Boolean);
    console.log(`hammer64 seed ${seed}: ${OPS} ops in ${ms} ms, status ${r.status}, ${lines.length} stderr lines`);
    for (const l of lines.slice(0, 12)) console.log(`  stderr: ${l}`);
    assert.match(r.stdout, /^kvmdbg hammer64 \(pvh\)\n/);
    assert.match(r.stdout, new RegExp(`hammer: ${OPS} ops, seed ${seed}\\n`));
    assert.match(r.stdout, /\nhammer done: pio \d+, pci \d+, mmio \d+, cmos \d+, i8042 \d+, console \d+, ata \d+\n/);
    assert.match(r.stdout, /\nfib\(20\) = 6765\nchecksum = 0xa7ecfaa9\nhammer ok\n$/);
    assert.deepEqual([r.status, r.signal], [0, null], `stderr: ${r.stderr.slice(0, 2000)}`);
    assert.doesNotMatch(r.stderr, STACK_LINE);
    assert.ok(lines.length <= MAX_STDERR_LINES, `${lines.length} stderr lines for ${OPS} operations: not rate-limited`);
    for (const l of lines) assert.match(l, /^kvmdbg: (guest error: )?/, `every stderr line is kvmdbg's: ${l}`);
  });
}

test('after the hammering, a clean guest (pvh64) boots with its exact output', async () => {
  const r = await runCli(['run', '--kernel', kernelPath('pvh64'), '--memory', '64M'], BOOT_MS);
  assert.equal(r.stdout, defaultOutput('pvh64'));
  assert.equal(r.stderr, '');
  assert.deepEqual([r.status, r.signal], [0, null]);
});
