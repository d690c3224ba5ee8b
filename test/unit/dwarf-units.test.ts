// Hand-built units for what compilers rarely show in small programs:
// DW_FORM_ref_addr across units, a global defined through
// DW_AT_specification, range lists (DWARF 5 rnglistx and sec_offset, DWARF 4
// .debug_ranges with base selection) on functions and lexical blocks, an
// injected name index used instead of a scan, and a damaged unit that
// leaves its neighbours readable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDebugData, type NameLookup } from '../../debug-adapter/dwarf';
import { sectionOf } from '../../debug-adapter/dwarf/model';
import { buildDwarf, F, le, uleb, type DieSpec } from './helpers/dwarf-builder';

const T = { cu: 0x11, base: 0x24, variable: 0x34, subprogram: 0x2e, block: 0x0b, param: 0x05, struct: 0x13, member: 0x0d } as const;
const A = { name: 0x03, byteSize: 0x0b, encoding: 0x3e, type: 0x49, location: 0x02, external: 0x3f, declaration: 0x3c, specification: 0x47, lowPc: 0x11, highPc: 0x12, ranges: 0x55, rnglistsBase: 0x74, addrBase: 0x73, frameBase: 0x40 } as const;
const addrExpr = (a: number): Uint8Array => Uint8Array.from([0x03, ...le(a, 8)]);

test('DW_FORM_ref_addr types across units; a global defined through DW_AT_specification', () => {
  const b = buildDwarf([
    { tag: T.cu, attrs: [[A.name, F.string, 'a.c']], children: [
      { tag: T.base, id: 'long', attrs: [[A.name, F.string, 'long int'], [A.byteSize, F.data1, 8], [A.encoding, F.data1, 5]] },
      { tag: T.variable, id: 'decl', attrs: [[A.name, F.string, 'shared'], [A.type, F.ref_addr, { ref: 'long' }], [A.external, F.flag_present, 1], [A.declaration, F.flag_present, 1]] },
      { tag: T.variable, attrs: [[A.specification, F.ref4, { ref: 'decl' }], [A.location, F.exprloc, addrExpr(0x5000)]] },
    ] },
    { tag: T.cu, attrs: [[A.name, F.string, 'b.c']], children: [
      { tag: T.variable, attrs: [[A.name, F.string, 'other'], [A.type, F.ref_addr, { ref: 'long' }], [A.external, F.flag_present, 1], [A.location, F.exprloc, addrExpr(0x6000)]] },
    ] },
  ]);
  const d = openDebugData({ debugInfo: sectionOf(b.debugInfo), debugAbbrev: sectionOf(b.debugAbbrev), addressSize: 8 });
  const other = d.findVariable('other')!;
  assert.deepEqual(other.type(), { kind: 'base', name: 'long int', size: 8, encoding: 'signed' });
  const shared = d.findVariable('shared')!;
  assert.equal(shared.kind, 'global', 'external through the declaration');
  assert.equal(shared.type(), other.type(), 'one CType per DIE');
  const frame = { pc: 0n, innermost: true, addressSize: 8 as const, register: () => undefined, cfa: () => undefined, readMemory: () => undefined, relocate: (a: bigint) => a };
  assert.deepEqual(shared.location(frame), { kind: 'memory', address: 0x5000n });
  assert.deepEqual(d.problems, []);
});

