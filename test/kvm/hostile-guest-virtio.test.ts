// KVM tier: vqhammer64.elf (test/guests/kernel/vqhammer.c), a guest that
// attacks kvmdbg's virtio-mmio devices (virtio-blk on a --disk image and
// virtio-rng) with N random and adversarial operations: register writes at
// every offset and width, config-space writes at every offset, queue sizes and
// ring addresses out of range, notifies on missing queues, descriptor loops,
// chains outside RAM / across its end / across the 640 KiB hole, huge lengths,
// INDIRECT abuse, heads out of range, available indices far ahead or wrapped,
// blk requests past the end of the disk; valid requests in between must work.
// Then 65,920 rng requests wrap the 16-bit ring indices, and a clean driver
// set-up of each device must work. Afterwards:
//   - the VMM ran to the guest's power-off (status 0) and reported the guest's
//     errors on stderr, rate-limited (guest error lines, bounded);
//   - the guest's RAM canary and self-check are intact ("vqhammer ok");
//   - the disk image is unchanged outside sectors 0-7 (the only sectors a valid
//     request of the guest names), including the tail that is not a whole
//     sector, and its size is unchanged; sectors 0-7 hold the clean pass's data;
//   - a clean guest (pvh64) boots afterwards with its exact output.
// KVMDBG_VQHAMMER_OPS (default 2000: each operation is ~25 MMIO exits, most of them a device set-up after an attack broke it) and KVMDBG_VQHAMMER_SEEDS (default "1,2") set the budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BOOT_MS, GUEST_DIR, ROOT, defaultOutput, kernelPath } from './helpers/guests';
import { STACK_LINE, runCli } from './helpers/cli';
import { budget, seeds } from './helpers/soak-budget';

const OPS = budget('KVMDBG_VQHAMMER_OPS', 2000, 20000);
const SEEDS = seeds('KVMDBG_VQHAMMER_SEEDS', '1', '1,2,3,4');
const VQHAMMER = join(GUEST_DIR, 'vqhammer64.elf');
const SECTORS = 2048;
const TAIL = 100; // bytes after the last whole sector: not visible to the guest
const SCRATCH = 8;
/** stderr names each misbehaving device a bounded number of times (20 each, then counts). */
const MAX_STDERR_LINES = 120;

const diskByte = (i: number) => (i * 29 + (i >> 9) * 7 + 3) & 0xff;

function makeDisk(dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'disk.img');
  const img = Buffer.alloc(SECTORS * 512 + TAIL);
  for (let i = 0; i < img.length; i++) img[i] = diskByte(i);
  writeFileSync(file, img);
  return file;
}

for (const seed of SEEDS) {
  test(`vqhammer64 vq=${OPS} seed=${seed} on virtio-blk + virtio-rng: the VMM survives and logs, RAM and the disk outside valid requests are untouched, the devices still work`, { timeout: 1_800_000 }, async () => {
    const dir = join(ROOT, 'test-output', `vqhammer-${seed}`);
    const disk = makeDisk(dir);
    const t0 = Date.now();
    const r = await runCli(['run', '--kernel', VQHAMMER, '--memory', '64M', '--disk', disk, '--cmdline', `vq=${OPS} seed=${seed}`], BOOT_MS * 8);
    const ms = Date.now() - t0;
    const lines = r.stderr.split('\n').filter(Boolean);
    console.log(`vqhammer64 seed ${seed}: ${OPS} ops in ${ms} ms, status ${r.status}, ${lines.length} stderr lines`);
    for (const l of r.stdout.split('\n').filter((x) => /^(vqhammer|wrap|virtio)/.test(x))) console.log(`  ${l}`);
    for (const l of lines.slice(0, 6)) console.log(`  stderr: ${l}`);
    assert.deepEqual([r.status, r.signal], [0, null], `stdout: ${r.stdout.slice(-1500)}\nstderr: ${r.stderr.slice(-2000)}`);
    assert.match(r.stdout, /^kvmdbg vqhammer64 \(pvh\)\nvirtio: blk 0xfeb00000 \(2048 sectors\), rng 0xfeb01000\n/);
    assert.match(r.stdout, new RegExp(`\\nvqhammer: ${OPS} ops, seed ${seed}\\n`));
    const done = /\nvqhammer done: regs (\d+), config (\d+), queue (\d+), notify (\d+), chains (\d+), valid (\d+), resets (\d+), broken (\d+)\n/.exec(r.stdout);
    assert.ok(done, r.stdout);
    assert.ok(Number(done[5]) > OPS / 3 && Number(done[6]) > 0 && Number(done[8]) > 0, `the chains reached live devices and broke them: ${done[0]}`);
    assert.match(r.stdout, /\nwrap: 65920 requests, used idx 384\nvirtio clean: blk ok, rng ok\nfib\(20\) = 6765\nchecksum = 0xa7ecfaa9\nvqhammer ok\n$/);
    assert.deepEqual([r.status, r.signal], [0, null], `stderr: ${r.stderr.slice(0, 2000)}`);
    assert.doesNotMatch(r.stderr, STACK_LINE);
    assert.ok(lines.length <= MAX_STDERR_LINES, `${lines.length} stderr lines: not rate-limited`);
    for (const l of lines) assert.match(l, /^kvmdbg: (guest error: )?/, `every stderr line is kvmdbg's: ${l}`);
    // The guest's errors were reported, by device.
    assert.ok(lines.some((l) => /^kvmdbg: guest error: virtio-blk@0xfeb00000: /.test(l)), 'virtio-blk guest errors reported');
    assert.ok(lines.some((l) => /^kvmdbg: guest error: virtio-rng@0xfeb01000: /.test(l)), 'virtio-rng guest errors reported');
    assert.ok(lines.some((l) => /needs a reset/.test(l)), 'broken rings reported as "needs a reset"');
    // The image: same size; sectors 0-7 as the clean pass left them; everything else as it was.
    assert.equal(statSync(disk).size, SECTORS * 512 + TAIL);
    const img = readFileSync(disk);
    for (let s = 0; s < SCRATCH; s++) {
      for (let i = 0; i < 512; i++) assert.equal(img[s * 512 + i], (s * 31 + i) & 0xff, `sector ${s} byte ${i}: the clean pass's data`);
    }
    let changed = 0;
    let first = -1;
    for (let i = SCRATCH * 512; i < img.length; i++) if (img[i] !== diskByte(i)) { changed++; if (first < 0) first = i; }
    assert.equal(changed, 0, `${changed} bytes of the image changed outside sectors 0-7 (first at ${first}: sector ${Math.floor(first / 512)})`);
    rmSync(dir, { recursive: true, force: true });
  });
}

test('after the virtio hammering, a clean guest (pvh64) boots with its exact output', async () => {
  const r = await runCli(['run', '--kernel', kernelPath('pvh64'), '--memory', '64M'], BOOT_MS);
  assert.equal(r.stdout, defaultOutput('pvh64'));
  assert.equal(r.stderr, '');
  assert.deepEqual([r.status, r.signal], [0, null]);
});
