/**
 * The target description served by qXfer:features:read: target.xml plus one
 * included file per feature, generated from the register layout of the
 * session's architecture (registers.ts) so the xml and g/p can never disagree.
 */
import { registerLayout, type GdbArch, type RegisterFeature, type RegisterLayout } from './registers';

const FEATURE_NAMES: Record<RegisterFeature, string> = {
  core: 'org.gnu.gdb.i386.core',
  sse: 'org.gnu.gdb.i386.sse',
  segments: 'org.gnu.gdb.i386.segments',
  sys: 'org.kvmdbg.x86.sys',
};

/** The annex of a feature: gdb's own file names (64bit-core.xml, 32bit-core.xml), ours for sys. */
function featureFile(arch: GdbArch, feature: RegisterFeature): string {
  if (feature === 'sys') return 'kvmdbg-sys.xml';
  return `${arch === 'i386' ? '32bit' : '64bit'}-${feature}.xml`;
}

/**
 * Flag types by id, as in gdb's own features/i386/*.xml and for our system
 * registers: emitted in the feature of the first register using them, with
 * that register's size (cr0 is 4 bytes in the i386 layout, 8 in x86-64).
 */
const FLAG_TYPES: Record<string, [string, number][]> = {
  i386_eflags: [['CF', 0], ['', 1], ['PF', 2], ['AF', 4], ['ZF', 6], ['SF', 7], ['TF', 8], ['IF', 9],
    ['DF', 10], ['OF', 11], ['NT', 14], ['RF', 16], ['VM', 17], ['AC', 18], ['VIF', 19], ['VIP', 20], ['ID', 21]],
  i386_mxcsr: [['IE', 0], ['DE', 1], ['ZE', 2], ['OE', 3], ['UE', 4], ['PE', 5], ['DAZ', 6], ['IM', 7],
    ['DM', 8], ['ZM', 9], ['OM', 10], ['UM', 11], ['PM', 12], ['FZ', 15]],
  kvmdbg_cr0: [['PE', 0], ['MP', 1], ['EM', 2], ['TS', 3], ['ET', 4], ['NE', 5], ['WP', 16], ['AM', 18],
    ['NW', 29], ['CD', 30], ['PG', 31]],
  kvmdbg_cr4: [['VME', 0], ['PVI', 1], ['TSD', 2], ['DE', 3], ['PSE', 4], ['PAE', 5], ['MCE', 6], ['PGE', 7],
    ['PCE', 8], ['OSFXSR', 9], ['OSXMMEXCPT', 10], ['UMIP', 11], ['LA57', 12], ['VMXE', 13], ['SMXE', 14],
    ['FSGSBASE', 16], ['PCIDE', 17], ['OSXSAVE', 18], ['SMEP', 20], ['SMAP', 21], ['PKE', 22], ['CET', 23], ['PKS', 24]],
  kvmdbg_efer: [['SCE', 0], ['LME', 8], ['LMA', 10], ['NXE', 11], ['SVME', 12], ['LMSLE', 13], ['FFXSR', 14], ['TCE', 15]],
};

/** Other types a register type needs first (gdb's vec128 union). */
const COMPOSITE_TYPES: Record<string, string> = {
  vec128:
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
    '  </union>\n',
};

function flags(id: string, size: number, fields: [string, number][]): string {
  return `  <flags id="${id}" size="${size}">\n` +
    fields.map(([n, bit]) => `    <field name="${n}" start="${bit}" end="${bit}"/>\n`).join('') +
    '  </flags>\n';
}

const HEADER = '<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n';
const FEATURE_ORDER: RegisterFeature[] = ['core', 'sse', 'segments', 'sys'];

function featureXml(layout: RegisterLayout, feature: RegisterFeature): string {
  const regs = layout.registers.filter((r) => r.feature === feature);
  let types = '';
  const defined = new Set<string>();
  for (const r of regs) {
    if (defined.has(r.type)) continue;
    defined.add(r.type);
    if (FLAG_TYPES[r.type]) types += flags(r.type, r.bits / 8, FLAG_TYPES[r.type]);
    else if (COMPOSITE_TYPES[r.type]) types += COMPOSITE_TYPES[r.type];
  }
  let s = HEADER.replace('target SYSTEM', 'feature SYSTEM');
  s += `<feature name="${FEATURE_NAMES[feature]}">\n` + types;
  for (const r of regs) {
    s += `  <reg name="${r.name}" bitsize="${r.bits}" type="${r.type}" regnum="${r.regnum}"${r.group ? ` group="${r.group}"` : ''}/>\n`;
  }
  return s + '</feature>\n';
}

function buildFiles(arch: GdbArch): Map<string, string> {
  const layout = registerLayout(arch);
  const files = new Map<string, string>();
  let target = HEADER + `<target version="1.0">\n  <architecture>${layout.gdbArchitecture}</architecture>\n`;
  for (const f of FEATURE_ORDER) {
    if (!layout.registers.some((r) => r.feature === f)) continue;
    target += `  <xi:include href="${featureFile(arch, f)}"/>\n`;
    files.set(featureFile(arch, f), featureXml(layout, f));
  }
  target += '</target>\n';
  files.set('target.xml', target);
  return files;
}

const FILES: Record<GdbArch, ReadonlyMap<string, string>> = { 'x86-64': buildFiles('x86-64'), i386: buildFiles('i386') };

/** annex name -> document, for an architecture. */
export function targetFiles(arch: GdbArch): ReadonlyMap<string, string> {
  return FILES[arch];
}

/** The x86-64 documents (the default). */
export const TARGET_FILES: ReadonlyMap<string, string> = FILES['x86-64'];

/**
 * One qXfer:features:read reply for annex at offset/length: `m<data>` when
 * more follows, `l<data>` for the last part; undefined for an unknown annex.
 * The data is raw (the caller escapes it as binary).
 */
export function readFeature(annex: string, offset: number, length: number, arch: GdbArch = 'x86-64'): Buffer | undefined {
  const doc = FILES[arch].get(annex);
  if (doc === undefined) return undefined;
  const bytes = Buffer.from(doc, 'utf8');
  const part = bytes.subarray(Math.min(offset, bytes.length), Math.min(offset + length, bytes.length));
  const more = offset + length < bytes.length;
  return Buffer.concat([Buffer.from(more ? 'm' : 'l'), part]);
}
