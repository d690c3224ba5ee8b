// kvm/descriptorTables shaping: GDT and IDT decoding on plain bytes (no KVM).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeGateDescriptor, decodeSegmentDescriptor, MAX_GDT_ENTRIES, MAX_IDT_ENTRIES, readDescriptorTable, type LinearReader,
} from '../../debug-adapter/kvm-info';
import { code32, code64, data, encodeDescriptor, GDT_LIMIT, SEL_CODE32, SEL_CODE64, SEL_DATA, SEL_TSS, tss } from '../../vmm/boot/cpu';

/** A reader over `bytes` at `base`; everything else (and `holes`) unreadable. */
function reader(base: bigint, bytes: Uint8Array, holes: [number, number][] = []): LinearReader & { asked: number[] } {
  const asked: number[] = [];
  const fn = ((address: bigint, length: number) => {
    asked.push(length);
    const data = new Uint8Array(length);
    const readable = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      const off = Number(address - base) + i;
      if (off < 0 || off >= bytes.length || holes.some(([lo, hi]) => off >= lo && off < hi)) continue;
      data[i] = bytes[off];
      readable[i] = 1;
    }
    return { data, readable };
  }) as LinearReader & { asked: number[] };
  fn.asked = asked;
  return fn;
}

function le64(out: Uint8Array, at: number, v: bigint): void {
  for (let i = 0; i < 8; i++) out[at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
}

/** The GDT kvmdbg's loader writes (vmm/boot/cpu.ts writeGdt), as bytes. */
function bootGdt(): Uint8Array {
  const g = new Uint8Array(GDT_LIMIT + 1);
  le64(g, SEL_CODE64, encodeDescriptor(code64()));
  le64(g, SEL_CODE32, encodeDescriptor(code32()));
  le64(g, SEL_DATA, encodeDescriptor(data()));
  le64(g, SEL_TSS, encodeDescriptor(tss()));
  return g;
}

test('the boot GDT decodes: null, code64 at 0x08, code32, data, a 16-byte busy TSS in long mode', () => {
  const t = readDescriptorTable(reader(0x500n, bootGdt()), 'gdt', 0x500n, GDT_LIMIT, true);
  assert.equal(t.base, '0x500');
  assert.equal(t.limit, GDT_LIMIT);
  assert.equal(t.entries.length, (GDT_LIMIT + 1) / 8);
  assert.equal(t.entries[0].decoded, 'null');
  assert.match(t.entries[SEL_CODE64 / 8].decoded, /^code64 DPL0 P, flat, readable accessed G$/);
  assert.match(t.entries[SEL_CODE32 / 8].decoded, /^code32 DPL0 P, base 0x0 limit 0xffffffff, readable accessed G$/);
  assert.match(t.entries[SEL_DATA / 8].decoded, /^data32 DPL0 P, base 0x0 limit 0xffffffff, writable accessed G$/);
  assert.match(t.entries[SEL_TSS / 8].decoded, /^TSS64 busy DPL0 P, base 0x[0-9a-f]+ limit 0x67$/);
  assert.equal(t.entries[SEL_TSS / 8].raw.length, 2 + 32, 'a 16-byte descriptor shows all 16 bytes');
  assert.match(t.entries[SEL_TSS / 8 + 1].decoded, /upper half of the 16-byte descriptor at index 4/);
  assert.equal(t.entries[SEL_CODE64 / 8].raw, '0x' + encodeDescriptor(code64()).toString(16).padStart(16, '0'));
});

test('outside long mode the same GDT has no code64 and an 8-byte TSS32', () => {
  const t = readDescriptorTable(reader(0x500n, bootGdt()), 'gdt', 0x500n, GDT_LIMIT, false);
  // L=1 D=0 outside long mode is a 16-bit code segment (the CPU ignores L there).
  assert.match(t.entries[1].decoded, /^code16 /);
  assert.match(t.entries[4].decoded, /^TSS32 busy DPL0 P/);
  assert.equal(t.entries[5].decoded, 'null');
});

test('segment attributes: DPL3, not present, expand-down, execute-only, conforming, byte granularity', () => {
  const seg = (o: Partial<ReturnType<typeof data>>) => encodeDescriptor({ ...data(), ...o });
  assert.match(decodeSegmentDescriptor(seg({ dpl: 3, present: false, g: false, limit: 0xfff, base: 0x1234n }), false), /^data32 DPL3 not present, base 0x1234 limit 0xfff, writable accessed$/);
  assert.match(decodeSegmentDescriptor(seg({ type: 0x5, db: false }), false), /^data16 .*read-only expand-down accessed/);
  assert.match(decodeSegmentDescriptor(seg({ type: 0x8 }), false), /^code32 .*execute-only/);
  assert.match(decodeSegmentDescriptor(seg({ type: 0xe }), true), /^code32 .*conforming readable/);
});

/** A 64-bit IDT gate. */
function gate64(offset: bigint, selector: number, type: number, dpl: number, ist: number, present = true): [bigint, bigint] {
  const low = (offset & 0xffffn) | (BigInt(selector) << 16n) | (BigInt(ist) << 32n) | (BigInt(type) << 40n) | (BigInt(dpl) << 45n)
    | (present ? 1n << 47n : 0n) | (((offset >> 16n) & 0xffffn) << 48n);
  return [low, offset >> 32n];
}

test('64-bit IDT gates: offset, selector, type, DPL, IST; empty and invalid entries', () => {
  const idt = new Uint8Array(16 * 4);
  const gates = [gate64(0xffffffff81a00000n, 0x10, 0xe, 0, 0), gate64(0xffffffff81a00010n, 0x10, 0xf, 3, 2), undefined, [0x0000_0c00_0000_0000n, 0n] as [bigint, bigint]];
  gates.forEach((g, i) => { if (g) { le64(idt, i * 16, g[0]); le64(idt, i * 16 + 8, g[1]); } });
  const t = readDescriptorTable(reader(0x1000n, idt), 'idt', 0x1000n, idt.length - 1, true);
  assert.equal(t.entries.length, 4);
  assert.equal(t.entries[0].decoded, 'interrupt gate -> 0xffffffff81a00000 selector 0x10 IST0 DPL0');
  assert.equal(t.entries[1].decoded, 'trap gate -> 0xffffffff81a00010 selector 0x10 IST2 DPL3');
  assert.equal(t.entries[2].decoded, 'empty');
  assert.match(t.entries[3].decoded, /^invalid gate type 12/);
  assert.equal(t.entries[0].raw.length, 2 + 32);
});

test('32-bit IDT gates are 8 bytes; a task gate names its TSS selector', () => {
  const low = (0x1234n) | (0x08n << 16n) | (0xen << 40n) | (1n << 47n) | (0xc010n << 48n);
  assert.equal(decodeGateDescriptor(low, false), 'interrupt gate -> 0xc0101234 selector 0x8 DPL0');
  const task = (0x28n << 16n) | (0x5n << 40n) | (1n << 47n);
  assert.equal(decodeGateDescriptor(task, false), 'task gate -> TSS selector 0x28 DPL0');
  const idt = new Uint8Array(16);
  le64(idt, 0, low);
  le64(idt, 8, task);
  const t = readDescriptorTable(reader(0n, idt), 'idt', 0n, 15, false);
  assert.equal(t.entries.length, 2);
});

test('hostile limits are capped; unreadable entries are marked, not an error', () => {
  const big = reader(0n, new Uint8Array(0));
  const gdt = readDescriptorTable(big, 'gdt', 0xdead0000n, 0xffff, true);
  assert.equal(gdt.entries.length, MAX_GDT_ENTRIES);
  assert.ok(gdt.entries.every((e) => e.raw === '??' && /unreadable/.test(e.decoded)));
  const idt = readDescriptorTable(big, 'idt', 0n, 0xffffffff, false);
  assert.equal(idt.entries.length, MAX_IDT_ENTRIES);
  assert.equal(Math.max(...big.asked), MAX_GDT_ENTRIES * 8, 'never reads more than the capped table');
  const g = bootGdt();
  const holed = readDescriptorTable(reader(0n, g, [[8, 12]]), 'gdt', 0n, GDT_LIMIT, true);
  assert.match(holed.entries[1].decoded, /unreadable/);
  assert.match(holed.entries[2].decoded, /^code32/);
  // A limit of 0 (or a partial entry) has no whole entry.
  assert.equal(readDescriptorTable(big, 'idt', 0n, 0, true).entries.length, 0);
  assert.equal(readDescriptorTable(big, 'idt', 0n, 14, true).entries.length, 0);
});

test('a 16-byte TSS whose upper half is past the limit or unreadable still decodes its low half', () => {
  const g = bootGdt();
  const cut = readDescriptorTable(reader(0n, g), 'gdt', 0n, SEL_TSS + 7, true);
  assert.equal(cut.entries.length, SEL_TSS / 8 + 1);
  assert.match(cut.entries[SEL_TSS / 8].decoded, /^TSS64 busy/);
  const holed = readDescriptorTable(reader(0n, g, [[SEL_TSS + 8, SEL_TSS + 16]]), 'gdt', 0n, GDT_LIMIT, true);
  assert.match(holed.entries[SEL_TSS / 8].decoded, /^TSS64 busy/);
  assert.match(holed.entries[SEL_TSS / 8 + 1].decoded, /unreadable/);
});
