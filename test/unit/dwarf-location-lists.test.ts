// Location lists: gcc -O2 output (DWARF 5 .debug_loclists, DWARF 4
// .debug_loc with GNU entry values), the caller frame's pc - 1 rule, and
// hand-built lists with every DW_LLE_* kind, loclistx through
// DW_AT_loclists_base, .debug_loc base address selection, defaults and
// damage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDebugData } from '../../debug-adapter/dwarf';
import { sectionOf, type DebugData, type FrameContext } from '../../debug-adapter/dwarf/model';
import { compile, hasCompiler } from './helpers/c-programs';
import { buildDwarf, F, le, uleb } from './helpers/dwarf-builder';

function frame(pc: bigint, innermost = true, over: Partial<FrameContext> = {}): FrameContext {
  return {
    pc, innermost, addressSize: 8, register: (n) => 0x1000n + BigInt(n), cfa: () => 0x7000n,
    readMemory: () => undefined, relocate: (a) => a, ...over,
  };
}

const MAIN = `extern void ext(void);
__attribute__((noinline)) int dead(int x) { ext(); return 1; }
int main(void) { return dead(3); }
`;
const EXT = 'int counter; void ext(void) { counter++; }\n';

for (const version of [4, 5]) {
  test(`gcc -O2 -gdwarf-${version}: a parameter in rdi until the call, then its entry value; callers look up pc - 1`, { skip: hasCompiler('gcc') ? false : 'gcc is not installed' }, () => {
    const p = compile('gcc', { 'll.c': MAIN, 'ext.c': EXT }, ['-g', '-O2', `-gdwarf-${version}`]);
    assert.deepEqual(p.data.problems, []);
    assert.ok(p.obj.section(version === 5 ? '.debug_loclists' : '.debug_loc'), 'gcc wrote a location list section');
    const { address, size } = p.symbol('dead');
    const x = (pc: bigint) => {
      const [fn] = p.data.scopesAt(pc);
      assert.equal(fn?.name, 'dead');
      assert.deepEqual(fn.parameters.map((v) => v.name), ['x']);
      return fn.parameters[0];
    };
    const entry = { entryRegister: (n: number) => (n === 5 ? 0x42n : undefined) };
    assert.deepEqual(x(address).location(frame(address)), { kind: 'register', register: 5 });
    // The first pc where rdi no longer holds x: the last byte of the call (gcc ends the range at the return address - 1).
    let boundary = address;
    while (boundary < address + size && x(boundary).location(frame(boundary)).kind === 'register') boundary++;
    assert.ok(boundary < address + size, 'the register range ends inside the function');
    const after = x(boundary).location(frame(boundary, true, entry));
    assert.deepEqual(after, { kind: 'value', bytes: Uint8Array.from(le(0x42, 8)) }, 'DW_OP_entry_value(rdi) with the entry value known');
    const noEntry = x(boundary).location(frame(boundary));
    assert.equal(noEntry.kind, 'unavailable');
    assert.match((noEntry as { reason: string }).reason, /on entry/);
    // dead as a caller: its pc is ext's return address, boundary + 1; the list is looked up at boundary.
    assert.equal(x(boundary + 1n).location(frame(boundary + 1n, false, entry)).kind, 'value');
    // A return address right at the boundary belongs to the instruction before it.
    assert.deepEqual(x(boundary).location(frame(boundary, false)), { kind: 'register', register: 5 });
  });
}

/** .debug_addr (DWARF 5): an 8-byte header, then the unit's addresses. */
const ADDRS = [0x1000n, 0x1040n, 0x1080n, 0x10c0n];
const debugAddr = Uint8Array.from([...le(4 + ADDRS.length * 8, 4), ...le(5, 2), 8, 0, ...ADDRS.flatMap((a) => le(a, 8))]);
const reg = (n: number): number[] => [0x50 + n];
const expr = (ops: number[]): number[] => [...uleb(ops.length), ...ops];

