// Truncated and garbled debug sections (seeded random mutations of our real
// kernels) never throw out of the public API and never hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ByteReader, DwarfError, loadSymbols, objectFileFromElf, parseCallFrameInfo, parseDebugInfo, parseLineTables,
} from '../../debug-adapter/symbols';
import { fuzzRounds, fuzzSeed, rng } from './helpers/fuzz-budget';

const kernel = (name: string): Uint8Array => readFileSync(join(__dirname, '..', '..', '..', 'test', 'guests', 'build', `${name}.elf`));


/** One random damage: flipped bytes, a length field made huge, or a truncation. */
function mutate(src: Uint8Array, rand: () => number, from = 0, to = src.length): Uint8Array {
  const out = Uint8Array.from(src);
  const pos = (): number => from + Math.floor(rand() * Math.max(1, to - from));
  const kind = Math.floor(rand() * 4);
  if (kind === 0) {
    for (let i = 0, n = 1 + Math.floor(rand() * 16); i < n; i++) out[pos()] = Math.floor(rand() * 256);
  } else if (kind === 1) {
    const p = pos();
    const v = [0xff, 0x80, 0x00, 0x7f][Math.floor(rand() * 4)];
    for (let i = 0; i < 4 && p + i < out.length; i++) out[p + i] = v;
  } else if (kind === 2) {
    for (let i = 0, n = 1 + Math.floor(rand() * 4); i < n; i++) out[pos()] ^= 1 << Math.floor(rand() * 8);
  } else {
    return out.subarray(0, pos());
  }
  return out;
}

function exercise(syms: ReturnType<typeof loadSymbols>): void {
  assert.equal(typeof syms.summary, 'string');
  syms.addressesForLine('kernel/main.c', 33);
  syms.resolveBreakpoint('main.c', 29);
  for (const a of [0x100000n, 0x100100n, 0x100180n, 0x100400n]) {
    syms.lineForAddress(a);
    syms.lineRange(a);
    syms.symbolize(a);
    syms.functionAt(a);
    syms.unwindRow(a);
  }
  const stack = new Uint8Array(256).fill(0x11);
  syms.unwind({ pc: 0x100110n, sp: 0x8000n, fp: 0x8040n }, (addr, size) => {
    const o = Number(addr - 0x8000n);
    return o >= 0 && o + size <= stack.length ? stack.subarray(o, o + size) : undefined;
  });
}

const WALL_MS = 60_000 * Math.max(1, fuzzRounds(1000) / 1000);

test('whole kernels with damaged debug sections: loadSymbols and every query', () => {
  const started = Date.now();
  const rand = rng(fuzzSeed(0x5eed, 10));
  for (const name of ['pvh64', 'multiboot32']) {
    const bytes = kernel(name);
    const obj = objectFileFromElf(name, bytes);
    // The debug and frame sections lie in one file range in our kernels: damage that range.
    const ranges = ['.eh_frame', '.debug_line', '.debug_info', '.debug_abbrev', '.debug_str', '.debug_line_str']
      .map((s) => obj.section(s)!)
      .map((s) => [s.data.byteOffset - bytes.byteOffset, s.data.byteOffset - bytes.byteOffset + s.data.length]);
    for (let i = 0, n = fuzzRounds(600); i < n; i++) {
      const [from, to] = ranges[i % ranges.length];
      const damaged = mutate(bytes, rand, from, to);
      const t0 = Date.now();
      exercise(loadSymbols(damaged, { name }));
      assert.ok(Date.now() - t0 < 2000, `iteration ${i} took ${Date.now() - t0} ms`);
    }
    // Headers and section tables too.
    for (let i = 0, n = fuzzRounds(200); i < n; i++) exercise(loadSymbols(mutate(bytes, rand), { name }));
  }
  assert.ok(Date.now() - started < WALL_MS);
});

test('each parser on its own damaged section never throws', () => {
  const rand = rng(fuzzSeed(42, 11));
  for (const name of ['pvh64', 'multiboot32']) {
    const obj = objectFileFromElf(name, kernel(name));
    const sec = (n: string): Uint8Array => obj.section(n)!.data;
    const eh = obj.section('.eh_frame')!;
    for (let i = 0, n = fuzzRounds(1500); i < n; i++) {
      const lines = parseLineTables({ debugLine: mutate(sec('.debug_line'), rand), debugLineStr: mutate(sec('.debug_line_str'), rand), addressSize: 8 });
      lines.addressesForLine('main.c', 33);
      lines.lineForAddress(0x100120n);
      lines.lineRange(0x100120n);
      const cfi = parseCallFrameInfo({ ehFrame: { addr: eh.addr, data: mutate(eh.data, rand) }, bits: obj.bits });
      for (let a = 0x100000n; a < 0x100600n; a += 0x40n) cfi.unwindRow(a);
      const debugFrame = parseCallFrameInfo({ debugFrame: { addr: 0n, data: mutate(eh.data, rand) }, bits: obj.bits });
      debugFrame.unwindRow(0x100100n);
      const info = parseDebugInfo({ debugInfo: mutate(sec('.debug_info'), rand), debugAbbrev: mutate(sec('.debug_abbrev'), rand), debugStr: sec('.debug_str') });
      assert.ok(Array.isArray(info.units));
    }
  }
});

test('random bytes as every section', () => {
  const rand = rng(fuzzSeed(7, 12));
  for (let i = 0, n = fuzzRounds(1000); i < n; i++) {
    const junk = new Uint8Array(Math.floor(rand() * 512));
    for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(rand() * 256);
    parseLineTables({ debugLine: junk, debugLineStr: junk, debugStr: junk }).lineForAddress(BigInt(Math.floor(rand() * 2 ** 32)));
    parseCallFrameInfo({ ehFrame: { addr: 0x1000n, data: junk }, debugFrame: { addr: 0n, data: junk }, bits: i % 2 ? 32 : 64 }).unwindRow(0x1000n);
    parseDebugInfo({ debugInfo: junk, debugAbbrev: junk, debugStr: junk });
  }
});

test('the byte cursor is bounds-checked and reads DWARF encodings', () => {
  const r = new ByteReader(Uint8Array.from([0xe5, 0x8e, 0x26, 0x7f, 0x80, 0x7f, 0x61, 0x62, 0x00, 0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0, 0, 0, 0, 0]));
  assert.equal(r.uleb(), 624485);
  assert.equal(r.sleb(), -1);
  assert.equal(r.sleb(), -128);
  assert.equal(r.cstr(), 'ab');
  assert.deepEqual(r.initialLength(), { length: 16, offsetSize: 8 });
  assert.throws(() => r.u8(), DwarfError);
  const unterminated = new ByteReader(Uint8Array.from([0x61, 0x62]));
  assert.throws(() => unterminated.cstr(), /no terminating NUL/);
  const endless = new ByteReader(new Uint8Array(100).fill(0x80));
  assert.throws(() => endless.uleb(), DwarfError);
  const big = new ByteReader(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
  assert.equal(big.ulebBig(), 0xffffffffffffffffn);
  assert.throws(() => new ByteReader(new Uint8Array(4)).sub(5), DwarfError);
  assert.throws(() => new ByteReader(Uint8Array.from([0xf0, 0xff, 0xff, 0xff])).initialLength(), /reserved initial length/);
});
