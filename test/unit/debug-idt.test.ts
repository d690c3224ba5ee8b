// The guest IDT as the CPU reads it (vmm/debug/idt.ts), on hand-made tables
// in a fake linear address space: 64-bit gates, 32-bit gates with the code
// segment base from the GDT, the real-mode IVT, hostile entries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeException, pageFaultCause, parseVectors, readExceptionFrame, readGate, VectorConditionError, type IdtContext, type ReadLinear,
} from '../../vmm/debug/idt';

/** A sparse byte space; reads of bytes never written are unmapped. */
class Space {
  readonly bytes = new Map<bigint, number>();
  write(at: bigint, data: number[]): void { data.forEach((b, i) => this.bytes.set(at + BigInt(i), b)); }
  read: ReadLinear = (at, n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const b = this.bytes.get(at + BigInt(i));
      if (b === undefined) return undefined;
      out[i] = b;
    }
    return out;
  };
}

const le = (v: bigint, n: number): number[] => Array.from({ length: n }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));

function gate64(handler: bigint, selector: number, type: number, present = true): number[] {
  return [...le(handler & 0xffffn, 2), ...le(BigInt(selector), 2), 0, (present ? 0x80 : 0) | type, ...le((handler >> 16n) & 0xffffn, 2), ...le(handler >> 32n, 4), 0, 0, 0, 0];
}
function gate32(offset: number, selector: number, type: number): number[] {
  return [...le(BigInt(offset & 0xffff), 2), ...le(BigInt(selector), 2), 0, 0x80 | type, ...le(BigInt(offset >>> 16), 2)];
}
/** A GDT code descriptor with `base`. */
function descriptor(base: number): number[] {
  return [0xff, 0xff, base & 0xff, (base >> 8) & 0xff, (base >> 16) & 0xff, 0x9a, 0xcf, (base >>> 24) & 0xff];
}

