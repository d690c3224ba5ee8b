// The kernel log read from a fake kernel's memory: the lockless printk ring
// buffer (finalized, reusable and reserved descriptors, a text block that
// wraps to the ring's start, levels and timestamps, incremental reads), the
// older log_buf, and damaged or missing buffers as one sentence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRecord, formatTimestamp, levelName, readKernelLog } from '../../debug-adapter/linux/dmesg';
import { LinuxError } from '../../debug-adapter/linux/kernel';
import { at, FakeMemory, ptr, struct, T, typedef, base, variable } from './helpers/c-fixtures';
import { kernelOf, prbGlobals, RB, writeRing } from './helpers/linux-fixtures';

test('the ring buffer: records in order with level, facility, caller and timestamp', () => {
  const mem = new FakeMemory();
  writeRing(mem, [
    { text: 'Linux version 6.1.0 (kvmdbg)', tsNsec: 0n, level: 5 },
    { text: 'Command line: console=hvc0', tsNsec: 1_500_000n, level: 6, callerId: 0x80000001 },
    { text: 'BUG: it broke', tsNsec: 12_345_678_901n, level: 3, facility: 0 },
  ], { countBits: 3, sizeBits: 8 });
  const log = readKernelLog(kernelOf(mem, prbGlobals()));
  assert.equal(log.source, 'printk_ringbuffer');
  assert.deepEqual(log.records.map((r) => [r.seq, r.level, r.text, r.tsNsec]), [
    [0, 5, 'Linux version 6.1.0 (kvmdbg)', 0n],
    [1, 6, 'Command line: console=hvc0', 1_500_000n],
    [2, 3, 'BUG: it broke', 12_345_678_901n],
  ]);
  assert.equal(log.records[1].callerId, 0x80000001);
  assert.equal(log.nextSeq, 3);
  assert.equal(formatRecord(log.records[2]), '[   12.345678] BUG: it broke');
  assert.equal(formatRecord(log.records[1]), '[    0.001500] Command line: console=hvc0');
  assert.equal(levelName(3), 'err');
});

test('a wrapped ring: the oldest descriptor reused, a text block stored at the ring\'s start', () => {
  const mem = new FakeMemory();
  // 4 descriptors, 64 bytes of text: blocks of 16, 24, 16 bytes fill 56; the fourth (16) wraps to offset 0.
  writeRing(mem, [
    { text: 'alpha', tsNsec: 1n, level: 6, state: 'reusable' },
    { text: 'bravo two', tsNsec: 2n, level: 6 },
    { text: 'charlie', tsNsec: 3n, level: 4 },
    { text: 'delta', tsNsec: 4n, level: 7 },
  ], { countBits: 2, sizeBits: 6, firstSeq: 40 });
  const log = readKernelLog(kernelOf(mem, prbGlobals()));
  assert.deepEqual(log.records.map((r) => `${r.seq}:${r.text}`), ['41:bravo two', '42:charlie', '43:delta']);
  // The wrapped block's text is at the data ring's start, where alpha's was.
  assert.deepEqual(readKernelLog(kernelOf(mem, prbGlobals()), { afterSeq: 42 }).records.map((r) => r.text), ['delta']);
  assert.deepEqual(readKernelLog(kernelOf(mem, prbGlobals()), { last: 2 }).records.map((r) => r.text), ['charlie', 'delta']);
});

test('more records than descriptors: the tail moved on, ids wrap past the ring', () => {
  const mem = new FakeMemory();
  const records = Array.from({ length: 7 }, (_, i) => ({ text: `line ${i}`, tsNsec: BigInt(i) * 1000n, level: 6 }));
  writeRing(mem, records, { countBits: 2, sizeBits: 10, firstId: (1n << 62n) - 3n });
  assert.deepEqual(readKernelLog(kernelOf(mem, prbGlobals())).records.map((r) => r.text), ['line 3', 'line 4', 'line 5', 'line 6']);
});