/** A function at [0x1000, 0x1100) given by a range list, a block inside it by another; `version` picks the list format. */
function rangesProgram(version: 4 | 5): ReturnType<typeof openDebugData> {
  const fnRanges = version === 5 ? [A.ranges, F.rnglistx, 0] : [A.ranges, F.sec_offset, 0];
  // DWARF 5: header (12) + 2 offsets; list 0: base_addressx 0, offset_pair [0, 0x80), startx_length 1 +0x80; list 1: start_end.
  const list0 = [0x01, ...uleb(0), 0x04, ...uleb(0), ...uleb(0x80), 0x03, ...uleb(1), ...uleb(0x80), 0x00];
  const list1 = [0x06, ...le(0x1040, 8), ...le(0x1050, 8), 0x07, ...le(0x10c0, 8), ...uleb(0x10), 0x00];
  const rnglists = Uint8Array.from([...le(8 + 8 + list0.length + list1.length, 4), ...le(5, 2), 8, 0, ...le(2, 4),
    ...le(8, 4), ...le(8 + list0.length, 4), ...list0, ...list1]);
  const debugAddr = Uint8Array.from([...le(4 + 16, 4), ...le(5, 2), 8, 0, ...le(0x1000, 8), ...le(0x1080, 8)]);
  // DWARF 4 .debug_ranges: at 0 the function (pairs on the unit's base 0x1000), at 0x30 the block (a base selection, then pairs).
  const max = 0xffff_ffff_ffff_ffffn;
  const ranges = Uint8Array.from([
    ...le(0, 8), ...le(0x80, 8), ...le(0x80, 8), ...le(0x100, 8), ...le(0, 8), ...le(0, 8),
    ...le(max, 8), ...le(0x1040, 8), ...le(0, 8), ...le(0x10, 8), ...le(0x80, 8), ...le(0x90, 8), ...le(0, 8), ...le(0, 8),
  ]);
  // The block's list by sec_offset: DWARF 5 from the start of .debug_rnglists, DWARF 4 of .debug_ranges.
  const blockRanges = [A.ranges, F.sec_offset, version === 5 ? 12 + 8 + list0.length : 0x30];
  const root: DieSpec = {
    tag: T.cu, attrs: [[A.name, F.string, 'r.c'], [A.lowPc, F.addr, 0x1000], [A.highPc, F.data4, 0x100],
      ...(version === 5 ? [[A.addrBase, F.sec_offset, 8], [A.rnglistsBase, F.sec_offset, 12]] as [number, number, number][] : [])],
    children: [
      { tag: T.base, id: 'int', attrs: [[A.name, F.string, 'int'], [A.byteSize, F.data1, 4], [A.encoding, F.data1, 5]] },
      { tag: T.subprogram, attrs: [[A.name, F.string, 'split'], fnRanges as [number, number, number], [A.frameBase, F.exprloc, Uint8Array.from([0x9c])]], children: [
        { tag: T.param, attrs: [[A.name, F.string, 'p'], [A.type, F.ref4, { ref: 'int' }], [A.location, F.exprloc, Uint8Array.from([0x91, 0x70])]] },
        { tag: T.block, attrs: [blockRanges as [number, number, number]], children: [
          { tag: T.variable, attrs: [[A.name, F.string, 'inner'], [A.type, F.ref4, { ref: 'int' }], [A.location, F.exprloc, Uint8Array.from([0x91, 0x68])]] },
        ] },
      ] },
    ],
  };
  const b = buildDwarf([root], version);
  return openDebugData({
    debugInfo: sectionOf(b.debugInfo), debugAbbrev: sectionOf(b.debugAbbrev), addressSize: 8,
    ...(version === 5 ? { debugRnglists: sectionOf(rnglists), debugAddr: sectionOf(debugAddr) } : { debugRanges: sectionOf(ranges) }),
  });
}

for (const version of [4, 5] as const) {
  test(`DWARF ${version} range lists on a function and a lexical block`, () => {
    const d = rangesProgram(version);
    const at = (pc: number) => d.scopesAt(BigInt(pc));
    assert.equal(at(0x1000)[0]?.name, 'split');
    assert.equal(at(0x10ff)[0]?.name, 'split');
    assert.deepEqual(at(0x1100), []);
    const [fn] = at(0x1044);
    assert.deepEqual(fn.blocks.map((b) => [b.lowPc, b.highPc, b.locals.map((v) => v.name)]), [[0x1040n, 0x1050n, ['inner']], [0x1000n, 0x1080n, []]]);
    assert.deepEqual(fn.parameters.map((v) => v.name), ['p']);
    // The block's second range.
    const second = 0x10c8;
    assert.deepEqual(at(second)[0].blocks.map((b) => b.locals.length), [1, 0]);
    assert.equal(at(second)[0].lowPc, 0x1080n, 'the function\'s range holding the pc');
    assert.deepEqual(at(0x1060)[0].blocks.length, 1, 'between the block\'s ranges');
    const frame = { pc: 0x1044n, innermost: true, addressSize: 8 as const, register: () => undefined, cfa: () => 0x8000n, readMemory: () => undefined, relocate: (a: bigint) => a };
    assert.deepEqual(fn.blocks[0].locals[0].location(frame), { kind: 'memory', address: 0x8000n - 24n });
    assert.deepEqual(d.problems, []);
  });
}

