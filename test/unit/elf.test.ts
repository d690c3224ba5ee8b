import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ElfFile, PT_LOAD, PT_NOTE } from '../../vmm/boot/elf';
import { BootError } from '../../vmm/boot/boot-state';
import { buildElf, pattern, pvhNote } from './helpers/elf-builder';

const FILE = 'kernel.elf';

function sample(bits: 32 | 64) {
  return buildElf({
    bits,
    entry: 0x100010,
    segments: [
      { paddr: 0x100000, data: pattern(64), memsz: 0x100 },
      { paddr: 0x200000, vaddr: bits === 64 ? 0xffffffff80200000n : 0xc0200000, data: pattern(32, 2) },
    ],
    notes: [pvhNote(0x100000), { name: 'GNU', type: 3, desc: Uint8Array.of(1, 2, 3, 4, 5) }],
    symbols: [
      { name: 'start', value: 0x100010, size: 0x10, type: 2 },
      { name: 'data_table', value: 0x100040, size: 0x20, type: 1 },
      { name: 'helper', value: 0x100020, size: 0, type: 2, bind: 0 },
      { name: 'helper', value: 0x100030, size: 4, type: 2, bind: 1 },
      { name: 'undefined_sym', value: 0, shndx: 0 },
    ],
  });
}

const expectError = (fn: () => unknown, ...parts: (string | RegExp)[]): void => {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BootError, `expected BootError, got ${String(e)}`);
    assert.ok(e.message.startsWith(`${FILE}: `), e.message);
    for (const p of parts) {
      if (typeof p === 'string') assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
      else assert.match(e.message, p);
    }
    return true;
  });
};

for (const bits of [32, 64] as const) {
  test(`ELF${bits}: header and program headers`, () => {
    const elf = new ElfFile(FILE, sample(bits).bytes);
    assert.equal(elf.bits, bits);
    assert.equal(elf.header.machine, bits === 64 ? 62 : 3);
    assert.equal(elf.header.entry, 0x100010n);
    const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD);
    assert.equal(loads.length, 2);
    assert.equal(loads[0].paddr, 0x100000n);
    assert.equal(loads[0].filesz, 64);
    assert.equal(loads[0].memsz, 0x100n);
    assert.equal(loads[1].vaddr, bits === 64 ? 0xffffffff80200000n : 0xc0200000n);
    assert.deepEqual(elf.segmentData(loads[0]), pattern(64));
    assert.equal(elf.programHeaders.filter((p) => p.type === PT_NOTE).length, 1);
  });

  test(`ELF${bits}: sections, notes and symbols`, () => {
    const elf = new ElfFile(FILE, sample(bits).bytes);
    assert.deepEqual(elf.sections().map((s) => s.name), ['', '.note', '.seg0', '.seg1', '.symtab', '.strtab', '.shstrtab']);
    const notes = elf.notes();
    assert.equal(notes.length, 2, 'notes in both PT_NOTE and SHT_NOTE are listed once');
    assert.equal(notes[0].name, 'Xen');
    assert.equal(notes[0].type, 18);
    assert.deepEqual(notes[1].desc, Uint8Array.of(1, 2, 3, 4, 5));
    assert.ok(elf.findNote('GNU', 3));
    const syms = elf.symbols();
    assert.equal(syms.length, 5);
    assert.deepEqual(syms[0], { name: 'start', value: 0x100010n, size: 0x10n, type: 'func', bind: 'global', shndx: 2 });
    assert.equal(elf.findSymbol('data_table')?.type, 'object');
    assert.equal(elf.findSymbol('helper')?.value, 0x100030n, 'the global helper wins over the local one');
    assert.equal(elf.findSymbol('undefined_sym'), undefined, 'undefined symbols are not found');
    assert.equal(elf.findSymbol('nope'), undefined);
    assert.deepEqual(elf.symbolAt(0x100014n), { symbol: syms[0], offset: 4n });
    assert.equal(elf.symbolAt(0x100028n)?.symbol.name, 'helper', 'a size-0 symbol claims what follows it');
    assert.equal(elf.symbolAt(0x100060n), undefined, 'past the end of a sized symbol');
    assert.equal(elf.symbolAt(0x1000n), undefined);
  });
}

test('notes come from SHT_NOTE sections when there is no PT_NOTE', () => {
  const b = sample(64);
  const bytes = b.bytes.slice();
  const view = new DataView(bytes.buffer);
  view.setUint32(b.phoff + 2 * b.phentsize, 6, true); // PT_NOTE -> PT_PHDR
  const elf = new ElfFile(FILE, bytes);
  assert.equal(elf.notes().length, 2);
});

