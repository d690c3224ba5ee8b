// Reading kernel memory with no vCPU stopped: the kernel's own init_top_pgt
// translates the direct map, the image's fixed mapping covers what the
// tables do not (yet), and a user address goes through the vCPU's tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { kernelMemory } from '../../debug-adapter/linux/kernel-memory';

const MiB = 2 ** 20;
const P = 1n, W = 2n, PS = 0x80n, NX = 1n << 63n;
const PGT_PHYS = 0x20_0000;
const INIT_TOP_PGT = 0xffffffff80000000n + BigInt(PGT_PHYS);

/** init_top_pgt at 2 MiB maps the direct map's first 2 MiB page (0xffff888000000000 -> 0x400000); a user CR3 at 0x300000 maps 0x400000 -> 0x600000. */
function machine(): GuestMemory {
  const m = GuestMemory.allocate(32 * MiB);
  m.writeU64(PGT_PHYS + 273 * 8, 0x201000n | P | W);
  m.writeU64(0x201000, 0x202000n | P | W);
  // Linux's direct map is data: no-execute (a reserved bit if the walk forgot EFER.NXE).
  m.writeU64(0x202000, 0x400000n | P | W | PS | NX);
  m.writeU64(0x300000, 0x301000n | P | W);
  m.writeU64(0x301000, 0x302000n | P | W);
  m.writeU64(0x302000 + 2 * 8, 0x600000n | P | W | PS);
  m.write(0x400000, Buffer.from('direct map'));
  m.write(0x600000, Buffer.from('user page'));
  m.write(0x1000000, Buffer.from('kernel text'));
  return m;
}
const user = { cr0: 0x8000_0011n, cr3: 0x300000n, cr4: 0x20n, efer: 0x500n };
const text = (b: Uint8Array | undefined): string | undefined => (b ? Buffer.from(b).toString() : undefined);

test('running: the direct map through init_top_pgt, the image through its fixed mapping', () => {
  const read = kernelMemory({ memory: machine(), paging: user, stopped: false, initTopPgt: INIT_TOP_PGT });
  assert.equal(text(read(0xffff888000000000n, 10)), 'direct map');
  assert.equal(text(read(0xffffffff81000000n, 11)), 'kernel text');
  assert.equal(text(read(0x400000n, 9)), 'user page');
  assert.equal(read(0xffff888000200000n, 4), undefined);
});

test('before any paging is known and without init_top_pgt: only the image', () => {
  const read = kernelMemory({ memory: machine(), stopped: false });
  assert.equal(text(read(0xffffffff81000000n, 11)), 'kernel text');
  assert.equal(read(0xffff888000000000n, 4), undefined);
  assert.equal(read(0xffffffffc0000000n - 2n, 4), undefined);
});

test('a 5-level kernel (LA57) whose paging was last seen at boot, before LA57: __pgtable_l5_enabled says how to walk init_top_pgt', () => {
  // The sandbox's CPU has la57: Linux's direct map was at 0xff11000000000000 and cmdline's read failed walking 4 levels.
  const m = machine();
  const top = 0x208000;
  m.writeU64(top + 273 * 8, 0x210000n | P | W);   // PML5[0x111]: 0xff11000000000000 -> 0x400000
  m.writeU64(0x210000, 0x211000n | P | W);
  m.writeU64(0x211000, 0x212000n | P | W);
  m.writeU64(0x212000, 0x400000n | P | W | PS);
  const FLAG = 0xffffffff81100000n;
  const read = (enabled: number) => {
    m.write(0x1100000, Buffer.from([enabled, 0, 0, 0]));
    return kernelMemory({ memory: m, paging: user, stopped: false, initTopPgt: 0xffffffff80000000n + BigInt(top), l5Enabled: FLAG });
  };
  assert.equal(text(read(1)(0xff11000000000000n, 10)), 'direct map');
  assert.equal(read(0)(0xff11000000000000n, 10), undefined, 'a 4-level kernel: that address is not canonical');
});
