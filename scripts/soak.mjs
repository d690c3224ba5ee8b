// `npm run soak`: the lifecycle and hostile-guest KVM tests at the full budgets
// the README's Reliability table reports (100 launch/stop cycles in one process
// and 100 in fresh ones, more kill points, longer hammering). CI runs the same
// files with short budgets inside `npm test`. Runs where /dev/kvm works, else
// in the KVM sandbox (there: expect a few hours, everything is emulated).
import { spawnSync } from 'node:child_process';
import { runWhereKvmIs } from './where-kvm.mjs';

const files = ['lifecycle', 'lifecycle-adapter', 'lifecycle-kill', 'hostile-guest', 'hostile-guest-virtio']
  .map((f) => `out/test/kvm/${f}.test.js`);
if (!process.env.KVMDBG_SKIP_BUILD) {
  const b = spawnSync('node', ['scripts/build.mjs'], { stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}
process.env.KVMDBG_SOAK = '1';
runWhereKvmIs({
  script: 'scripts/soak.mjs', argv: [], sandboxArgs: ['-m', '6144', '-c', '2', '-t', '21600'],
  what: 'the soak run', emulatedNote: 'Figures from there are emulated: read them as ratios.',
  fail: (m) => { console.error(`kvmdbg soak: ${m}`); process.exit(1); },
});
const r = spawnSync('node', ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit', env: { ...process.env, KVMDBG_SOAK: '1' } });
process.exit(r.status ?? 1);
