// No KVM needed: the addon's failures are sentences for people.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kvm, KvmError, pageAlignedOffset } from '../../native';
import { addonCandidates, loadBinding } from '../../native/load';

test('a missing /dev/kvm says KVM is not available and what to do', () => {
  assert.throws(() => new Kvm('/nonexistent'), (e: unknown) => {
    assert.ok(e instanceof KvmError);
    assert.match(e.message, /^KVM is not available on this host: \/nonexistent does not exist \(enable virtualization/);
    assert.match(e.message, /kvm-intel or kvm-amd, or run inside the project's KVM sandbox/);
    assert.deepEqual([e.ioctl, e.errno, e.code, e.name], ['open', 2, 'ENOENT', 'KvmError']);
    return true;
  });
});

test('a device that is not KVM names the failing ioctl and errno', () => {
  assert.throws(() => new Kvm('/dev/null'), /^KvmError: KVM_GET_API_VERSION failed: ENOTTY \(Inappropriate ioctl for device\)$/);
});

test('pageAlignedOffset gives a page-aligned start inside the buffer', () => {
  const sab = new SharedArrayBuffer(3 * 4096);
  const off = pageAlignedOffset(sab);
  assert.ok(off >= 0 && off < 4096);
  assert.throws(() => pageAlignedOffset(new ArrayBuffer(8) as unknown as SharedArrayBuffer), /must be a SharedArrayBuffer/);
});

test('the loader names every path it tried', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-load-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'kvmdbg' }));
  assert.throws(() => loadBinding(dir), (e: unknown) => {
    assert.ok(e instanceof Error);
    for (const p of addonCandidates(dir)) assert.ok(e.message.includes(p), `mentions ${p}`);
    return true;
  });
});