test('a stripped file has no sections and no symbols', () => {
  const b = buildElf({ bits: 64, entry: 0x100000, segments: [{ paddr: 0x100000, data: pattern(16) }] });
  const bytes = b.bytes.slice();
  new DataView(bytes.buffer).setBigUint64(40, 0n, true);
  const elf = new ElfFile(FILE, bytes);
  assert.deepEqual(elf.sections(), []);
  assert.deepEqual(elf.symbols(), []);
  assert.equal(elf.findSymbol('x'), undefined);
});

test('malformed headers: one sentence each', () => {
  const good = sample(64);
  const mutate = (f: (v: DataView, b: Uint8Array) => void, len?: number): Uint8Array => {
    const b = good.bytes.slice(0, len ?? good.bytes.length);
    f(new DataView(b.buffer), b);
    return b;
  };
  expectError(() => new ElfFile(FILE, new Uint8Array()), 'is empty');
  expectError(() => new ElfFile(FILE, Uint8Array.of(1, 2, 3)), 'not an ELF');
  expectError(() => new ElfFile(FILE, good.bytes.slice(0, 10)), 'truncated');
  expectError(() => new ElfFile(FILE, good.bytes.slice(0, 40)), 'truncated', 'ELF64 header');
  expectError(() => new ElfFile(FILE, mutate((_, b) => { b[4] = 3; })), 'invalid ELF class 3');
  expectError(() => new ElfFile(FILE, mutate((_, b) => { b[5] = 2; })), 'big-endian');
  expectError(() => new ElfFile(FILE, mutate((v) => v.setUint16(54, 20, true))), 'program header table entry size of 20');
  expectError(() => new ElfFile(FILE, mutate((v) => v.setBigUint64(32, 0xffff_ffff_ffff_fff0n, true))), 'program header table extends past the end of the file');
  expectError(() => new ElfFile(FILE, mutate((v) => v.setUint16(56, 0xffff, true))), /program header table extends past|PN_XNUM/);
  expectError(() => new ElfFile(FILE, mutate((v) => v.setBigUint64(good.phoff + 8, 0x100000n, true))),
    /^kernel\.elf: program header 0 extends past the end of the file \(offset 0x100000, size 0x40, file size 0x[0-9a-f]+\)$/);
  expectError(() => new ElfFile(FILE, mutate((v) => v.setBigUint64(good.phoff + 32, 0xffff_ffff_ffff_ffffn, true))),
    'program header 0 extends past the end of the file');
});

test('malformed sections, notes and symbols fail when read, with the field named', () => {
  const good = sample(32);
  const mutate = (f: (v: DataView) => void): ElfFile => {
    const b = good.bytes.slice();
    f(new DataView(b.buffer));
    return new ElfFile(FILE, b);
  };
  const sh = (i: number, field: number): number => good.shoff + i * good.shentsize + field;
  // Section table beyond the file: the file still parses (boot needs no sections).
  const farTable = mutate((v) => v.setUint32(32, 0xfffffff0, true));
  expectError(() => farTable.sections(), 'section header table extends past the end of the file');
  expectError(() => mutate((v) => v.setUint32(sh(2, 20), 0x7fffffff, true)).sections(), 'section 2 extends past the end of the file');
  expectError(() => mutate((v) => v.setUint32(sh(2, 0), 0x10000, true)).sections(), "section 2's name points past the end of its string table");
  expectError(() => mutate((v) => v.setUint16(50, 40, true)).sections(), 'only 7 sections');
  // .strtab (section 5) shortened so the last name has no NUL.
  const strtabSize = new DataView(good.bytes.buffer).getUint32(sh(5, 20), true);
  expectError(() => mutate((v) => v.setUint32(sh(5, 20), strtabSize - 1, true)).symbols(), 'runs past the end of its string table');
  expectError(() => mutate((v) => v.setUint32(sh(4, 24), 99, true)).symbols(), 'links to string table section 99, which does not exist');
  expectError(() => mutate((v) => v.setUint32(sh(4, 24), 2, true)).symbols(), 'not a string table');
  expectError(() => mutate((v) => v.setUint32(sh(4, 36), 4, true)).symbols(), '4-byte entries');
  expectError(() => mutate((v) => v.setUint32(good.noteOffset + 4, 0x1000, true)).notes(), 'the note at offset', 'extends past the end of its');
  expectError(() => mutate((v) => v.setUint32(good.noteOffset, 0xffffffff, true)).notes(), 'extends past the end of its');
});
