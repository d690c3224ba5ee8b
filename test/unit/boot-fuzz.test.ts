/**
 * Mutates valid images of every protocol a few thousand times (fixed seed,
 * so a failure reproduces) and checks that loadKernel and the ELF reader
 * only ever succeed or throw a BootError, never anything else, and never
 * an "internal error" (the safety net in loadKernel must stay unused).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BootError } from '../../vmm/boot/boot-state';
import { loadKernel } from '../../vmm/boot/detect';
import { ElfFile } from '../../vmm/boot/elf';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { buildElf, concat, multibootHeader, pattern, pvhNote } from './helpers/elf-builder';
import { mb2Header } from './helpers/mb2-builder';
import { BASE_REVISION_MAGIC, COMMON_MAGIC, REQUEST_IDS, REQUESTS_END_MARKER, REQUESTS_START_MARKER } from '../../vmm/boot/limine-ids';

/** xorshift32: small, deterministic. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

/** A Limine kernel: the start marker, base revision 6 and a few requests at 0xffffffff80000000, a hlt at +0x200. */
function limineImage(): Uint8Array {
  const words: bigint[] = [...REQUESTS_START_MARKER, ...BASE_REVISION_MAGIC, 6n];
  const names = ['hhdm', 'memmap', 'framebuffer', 'mp', 'module', 'rsdp'] as const;
  for (const n of names) words.push(...COMMON_MAGIC, ...REQUEST_IDS[n], 0n, 0n, 0n);
  words.push(...COMMON_MAGIC, ...REQUEST_IDS.stackSize, 0n, 0n, 0x10000n, ...REQUESTS_END_MARKER);
  const data = new Uint8Array(0x210);
  words.forEach((w, i) => new DataView(data.buffer).setBigUint64(i * 8, w, true));
  data[0x200] = 0xf4;
  return buildElf({ bits: 64, entry: 0xffffffff80000200n, segments: [{ paddr: 0xffffffff80000000n, vaddr: 0xffffffff80000000n, data, memsz: 0x2000 }] }).bytes;
}

const images: [string, Uint8Array][] = [
  ['multiboot-elf32', buildElf({
    bits: 32, entry: 0x10000c,
    segments: [{ paddr: 0x100000, data: concat(multibootHeader(3), pattern(200)), memsz: 0x1000 }, { paddr: 0x101000, data: pattern(50), memsz: 0x3000 }],
    symbols: [{ name: 'start', value: 0x10000c, size: 4 }, { name: 'data', value: 0x101000, size: 8, type: 1 }],
  }).bytes],
  ['pvh-elf64', buildElf({
    bits: 64, entry: 0xffffffff81000000n,
    segments: [{ paddr: 0x200000, vaddr: 0xffffffff81000000n, data: pattern(300), memsz: 0x2000 }],
    notes: [{ name: 'GNU', type: 3, desc: pattern(20) }, pvhNote(0x200010, 8)],
    symbols: [{ name: 'startup_64', value: 0xffffffff81000000n, size: 16 }],
  }).bytes],
  ['elf64-highhalf', buildElf({
    bits: 64, entry: 0xffffffff80100000n,
    segments: [{ paddr: 0x100000, vaddr: 0xffffffff80100000n, data: pattern(256), memsz: 0x10000 }, { paddr: 0x300000, vaddr: 0xffffffff80300000n, data: pattern(64) }],
    symbols: [{ name: '_start', value: 0xffffffff80100000n, size: 32 }],
  }).bytes],
  ['multiboot2-elf32', buildElf({
    bits: 32, entry: 0x100100,
    segments: [{ paddr: 0x100000, data: concat(mb2Header([{ type: 1, words: [1, 6, 8, 9, 14] }, { type: 5, words: [1024, 768, 32] }, { type: 6 }]), pattern(300)), memsz: 0x1000 }],
    symbols: [{ name: 'start', value: 0x100100, size: 4 }],
  }).bytes],
  ['multiboot2-relocatable', buildElf({
    bits: 64, entry: 0xffffffff80100100n,
    segments: [{ paddr: 0x100000, vaddr: 0xffffffff80100000n, data: concat(mb2Header([{ type: 10, words: [0x400000, 0x800000, 0x1000, 2] }, { type: 4, words: [3] }]), pattern(200)), memsz: 0x2000 }],
  }).bytes],
  ['multiboot2-address-tag', concat(mb2Header([{ type: 2, words: [0x200000, 0x200000, 0x200100, 0x201000] }, { type: 3, words: [0x200040] }]), pattern(0x100))],
  ['limine-elf64', limineImage()],
  ['aout-kludge', concat(multibootHeader(0x10003, { headerAddr: 0x200000, loadAddr: 0x200000, loadEndAddr: 0x200100, bssEndAddr: 0x201000, entryAddr: 0x200020 }), pattern(0x100))],
];

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000, 0x90000, 0x1000, 0x40, 0x38];

