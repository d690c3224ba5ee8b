// launch.json "exitBreakpoints": every exception filter by its id, a condition
// string where the filter takes one, or true/false; checked at launch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LaunchConfigError, validateLaunchArgs } from '../../debug-adapter/launch-config';
import { EXIT_FILTERS } from '../../debug-adapter/exit-breakpoints';

const KERNEL = join(__dirname, '..', '..', '..', 'test', 'guests', 'build', 'pvh64.elf');
const exits = (exitBreakpoints: unknown) => validateLaunchArgs({ kernel: KERNEL, exitBreakpoints });

test('every filter id is accepted: conditions for those that take one, true/false for all', () => {
  const all = Object.fromEntries(EXIT_FILTERS.map((f) => [f.filter, true]));
  assert.deepEqual(exits(all).config.exitBreakpoints, all);
  assert.deepEqual(exits(all).warnings, []);
  const conds = { pio: 'out 0x3f8', mmio: '0xfee00000-0xfee00fff', msr: 'wrmsr EFER', vector: '#PF, #GP, 0x80', hlt: false };
  assert.deepEqual(exits(conds).config.exitBreakpoints, conds);
});

test('a bad condition, a condition on a filter without one, or a wrong type is one sentence naming the key', () => {
  assert.throws(() => exits({ vector: '#XX' }), (e: Error) => e instanceof LaunchConfigError && /"exitBreakpoints.vector": "#XX" is not an exception vector/.test(e.message));
  assert.throws(() => exits({ msr: 'NOSUCH' }), /"exitBreakpoints.msr": "NOSUCH" is not an MSR/);
  assert.throws(() => exits({ hlt: 'yes' }), /"exitBreakpoints.hlt" must be true or false/);
  assert.throws(() => exits({ pio: 3 }), /"exitBreakpoints.pio" must be a condition string \(e.g. "0x3f8"\) or true or false/);
});

test('an unknown kind is a warning that lists the known ones (cpuid is not offered: see debug-adapter/README.md)', () => {
  const { warnings } = exits({ cpuid: true });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /unknown VM-exit breakpoint "cpuid".*known: pio, mmio, shutdown, msr, hlt, hypercall, vector/);
});
