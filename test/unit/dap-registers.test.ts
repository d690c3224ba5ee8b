import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBits, RFLAGS_BITS, registerScopes, registerValue, mergeWidth, type CpuSnapshot } from '../../debug-adapter/registers';
import type { Segment } from '../../vmm/boot/boot-state';
import { bitnessOf } from '../../debug-adapter/disassembly';

const seg = (over: Partial<Segment> = {}): Segment => ({ base: 0n, limit: 0xffffffff, selector: 0x10, type: 3, present: true, dpl: 0, db: true, s: true, l: false, g: true, avl: false, unusable: false, ...over });
const zero = { rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n, rsp: 0n, rbp: 0n, r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n, rip: 0n, rflags: 2n };

function snapshot(long: boolean): CpuSnapshot {
  return {
    regs: { ...zero, rax: 0x1_1234abcdn, rsp: 0x7000n, rip: 0x100000n, rflags: 0x246n },
    sregs: {
      cs: seg({ selector: 8, type: 0xb, l: long, db: !long }), ds: seg(), es: seg(), fs: seg(), gs: seg(), ss: seg(), tr: seg({ s: false, type: 0xb }), ldt: seg({ unusable: true }),
      gdt: { base: 0x5000n, limit: 0x27 }, idt: { base: 0n, limit: 0 },
      cr0: 0x80000011n, cr2: 0n, cr3: 0x9000n, cr4: 0x20n, cr8: 0n, efer: long ? 0x500n : 0n, apicBase: 0xfee00900n, interruptBitmap: [0n, 0n, 0n, 0n],
    },
    debugreg: [0x100000n, 0n, 0n, 0n, 0n, 0n, 0n, 0x2n],
  };
}

test('RFLAGS decoded by name', () => {
  assert.deepEqual(decodeBits(0x246n, RFLAGS_BITS), ['IF', 'ZF', 'PF']);
  const rip = registerScopes(snapshot(true)).find((s) => s.name === 'RIP / RFLAGS')!.nodes;
  assert.equal(rip[1].value, '0x00000246 [IF ZF PF]');
  assert.equal(rip[0].memoryReference, 'v:0x100000');
});

test('64-bit: rax..r15; 32-bit: eax..esp with the upper half cut', () => {
  const g64 = registerScopes(snapshot(true))[0].nodes;
  assert.equal(g64.length, 16);
  assert.equal(g64[0].value, '0x000000011234abcd');
  const g32 = registerScopes(snapshot(false))[0].nodes;
  assert.deepEqual(g32.map((n) => n.name), ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'esp']);
  assert.equal(g32[0].value, '0x1234abcd');
});

test('control registers and EFER decoded; CR3 points at physical page tables', () => {
  const ctl = registerScopes(snapshot(true)).find((s) => s.name === 'Control')!.nodes;
  const byName = new Map(ctl.map((n) => [n.name, n]));
  assert.equal(byName.get('cr0')!.value, '0x80000011 [PG ET PE]');
  assert.equal(byName.get('cr4')!.value, '0x00000020 [PAE]');
  assert.equal(byName.get('efer')!.value, '0x0500 [LMA LME]');
  assert.equal(byName.get('cr3')!.memoryReference, 'p:0x9000');
});

test('segments show their hidden parts; debug registers as armed', () => {
  const scopes = registerScopes(snapshot(true));
  const cs = scopes.find((s) => s.name === 'Segments')!.nodes[0];
  assert.match(cs.value, /^0x0008 \(base 0x0, limit 0xffffffff, 64-bit dpl 0\)$/);
  assert.ok(cs.children!.some((c) => c.name === 'type' && /code, execute\/read accessed/.test(c.value)));
  const dr = scopes.find((s) => s.name === 'Debug')!.nodes;
  assert.equal(dr[0].value, '0x100000 (execute)');
  assert.equal(dr[1].value, '0x0 (disabled)');
  const tables = scopes.find((s) => s.name === 'Descriptor tables')!.nodes;
  assert.equal(tables[0].value, 'base 0x5000, limit 0x27 (5 entries)');
});

test('register names for expressions; setting sub-registers', () => {
  const s = snapshot(true);
  assert.equal(registerValue(s, 'eax'), 0x1234abcdn);
  assert.equal(registerValue(s, 'al'), 0xcdn);
  assert.equal(registerValue(s, 'ah'), 0xabn);
  assert.equal(registerValue(s, 'cr3'), 0x9000n);
  assert.equal(registerValue(s, 'nosuch'), undefined);
  assert.equal(mergeWidth(0xffff_ffff_0000_0000n, 5n, 32), 5n);
  assert.equal(mergeWidth(0x1234n, 0xffn, 8), 0x12ffn);
});

test('bitness from CS.L, CS.D/B and CR0.PE', () => {
  assert.equal(bitnessOf({ cs: seg({ l: true, db: false }), cr0: 0x80000011n }), 64);
  assert.equal(bitnessOf({ cs: seg({ db: true }), cr0: 1n }), 32);
  assert.equal(bitnessOf({ cs: seg({ db: false }), cr0: 0n }), 16);
});