test('a reserved (still being written) record and a multi-line one', () => {
  const mem = new FakeMemory();
  writeRing(mem, [
    { text: 'first\nsecond', tsNsec: 2_000_000_000n, level: 6 },
    { text: 'half-writ', tsNsec: 3n, level: 6, state: 'reserved' },
  ], { countBits: 3, sizeBits: 8 });
  const log = readKernelLog(kernelOf(mem, prbGlobals()));
  assert.equal(log.records.length, 1);
  assert.equal(formatRecord(log.records[0]), '[    2.000000] first\n[    2.000000] second');
  assert.equal(formatTimestamp(123_456_789_012n), '[  123.456789]');
});

test('a damaged or missing ring buffer is one sentence', () => {
  const mem = new FakeMemory();
  writeRing(mem, [{ text: 'x', tsNsec: 0n, level: 6 }], { countBits: 3, sizeBits: 8 });
  mem.u32(RB, 40);
  assert.throws(() => readKernelLog(kernelOf(mem, prbGlobals())), (e: Error) => e instanceof LinuxError && e.message === 'the printk ring buffer looks damaged (2^40 descriptors, 2^8 bytes of text)');
  const wild = new FakeMemory();
  writeRing(wild, [{ text: 'x', tsNsec: 0n, level: 6 }], { countBits: 3, sizeBits: 8 });
  wild.u64(RB + 8n, 0xdead0000n);
  assert.throws(() => readKernelLog(kernelOf(wild, prbGlobals())), { message: 'printk descriptor 4: cannot read 24 bytes at 0xdead0060 (not mapped)' });
  assert.throws(() => readKernelLog(kernelOf(new FakeMemory(), [])), { message: "dmesg needs the kernel's printk buffer ('prb' or 'log_buf'), which its DWARF does not describe" });
});

test('the log_buf of kernels before 5.10, with its wrap marker', () => {
  const u16 = typedef('u16', base('short unsigned int', 2, 'unsigned'));
  const u8 = base('unsigned char', 1, 'unsigned-char');
  const printkLog = struct('printk_log', 16, [
    ['ts_nsec', T.ulong, 0], ['len', u16, 8], ['text_len', u16, 10], ['dict_len', u16, 12], ['facility', u8, 14], ['flags', u8, 15, 5, 0], ['level', u8, 15, 3, 5],
  ]);
  const BUF = 0xffffffff83000000n;
  const mem = new FakeMemory().map(BUF, 128);
  const put = (idx: bigint, ts: bigint, text: string, level: number): bigint => {
    const len = (16n + BigInt(text.length) + 7n) & ~7n;
    mem.u64(BUF + idx, ts).int(BUF + idx + 8n, 2, len).int(BUF + idx + 10n, 2, text.length).int(BUF + idx + 15n, 1, level << 5).str(BUF + idx + 16n, text, false);
    return len;
  };
  // Oldest at 80 ("old", 24 bytes), then a len-0 marker at 104: the next record is at 0.
  put(80n, 5n, 'old one', 6);
  mem.int(BUF + 104n, 2, 0).int(BUF + 112n, 2, 0);
  put(0n, 1_000_000_000n, 'new one', 4);
  const vars = [
    variable('log_buf', ptr(T.char), at(0xffffffff82f00000n)), variable('log_buf_len', T.uint, at(0xffffffff82f00008n)),
    variable('log_first_idx', T.uint, at(0xffffffff82f00010n)), variable('log_first_seq', T.ulong, at(0xffffffff82f00018n)),
    variable('log_next_seq', T.ulong, at(0xffffffff82f00020n)),
  ];
  mem.u64(0xffffffff82f00000n, BUF).u32(0xffffffff82f00008n, 128).u32(0xffffffff82f00010n, 80).u64(0xffffffff82f00018n, 10).u64(0xffffffff82f00020n, 12);
  const log = readKernelLog(kernelOf(mem, vars, { 'struct printk_log': printkLog }));
  assert.equal(log.source, 'log_buf');
  assert.deepEqual(log.records.map((r) => [r.seq, r.level, r.text]), [[10, 6, 'old one'], [11, 4, 'new one']]);
  assert.equal(formatRecord(log.records[1]), '[    1.000000] new one');
});
