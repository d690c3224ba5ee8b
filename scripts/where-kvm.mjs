// Benchmarks run where /dev/kvm works: here, or else this same script again
// inside the project's KVM sandbox (one boot for the whole run), as
// scripts/test.mjs does for the KVM tier. Returns only when the caller
// should run here; otherwise it exits with the sandboxed run's status.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** { sandboxed } when the caller runs here; never returns after a sandboxed run. */
export function runWhereKvmIs({ script, argv, sandboxArgs, what, emulatedNote, fail }) {
  const host = require('../out/vmm/host/kvm-host.js');
  const kvm = host.kvmProblem();
  const sandboxed = host.insideSandbox();
  if (!kvm) return { sandboxed };
  if (sandboxed) fail(`inside the KVM sandbox and still ${kvm}`);
  const sandbox = host.sandboxProblem();
  if (sandbox) fail(`cannot run: ${kvm}, and ${sandbox}`);
  console.log(`\nNo usable /dev/kvm on this host (${kvm}).\n`
    + `Running ${what} inside the project's KVM sandbox (test/sandbox/run: QEMU software CPU with nested SVM, ~10 s to start).\n`
    + emulatedNote);
  const r = spawnSync(host.sandboxScript(), [...sandboxArgs, '--', 'node', script, ...argv], {
    stdio: 'inherit', env: { ...process.env, KVMDBG_BENCH_INNER: '1', KVMDBG_SKIP_BUILD: '1' },
  });
  if (r.error) fail(`the KVM sandbox did not start: ${r.error.message}`);
  process.exit(r.status ?? 1);
}
