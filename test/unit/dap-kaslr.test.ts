// KASLR slide detection (debug-adapter/kaslr.ts) and rebased symbols
// (debug-adapter/symbols Symbols.rebase) against a fake guest address space.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bannerProbe, candidateSlides, detectSlide, KaslrTracker, kaslrTrackerFor, KERNEL_IMAGE_SIZE, KERNEL_MAP_START, rebaseBreakpoints, SLIDE_STEP,
} from '../../debug-adapter/kaslr';
import { Symbols, SymbolTable } from '../../debug-adapter/symbols';

const BANNER_AT = 0xffffffff82000100n;
const BANNER = 'Linux version 6.1.0-kvmdbg (builder@host) #1 SMP\n';

/** A guest address space: a few mapped ranges, everything else unmapped (undefined), like readExact through page tables. */
function space(ranges: { at: bigint; bytes: Uint8Array }[]) {
  let reads = 0;
  const read = (address: bigint, length: number): Uint8Array | undefined => {
    reads++;
    for (const r of ranges) {
      if (address >= r.at && address + BigInt(length) <= r.at + BigInt(r.bytes.length)) {
        const o = Number(address - r.at);
        return r.bytes.subarray(o, o + length);
      }
    }
    return undefined;
  };
  return { read, reads: () => reads };
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
/** The banner with what follows it in .rodata (a NUL, then other strings). */
const rodata = (banner = BANNER): Uint8Array => text(`${banner}\0other strings`);

test('candidate slides: the linked address first, then 2 MiB steps inside the 1 GiB kernel-image mapping', () => {
  const c = candidateSlides(BANNER_AT);
  assert.equal(c[0], 0n);
  assert.equal(new Set(c).size, c.length, 'no slide twice');
  for (const s of c) {
    assert.equal(s % SLIDE_STEP, 0n);
    assert.ok(BANNER_AT + s >= KERNEL_MAP_START && BANNER_AT + s < KERNEL_MAP_START + KERNEL_IMAGE_SIZE, `slide ${s} leaves the mapping`);
  }
  assert.equal(c.length, Number(KERNEL_IMAGE_SIZE / SLIDE_STEP), 'every 2 MiB position of the banner is tried');
  assert.deepEqual(candidateSlides(0x100000n), [0n], 'a kernel linked outside the mapping (not x86-64 Linux): only as linked');
});

test('the slide is found where the whole banner of the ELF is, not where another banner is', () => {
  const slide = 0x1a600000n;
  const probe = bannerProbe(BANNER_AT, rodata())!;
  assert.equal(new TextDecoder().decode(probe.expected), BANNER, 'the ELF banner up to its NUL');
  const decoy = { at: BANNER_AT + 0x400000n, bytes: rodata('Linux version 5.10.0-other #1\n') };
  const m = space([decoy, { at: BANNER_AT + slide, bytes: rodata() }]);
  assert.equal(detectSlide(probe, m.read), slide);
  assert.ok(m.reads() <= candidateSlides(BANNER_AT).length);
});

test('with names only (System.map) the "Linux version " prefix decides; unslid is found at once', () => {
  const probe = bannerProbe(BANNER_AT)!;
  assert.equal(new TextDecoder().decode(probe.expected), 'Linux version ');
  const unslid = space([{ at: BANNER_AT, bytes: rodata() }]);
  assert.equal(detectSlide(probe, unslid.read), 0n);
  assert.equal(unslid.reads(), 1, 'the linked address is tried first');
  const slid = space([{ at: BANNER_AT + 0x3e000000n - 0x1000000n, bytes: rodata() }]);
  assert.equal(detectSlide(probe, slid.read), 0x3d000000n);
});

test('nothing mapped (the decompressor, a user address space under PTI): no slide, and the tracker tries again at the next stop', () => {
  const tracker = new KaslrTracker(bannerProbe(BANNER_AT, rodata())!, 'vmlinux');
  assert.equal(tracker.check(space([]).read), undefined);
  assert.equal(tracker.slide, undefined);
  const found = tracker.check(space([{ at: BANNER_AT + 0x2000000n, bytes: rodata() }]).read);
  assert.ok(found);
  assert.equal(found.slide, 0x2000000n);
  assert.match(found.note, /^kvmdbg: KASLR is on: the kernel runs 0x2000000 from the addresses vmlinux was linked at \(linux_banner at 0xffffffff84000100, linked at 0xffffffff82000100\); symbols, source lines, stacks and breakpoints are rebased/);
  assert.equal(tracker.check(space([]).read), undefined, 'said once');
  assert.equal(tracker.slide, 0x2000000n);
  const none = new KaslrTracker(bannerProbe(BANNER_AT)!, 'System.map');
  assert.match(none.check(space([{ at: BANNER_AT, bytes: rodata() }]).read)!.note, /no KASLR slide/);
});

function systemMapSymbols(): Symbols {
  const syms = new Symbols('System.map');
  syms.table = SymbolTable.fromSystemMap([
    '0000000000000000 D fixed_percpu_data',
    'ffffffff81000000 T _text',
    'ffffffff81000000 T startup_64',
    'ffffffff81a00000 T start_kernel',
    'ffffffff81a00400 T x86_64_start_kernel',
    `${BANNER_AT.toString(16)} R linux_banner`,
  ].join('\n'));
  return syms;
}

test('rebased symbols: names, addresses and function breakpoints follow the slide; other addresses stay', () => {
  const syms = systemMapSymbols();
  const slide = 0x2e400000n;
  assert.equal(syms.addressOf('start_kernel'), 0xffffffff81a00000n);
  // Asked before the slide is known (answers by address are remembered): the rebase must forget them.
  assert.notEqual(syms.symbolize(0xffffffff81a00010n + slide)?.name, 'start_kernel');
  syms.rebase(slide);
  assert.equal(syms.slide, slide);
  assert.equal(syms.addressOf('start_kernel'), 0xffffffff81a00000n + slide);
  const s = syms.symbolize(0xffffffff81a00010n + slide);
  assert.equal(s?.name, 'start_kernel');
  assert.equal(s?.offset, 0x10n);
  assert.equal(s?.symbol.address, 0xffffffff81a00000n + slide, 'the symbol is reported where it runs');
  assert.equal(syms.table.lookup('start_kernel')?.address, 0xffffffff81a00000n, 'the table itself keeps link addresses');
  assert.equal(syms.toLinked(0x1000n), 0x1000n, 'a low (per-CPU, user) address is not moved');
  assert.equal(syms.toRuntime(0n), 0n);
  assert.equal(syms.toLinked(0xffffffffc0001000n), 0xffffffffc0001000n, 'module space is not moved');
  assert.equal(syms.toLinked(0xffffffffb0000000n), 0xffffffff81c00000n);
  assert.equal(syms.toRuntime(0xffffffff81c00000n), 0xffffffffb0000000n);
});

test('the tracker for Linux symbols, and breakpoints resolved before the slide was known move with it', () => {
  const syms = systemMapSymbols();
  const tracker = kaslrTrackerFor(syms);
  assert.ok(tracker, 'linux_banner makes a tracker');
  const noLinux = new Symbols('x.elf');
  noLinux.table = SymbolTable.fromSystemMap('ffffffff81000000 T main');
  assert.equal(kaslrTrackerFor(noLinux), undefined);

  syms.rebase(0x600000n);
  const bps = [
    { kind: 'source', key: '/src/init/main.c:900', addresses: [0xffffffff81a00004n, 0xffffffff81a00100n] },
    { kind: 'function', key: 'fn:start_kernel', addresses: [0xffffffff81a00000n] },
    { kind: 'function', key: 'fn:*0xffffffff81000000', addresses: [0xffffffff81000000n] },
    { kind: 'instruction', key: 'insn:0xffffffff81000000', addresses: [0xffffffff81000000n] },
    { kind: 'data', key: 'data:0xffffffff82000000/8:write', addresses: [] },
  ];
  const moved = rebaseBreakpoints(bps, (a) => syms.toRuntime(a));
  assert.deepEqual(moved.map((b) => b.key), ['/src/init/main.c:900', 'fn:start_kernel']);
  assert.deepEqual(bps[0].addresses, [0xffffffff82000004n, 0xffffffff82000100n]);
  assert.deepEqual(bps[1].addresses, [0xffffffff82000000n]);
  assert.deepEqual(bps[2].addresses, [0xffffffff81000000n], 'a literal address is where the user said');
  assert.deepEqual(bps[3].addresses, [0xffffffff81000000n]);
});
