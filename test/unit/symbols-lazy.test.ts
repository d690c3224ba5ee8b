// The lazy paths of the symbol layer (what a large vmlinux takes): DWARF
// units walked only when an address inside them is asked about, line
// programs run only for the units a query needs. On our test kernels they
// must answer exactly what walking everything answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { objectFileFromElf, parseDebugInfo, parseLineTables, subprogramAt } from '../../debug-adapter/symbols';

const GUESTS = join(__dirname, '..', '..', '..', 'test', 'guests', 'build');

for (const name of ['pvh64', 'elf64', 'multiboot32']) {
  const obj = objectFileFromElf(name, readFileSync(join(GUESTS, `${name}.elf`)));
  const sec = (n: string): Uint8Array | undefined => obj.section(n)?.data;
  const input = {
    debugInfo: sec('.debug_info')!, debugAbbrev: sec('.debug_abbrev')!, debugStr: sec('.debug_str'), debugLineStr: sec('.debug_line_str'),
    debugStrOffsets: sec('.debug_str_offsets'), debugAddr: sec('.debug_addr'),
  };

  test(`${name}: units walked on demand find the same function for every address as walking them all`, () => {
    const lazy = parseDebugInfo({ ...input, eagerLimit: 0 });
    const eager = parseDebugInfo(input);
    assert.equal(lazy.eager, false);
    assert.equal(eager.eager, true);
    assert.deepEqual(lazy.units, eager.units, 'the units (first DIEs) are read at load either way');
    const lines = parseLineTables({ debugLine: sec('.debug_line')!, debugLineStr: sec('.debug_line_str'), debugStr: sec('.debug_str'), addressSize: obj.bits === 64 ? 8 : 4 });
    const all = eager.subprograms;
    assert.ok(all.length >= 5);
    let checked = 0;
    for (const sp of all) {
      for (const a of [sp.lowPc, (sp.lowPc + sp.highPc) / 2n, sp.highPc - 1n]) {
        const want = subprogramAt(eager, a);
        const got = subprogramAt(lazy, a, lines.unitsAt(a));
        assert.equal(got?.name, want?.name, `at 0x${a.toString(16)}`);
        checked++;
      }
    }
    assert.equal(subprogramAt(lazy, 0x10n, lines.unitsAt(0x10n)), undefined, 'an address in no unit walks nothing and finds nothing');
    assert.deepEqual(lazy.subprograms.map((s) => s.name), all.map((s) => s.name), 'asking for the whole list walks every unit');
    assert.ok(checked > 10);
  });

  test(`${name}: the line table knows which unit covers an address without running the programs again`, () => {
    const lines = parseLineTables({ debugLine: sec('.debug_line')!, debugLineStr: sec('.debug_line_str'), debugStr: sec('.debug_str'), addressSize: obj.bits === 64 ? 8 : 4 });
    const info = parseDebugInfo(input);
    const stmtLists = new Set(info.units.map((u) => u.stmtList));
    for (const seq of lines.sequences) {
      const units = lines.unitsAt(seq[0].address);
      assert.ok(units.length >= 1, `0x${seq[0].address.toString(16)} is in a unit`);
      for (const u of units) assert.ok(stmtLists.has(u), `unit at .debug_line offset 0x${u.toString(16)} is a DW_AT_stmt_list`);
    }
    assert.ok(lines.fileCount >= lines.sourceFiles().length, 'headers name at least the files with rows');
  });
}