test('an injected name index is asked instead of a scan of every unit', () => {
  const b = buildDwarf([
    { tag: T.cu, attrs: [[A.name, F.string, 'i.c']], children: [
      { tag: T.base, id: 'int', attrs: [[A.name, F.string, 'int'], [A.byteSize, F.data1, 4], [A.encoding, F.data1, 5]] },
      { tag: T.variable, id: 'g', attrs: [[A.name, F.string, 'g'], [A.type, F.ref4, { ref: 'int' }], [A.external, F.flag_present, 1], [A.location, F.exprloc, addrExpr(0x10)]] },
      { tag: T.struct, id: 's', attrs: [[A.name, F.string, 's'], [A.byteSize, F.data1, 4]], children: [{ tag: T.member, attrs: [[A.name, F.string, 'm'], [A.type, F.ref4, { ref: 'int' }]] }] },
    ] },
  ]);
  const asked: string[] = [];
  const names: NameLookup = {
    variables: (n) => { asked.push(`v:${n}`); return n === 'g' ? [b.offsets.get('g')!] : []; },
    types: (n) => { asked.push(`t:${n}`); return n === 's' ? [b.offsets.get('s')!] : n === 'int' ? [b.offsets.get('int')!] : []; },
    namesStartingWith: (p, limit) => ['g', 'gg'].filter((x) => x.startsWith(p)).slice(0, limit),
  };
  const d = openDebugData({ debugInfo: sectionOf(b.debugInfo), debugAbbrev: sectionOf(b.debugAbbrev), addressSize: 8 }, { names });
  assert.equal(d.findVariable('g')?.name, 'g');
  assert.equal(d.findVariable('nope'), undefined);
  assert.equal(d.findType('struct s')?.kind, 'struct');
  assert.equal(d.findType('int')?.kind, 'base');
  assert.deepEqual(d.namesStartingWith('g', 1), ['g']);
  assert.deepEqual(asked, ['v:g', 'v:nope', 't:s', 't:int']);
  // Types are cached by name: asking again asks the index nothing.
  d.findType('struct s');
  assert.equal(asked.length, 4);
});

test('a damaged unit is a problem sentence; the units around it still answer', () => {
  const good = (name: string, addr: number): DieSpec => ({ tag: T.cu, attrs: [[A.name, F.string, `${name}.c`]], children: [
    { tag: T.variable, attrs: [[A.name, F.string, name], [A.external, F.flag_present, 1], [A.location, F.exprloc, addrExpr(addr)]] },
  ] });
  const b = buildDwarf([good('first', 0x10), good('middle', 0x20), good('last', 0x30)]);
  // Break the middle unit's first DIE: an abbreviation code nobody defined.
  const info = Uint8Array.from(b.debugInfo);
  const second = 4 + new DataView(info.buffer).getUint32(0, true);
  info[second + 12] = 0x7f;
  const d = openDebugData({ debugInfo: sectionOf(info), debugAbbrev: sectionOf(b.debugAbbrev), addressSize: 8 });
  assert.ok(d.findVariable('first'));
  assert.ok(d.findVariable('last'));
  assert.equal(d.findVariable('middle'), undefined);
  assert.equal(d.problems.length, 1);
  assert.match(d.problems[0], /unit at 0x[0-9a-f]+.*abbreviation 127/);
  // Nothing at all: still a DebugData.
  const empty = openDebugData({ addressSize: 8 });
  assert.deepEqual([empty.scopesAt(0n), empty.findVariable('x'), empty.findType('int')?.kind, empty.problems], [[], undefined, 'base', []]);
});
