import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sum8 } from '../../vmm/acpi/checksum';
import { ACPI_BASE, ACPI_END, layoutAcpi, writeAcpiTables } from '../../vmm/acpi/tables';
import { buildMadt, IOAPIC_ADDR, LAPIC_ADDR, MADT_INT_SRC_OVR, MADT_IO_APIC, MADT_LOCAL_APIC, MADT_LOCAL_APIC_NMI } from '../../vmm/acpi/madt';
import { FADT, FADT_SIZE, HW_REDUCED_ACPI, RESET_REG_SUP } from '../../vmm/acpi/fadt';
import { dsdtAml } from '../../vmm/acpi/dsdt';
import { RSDP_SIZE } from '../../vmm/acpi/rsdp';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { E820_RESERVED, pcMemoryMap } from '../../vmm/memory/memory-map';

const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const sig = (b: Uint8Array, at = 0, n = 4) => Buffer.from(b.subarray(at, at + n)).toString('latin1');

test('every table has a valid checksum and its header length', () => {
  const { tables } = layoutAcpi(1);
  for (const [name, t] of Object.entries(tables)) {
    if (name === 'FACS') { assert.equal(dv(t.bytes).getUint32(4, true), 64); assert.equal(t.addr % 64, 0); continue; }
    if (name === 'RSD PTR ') continue;
    assert.equal(sig(t.bytes), name);
    assert.equal(dv(t.bytes).getUint32(4, true), t.bytes.length, `${name} length`);
    assert.equal(sum8(t.bytes), 0, `${name} checksum`);
    assert.equal(t.addr % 16, 0);
  }
  assert.equal(tables.FACP.bytes.length, FADT_SIZE);
  const addrs = Object.values(tables).map((t) => [t.addr, t.addr + t.bytes.length]).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < addrs.length; i++) assert.ok(addrs[i][0] >= addrs[i - 1][1], 'tables do not overlap');
  assert.ok(addrs[addrs.length - 1][1] <= ACPI_END);
});

test('the RSDP is found by the Linux scan and leads to every table', () => {
  const memory = GuestMemory.allocate(16 * 2 ** 20);
  const rsdp = writeAcpiTables(memory, 2);
  // acpi_find_root_pointer: 16-byte steps over 0xE0000-0xFFFFF, "RSD PTR " with a valid 20-byte checksum.
  let found = -1;
  for (let a = 0xe0000; a < 0x100000; a += 16) {
    if (sig(memory.read(a, 8), 0, 8) === 'RSD PTR ' && sum8(memory.read(a, 20)) === 0) { found = a; break; }
  }
  assert.equal(found, rsdp);
  assert.ok(pcMemoryMap(memory).some((e) => e.type === E820_RESERVED && e.addr <= ACPI_BASE && ACPI_BASE + 0x10000 <= e.addr + e.size),
    'the tables sit in a reserved e820 range');
  const r = memory.read(rsdp, RSDP_SIZE);
  assert.equal(sum8(r), 0, 'extended checksum');
  assert.equal(r[15], 2, 'revision 2 (XSDT)');
  const xsdt = Number(dv(r).getBigUint64(24, true));
  const rsdt = dv(r).getUint32(16, true);
  const xlen = memory.readU32(xsdt + 4);
  const x = Array.from({ length: (xlen - 36) / 8 }, (_, i) => Number(memory.readU64(xsdt + 36 + 8 * i)));
  const rr = Array.from({ length: (memory.readU32(rsdt + 4) - 36) / 4 }, (_, i) => memory.readU32(rsdt + 36 + 4 * i));
  assert.deepEqual(x, rr);
  assert.deepEqual(x.map((a) => sig(memory.read(a, 4))).sort(), ['APIC', 'FACP']);
  const fadt = x.find((a) => sig(memory.read(a, 4)) === 'FACP')!;
  assert.equal(sig(memory.read(memory.readU32(fadt + FADT.dsdt), 4)), 'DSDT');
  assert.equal(Number(memory.readU64(fadt + FADT.xDsdt)), memory.readU32(fadt + FADT.dsdt));
  assert.equal(sig(memory.read(memory.readU32(fadt + FADT.firmwareCtrl), 4)), 'FACS');
});

