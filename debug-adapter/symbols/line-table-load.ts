/**
 * Opening .debug_line as a LineTable: parsed from its bytes (every unit
 * header read, programs run once for their address ranges unless
 * .debug_aranges gave them), or opened from the facts an earlier parse of
 * the same bytes cached. Never throws: damage becomes problem sentences.
 */
import type { Section } from '../dwarf/model';
import { ByteReader, describeError } from './dwarf-reader';
import { type Header, type HeaderInput, readHeader, runProgram } from './line-program';
import { LineTable, type LineTableFacts, type LineTableInput } from './line-table';

/**
 * Reads every unit header of .debug_line and, unless `unitRanges` says,
 * scans every line program for the address ranges it covers (no rows kept:
 * units run again on demand). Never throws: damage is reported in `problems`.
 */
export function parseLineTables(input: LineTableInput): LineTable {
  const table = new LineTable();
  const data = input.debugLine;
  const r = new ByteReader(data, 0, data.length, '.debug_line');
  const covered = new Set(input.unitRanges?.map((u) => u.stmtList));
  while (r.remaining > 0) {
    const unitOffset = r.pos;
    let unit: ByteReader;
    let offsetSize: 4 | 8;
    try {
      const il = r.initialLength();
      offsetSize = il.offsetSize;
      if (il.length === 0) continue;
      unit = r.sub(il.length, `.debug_line unit at 0x${unitOffset.toString(16)}`);
    } catch (e) {
      table.problems.push(`${describeError(e)}; the rest of .debug_line is ignored`);
      break;
    }
    const index = table.nextUnit;
    const ranges: { start: bigint; end: bigint; unit: number }[] = [];
    let header: Header | undefined;
    let start = 0;
    try {
      header = readHeader(unit, offsetSize, input, unitOffset, table, index);
      table.versions.add(header.version);
      start = unit.pos;
      if (!covered.has(unitOffset)) {
        runProgram(unit, header, table, index, {
          row: false,
          range: (lo, hi) => { ranges.push({ start: lo, end: hi, unit: index }); },
        });
      }
      table.units++;
    } catch (e) {
      // The complete sequences of a unit whose program is cut short are kept.
      const msg = describeError(e);
      table.problems.push(msg.startsWith('.debug_line') ? msg : `.debug_line unit at 0x${unitOffset.toString(16)}: ${msg}`);
    }
    if (header) table.addUnit(data, { header, bodyStart: start, bodyEnd: unit.end, offset: unitOffset, maxSpanLength: 0n }, ranges);
  }
  try {
    if (input.unitRanges) table.addRanges(input.unitRanges);
    table.finish();
  } catch (e) {
    table.problems.push(describeError(e));
  }
  return table;
}

/**
 * A table from what an earlier parse of the same bytes learned (its
 * `facts()`): no header is read until a query needs its unit (by address),
 * every header at the first query by file name. Never throws.
 */
export function openLineTables(debugLine: Section, input: HeaderInput, facts: LineTableFacts): LineTable {
  const table = new LineTable();
  try {
    table.openFrom(debugLine, input, facts);
  } catch (e) {
    table.problems.push(describeError(e));
  }
  return table;
}
