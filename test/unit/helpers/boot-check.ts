/** Shared assertions for the boot tests. */
import assert from 'node:assert/strict';
import { BootError, Segment } from '../../../vmm/boot/boot-state';
import { GuestMemory } from '../../../vmm/memory/guest-memory';

/**
 * Fresh guest memory with garbage where the test kernels load (the first
 * 20 MiB), so tests see what the loader zeroes. Only that much: touching
 * fresh pages is what costs time here, not the fill.
 */
export function dirtyMemory(bytes = 64 * 2 ** 20): GuestMemory {
  const m = GuestMemory.allocate(bytes);
  Buffer.from(m.buffer, 0, Math.min(bytes, 20 * 2 ** 20)).fill(0xaa);
  return m;
}

/** Asserts fn throws a BootError whose message starts with `file: ` and contains every part. */
export function expectBootError(fn: () => unknown, file: string, ...parts: (string | RegExp)[]): string {
  let message = '';
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BootError, `expected a BootError, got ${e instanceof Error ? e.stack : String(e)}`);
    message = e.message;
    assert.ok(e.message.startsWith(`${file}: `), `"${e.message}" does not start with "${file}: "`);
    for (const p of parts) {
      if (typeof p === 'string') assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
      else assert.match(e.message, p);
    }
    assert.ok(!e.message.includes('\n'), 'one sentence, one line');
    return true;
  });
  return message;
}

/** Decodes the 8-byte GDT descriptor at `selector` and checks it matches the segment register. */
export function assertDescriptorMatches(memory: GuestMemory, gdtBase: bigint, seg: Segment): void {
  const d = memory.readU64(Number(gdtBase) + (seg.selector & ~7));
  const limitRaw = Number((d & 0xffffn) | (((d >> 48n) & 0xfn) << 16n));
  const base = (d >> 16n) & 0xffffffn | (((d >> 56n) & 0xffn) << 24n);
  const access = Number((d >> 40n) & 0xffn);
  const flags = Number((d >> 52n) & 0xfn);
  const g = (flags & 8) !== 0;
  assert.equal(base, seg.base, `base of selector ${seg.selector}`);
  assert.equal(g ? ((limitRaw << 12) | 0xfff) >>> 0 : limitRaw, seg.limit, `limit of selector ${seg.selector}`);
  assert.equal(access & 0xf, seg.type, `type of selector ${seg.selector}`);
  assert.equal((access & 0x10) !== 0, seg.s);
  assert.equal((access >> 5) & 3, seg.dpl);
  assert.equal((access & 0x80) !== 0, seg.present);
  assert.equal((flags & 2) !== 0, seg.l, `L of selector ${seg.selector}`);
  assert.equal((flags & 4) !== 0, seg.db, `D/B of selector ${seg.selector}`);
  assert.equal(g, seg.g);
}