test('FADT: PM1a at 0x600/0x604, SCI 9, no SMI, reset through 0xCF9', () => {
  const f = dv(layoutAcpi(1).tables.FACP.bytes);
  assert.equal(f.getUint8(8), 6, 'revision');
  assert.equal(f.getUint16(FADT.sciInt, true), 9);
  assert.equal(f.getUint32(FADT.smiCmd, true), 0);
  assert.equal(f.getUint32(FADT.pm1aEvtBlk, true), 0x600);
  assert.equal(f.getUint32(FADT.pm1aCntBlk, true), 0x604);
  assert.equal(f.getUint8(FADT.pm1EvtLen), 4);
  assert.equal(f.getUint8(FADT.pm1CntLen), 2);
  assert.equal(f.getUint32(FADT.pmTmrBlk, true), 0, 'no PM timer');
  const flags = f.getUint32(FADT.flags, true);
  assert.ok(flags & RESET_REG_SUP);
  assert.equal(flags & HW_REDUCED_ACPI, 0);
  assert.deepEqual([f.getUint8(FADT.resetReg), f.getUint8(FADT.resetReg + 1), Number(f.getBigUint64(FADT.resetReg + 4, true)), f.getUint8(FADT.resetValue)],
    [1, 8, 0xcf9, 0x06]);
  assert.equal(Number(f.getBigUint64(FADT.xPm1aCntBlk + 4, true)), 0x604);
});

test('DSDT: \\_S5 is Package {0, 0, 0, 0} in hand-written AML', () => {
  assert.deepEqual([...dsdtAml()], [0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00]);
});

function madtEntries(b: Uint8Array): { type: number; bytes: Uint8Array }[] {
  const out = [];
  for (let at = 44; at < b.length; at += b[at + 1]) out.push({ type: b[at], bytes: b.subarray(at, at + b[at + 1]) });
  return out;
}

test('MADT: one enabled local APIC per vCPU, the IOAPIC, the SCI override and LINT1 NMI', () => {
  for (const cpus of [1, 4, 255]) {
    const m = buildMadt(cpus);
    assert.equal(sum8(m), 0);
    assert.equal(dv(m).getUint32(36, true), LAPIC_ADDR);
    const e = madtEntries(m);
    const lapics = e.filter((x) => x.type === MADT_LOCAL_APIC);
    assert.equal(lapics.length, cpus);
    lapics.forEach((l, i) => assert.deepEqual([l.bytes[2], l.bytes[3], dv(l.bytes).getUint32(4, true)], [i, i, 1]));
    const io = e.filter((x) => x.type === MADT_IO_APIC);
    assert.equal(io.length, 1);
    assert.deepEqual([dv(io[0].bytes).getUint32(4, true), dv(io[0].bytes).getUint32(8, true)], [IOAPIC_ADDR, 0]);
    const iso = e.filter((x) => x.type === MADT_INT_SRC_OVR);
    assert.deepEqual(iso.map((x) => [x.bytes[3], dv(x.bytes).getUint32(4, true), dv(x.bytes).getUint16(8, true)]), [[9, 9, 0xd]]);
    const nmi = e.filter((x) => x.type === MADT_LOCAL_APIC_NMI);
    assert.deepEqual(nmi.map((x) => [x.bytes[2], x.bytes[5]]), [[0xff, 1]]);
  }
  assert.throws(() => buildMadt(0), RangeError);
  assert.throws(() => buildMadt(256), RangeError);
  assert.equal(layoutAcpi(3).tables.APIC.bytes.length, buildMadt(3).length);
});