/** .debug_loclists: header (12 bytes), a 2-entry offset table, list A (every kind), list B (offset pair on the unit's base). */
function loclists(damaged = false): { bytes: Uint8Array; listB: number } {
  const a = [
    0x01, ...uleb(0), // base_addressx 0 -> 0x1000
    0x04, ...uleb(0), ...uleb(0x10), ...expr(reg(0)), // offset_pair [0x1000, 0x1010)
    ...(damaged ? [0x7f] : []),
    0x02, ...uleb(1), ...uleb(2), ...expr(reg(1)), // startx_endx [0x1040, 0x1080)
    0x03, ...uleb(2), ...uleb(0x20), ...expr(reg(2)), // startx_length [0x1080, 0x10a0)
    0x06, ...le(0x2000, 8), // base_address
    0x04, ...uleb(0), ...uleb(0x10), ...expr(reg(3)), // [0x2000, 0x2010)
    0x07, ...le(0x3000, 8), ...le(0x3010, 8), ...expr(reg(4)), // start_end
    0x08, ...le(0x4000, 8), ...uleb(0x10), ...expr(reg(5)), // start_length
    0x09, ...uleb(1), ...uleb(2), // GNU_view_pair: skipped
    0x05, ...expr([0x37, 0x9f]), // default_location: lit7, stack_value
    0x00,
  ];
  const b = [0x04, ...uleb(0x20), ...uleb(0x30), ...expr(reg(6)), 0x00];
  const tableAt = 12;
  const aAt = tableAt + 8;
  const bAt = aAt + a.length;
  const body = [...le(aAt - tableAt, 4), ...le(bAt - tableAt, 4), ...a, ...b];
  return { bytes: Uint8Array.from([...le(8 + body.length, 4), ...le(5, 2), 8, 0, ...le(2, 4), ...body]), listB: bAt };
}

function handBuilt5(damaged = false): DebugData {
  const ll = loclists(damaged);
  const b = buildDwarf([{
    tag: 0x11, attrs: [[0x03, F.string, 'll.c'], [0x11, F.addr, 0x1000], [0x12, F.data4, 0x100], [0x73, F.sec_offset, 8], [0x8c, F.sec_offset, 12]],
    children: [
      { tag: 0x24, id: 'int', attrs: [[0x03, F.string, 'int'], [0x0b, F.data1, 4], [0x3e, F.data1, 5]] },
      { tag: 0x34, attrs: [[0x03, F.string, 'va'], [0x49, F.ref4, { ref: 'int' }], [0x3f, F.flag_present, 1], [0x02, F.loclistx, 0]] },
      { tag: 0x34, attrs: [[0x03, F.string, 'vb'], [0x49, F.ref4, { ref: 'int' }], [0x3f, F.flag_present, 1], [0x02, F.sec_offset, ll.listB]] },
      { tag: 0x34, attrs: [[0x03, F.string, 'vbad'], [0x49, F.ref4, { ref: 'int' }], [0x3f, F.flag_present, 1], [0x02, F.loclistx, 9]] },
    ],
  }], 5);
  return openDebugData({
    debugInfo: sectionOf(b.debugInfo), debugAbbrev: sectionOf(b.debugAbbrev), debugAddr: sectionOf(debugAddr),
    debugLoclists: sectionOf(ll.bytes), addressSize: 8,
  });
}

