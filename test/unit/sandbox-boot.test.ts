// test/sandbox/run: a boot that never reaches the command is killed and tried
// again, and after three such boots the run ends with a sentence, not at the
// hour's backstop (CI once lost a whole batch to an hour of QEMU that printed
// nothing). A boot limit of 1 s is shorter than any boot, so all three stall.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const RUN = 'test/sandbox/run';

test('a sandbox whose boots stall is booted three times, then ends with exit 124 and says why', () => {
  const started = Date.now();
  const r = spawnSync(RUN, ['-t', '120', '--', 'echo', 'never'], {
    encoding: 'utf8', env: { ...process.env, KVM_SANDBOX_BOOT_LIMIT: '1' }, timeout: 90_000,
  });
  assert.equal(r.status, 124, r.stderr);
  assert.equal(r.stdout.includes('never'), false);
  assert.equal((r.stderr.match(/did not reach the command within 1s \(QEMU stalled while booting the sandbox\); booting again/g) ?? []).length, 2, r.stderr);
  assert.match(r.stderr, /kvm-sandbox: 3 boots in a row did not reach the command within 1s each/);
  assert.ok(Date.now() - started < 60_000, `three 1 s boot limits took ${Date.now() - started} ms`);
});

test('a sandbox that boots runs the command once and returns its output and exit status', () => {
  const r = spawnSync(RUN, ['-t', '120', '--', 'sh', '-c', 'echo inside; exit 3'], { encoding: 'utf8', timeout: 110_000 });
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stdout.replace(/\r/g, ''), 'inside\n');
  assert.doesNotMatch(r.stderr, /booting again/);
});
