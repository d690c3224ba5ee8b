// `nokaslr` for Linux symbols (debug-adapter/launch-config.ts withNoKaslr).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { looksLikeLinux, withNoKaslr } from '../../debug-adapter/launch-config';

test('nokaslr is added to a Linux cmdline that does not mention KASLR, and said', () => {
  const r = withNoKaslr('console=ttyS0  panic=-1', 'vmlinux');
  assert.equal(r.cmdline, 'console=ttyS0 panic=-1 nokaslr');
  assert.match(r.note!, /^kvmdbg added "nokaslr" to the kernel command line so that the symbols of vmlinux match the running kernel \(put "kaslr" in cmdline to keep KASLR/);
  assert.equal(withNoKaslr('').cmdline, 'nokaslr');
});

test('kaslr or nokaslr already there: the cmdline is left alone, nothing said', () => {
  for (const c of ['console=ttyS0 kaslr', 'nokaslr', 'a kaslr b']) assert.deepEqual(withNoKaslr(c), { cmdline: c });
});

test('after "--" the words are init\'s: nokaslr goes before them, and a "kaslr" there does not count', () => {
  assert.equal(withNoKaslr('console=ttyS0 -- single').cmdline, 'console=ttyS0 nokaslr -- single');
  assert.equal(withNoKaslr('quiet -- kaslr').cmdline, 'quiet nokaslr -- kaslr');
});

test('Linux is recognised by start_kernel and linux_banner', () => {
  assert.equal(looksLikeLinux((n) => n === 'start_kernel' || n === 'linux_banner'), true);
  assert.equal(looksLikeLinux((n) => n === 'start_kernel'), false);
});