test('DWARF 5 .debug_loclists: every DW_LLE kind, loclistx and sec_offset, the default, pc - 1 in callers', () => {
  const d = handBuilt5();
  assert.deepEqual(d.problems, []);
  const va = d.findVariable('va')!;
  const at = (pc: number, innermost = true) => va.location(frame(BigInt(pc), innermost));
  assert.deepEqual(at(0x1000), { kind: 'register', register: 0 });
  assert.deepEqual(at(0x100f), { kind: 'register', register: 0 });
  assert.deepEqual(at(0x1040), { kind: 'register', register: 1 });
  assert.deepEqual(at(0x107f), { kind: 'register', register: 1 });
  assert.deepEqual(at(0x1080), { kind: 'register', register: 2 });
  assert.deepEqual(at(0x109f), { kind: 'register', register: 2 });
  assert.deepEqual(at(0x2008), { kind: 'register', register: 3 });
  assert.deepEqual(at(0x3000), { kind: 'register', register: 4 });
  assert.deepEqual(at(0x400f), { kind: 'register', register: 5 });
  // No entry: the default location.
  const seven = { kind: 'value', bytes: Uint8Array.from(le(7, 8)) };
  assert.deepEqual(at(0x1010), seven);
  assert.deepEqual(at(0x4010), seven);
  // A caller's pc is a return address: 0x1010 in a caller means 0x100f.
  assert.deepEqual(at(0x1010, false), { kind: 'register', register: 0 });
  assert.deepEqual(at(0x1000, false), seven);
  // sec_offset list, offset pair on the unit's base address (DW_AT_low_pc 0x1000).
  const vb = d.findVariable('vb')!;
  assert.deepEqual(vb.location(frame(0x1020n)), { kind: 'register', register: 6 });
  assert.deepEqual(vb.location(frame(0x1030n)), { kind: 'unavailable', reason: 'optimized out' });
  // loclistx past the offset table.
  const bad = d.findVariable('vbad')!.location(frame(0x1000n));
  assert.equal(bad.kind, 'unavailable');
  assert.match((bad as { reason: string }).reason, /damaged/);
});

test('DWARF 5: a damaged list keeps the entries before the damage', () => {
  const va = handBuilt5(true).findVariable('va')!;
  assert.deepEqual(va.location(frame(0x1000n)), { kind: 'register', register: 0 });
  const later = va.location(frame(0x1040n));
  assert.equal(later.kind, 'unavailable');
  assert.match((later as { reason: string }).reason, /damaged.*0x7f/);
});

test('DWARF 4 .debug_loc: pairs on the unit base, base address selection, end of list', () => {
  const max = 0xffff_ffff_ffff_ffffn;
  const entry = (lo: number, hi: number, ops: number[]): number[] => [...le(lo, 8), ...le(hi, 8), ...le(ops.length, 2), ...ops];
  const loc = Uint8Array.from([
    ...entry(0x0, 0x10, reg(0)),
    ...le(max, 8), ...le(0x5000, 8),
    ...entry(0x0, 0x8, [0x91, 0x70]), // fbreg -16... in a global: unavailable (no frame base)
    ...entry(0x8, 0x10, reg(1)),
    ...le(0, 8), ...le(0, 8),
    ...entry(0x0, 0x100, reg(2)), // after the end: never read
  ]);
  const b = buildDwarf([{
    tag: 0x11, attrs: [[0x03, F.string, 'l4.c'], [0x11, F.addr, 0x1000], [0x12, F.data4, 0x100]],
    children: [{ tag: 0x34, attrs: [[0x03, F.string, 'v'], [0x3f, F.flag_present, 1], [0x02, F.sec_offset, 0]] }],
  }], 4);
  const d = openDebugData({ debugInfo: sectionOf(b.debugInfo), debugAbbrev: sectionOf(b.debugAbbrev), debugLoc: sectionOf(loc), addressSize: 8 });
  assert.deepEqual(d.problems, []);
  const v = d.findVariable('v')!;
  assert.deepEqual(v.location(frame(0x1008n)), { kind: 'register', register: 0 });
  assert.match((v.location(frame(0x5000n)) as { reason: string }).reason, /frame base/);
  assert.deepEqual(v.location(frame(0x500an)), { kind: 'register', register: 1 });
  assert.deepEqual(v.location(frame(0x1010n)), { kind: 'unavailable', reason: 'optimized out' });
  assert.deepEqual(v.location(frame(0x1000n + 0x50n)), { kind: 'unavailable', reason: 'optimized out' });
});
