// The printk-style formatter of the panic stop: conversions, flags, width
// and precision, the kernel's %p extensions, KERN_ prefixes, variadic
// arguments from registers then the stack, and hostile input (too many
// arguments, unreadable strings, a format that never ends).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPrintk, MAX_OUTPUT, variadicArgs } from '../../debug-adapter/linux/printk-format';

function args(values: bigint[], strings: Record<string, string> = {}) {
  let i = 0;
  return {
    next: () => values[i++],
    string: (a: bigint, max: number) => (strings[a.toString(16)] ?? undefined)?.slice(0, max),
    symbolize: (a: bigint) => (a === 0xffffffff81234567n ? 'sysrq_handle_crash+0x17/0x20' : undefined),
  };
}

test('the common conversions as the kernel prints them', () => {
  assert.equal(formatPrintk('sysrq triggered crash\n', args([])), 'sysrq triggered crash\n');
  assert.equal(formatPrintk('Attempted to kill init! exitcode=0x%08x\n', args([0x9n])), 'Attempted to kill init! exitcode=0x00000009\n');
  assert.equal(formatPrintk('%d %i %u %ld %lu', args([0xffffffffn, 5n, 0xffffffffn, 0xffffffffffffffffn, 0xffffffffffffffffn])), '-1 5 4294967295 -1 18446744073709551615');
  assert.equal(formatPrintk('%x %X %#x %o %c%c %%', args([255n, 255n, 255n, 8n, 0x4fn, 0x4bn])), 'ff FF 0xff 10 OK %');
  assert.equal(formatPrintk('[%5d] [%-5d] [%05d] [%.3d] [%*d]', args([42n, 42n, -42n, 7n, 4n, 1n])), '[   42] [42   ] [-0042] [007] [   1]');
  assert.equal(formatPrintk('%hhx %hx', args([0x1234n, 0x123456n])), '34 3456');
});

test('strings, NULL, precision, and an unreadable string', () => {
  const a = args([0x1000n, 0n, 0x1000n, 0xdeadn], { 1000: 'VFS' });
  assert.equal(formatPrintk('%s %s %.2s %s', a), 'VFS (null) VF <unreadable string at 0xdead>');
});

test('%p and its kernel extensions', () => {
  assert.equal(formatPrintk('caller %pS, at %px, %pK', args([0xffffffff81234567n, 0xffff888000001000n, 0x10n])),
    'caller sysrq_handle_crash+0x17/0x20, at 0xffff888000001000, 0x0000000000000010');
});

test('a KERN_ prefix is not text; missing arguments and the output bound', () => {
  assert.equal(formatPrintk('\x010Kernel stack is corrupted in: %pB\n', args([0xffffffff81234567n])), 'Kernel stack is corrupted in: sysrq_handle_crash+0x17/0x20\n');
  assert.equal(formatPrintk('%d and %s', args([1n])), '1 and <?>');
  assert.equal(formatPrintk('%d'.repeat(40), args(Array(40).fill(1n))), '1'.repeat(32) + '<?>'.repeat(8));
  const long = formatPrintk('%s'.repeat(10), args(Array(10).fill(0x1000n), { 1000: 'x'.repeat(500) }));
  assert.equal(long.length, MAX_OUTPUT + 3);
  assert.equal(formatPrintk('100%', args([])), '100%');
});

test('variadic arguments: registers after the fixed ones, then the stack above the return address', () => {
  const regs = { rdi: 0x1n, rsi: 2n, rdx: 3n, rcx: 4n, r8: 5n, r9: 6n, rsp: 0x7000n };
  const stack: Record<string, bigint> = { '7008': 7n, '7010': 8n };
  const next = variadicArgs(regs, 1, (a) => stack[a.toString(16)]);
  assert.deepEqual([next(), next(), next(), next(), next(), next(), next(), next()], [2n, 3n, 4n, 5n, 6n, 7n, 8n, undefined]);
});
