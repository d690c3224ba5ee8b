// The Cap and ExitReason numbers in native/constants.ts, checked against the
// system's <linux/kvm.h> (skipped, saying so, where the header is absent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { Cap, ExitReason } from '../../native/constants';
import * as L from '../../native/exit-layout';

const header = '/usr/include/linux/kvm.h';

function defines(prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of readFileSync(header, 'utf8').matchAll(new RegExp(`^#define ${prefix}(\\w+)\\s+(\\d+)`, 'gm'))) {
    out.set(m[1], Number(m[2]));
  }
  return out;
}

function check(e: Record<string, string | number>, prefix: string): void {
  const h = defines(prefix);
  for (const [name, value] of Object.entries(e)) {
    if (typeof value !== 'number') continue;
    assert.equal(h.get(name), value, `${prefix}${name}`);
  }
}

test('Cap and ExitReason match <linux/kvm.h>', { skip: existsSync(header) ? false : `${header} not installed (apt-get install linux-libc-dev)` }, () => {
  check(Cap, 'KVM_CAP_');
  check(ExitReason, 'KVM_EXIT_');
});

test('the exit buffer layout matches native/src/exit_buffer.h', () => {
  const src = readFileSync(`${__dirname}/../../../native/src/exit_buffer.h`, 'utf8');
  const native = new Map([...src.matchAll(/constexpr size_t k(\w+) = (\w+)(?: \+ (\w+))?;/g)].map((m) => [m[1], m[0]]));
  const want: Record<string, number> = {
    Reason: L.EXIT_REASON, A: L.EXIT_A, B: L.EXIT_B, C: L.EXIT_C, D: L.EXIT_D, Addr: L.EXIT_ADDR,
    X0: L.EXIT_X0, X1: L.EXIT_X1, X2: L.EXIT_X2, Words: L.EXIT_WORDS, Data: L.EXIT_DATA, DataMax: L.EXIT_DATA_MAX,
  };
  for (const [name, value] of Object.entries(want)) {
    assert.ok(native.get(name)?.endsWith(`= ${value};`), `k${name} = ${value} in exit_buffer.h (${native.get(name)})`);
  }
});
