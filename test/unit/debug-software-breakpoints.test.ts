// Software (int3) breakpoints planted into and lifted from guest memory,
// without KVM: a page-granular fake memory with unmapped pages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INT3, SoftwareBreakpoints, type CodeMemory } from '../../vmm/debug/software-breakpoints';
import { PORT_TRAP } from '../../vmm/debug/port-trap';

/** Identity-mapped pages (virtual = physical) that can be unmapped; bytes live on when unmapped. */
class FakeMemory implements CodeMemory {
  readonly bytes = new Map<number, number>();
  mapped = new Set<bigint>();
  constructor(pages: bigint[], fill = 0x90) {
    for (const p of pages) {
      this.mapped.add(p);
      for (let i = 0; i < 4096; i++) this.bytes.set(Number(p) * 4096 + i, fill);
    }
  }
  physical(a: bigint): number | undefined { return this.mapped.has(a / 4096n) ? Number(a) : undefined; }
  readByte(p: number): number { return this.bytes.get(p) ?? 0; }
  writeByte(p: number, v: number): void { this.bytes.set(p, v); }
  /** Instruction lengths by address (1 where not said: a nop). */
  lengths = new Map<bigint, number>();
  instructionLength(a: bigint): number | undefined { return this.physical(a) === undefined ? undefined : this.lengths.get(a) ?? 1; }
  /** What the guest sees at a virtual address. */
  at(a: bigint): number | undefined { return this.physical(a) === undefined ? undefined : this.readByte(Number(a)); }
  poke(a: bigint, v: number): void { this.writeByte(Number(a), v); }
}

test('plant writes 0xCC at each address and remembers the byte under it; restore puts the guest\'s bytes back', () => {
  const mem = new FakeMemory([0x100n]);
  mem.poke(0x100010n, 0x55);
  mem.poke(0x100020n, 0x48);
  const sw = new SoftwareBreakpoints();
  sw.set([0x100010n, 0x100020n]);
  assert.deepEqual(sw.plant(mem), { pending: [], tooShort: [] });
  assert.equal(mem.at(0x100010n), INT3);
  assert.equal(mem.at(0x100020n), INT3);
  assert.equal(mem.at(0x100011n), 0x90, 'only the first byte changes');
  sw.restore(mem);
  assert.equal(mem.at(0x100010n), 0x55);
  assert.equal(mem.at(0x100020n), 0x48);
  assert.equal(sw.isPlanted, false);
});

test('planting twice keeps the original byte (not our own 0xCC)', () => {
  const mem = new FakeMemory([0x1n]);
  mem.poke(0x1000n, 0x0f);
  const sw = new SoftwareBreakpoints();
  sw.set([0x1000n]);
  sw.plant(mem);
  sw.plant(mem);
  sw.restore(mem);
  assert.equal(mem.at(0x1000n), 0x0f);
});

test('an address on an unmapped page stays pending and is planted once the page appears', () => {
  const mem = new FakeMemory([0x1n]);
  const sw = new SoftwareBreakpoints();
  sw.set([0x1000n, 0x5000n]);
  assert.deepEqual(sw.plant(mem), { pending: [0x5000n], tooShort: [] });
  sw.restore(mem);
  mem.mapped.add(0x5n);
  mem.poke(0x5000n, 0xe8);
  assert.deepEqual(sw.plant(mem), { pending: [], tooShort: [] });
  assert.equal(mem.at(0x5000n), INT3);
  sw.restore(mem);
  assert.equal(mem.at(0x5000n), 0xe8);
});

test('a byte the guest rewrote while the int3 was planted is left as the guest wrote it', () => {
  const mem = new FakeMemory([0x1n]);
  mem.poke(0x1000n, 0x55);
  const sw = new SoftwareBreakpoints();
  sw.set([0x1000n]);
  sw.plant(mem);
  mem.poke(0x1000n, 0xc3);   // the guest loaded new code there
  sw.restore(mem);
  assert.equal(mem.at(0x1000n), 0xc3);
});

test('isOurs tells our int3s from the guest\'s own; the set changes only while lifted', () => {
  const mem = new FakeMemory([0x1n]);
  const sw = new SoftwareBreakpoints();
  sw.set([0x1000n]);
  assert.equal(sw.isOurs(0x1000n), true);
  assert.equal(sw.isOurs(0x1001n), false);
  sw.plant(mem);
  assert.throws(() => sw.set([]), /lifted/);
  sw.restore(mem);
  sw.set([]);
  assert.equal(sw.isOurs(0x1000n), false);
});

test('lifting works by physical address after the guest unmapped the page (another address space)', () => {
  const mem = new FakeMemory([0x2n]);
  mem.poke(0x2000n, 0x55);
  const sw = new SoftwareBreakpoints();
  sw.set([0x2000n]);
  sw.plant(mem);
  mem.mapped.delete(0x2n);
  sw.restore(mem);
  assert.equal(mem.readByte(0x2000), 0x55);
});

test('two virtual aliases of one physical byte are planted once, and the original byte comes back', () => {
  const mem = new FakeMemory([0x3n]);
  mem.poke(0x3000n, 0x41);
  const aliased: CodeMemory = { ...mem, physical: (a) => (a === 0x9000n ? 0x3000 : mem.physical(a)), readByte: (p) => mem.readByte(p), writeByte: (p, v) => mem.writeByte(p, v), instructionLength: () => 1 };
  const sw = new SoftwareBreakpoints();
  sw.set([0x3000n, 0x9000n]);
  assert.deepEqual(sw.plant(aliased), { pending: [], tooShort: [] });
  assert.equal(mem.at(0x3000n), INT3);
  sw.restore(aliased);
  assert.equal(mem.at(0x3000n), 0x41);
});

test('the port trap: two bytes over instructions at least that long, both put back; a 1-byte instruction is too short, a trap across an unmapped page end pending', () => {
  const mem = new FakeMemory([0x1n]);
  mem.poke(0x1000n, 0x31); mem.poke(0x1001n, 0xc0);                 // xor eax,eax (2 bytes)
  mem.lengths.set(0x1000n, 2);
  mem.poke(0x1010n, 0x55);                                          // push rbp (1 byte)
  mem.lengths.set(0x1fffn, 5);                                      // a call whose second byte is on the next, unmapped page
  const sw = new SoftwareBreakpoints();
  sw.trap = PORT_TRAP;
  sw.set([0x1000n, 0x1010n, 0x1fffn]);
  assert.deepEqual(sw.plant(mem), { pending: [0x1fffn], tooShort: [0x1010n] });
  assert.deepEqual([mem.at(0x1000n), mem.at(0x1001n), mem.at(0x1010n)], [...PORT_TRAP, 0x55]);
  sw.restore(mem);
  assert.deepEqual([mem.at(0x1000n), mem.at(0x1001n)], [0x31, 0xc0]);
});
