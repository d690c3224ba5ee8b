import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sum8 } from '../../vmm/acpi/checksum';
import { loadKernel } from '../../vmm/boot/detect';
import { EQUIPMENT_WORD, MP_TABLE_MAX_CPUS, writeLowMemoryTables } from '../../vmm/boot/bda';
import { buildMpConfig, buildMpFloating, mpConfigSize } from '../../vmm/boot/mptable';
import { MP_CONFIG_ADDR, MP_FLOATING_ADDR } from '../../vmm/boot/low-memory';
import type { GuestMemory } from '../../vmm/memory/guest-memory';
import { buildElf, concat, multibootHeader, pattern } from './helpers/elf-builder';
import { dirtyMemory } from './helpers/boot-check';

const sig = (b: Uint8Array, at = 0, n = 4) => Buffer.from(b.subarray(at, at + n)).toString('latin1');

/** xv6's mpsearch1: "_MP_" on 16-byte boundaries of [a, a+len) with a zero checksum. */
function mpsearch1(m: GuestMemory, a: number, len: number): number | undefined {
  for (let p = a; p < a + len; p += 16) {
    const b = m.read(p, 16);
    if (sig(b) === '_MP_' && sum8(b) === 0) return p;
  }
  return undefined;
}

/** xv6's mpsearch: the EBDA's first KiB, the last KiB of base memory, then the BIOS ROM. */
function mpsearch(m: GuestMemory): number | undefined {
  const ebda = m.readU16(0x40e) << 4;
  if (ebda) { const p = mpsearch1(m, ebda, 1024); if (p !== undefined) return p; }
  const base = m.readU16(0x413) * 1024;
  return mpsearch1(m, base - 1024, 1024) ?? mpsearch1(m, 0xf0000, 0x10000);
}

/** What xv6's mpinit and a reader of every entry type find: "cpu N apic N bsp" lines and the rest. */
function listMp(m: GuestMemory): string[] {
  const fp = mpsearch(m);
  assert.ok(fp !== undefined, 'an MP floating pointer is found');
  const conf = m.readU32(fp + 4);
  const hdr = m.read(conf, 44);
  assert.equal(sig(hdr), 'PCMP');
  const length = m.readU16(conf + 4);
  assert.equal(sum8(m.read(conf, length)), 0, 'configuration table checksum');
  const out: string[] = [`lapic 0x${m.readU32(conf + 36).toString(16)}`];
  let p = conf + 44;
  for (let n = m.readU16(conf + 34); n > 0; n--) {
    const type = m.readU8(p);
    const b = m.read(p, type === 0 ? 20 : 8);
    if (type === 0) out.push(`cpu apic ${b[1]}${b[3] & 2 ? ' bsp' : ''}${b[3] & 1 ? '' : ' disabled'}`);
    else if (type === 1) out.push(`bus ${b[1]} ${sig(b, 2, 6).trim()}`);
    else if (type === 2) out.push(`ioapic ${b[1]} at 0x${m.readU32(p + 4).toString(16)}`);
    else if (type === 3) out.push(`int ${b[1]} flags ${b[2]} bus ${b[4]} irq ${b[5]} -> ioapic ${b[6]} pin ${b[7]}`);
    else if (type === 4) out.push(`lint ${b[1]} -> apic 0x${b[6].toString(16)} lint${b[7]}`);
    else assert.fail(`entry type ${type}`);
    p += type === 0 ? 20 : 8;
  }
  assert.equal(p, conf + length, 'the entries fill the table exactly');
  return out;
}

const ints = Array.from({ length: 16 }, (_, i) => `int 0 flags ${i === 9 ? 13 : 0} bus 1 irq ${i} -> ioapic 0 pin ${i}`);

test('the MP table of 4 vCPUs, found the way xv6 finds it: CPUs with APIC ids and the BSP, buses, the IOAPIC, ISA IRQ n on pin n', () => {
  const m = dirtyMemory(16 * 2 ** 20);
  assert.deepEqual(writeLowMemoryTables(m, 4), { mpFloating: 0x9fc10 });
  assert.equal(mpsearch(m), 0x9fc10);
  assert.deepEqual(listMp(m), [
    'lapic 0xfee00000',
    'cpu apic 0 bsp', 'cpu apic 1', 'cpu apic 2', 'cpu apic 3',
    'bus 0 PCI', 'bus 1 ISA',
    'ioapic 0 at 0xfec00000',
    ...ints,
    'lint 3 -> apic 0xff lint0', 'lint 1 -> apic 0xff lint1',
  ]);
});