test('64-bit gates: the handler is the 64-bit offset; present, type and the limit are checked', () => {
  const m = new Space();
  const idt = 0xffff_8000_0000_1000n;
  m.write(idt + 14n * 16n, gate64(0xffff_ffff_8100_1234n, 0x10, 0xe));
  m.write(idt + 13n * 16n, gate64(0xffff_ffff_8100_5678n, 0x10, 0xf));
  m.write(idt + 6n * 16n, gate64(0x1000n, 0x10, 0xe, false));
  m.write(idt + 3n * 16n, gate64(0x1000n, 0x10, 0xc));
  const ctx: IdtContext = { mode: 'long', idt: { base: idt, limit: 16 * 20 - 1 }, gdt: { base: 0n, limit: 0 } };
  assert.deepEqual(readGate(ctx, m.read, 14), { ok: true, gate: { vector: 14, handler: 0xffff_ffff_8100_1234n, selector: 0x10, kind: 'interrupt gate' } });
  const gp = readGate(ctx, m.read, 13);
  assert.equal(gp.ok && gp.gate.kind, 'trap gate');
  assert.deepEqual(readGate(ctx, m.read, 6), { ok: false, reason: 'the IDT entry of #UD (vector 6) is not present' });
  assert.match((readGate(ctx, m.read, 3) as { reason: string }).reason, /type 0xc, not a 64-bit interrupt or trap gate/);
  assert.match((readGate(ctx, m.read, 0x80) as { reason: string }).reason, /vector 0x80 is beyond the guest's IDT limit \(0x13f\)/);
  assert.match((readGate(ctx, m.read, 0) as { reason: string }).reason, /not readable \(unmapped\)/);
  assert.match((readGate(ctx, m.read, 256) as { reason: string }).reason, /not a vector/);
});

test('32-bit gates: handler = the code segment base (from the GDT) + the offset, wrapped at 4 GiB; task gates and LDT selectors are refused', () => {
  const m = new Space();
  m.write(0x2000n + 8n, descriptor(0x1000_0000));   // GDT[1]: base 0x10000000
  m.write(0x2000n + 16n, descriptor(0));            // GDT[2]: flat
  m.write(0x3000n + 13n * 8n, gate32(0xf000_0010, 0x08, 0xe));
  m.write(0x3000n + 14n * 8n, gate32(0x0010_2030, 0x10, 0xf));
  m.write(0x3000n + 8n * 8n, gate32(0, 0x28, 0x5));
  m.write(0x3000n + 6n * 8n, gate32(0x100, 0x0c, 0xe));
  m.write(0x3000n + 7n * 8n, gate32(0x100, 0x40, 0xe));
  const ctx: IdtContext = { mode: 'protected', idt: { base: 0x3000n, limit: 0x7ff }, gdt: { base: 0x2000n, limit: 0x17 } };
  const gp = readGate(ctx, m.read, 13);
  assert.equal(gp.ok && gp.gate.handler, 0x0000_0010n, '0x10000000 + 0xf0000010 wraps to 0x10');
  const pf = readGate(ctx, m.read, 14);
  assert.deepEqual(pf.ok && [pf.gate.handler, pf.gate.kind], [0x0010_2030n, 'trap gate']);
  assert.match((readGate(ctx, m.read, 8) as { reason: string }).reason, /#DF \(vector 8\) goes through a task gate/);
  assert.match((readGate(ctx, m.read, 6) as { reason: string }).reason, /in the LDT/);
  assert.match((readGate(ctx, m.read, 7) as { reason: string }).reason, /beyond the GDT limit/);
});

test('real mode: the IVT holds segment:offset pairs', () => {
  const m = new Space();
  m.write(0x20n, [0x34, 0x12, 0x00, 0xf0]);   // IVT[8] = f000:1234
  const r = readGate({ mode: 'real', idt: { base: 0n, limit: 0x3ff }, gdt: { base: 0n, limit: 0 } }, m.read, 8);
  assert.deepEqual(r.ok && [r.gate.handler, r.gate.kind], [0xf1234n, 'real-mode vector']);
});

test('the exception frame: error code then return address for #PF/#GP, only the return address otherwise; 4-byte slots in 32-bit mode', () => {
  const m = new Space();
  m.write(0x9000n, [...le(0x2n, 8), ...le(0xffff_ffff_8100_0042n, 8)]);
  assert.deepEqual(readExceptionFrame('long', m.read, 0x9000n, 14), { errorCode: 2n, returnAddress: 0xffff_ffff_8100_0042n });
  assert.deepEqual(readExceptionFrame('long', m.read, 0x9000n, 6), { returnAddress: 2n });
  m.write(0xa000n, [...le(0x1230n, 4), ...le(0x10_2030n, 4)]);
  assert.deepEqual(readExceptionFrame('protected', m.read, 0xa000n, 13), { errorCode: 0x1230n, returnAddress: 0x10_2030n });
  assert.equal(readExceptionFrame('long', m.read, 0xb000n, 13), undefined, 'an unmapped stack');
});

test('descriptions name the vector, the handler, where it came from, CR2 and the decoded error code', () => {
  assert.equal(
    describeException({ vector: 14, handler: 0x1000n }, { errorCode: 3n, returnAddress: 0x2000n }, 0xdeadn, 'asm_exc_page_fault'),
    '#PF (vector 14) handler 0x1000 <asm_exc_page_fault>: from 0x2000, CR2 0xdead, error code 0x3 (protection violation, write, supervisor)',
  );
  assert.equal(describeException({ vector: 13, handler: 0x1000n }, { errorCode: 0x1230n, returnAddress: 0x2000n }, 0n),
    '#GP (vector 13) handler 0x1000: from 0x2000, error code 0x1230 (GDT index 582)');
  assert.equal(describeException({ vector: 0x80, handler: 0x1000n }, { returnAddress: 0x2002n }, 0n), 'vector 0x80 handler 0x1000: return to 0x2002');
  assert.equal(describeException({ vector: 6, handler: 0x1000n }, undefined, 0n), '#UD (vector 6) handler 0x1000');
  assert.equal(pageFaultCause(0x14n), 'not present, read, user, instruction fetch');
});

test('vector conditions: names with or without #, numbers, hex; empty = #UD, #DF, #GP; a typo is one sentence', () => {
  assert.deepEqual(parseVectors('#PF, #GP,14 0x80; ud'), [14, 13, 0x80, 6]);
  assert.deepEqual(parseVectors(''), [6, 8, 13]);
  assert.deepEqual(parseVectors(undefined), [6, 8, 13]);
  assert.throws(() => parseVectors('#XX'), (e: Error) => e instanceof VectorConditionError && /"#XX" is not an exception vector/.test(e.message));
  assert.throws(() => parseVectors('300'), VectorConditionError);
});
