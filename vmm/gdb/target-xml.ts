/**
 * The target description served by qXfer:features:read: target.xml plus one
 * included file per feature, generated from the register layout in
 * registers.ts so the xml and g/p can never disagree.
 */
import { REGISTERS, type RegisterFeature } from './registers';

const FEATURE_FILES: Record<RegisterFeature, { file: string; name: string }> = {
  core: { file: '64bit-core.xml', name: 'org.gnu.gdb.i386.core' },
  sse: { file: '64bit-sse.xml', name: 'org.gnu.gdb.i386.sse' },
  segments: { file: '64bit-segments.xml', name: 'org.gnu.gdb.i386.segments' },
  sys: { file: 'kvmdbg-sys.xml', name: 'org.kvmdbg.x86.sys' },
};

function flags(id: string, size: number, fields: [string, number][]): string {
  return `  <flags id="${id}" size="${size}">\n` +
    fields.map(([n, bit]) => `    <field name="${n}" start="${bit}" end="${bit}"/>\n`).join('') +
    '  </flags>\n';
}

/** Type definitions each feature needs (as in gdb's own features/i386/*.xml). */
const FEATURE_TYPES: Record<RegisterFeature, string> = {
  core: flags('i386_eflags', 4, [['CF', 0], ['', 1], ['PF', 2], ['AF', 4], ['ZF', 6], ['SF', 7], ['TF', 8], ['IF', 9],
    ['DF', 10], ['OF', 11], ['NT', 14], ['RF', 16], ['VM', 17], ['AC', 18], ['VIF', 19], ['VIP', 20], ['ID', 21]]),
  sse:
    '  <vector id="v4f" type="ieee_single" count="4"/>\n' +
    '  <vector id="v2d" type="ieee_double" count="2"/>\n' +
    '  <vector id="v16i8" type="int8" count="16"/>\n' +
    '  <vector id="v8i16" type="int16" count="8"/>\n' +
    '  <vector id="v4i32" type="int32" count="4"/>\n' +
    '  <vector id="v2i64" type="int64" count="2"/>\n' +
    '  <union id="vec128">\n' +
    '    <field name="v4_float" type="v4f"/>\n' +
    '    <field name="v2_double" type="v2d"/>\n' +
    '    <field name="v16_int8" type="v16i8"/>\n' +
    '    <field name="v8_int16" type="v8i16"/>\n' +
    '    <field name="v4_int32" type="v4i32"/>\n' +
    '    <field name="v2_int64" type="v2i64"/>\n' +
    '    <field name="uint128" type="uint128"/>\n' +
    '  </union>\n' +
    flags('i386_mxcsr', 4, [['IE', 0], ['DE', 1], ['ZE', 2], ['OE', 3], ['UE', 4], ['PE', 5], ['DAZ', 6], ['IM', 7],
      ['DM', 8], ['ZM', 9], ['OM', 10], ['UM', 11], ['PM', 12], ['FZ', 15]]),
  segments: '',
  sys:
    flags('kvmdbg_cr0', 8, [['PE', 0], ['MP', 1], ['EM', 2], ['TS', 3], ['ET', 4], ['NE', 5], ['WP', 16], ['AM', 18],
      ['NW', 29], ['CD', 30], ['PG', 31]]) +
    flags('kvmdbg_cr4', 8, [['VME', 0], ['PVI', 1], ['TSD', 2], ['DE', 3], ['PSE', 4], ['PAE', 5], ['MCE', 6], ['PGE', 7],
      ['PCE', 8], ['OSFXSR', 9], ['OSXMMEXCPT', 10], ['UMIP', 11], ['LA57', 12], ['VMXE', 13], ['SMXE', 14],
      ['FSGSBASE', 16], ['PCIDE', 17], ['OSXSAVE', 18], ['SMEP', 20], ['SMAP', 21], ['PKE', 22], ['CET', 23], ['PKS', 24]]) +
    flags('kvmdbg_efer', 8, [['SCE', 0], ['LME', 8], ['LMA', 10], ['NXE', 11], ['SVME', 12], ['LMSLE', 13], ['FFXSR', 14], ['TCE', 15]]),
};

const HEADER = '<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n';

function featureXml(feature: RegisterFeature): string {
  const regs = REGISTERS.filter((r) => r.feature === feature);
  let s = HEADER.replace('target SYSTEM', 'feature SYSTEM');
  s += `<feature name="${FEATURE_FILES[feature].name}">\n`;
  s += FEATURE_TYPES[feature];
  for (const r of regs) {
    s += `  <reg name="${r.name}" bitsize="${r.bits}" type="${r.type}" regnum="${r.regnum}"${r.group ? ` group="${r.group}"` : ''}/>\n`;
  }
  return s + '</feature>\n';
}

function buildFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const order: RegisterFeature[] = ['core', 'sse', 'segments', 'sys'];
  let target = HEADER + '<target version="1.0">\n  <architecture>i386:x86-64</architecture>\n';
  for (const f of order) {
    target += `  <xi:include href="${FEATURE_FILES[f].file}"/>\n`;
    files.set(FEATURE_FILES[f].file, featureXml(f));
  }
  target += '</target>\n';
  files.set('target.xml', target);
  return files;
}

/** annex name -> document. */
export const TARGET_FILES: ReadonlyMap<string, string> = buildFiles();

/**
 * One qXfer:features:read reply for annex at offset/length: `m<data>` when
 * more follows, `l<data>` for the last part; undefined for an unknown annex.
 * The data is raw (the caller escapes it as binary).
 */
export function readFeature(annex: string, offset: number, length: number): Buffer | undefined {
  const doc = TARGET_FILES.get(annex);
  if (doc === undefined) return undefined;
  const bytes = Buffer.from(doc, 'utf8');
  const part = bytes.subarray(Math.min(offset, bytes.length), Math.min(offset + length, bytes.length));
  const more = offset + length < bytes.length;
  return Buffer.concat([Buffer.from(more ? 'm' : 'l'), part]);
}
