import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignHwSlots, firedSlots } from '../../vmm/debug/hw-breakpoints';

test('an instruction breakpoint takes DR0 with G0 set and RW/LEN zero', () => {
  const { assignments, debugreg } = assignHwSlots([{ kind: 'execute', address: 0x100020n }]);
  assert.equal(assignments[0].slot, 0);
  assert.equal(debugreg[0], 0x100020n);
  assert.equal(debugreg[7], 0b10n);
});

test('a 4-byte write watchpoint in DR1 encodes RW1=01 LEN1=11 and GE', () => {
  const { debugreg } = assignHwSlots([
    { kind: 'execute', address: 0x1000n },
    { kind: 'watch', address: 0x2000n, length: 4, access: 'write' },
  ]);
  assert.equal(debugreg[1], 0x2000n);
  const dr7 = debugreg[7];
  assert.equal((dr7 >> 3n) & 1n, 1n, 'G1');
  assert.equal((dr7 >> 20n) & 3n, 1n, 'RW1 = write');
  assert.equal((dr7 >> 22n) & 3n, 3n, 'LEN1 = 4 bytes');
  assert.equal((dr7 >> 9n) & 1n, 1n, 'GE');
});

test('8-byte read/write watchpoints encode LEN=10 and RW=11', () => {
  const { debugreg } = assignHwSlots([{ kind: 'watch', address: 0x3008n, length: 8, access: 'readWrite' }]);
  assert.equal((debugreg[7] >> 16n) & 3n, 3n);
  assert.equal((debugreg[7] >> 18n) & 3n, 2n);
});

test('a fifth request and a misaligned watchpoint are refused with a sentence', () => {
  const reqs = [1, 2, 3, 4, 5].map((i) => ({ kind: 'execute' as const, address: BigInt(i * 16) }));
  const { assignments } = assignHwSlots([{ kind: 'watch', address: 0x1001n, length: 4, access: 'write' }, ...reqs]);
  assert.match(assignments[0].problem!, /aligned to 4 bytes/);
  assert.deepEqual(assignments.slice(1, 5).map((a) => a.slot), [0, 1, 2, 3]);
  assert.match(assignments[5].problem!, /all 4 hardware debug registers/);
});

test('DR6 B0-B3 name the slots that fired', () => {
  assert.deepEqual(firedSlots(0xffff4ff5n), [0, 2]);
});
