// `npm run fuzz [-- --rounds N] [-- --seed S]`: the mutation fuzzers with a long budget.
// The same test files run in CI's unit tier with short, fixed budgets; here KVMDBG_FUZZ_ROUNDS
// (boot fuzzer: rounds per image; the others scale their defaults by ROUNDS/1000) and
// KVMDBG_FUZZ_SEED (a fresh random seed unless given, printed so a failure reproduces) are set.
// Targets: boot loaders (bzImage, ELF, multiboot, PVH), DWARF/CFI sections, GDB remote packets
// (decoder and session), DAP messages (the real adapter process), virtqueues (fuzz-virtio: virtio-mmio,
// virtio-blk on a real image, virtio-rng), the ATA channel (fuzz-ata), and any other test/unit/fuzz-*.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { randomInt } from 'node:crypto';

const arg = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
const rounds = arg('--rounds') ?? process.env.KVMDBG_FUZZ_ROUNDS ?? '20000';
const seed = arg('--seed') ?? process.env.KVMDBG_FUZZ_SEED ?? String(randomInt(1, 2 ** 31));

if (!process.env.KVMDBG_SKIP_BUILD) {
  const b = spawnSync('node', ['scripts/build.mjs'], { stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status || 1);
}
const files = ['boot-fuzz', 'symbols-fuzz', 'gdb-packets', 'gdb-session',
  ...readdirSync('test/unit').filter((f) => /^fuzz-.*\.test\.ts$/.test(f)).map((f) => f.replace(/\.test\.ts$/, ''))]
  .map((f) => `out/test/unit/${f}.test.js`).filter((f) => existsSync(f));
console.log(`kvmdbg fuzz: KVMDBG_FUZZ_ROUNDS=${rounds} KVMDBG_FUZZ_SEED=${seed} (rerun with these to reproduce)\n  ${files.join('\n  ')}`);
const t0 = Date.now();
const r = spawnSync('node', ['--test', '--test-timeout=3600000', ...files], {
  stdio: 'inherit', env: { ...process.env, KVMDBG_FUZZ_ROUNDS: rounds, KVMDBG_FUZZ_SEED: seed },
});
console.log(`kvmdbg fuzz: ${r.status === 0 ? 'no failures' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(0)} s (rounds ${rounds}, seed ${seed})`);
process.exit(r.status ?? 1);
