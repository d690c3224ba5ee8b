// CFI rows and stack unwinding on the real test kernels, with stacks laid out
// in a fake guest memory exactly as the compiled code would leave them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { abiFor, loadSymbols, objectFileFromElf, ReadMemory, Symbols, unwindStack } from '../../debug-adapter/symbols';

const kernel = (name: string): string => join(__dirname, '..', '..', '..', 'test', 'guests', 'build', `${name}.elf`);

/** A little-endian guest memory of one region; reads outside it are unreadable. */
class FakeMemory {
  readonly bytes: Uint8Array;
  constructor(readonly base: bigint, size: number) { this.bytes = new Uint8Array(size); }
  write(addr: bigint, value: bigint, size: number): void {
    const o = Number(addr - this.base);
    for (let i = 0; i < size; i++) this.bytes[o + i] = Number((value >> BigInt(8 * i)) & 0xffn);
  }
  readonly read: ReadMemory = (addr, size) => {
    const o = addr - this.base;
    if (o < 0n || o + BigInt(size) > BigInt(this.bytes.length)) return undefined;
    return this.bytes.slice(Number(o), Number(o) + size);
  };
}

/** Addresses of `call rel32` instructions (E8) in [start, end) that target `target`. */
function callsTo(name: string, start: bigint, end: bigint, target: bigint): bigint[] {
  const obj = objectFileFromElf(name, readFileSync(kernel(name)));
  const text = obj.section('.text')!;
  const out: bigint[] = [];
  for (let a = start; a + 5n <= end; a++) {
    const o = Number(a - text.addr);
    if (text.data[o] !== 0xe8) continue;
    const rel = new DataView(text.data.buffer, text.data.byteOffset + o + 1, 4).getInt32(0, true);
    if (a + 5n + BigInt(rel) === target) out.push(a);
  }
  return out;
}

function fn(syms: Symbols, name: string): { start: bigint; end: bigint } {
  const s = syms.table.lookup(name);
  assert.ok(s && s.size > 0n, name);
  return { start: s.address, end: s.address + s.size };
}

