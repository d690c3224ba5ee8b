// kvm-needs: software-breakpoints
// (ten breakpoints: four debug registers, then software traps that must stop the vCPU)
// KVM tier: Debian's real gdb against `kvmdbg run --gdb`, with more than the
// four breakpoints and watchpoints the debug registers hold: ten `break`s on
// step_sequence's instructions (int3s beyond DR0-3), and `watch` on five
// variables and a 64-byte struct at once (page protection where DR
// watchpoints never fire, and for anything DRs cannot take).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelPath, symbol } from './helpers/guests';
import { withGdb } from './helpers/gdb';
import { instructionsAt } from './helpers/instructions';

const KERNEL = kernelPath('pvh64');


test('gdb: ten breakpoints on consecutive instructions each stop there in turn (six of them software traps); the guest then finishes unchanged', { timeout: 300_000 }, async () => {
  const at = instructionsAt('pvh64', symbol('pvh64', 'step_sequence'), 10);
  const r = await withGdb(KERNEL, '', [
    ...at.map((a) => `break *${a}`),
    ...at.flatMap(() => ['continue', 'p/x $pc']),
    'delete', 'continue',
  ]);
  for (let i = 1; i <= 10; i++) assert.match(r.gdb, new RegExp(`Breakpoint ${i} at ${at[i - 1]}`), r.gdb);
  const pcs = [...r.gdb.matchAll(/^\$\d+ = (0x[0-9a-f]+)$/gm)].map((m) => m[1]);
  assert.deepEqual(pcs, at, r.gdb);
  assert.equal(await r.exited, 0, r.stderr());
  assert.match(r.output(), /step result = 0x1234abcd/);
});

test('gdb: `watch` on five variables and a 64-byte struct at once: every write stops with its new value', { timeout: 300_000 }, async () => {
  const names = ['watch_a', 'watch_b', 'watch_c', 'watch_d', 'watch_e'];
  const r = await withGdb(KERNEL, 'watch', [
    'break watch_writes', 'continue', 'delete',
    ...names.map((n) => `watch ${n}`), 'watch watch_block',
    ...Array(7).fill(['continue', 'p/x watch_a + watch_b + watch_c + watch_d + watch_e + watch_block.words[0] + watch_block.words[7]']).flat(),
    'delete', 'continue',
  ]);
  for (const [i, n] of [...names, 'watch_block'].entries()) assert.match(r.gdb, new RegExp(`[Hh]ardware watchpoint ${i + 2}: ${n}`), r.gdb);
  // After each write the sum grows by what was written: 1, 2, 3, 4, 5, then 0x77, then 0x11.
  const sums = [...r.gdb.matchAll(/^\$\d+ = (0x[0-9a-f]+)$/gm)].map((m) => Number(m[1]));
  assert.deepEqual(sums, [1, 3, 6, 10, 15, 15 + 0x77, 15 + 0x77 + 0x11], r.gdb);
  assert.match(r.gdb, /Old value = 0\nNew value = 1/);
  assert.equal(await r.exited, 0, r.stderr());
  assert.match(r.output(), /watch = 1 2 3 4 5 0x88/);
});
