// System.map loading (debug-adapter/symbols/system-map.ts): a real map, and
// Debian's /boot/System.map-* placeholder, which must say where the real one is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSystemMap } from '../../debug-adapter/symbols/system-map';

const DIR = join(__dirname, '..', '..', '..', 'test-output', 'unit-system-map');
mkdirSync(DIR, { recursive: true });

test('a System.map (or /proc/kallsyms listing, module symbols included): names for addresses', () => {
  const path = join(DIR, 'System.map-6.1.0-test');
  writeFileSync(path, [
    'ffffffff81000000 T _text',
    'ffffffff81000000 T startup_64',
    'ffffffff82a0f5a0 T start_kernel',
    'ffffffff82000100 D linux_banner',
    'ffffffffc0100000 t virtblk_probe\t[virtio_blk]',
    '',
  ].join('\n'));
  const syms = loadSystemMap(path);
  assert.equal(syms.summary, 'System.map-6.1.0-test: 5 symbols (names only: no source lines or frame information)');
  assert.deepEqual(syms.warnings, []);
  assert.equal(syms.addressOf('start_kernel'), 0xffffffff82a0f5a0n);
  assert.equal(syms.symbolize(0xffffffff82a0f5a8n)?.name, 'start_kernel');
  assert.equal(syms.addressOf('virtblk_probe'), 0xffffffffc0100000n);
});

test('Debian\'s placeholder System.map: no bogus symbol, one sentence naming the -dbg package', () => {
  const path = join(DIR, 'System.map-6.1.0-56-amd64');
  writeFileSync(path, 'ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n');
  const syms = loadSystemMap(path);
  assert.equal(syms.table.size, 0);
  assert.equal(syms.summary, 'System.map-6.1.0-56-amd64: no symbols (a placeholder)');
  assert.equal(syms.warnings.length, 1);
  assert.match(syms.warnings[0], /^System\.map-6\.1\.0-56-amd64 is Debian's placeholder, not a symbol map .*: install linux-image-6\.1\.0-56-amd64-dbg and set "symbols" to its System\.map or vmlinux/);
});

test('an unreadable or empty System.map: a sentence, no throw', () => {
  assert.match(loadSystemMap(join(DIR, 'nonexistent.map')).summary, /^nonexistent\.map: cannot be read \(ENOENT\): no symbols$/);
  const empty = join(DIR, 'empty.map');
  writeFileSync(empty, 'hello\n');
  assert.match(loadSystemMap(empty).warnings[0], /has no lines like "ffffffff81000000 T _text": is it a System\.map\?/);
});