test('MP table bytes: floating pointer fields, checksums, entry count and length', () => {
  const fp = buildMpFloating(MP_CONFIG_ADDR);
  assert.deepEqual([...fp], [0x5f, 0x4d, 0x50, 0x5f, 0x20, 0xfc, 0x09, 0x00, 1, 4, fp[10], 0, 0, 0, 0, 0]);
  assert.equal(sum8(fp), 0);
  const c = buildMpConfig(2);
  const v = new DataView(c.buffer);
  assert.equal(c.length, 44 + 2 * 20 + 21 * 8);
  assert.equal(v.getUint16(4, true), c.length);
  assert.equal(c[6], 4, 'spec revision 1.4');
  assert.equal(v.getUint16(34, true), 2 + 2 + 1 + 16 + 2, 'entry count');
  assert.equal(sum8(c), 0);
  assert.equal(sig(c, 8, 8), 'KVMDBG  ');
  assert.equal(mpConfigSize(2), c.length);
  assert.throws(() => buildMpConfig(0), /1 to 255/);
});

test('the BDA: COM1 at 0x3f8, the EBDA segment, 639 KiB of base memory, the equipment word, the text screen', () => {
  const m = dirtyMemory(16 * 2 ** 20);
  writeLowMemoryTables(m, 1);
  assert.deepEqual([0, 1, 2, 3].map((i) => m.readU16(0x400 + 2 * i)), [0x3f8, 0, 0, 0]);
  assert.equal(m.readU16(0x40e), 0x9fc0);
  assert.equal(m.readU16(0x413), 639);
  assert.equal(m.readU16(0x410), EQUIPMENT_WORD);
  assert.equal((m.readU16(0x410) >> 9) & 7, 1, 'one serial port');
  assert.equal(m.readU8(0x449), 3);
  assert.equal(m.readU16(0x463), 0x3d4);
  assert.equal(m.readU8(0x9fc00), 1, 'EBDA size in KiB');
  assert.equal(mpsearch1(m, MP_FLOATING_ADDR, 16), MP_FLOATING_ADDR);
});

test('more vCPUs than the EBDA holds entries for: no MP table (a kernel falls back), the BDA still written', () => {
  const m = dirtyMemory(16 * 2 ** 20);
  assert.equal(MP_TABLE_MAX_CPUS, 39);
  assert.deepEqual(writeLowMemoryTables(m, MP_TABLE_MAX_CPUS + 1), {});
  assert.equal(mpsearch(m), undefined);
  assert.equal(m.readU16(0x40e), 0x9fc0);
  assert.deepEqual(writeLowMemoryTables(m, MP_TABLE_MAX_CPUS), { mpFloating: 0x9fc10 });
  assert.equal(listMp(m).filter((l) => l.startsWith('cpu ')).length, MP_TABLE_MAX_CPUS);
});

test('a multiboot v1 kernel gets the MP table and an RSDP in the 0xE0000-0xFFFFF scan area', () => {
  const m = dirtyMemory();
  const text = concat(multibootHeader(0x3), pattern(500));
  const elf = buildElf({ bits: 32, entry: 0x10000c, segments: [{ paddr: 0x100000, data: text, memsz: text.length }] });
  loadKernel({ kernelPath: 'hobby.elf', kernel: elf.bytes, memory: m, cmdline: '', modules: [], cpus: 2 });
  assert.deepEqual(listMp(m).filter((l) => l.startsWith('cpu ')), ['cpu apic 0 bsp', 'cpu apic 1']);
  let rsdp: number | undefined;
  for (let p = 0xe0000; p < 0x100000 && rsdp === undefined; p += 16) {
    if (sig(m.read(p, 8), 0, 8) === 'RSD PTR ' && sum8(m.read(p, 20)) === 0) rsdp = p;
  }
  assert.equal(rsdp, 0xf0000);
});