for (const name of ['multiboot32', 'pvh64']) {
  const syms = loadSymbols(kernel(name));
  const w = syms.bits === 64 ? 8 : 4;
  const W = BigInt(w);
  const abi = abiFor(syms.bits);

  test(`${name}: CFI rows for fib follow its prologue`, () => {
    const fib = fn(syms, 'fib');
    const entry = syms.unwindRow(fib.start);
    assert.ok(entry);
    assert.equal(entry.source, '.eh_frame');
    assert.equal(entry.functionStart, fib.start);
    assert.equal(entry.functionEnd, fib.end);
    assert.equal(entry.returnAddressRegister, abi.pc);
    assert.deepEqual(entry.cfa, { kind: 'register', register: abi.sp, offset: W });
    assert.deepEqual(entry.registers.get(abi.pc), { kind: 'offset', offset: -W });
    // In the body (at the recursive call) the CFA is fp + 2 words and fp is saved below the return address.
    const call = callsTo(name, fib.start, fib.end, fib.start)[0];
    assert.ok(call !== undefined, 'fib calls itself');
    const body = syms.unwindRow(call);
    assert.ok(body && body.start <= call && call < body.end);
    assert.deepEqual(body.cfa, { kind: 'register', register: abi.fp, offset: 2n * W });
    assert.deepEqual(body.registers.get(abi.fp), { kind: 'offset', offset: -2n * W });
    assert.equal(syms.unwindRow(0x10n), undefined);
  });

  /**
   * caller -> fib -> fib, stopped at fib's recursive call. Each frame: return
   * address at fp + w, the caller's fp at fp, callee-saved pushes below.
   */
  function layout(): { mem: FakeMemory; regs: { pc: bigint; sp: bigint; fp: bigint }; expected: bigint[] } {
    const fib = fn(syms, 'fib');
    const recursive = callsTo(name, fib.start, fib.end, fib.start)[0];
    const callerName = ['default_run', 'kernel_main'].find((n) => {
      const s = syms.table.lookup(n);
      return s && callsTo(name, s.address, s.address + s.size, fib.start).length > 0;
    }) ?? assert.fail('no caller of fib');
    const caller = fn(syms, callerName);
    const outerCall = callsTo(name, caller.start, caller.end, fib.start)[0];
    const outerRa = outerCall + 5n;
    const innerRa = recursive + 5n;
    const callerRow = syms.unwindRow(outerCall);
    assert.deepEqual(callerRow?.cfa, { kind: 'register', register: abi.fp, offset: 2n * W }, `${callerName} keeps a frame pointer`);

    const mem = new FakeMemory(0x80000n, 0x1000);
    const top = 0x80f00n;
    const fpCaller = top - 2n * W;                 // caller's frame: [fp] = 0 (outermost), [fp+w] = 0
    mem.write(fpCaller, 0n, w);
    mem.write(fpCaller + W, 0n, w);
    const fp1 = fpCaller - 0x40n;                   // outer fib frame, called from the caller
    mem.write(fp1 + W, outerRa, w);
    mem.write(fp1, fpCaller, w);
    const fp0 = fp1 - 0x30n;                        // inner fib frame, called from the outer fib
    mem.write(fp0 + W, innerRa, w);
    mem.write(fp0, fp1, w);
    const sp0 = fp0 - 2n * W;                       // two callee-saved pushes below the saved fp
    return { mem, regs: { pc: recursive, sp: sp0, fp: fp0 }, expected: [recursive, innerRa, outerRa] };
  }

  test(`${name}: unwinding a synthetic fib stack with CFI`, () => {
    const { mem, regs, expected } = layout();
    const r = syms.unwind(regs, mem.read);
    assert.deepEqual(r.frames.map((f) => f.pc), expected, r.stopReason);
    assert.deepEqual(r.frames.map((f) => f.method), ['registers', 'cfi', 'cfi']);
    assert.equal(r.stopReason, 'the return address is 0 (outermost frame)');
    assert.equal(r.frames[0].cfa, regs.fp + 2n * W);
    assert.equal(r.frames[1].sp, regs.fp + 2n * W);
    assert.deepEqual(r.frames.map((f) => syms.symbolize(f.pc)?.name).slice(0, 2), ['fib', 'fib']);
    assert.equal(syms.lineForAddress(r.frames[1].pc)?.line, syms.lineForAddress(expected[0])?.line);
  });

  test(`${name}: the same stack by frame pointers alone`, () => {
    const { mem, regs, expected } = layout();
    const r = unwindStack(regs, { bits: syms.bits, readMemory: mem.read });
    assert.deepEqual(r.frames.map((f) => f.pc), expected, r.stopReason);
    assert.deepEqual(r.frames.map((f) => f.method), ['registers', 'frame-pointer', 'frame-pointer']);
  });

  test(`${name}: at fib's first instruction CFI finds the caller that frame pointers would skip`, () => {
    const { mem, regs, expected } = layout();
    const fib = fn(syms, 'fib');
    // The inner fib has just called fib again: sp points at the return
    // address, fp is still the inner fib's. Three fib frames, then the caller.
    const sp = regs.sp - 0x20n;
    mem.write(sp, expected[1], w);
    const r = syms.unwind({ pc: fib.start, sp, fp: regs.fp }, mem.read);
    assert.deepEqual(r.frames.map((f) => f.pc), [fib.start, expected[1], ...expected.slice(1)], r.stopReason);
    // Frame pointers alone miss the inner fib: at entry fp still belongs to it.
    const byFp = unwindStack({ pc: fib.start, sp, fp: regs.fp }, { bits: syms.bits, readMemory: mem.read });
    assert.equal(byFp.frames.length, r.frames.length - 1);
  });

  test(`${name}: loops, unreadable memory and frame limits end the unwind`, () => {
    const { mem, regs } = layout();
    mem.write(regs.fp, regs.fp, w); // [fp] = fp: a frame-pointer loop
    const loop = unwindStack(regs, { bits: syms.bits, readMemory: mem.read });
    assert.ok(loop.frames.length <= 3, loop.stopReason);
    assert.match(loop.stopReason, /did not move up|repeats|below the stack pointer/);
    const none = syms.unwind(regs, () => undefined);
    assert.equal(none.frames.length, 1);
    assert.match(none.stopReason, /unreadable/);
    const throwing = syms.unwind(regs, () => { throw new Error('boom'); });
    assert.equal(throwing.frames.length, 1);
    // A long well-formed chain stops at the limit.
    const big = new FakeMemory(0x100000n, 0x10000);
    let fp = 0x100100n;
    for (let i = 0; i < 200; i++) {
      big.write(fp, fp + 0x40n, w);
      big.write(fp + W, 0x200000n + BigInt(i), w);
      fp += 0x40n;
    }
    const limited = unwindStack({ pc: 0x1234n, sp: 0x100080n, fp: 0x100100n }, { bits: syms.bits, readMemory: big.read, maxFrames: 50 });
    assert.equal(limited.frames.length, 50);
    assert.equal(limited.stopReason, 'the frame limit (50) was reached');
  });

  test(`${name}: random stacks always terminate`, () => {
    let seed = 12345;
    const rand = (): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed; };
    const mem = new FakeMemory(0x80000n, 0x2000);
    const fib = fn(syms, 'fib');
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < mem.bytes.length; i++) mem.bytes[i] = rand() & 0xff;
      // Sprinkle plausible pointers and return addresses.
      for (let i = 0; i < 64; i++) {
        const at = 0x80000n + BigInt((rand() % 0x1ff0) & ~(w - 1));
        mem.write(at, rand() % 2 ? 0x80000n + BigInt(rand() % 0x2000) : fib.start + BigInt(rand() % Number(fib.end - fib.start)), w);
      }
      const regs = { pc: fib.start + BigInt(rand() % 0x30), sp: 0x80000n + BigInt(rand() % 0x2000), fp: 0x80000n + BigInt(rand() % 0x2000) };
      const r = syms.unwind(regs, mem.read, 100);
      assert.ok(r.frames.length >= 1 && r.frames.length <= 100);
      for (let i = 1; i < r.frames.length; i++) assert.ok(r.frames[i].sp > r.frames[i - 1].sp);
    }
  });
}