function mutate(base: Uint8Array, next: () => number): Uint8Array {
  let b = base.slice();
  const n = 1 + (next() % 4);
  for (let k = 0; k < n; k++) {
    const choice = next() % 10;
    const at = next() % b.length;
    if (choice < 4) b[at] = next() & 0xff;
    else if (choice < 8 && at + 4 <= b.length) {
      new DataView(b.buffer).setUint32(at & ~3, choice < 6 ? INTERESTING[next() % INTERESTING.length] : next(), true);
    } else if (choice === 8) b = b.slice(0, at);
    else b[at] ^= 1 << (next() % 8);
  }
  return b;
}

test('mutated images only ever boot or give a BootError', () => {
  const memory = GuestMemory.allocate(16 * 2 ** 20);
  // KVMDBG_FUZZ_SEED / KVMDBG_FUZZ_ROUNDS let a developer search further; the default run is fixed.
  const next = rng(Number(process.env.KVMDBG_FUZZ_SEED ?? 0x6b766d64));
  const rounds = Number(process.env.KVMDBG_FUZZ_ROUNDS ?? 1000);
  const outcomes = new Map<string, number>();
  const messages = new Map<string, number>();
  for (const [name, base] of images) {
    for (let i = 0; i < rounds; i++) {
      const kernel = mutate(base, next);
      const where = `${name} mutation ${i}`;
      try {
        const info = loadKernel({ kernelPath: 'fuzz.elf', kernel, memory, cmdline: 'console=ttyS0', modules: [{ path: 'initrd', data: pattern(100) }] });
        outcomes.set(`ok ${info.protocol}`, (outcomes.get(`ok ${info.protocol}`) ?? 0) + 1);
      } catch (e) {
        if (!(e instanceof BootError)) assert.fail(`${where}: ${e instanceof Error ? e.stack : String(e)}`);
        assert.ok(!e.message.includes('internal error'), `${where}: ${e.message}`);
        assert.ok(e.message.startsWith('fuzz.elf: ') || e.message.startsWith('initrd: '), `${where}: ${e.message}`);
        outcomes.set('BootError', (outcomes.get('BootError') ?? 0) + 1);
        if (process.env.KVMDBG_FUZZ_SEED) {
          const kind = e.message.replace(/0x[0-9a-f]+|\d+/g, 'N').slice(0, 90);
          messages.set(kind, (messages.get(kind) ?? 0) + 1);
        }
      }
      // What the debugger reads later must be just as safe.
      try {
        const elf = new ElfFile('fuzz.elf', kernel);
        elf.notes();
        elf.sections();
        for (const s of elf.symbols()) elf.findSymbol(s.name);
        elf.symbolAt(0xffffffff80100004n);
      } catch (e) {
        if (!(e instanceof BootError)) assert.fail(`${where} (ELF reader): ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
  }
  if (process.env.KVMDBG_FUZZ_SEED) console.log(JSON.stringify([...outcomes]), [...messages].sort((a, b) => b[1] - a[1]));
  // Both outcomes must be common, or the mutations test nothing.
  const ok = [...outcomes].filter(([k]) => k.startsWith('ok')).reduce((n, [, v]) => n + v, 0);
  assert.ok(ok > rounds / 5, `only ${ok} mutated images booted: ${JSON.stringify([...outcomes])}`);
  assert.ok((outcomes.get('BootError') ?? 0) > rounds / 5, JSON.stringify([...outcomes]));
});
