// The Limine boot protocol loader (vmm/boot/limine*.ts) on synthetic ELF64
// kernels: the request scanner (delimiters, unknown IDs, duplicates, cut-off
// requests), the answers read back through the page tables the loader built
// (an independent walk, vmm/debug/page-walk.ts), the base revisions'
// differences (page 0, identity map, HHDM coverage, RSDP address), MP's
// parked APs, and hostile request fields, each one sentence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadKernel } from '../../vmm/boot/detect';
import { loadLimine, LimineHost } from '../../vmm/boot/limine';
import { ElfFile } from '../../vmm/boot/elf';
import { hasLimineMagic, scanLimine } from '../../vmm/boot/limine-scan';
import {
  BASE_REVISION_MAGIC, COMMON_MAGIC, MEMMAP_BOOTLOADER_RECLAIMABLE, MEMMAP_EXECUTABLE_AND_MODULES, MEMMAP_FRAMEBUFFER,
  MEMMAP_RESERVED, MEMMAP_RESERVED_MAPPED, MEMMAP_USABLE, REQUEST_IDS, REQUESTS_END_MARKER, REQUESTS_START_MARKER, RequestName,
} from '../../vmm/boot/limine-ids';
import { PARK_CODE } from '../../vmm/boot/limine-smp';
import { MAX_ENTROPY_VALUES } from '../../vmm/boot/limine-answers';
import { walk } from '../../vmm/debug/page-walk';
import { BootInfo } from '../../vmm/boot/boot-state';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { buildElf } from './helpers/elf-builder';
import { dirtyMemory, expectBootError } from './helpers/boot-check';

const FILE = 'limine-kernel.elf';
const BASE = 0xffffffff80000000n;
const HOST: LimineHost = { la57: false, now: () => 1_700_000_000 };

type Item =
  | { kind: 'start' } | { kind: 'end' } | { kind: 'revision'; n: bigint }
  | { kind: 'request'; name: RequestName; fields?: bigint[]; revision?: bigint }
  | { kind: 'raw'; words: bigint[] };

/** A kernel image: 8-byte words at BASE (the items, each at its own offset) and code (a `hlt` loop) at BASE + 0x1000. */
function kernel(items: Item[], opts: { entry?: bigint } = {}) {
  const words: bigint[] = [];
  const at: number[] = [];
  for (const it of items) {
    at.push(words.length * 8);
    switch (it.kind) {
      case 'start': words.push(...REQUESTS_START_MARKER); break;
      case 'end': words.push(...REQUESTS_END_MARKER); break;
      case 'revision': words.push(...BASE_REVISION_MAGIC, it.n); break;
      case 'request': words.push(...COMMON_MAGIC, ...REQUEST_IDS[it.name], it.revision ?? 0n, 0n, ...(it.fields ?? [])); break;
      case 'raw': words.push(...it.words); break;
    }
  }
  const data = new Uint8Array(0x1000 + 16);
  const view = new DataView(data.buffer);
  words.forEach((w, i) => view.setBigUint64(i * 8, BigInt.asUintN(64, w), true));
  data.set([0xf4, 0xeb, 0xfd], 0x1000); // hlt; jmp .-1
  const elf = buildElf({ bits: 64, entry: opts.entry ?? BASE + 0x1000n, segments: [{ paddr: BASE, vaddr: BASE, data, memsz: 0x3000 }] });
  return { bytes: elf.bytes, at, fileOffset: elf.segmentOffsets[0] };
}

const ALL: Item[] = [
  { kind: 'start' }, { kind: 'revision', n: 6n },
  { kind: 'request', name: 'bootloaderInfo' }, { kind: 'request', name: 'hhdm' }, { kind: 'request', name: 'memmap' },
  { kind: 'request', name: 'framebuffer' }, { kind: 'request', name: 'rsdp' }, { kind: 'request', name: 'smbios' },
  { kind: 'request', name: 'executableAddress' }, { kind: 'request', name: 'dateAtBoot' },
  { kind: 'raw', words: [...COMMON_MAGIC, 0x1234n, 0x5678n, 0n, 0n] }, // an ID nobody knows
  { kind: 'end' },
];

interface Booted { info: BootInfo; memory: GuestMemory; at: number[]; read(v: bigint): bigint; mapped(v: bigint): boolean; response(i: number): bigint }

function boot(items: Item[], o: { host?: LimineHost; cpus?: number; memory?: GuestMemory; entry?: bigint; modules?: { path: string; data: Uint8Array }[] } = {}): Booted {
  const k = kernel(items, { entry: o.entry });
  const memory = o.memory ?? dirtyMemory();
  const opts = { kernelPath: FILE, kernel: k.bytes, memory, cmdline: 'a b', modules: o.modules ?? [], cpus: o.cpus };
  const info = o.host ? loadLimine(opts, new ElfFile(FILE, k.bytes), o.host) : loadKernel(opts);
  const paging = { cr0: info.cpu.sregs.cr0, cr3: info.cpu.sregs.cr3, cr4: info.cpu.sregs.cr4, efer: info.cpu.sregs.efer };
  const phys = (v: bigint) => { const w = walk(memory, paging, v); if (!w.ok) throw new Error(`${v.toString(16)}: ${w.reason}`); return w.physical; };
  const read = (v: bigint) => memory.readU64(phys(v));
  return {
    info, memory, at: k.at, read,
    mapped: (v) => walk(memory, paging, v).ok,
    response: (i) => read(BASE + BigInt(k.at[i]) + 40n),
  };
}

const HHDM = 0xffff800000000000n;

test('a Limine kernel is detected from its magic and entered in long mode at its entry, as the protocol states the machine', () => {
  const b = boot(ALL);
  assert.equal(b.info.protocol, 'limine');
  assert.equal(b.info.entry, 0x101000, 'the image is placed from 1 MiB');
  assert.match(b.info.description, /base revision 6, entry 0xffffffff80001000, HHDM 0xffff800000000000, 4-level paging/);
  const { regs, sregs } = b.info.cpu;
  assert.equal(regs.rip, BASE + 0x1000n);
  assert.equal(regs.rflags, 0x2n);
  for (const r of ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'r8', 'r15'] as const) assert.equal(regs[r], 0n, r);
  assert.equal(b.read(regs.rsp!), 0n, 'a 0 return address on the stack');
  assert.ok(regs.rsp! > HHDM && regs.rsp! < BASE, 'the stack is in the HHDM');
  assert.equal(sregs.cr0, 0x80010011n, 'PE ET WP PG and nothing else');
  assert.equal(sregs.cr4, 0x20n, 'PAE only');
  assert.equal(sregs.efer, 0xd00n, 'LME LMA NXE');
  assert.deepEqual([sregs.cs.selector, sregs.cs.l, sregs.ds.selector, sregs.ss.selector], [0x28, true, 0x30, 0x30]);
  assert.deepEqual(sregs.idt, { base: 0n, limit: 0 });
  assert.deepEqual([sregs.tr!.base, sregs.tr!.limit], [0n, 0]);
  assert.deepEqual(b.info.cpu.lapic, { 0x80: 0, 0xf0: 0x1ff, 0x320: 0x10000, 0x330: 0x10000, 0x340: 0x10000, 0x350: 0x10700, 0x360: 0x10400, 0x370: 0x10000 }, 'the local APIC of base revision 5');
  // The GDT (through the HHDM): 16-bit code/data, 32-bit code/data, 64-bit code (L) and data.
  const gdt = sregs.gdt!.base;
  const access = (sel: number) => Number((b.read(gdt + BigInt(sel)) >> 40n) & 0xffn);
  const flags = (sel: number) => Number((b.read(gdt + BigInt(sel)) >> 52n) & 0xfn);
  assert.equal(b.read(gdt), 0n);
  assert.deepEqual([0x08, 0x10, 0x18, 0x20, 0x28, 0x30].map(access), [0x9b, 0x93, 0x9b, 0x93, 0x9b, 0x93]);
  assert.deepEqual([0x08, 0x18, 0x28].map(flags), [0, 0xc, 0xa]);
});

test('the answers: bootloader info, HHDM, executable address, date at boot; unknown and unanswerable requests stay NULL', () => {
  const b = boot(ALL);
  const str = (v: bigint) => b.memory.readCString(Number(v - HHDM));
  const info = b.response(2);
  assert.equal(str(b.read(info + 8n)), 'kvmdbg');
  assert.match(str(b.read(info + 16n)), /^\d+\.\d+\.\d+/);
  assert.equal(b.read(b.response(3) + 8n), HHDM);
  const addr = b.response(8);
  assert.deepEqual([b.read(addr + 8n), b.read(addr + 16n)], [0x100000n, BASE]);
  const now = BigInt(Math.floor(Date.now() / 1000));
  assert.ok(b.read(b.response(9) + 8n) >= now - 5n && b.read(b.response(9) + 8n) <= now, 'date at boot: the host clock');
  assert.equal(b.response(7), 0n, 'SMBIOS: NULL');
  assert.equal(b.read(BASE + BigInt(b.at[10]) + 40n), 0n, 'unknown ID: NULL');
  // The base revision tag: third word 0 (supported), second the revision used.
  assert.deepEqual([b.read(BASE + BigInt(b.at[1]) + 8n), b.read(BASE + BigInt(b.at[1]) + 16n)], [6n, 0n]);
});

test('boot time comes from the host clock the loader is given', () => {
  const b = boot(ALL, { host: HOST });
  assert.equal(b.read(b.response(9) + 8n), 1_700_000_000n);
});

test('the framebuffer: 1024x768x32 RGB at the Bochs VBE BAR, one video mode, and the dispi mode handed to the machine', () => {
  const b = boot(ALL, { host: HOST });
  assert.deepEqual(b.info.framebuffer, { width: 1024, height: 768, bpp: 32 });
  const r = b.response(5);
  assert.deepEqual([b.read(r), b.read(r + 8n)], [1n, 1n], 'response revision 1, one framebuffer');
  const fb = b.read(b.read(r + 16n));
  assert.deepEqual([b.read(fb), b.read(fb + 8n), b.read(fb + 16n), b.read(fb + 24n)], [HHDM + 0xfd000000n, 1024n, 768n, 4096n]);
  const fmt = b.read(fb + 32n);
  assert.deepEqual([Number(fmt & 0xffffn), Number((fmt >> 16n) & 0xffn)], [32, 1], 'bpp 32, memory model RGB');
  assert.deepEqual([8, 16, 8, 8, 8, 0].map((_, i) => Number((fmt >> BigInt(24 + i * 8)) & 0xffn)), [8, 16, 8, 8, 8, 0]);
  assert.deepEqual([b.read(fb + 48n), b.read(fb + 56n), b.read(fb + 64n)], [0n, 0n, 1n], 'no EDID, one mode');
  assert.ok(b.mapped(HHDM + 0xfd000000n + 3n * 2n ** 20n - 1n), 'the framebuffer is in the HHDM');
  assert.deepEqual(b.info.cpu.msrs, [{ index: 0x277, value: 0x0007010500070406n }], 'IA32_PAT: WB WT UC- UC WP WC');
  const paging = { cr0: b.info.cpu.sregs.cr0, cr3: b.info.cpu.sregs.cr3, cr4: b.info.cpu.sregs.cr4, efer: b.info.cpu.sregs.efer };
  const leaf = (v: bigint) => { const w = walk(b.memory, paging, v); assert.ok(w.ok); return w.levels[w.levels.length - 1]; };
  const big = leaf(HHDM + 0xfd000000n);
  assert.deepEqual([big.name, big.entry & 0x1098n], ['PDE', 0x1088n], 'a 2 MiB framebuffer page: PS, PAT (bit 12) and PWT: PAT entry 5, write-combining');
  const small = leaf(HHDM + 0xfd200000n);
  assert.deepEqual([small.name, small.entry & 0x98n], ['PTE', 0x88n], 'a 4 KiB framebuffer page: PAT (bit 7) and PWT');
  assert.equal(leaf(HHDM + 0x100000n).entry & 0x18n, 0n, 'RAM: write-back');
  const noFb = boot(ALL.filter((i) => !(i.kind === 'request' && i.name === 'framebuffer')), { host: HOST });
  assert.equal(noFb.info.framebuffer, undefined, 'no framebuffer request: the display is left as it is');
});

function memmapOf(b: Booted, i: number) {
  const r = b.response(i);
  const n = Number(b.read(r + 8n));
  const list = b.read(r + 16n);
  return Array.from({ length: n }, (_, k) => { const e = b.read(list + BigInt(k) * 8n); return { base: Number(b.read(e)), length: Number(b.read(e + 8n)), type: Number(b.read(e + 16n)) }; });
}

test('the memory map: sorted, the kernel EXECUTABLE_AND_MODULES, the boot structures reclaimable, the framebuffer, the ACPI area by revision', () => {
  const b = boot(ALL, { host: HOST, modules: [{ path: '/m/one', data: new Uint8Array(5000) }] });
  const map = memmapOf(b, 4);
  const types = map.map((e) => e.type);
  assert.deepEqual(types, [MEMMAP_USABLE, MEMMAP_RESERVED, MEMMAP_RESERVED_MAPPED, MEMMAP_EXECUTABLE_AND_MODULES, MEMMAP_BOOTLOADER_RECLAIMABLE, MEMMAP_USABLE, MEMMAP_FRAMEBUFFER]);
  assert.deepEqual(map[0], { base: 0, length: 0x9fc00 - 0 - (0x9fc00 % 4096), type: MEMMAP_USABLE }, 'from revision 3 on page 0 is usable');
  assert.deepEqual(map[3], { base: 0x100000, length: 0x3000 + 0x2000, type: MEMMAP_EXECUTABLE_AND_MODULES }, 'the 12 KiB image and the 5000-byte module');
  assert.equal(map[4].base, 0x105000);
  assert.equal(map[5].base, map[4].base + map[4].length);
  assert.equal(map[5].base + map[5].length, 64 * 2 ** 20);
  assert.deepEqual(map[6], { base: 0xfd000000, length: 3 * 2 ** 20, type: MEMMAP_FRAMEBUFFER });
  for (const e of map) if (e.type === MEMMAP_USABLE || e.type === MEMMAP_BOOTLOADER_RECLAIMABLE) assert.equal((e.base | e.length) % 4096, 0);
  const r2 = memmapOf(boot([{ kind: 'revision', n: 2n }, { kind: 'request', name: 'memmap' }]), 1);
  assert.equal(r2[0].base, 0x1000, 'base revision 2: page 0 is never usable');
  assert.equal(r2[2].type, MEMMAP_RESERVED, 'base revision 2: the ACPI area is plain reserved');
});

test('HHDM coverage and the identity map follow the base revision', () => {
  const probe = (n: bigint) => boot([{ kind: 'revision', n }, { kind: 'request', name: 'hhdm' }], { host: HOST });
  const r0 = probe(0n);
  assert.ok(r0.mapped(0x1000n) && !r0.mapped(0n), 'revision 0: identity map from 0x1000');
  assert.ok(r0.mapped(HHDM + 0xfee00000n), 'revision 0: the whole first 4 GiB in the HHDM');
  const r2 = probe(2n);
  assert.ok(!r2.mapped(0x100000n), 'revision 2: no identity map');
  assert.ok(r2.mapped(HHDM + 0xf0000n) && r2.mapped(HHDM + 0xfec00000n), 'revision 2: the first 4 GiB unconditionally');
  const r3 = probe(3n);
  assert.ok(r3.mapped(HHDM) && r3.mapped(HHDM + 0x3fff000n), 'revision 3: RAM');
  assert.ok(!r3.mapped(HHDM + 0xf0000n) && !r3.mapped(HHDM + 0xfec00000n), 'revision 3: not the ACPI area, not MMIO');
  const r4 = probe(4n);
  assert.ok(r4.mapped(HHDM + 0xf0000n), 'revision 4: the RESERVED_MAPPED ACPI area');
  assert.ok(!r4.mapped(HHDM + 0xfec00000n));
});

test('RSDP: an HHDM address, except under base revision 3, where it is physical; the RSDP is there', () => {
  for (const [n, want] of [[2n, HHDM + 0xf0000n], [3n, 0xf0000n], [6n, HHDM + 0xf0000n]] as const) {
    const b = boot([{ kind: 'revision', n }, { kind: 'request', name: 'rsdp' }], { host: HOST });
    assert.equal(b.read(b.response(1) + 8n), want, `revision ${n}`);
    assert.equal(Buffer.from(b.memory.read(0xf0000, 8)).toString('latin1'), 'RSD PTR ');
  }
});

test('kernel pages carry their segment permissions: writable only where PF_W, executable only where PF_X', () => {
  const b = boot(ALL, { host: HOST });
  const paging = { cr0: b.info.cpu.sregs.cr0, cr3: b.info.cpu.sregs.cr3, cr4: b.info.cpu.sregs.cr4, efer: b.info.cpu.sregs.efer };
  const w = walk(b.memory, paging, BASE + 0x1000n);
  assert.ok(w.ok);
  assert.deepEqual([w.physical, w.writable, w.noExecute, w.pageSize], [0x101000, true, false, 4096], 'the builder marks its segments RWX');
  assert.ok(!b.mapped(BASE + 0x3000n), 'nothing past the image');
});

test('MP: every AP parked in long mode at the parking loop with RDI = its limine_mp_info; the response lists all CPUs', () => {
  const b = boot([{ kind: 'revision', n: 6n }, { kind: 'request', name: 'mp' }, { kind: 'request', name: 'stackSize', fields: [0x20000n] }], { host: HOST, cpus: 3 });
  const r = b.response(1);
  assert.deepEqual([b.read(r + 8n), b.read(r + 16n)], [0n, 3n], 'flags 0, bsp lapic 0; 3 CPUs');
  const list = b.read(r + 24n);
  assert.equal(b.info.aps?.length, 2);
  b.info.aps!.forEach((ap, i) => {
    const info = b.read(list + BigInt(i + 1) * 8n);
    assert.equal(b.read(info), BigInt(i + 1) << 32n | BigInt(i + 1), 'processor_id and lapic_id');
    assert.equal(b.read(info + 16n), 0n, 'goto_address NULL at entry');
    assert.equal(ap.regs.rdi, info);
    assert.deepEqual(Buffer.from(b.memory.read(Number(ap.regs.rip! - HHDM), PARK_CODE.length)), Buffer.from(PARK_CODE));
    const top = b.read(info + 8n);
    assert.equal(ap.regs.rsp, top - 8n);
    assert.ok(b.mapped(top - 0x20000n) && b.mapped(top - 1n), 'a 128 KiB stack (the stack size request)');
    assert.equal(ap.sregs.cr3, b.info.cpu.sregs.cr3);
    assert.deepEqual(ap.lapic, b.info.cpu.lapic, 'APs get the same local APIC state');
  });
  const one = boot([{ kind: 'request', name: 'hhdm' }], { host: HOST, cpus: 3 });
  assert.equal(one.info.aps, undefined, 'no MP request: the APs are not started');
});

test('paging mode: 5-level when asked and the host has LA57 (HHDM 0xff00000000000000), 4-level otherwise; a range the host cannot meet is refused', () => {
  const ask = (mode: bigint, max: bigint, min: bigint): Item[] => [{ kind: 'revision', n: 6n }, { kind: 'request', name: 'pagingMode', revision: 1n, fields: [mode, max, min] }, { kind: 'request', name: 'hhdm' }];
  const five = boot(ask(1n, 1n, 0n), { host: { ...HOST, la57: true } });
  assert.equal(five.info.cpu.sregs.cr4, 0x1020n);
  assert.equal(five.read(five.response(2) + 8n), 0xff00000000000000n);
  assert.equal(five.read(five.response(1) + 8n), 1n);
  assert.equal(five.read(five.info.cpu.regs.rsp!), 0n, 'the 5-level tables map the stack');
  const four = boot(ask(1n, 1n, 0n), { host: HOST });
  assert.equal(four.read(four.response(1) + 8n), 0n);
  expectBootError(() => boot(ask(1n, 1n, 1n), { host: HOST }), FILE, 'paging mode request allows modes 1 to 1', 'no LA57');
});

test('the scanner honours the delimiters, ignores unknown IDs, and refuses two requests with one ID', () => {
  const k = kernel([{ kind: 'request', name: 'hhdm' }, { kind: 'start' }, { kind: 'request', name: 'memmap' }, { kind: 'end' }, { kind: 'request', name: 'rsdp' }]);
  const elf = new ElfFile(FILE, k.bytes);
  const seg = elf.segmentData(elf.programHeaders[0]);
  assert.ok(hasLimineMagic(seg, BASE));
  assert.deepEqual(scanLimine(FILE, seg, BASE).requests.map((r) => r.name), ['memmap']);
  assert.ok(!hasLimineMagic(seg, BASE + 4n), 'only 8-byte aligned IDs count');
  assert.deepEqual(scanLimine(FILE, seg, BASE + 4n).requests, []);
  const twice = kernel([{ kind: 'request', name: 'hhdm' }, { kind: 'request', name: 'hhdm' }]);
  expectBootError(() => loadKernel({ kernelPath: FILE, kernel: twice.bytes, memory: dirtyMemory(), cmdline: '', modules: [] }), FILE, 'two Limine HHDM requests');
});

test('hostile requests get one sentence: an unknown base revision, a huge stack, an entry outside the code, a request cut off by the image end', () => {
  const load = (items: Item[], entry?: bigint) => () => boot(items, { host: HOST, entry });
  expectBootError(load([{ kind: 'revision', n: 7n }]), FILE, 'base revision 7', '0 to 6');
  expectBootError(load([{ kind: 'revision', n: 0xffffffffffffffffn }]), FILE, 'base revision 18446744073709551615');
  expectBootError(load([{ kind: 'request', name: 'stackSize', fields: [1n << 62n] }]), FILE, 'stack size request asks for 0x4000000000000000 bytes');
  expectBootError(load([{ kind: 'request', name: 'entryPoint', fields: [0x1000n] }]), FILE, 'entry point request names 0x1000', 'not inside an executable segment');
  expectBootError(load([{ kind: 'request', name: 'hhdm' }], BASE + 0x5000n), FILE, 'entry point is 0xffffffff80005000');
  // A stack size request in the image's last 48 bytes: its field is past the end.
  const data = new Uint8Array(0x1000);
  const v = new DataView(data.buffer);
  [...COMMON_MAGIC, ...REQUEST_IDS.stackSize, 0n, 0n].forEach((w, i) => v.setBigUint64(0x1000 - 48 + i * 8, w, true));
  data.set([0xf4], 0);
  const cut = buildElf({ bits: 64, entry: BASE, segments: [{ paddr: BASE, vaddr: BASE, data }] });
  expectBootError(() => loadKernel({ kernelPath: FILE, kernel: cut.bytes, memory: dirtyMemory(), cmdline: '', modules: [] }), FILE, 'stack size request at 0xffffffff80000fd0 is cut off');
});

test('entropy: a hostile value_count is capped; a lower-half kernel is refused with the address to link at', () => {
  const b = boot([{ kind: 'request', name: 'entropy', fields: [0xffffffffffffffffn] }], { host: HOST });
  assert.equal(b.read(b.response(0) + 8n), BigInt(MAX_ENTROPY_VALUES));
  const low = buildElf({ bits: 64, entry: 0x200000, segments: [{ paddr: 0x200000, data: Uint8Array.from([...new Uint8Array(new BigUint64Array([...COMMON_MAGIC, ...REQUEST_IDS.hhdm, 0n, 0n]).buffer), 0xf4]) }] });
  expectBootError(() => loadKernel({ kernelPath: FILE, kernel: low.bytes, memory: dirtyMemory(), cmdline: '', modules: [] }), FILE, 'linked at 0x200000', 'link it at 0xffffffff80000000');
});

test('modules: each a limine_file at a page-aligned address with its path and string; the executable file a copy of the kernel', () => {
  const b = boot([{ kind: 'request', name: 'module' }, { kind: 'request', name: 'executableFile' }, { kind: 'request', name: 'executableCmdline' }],
    { host: HOST, modules: [{ path: '/tmp/one.bin', data: Uint8Array.from([1, 2, 3]) }] });
  const r = b.response(0);
  assert.equal(b.read(r + 8n), 1n);
  const f = b.read(b.read(r + 16n));
  const addr = b.read(f + 8n);
  assert.equal(addr % 4096n, 0n);
  assert.deepEqual([...b.memory.read(Number(addr - HHDM), 3)], [1, 2, 3]);
  assert.equal(b.read(f + 16n), 3n);
  assert.equal(b.memory.readCString(Number(b.read(f + 24n) - HHDM)), '/tmp/one.bin');
  const kf = b.read(b.response(1) + 8n);
  assert.deepEqual([...b.memory.read(Number(b.read(kf + 8n) - HHDM), 4)], [0x7f, 0x45, 0x4c, 0x46]);
  assert.equal(b.memory.readCString(Number(b.read(kf + 32n) - HHDM)), 'a b');
  assert.equal(b.memory.readCString(Number(b.read(b.response(2) + 8n) - HHDM)), 'a b');
  const none = boot([{ kind: 'request', name: 'module' }], { host: HOST });
  assert.equal(none.response(0), 0n, 'no modules: no response, as the protocol says');
});

test('fuzz: random words written over the requests of a Limine kernel give a boot or one sentence, never an internal error', () => {
  const base = kernel([...ALL.slice(0, -1), { kind: 'request', name: 'mp' }, { kind: 'request', name: 'stackSize', fields: [0n] },
    { kind: 'request', name: 'pagingMode', revision: 1n, fields: [0n, 0n, 0n] }, { kind: 'request', name: 'entropy', fields: [4n] },
    { kind: 'request', name: 'entryPoint', fields: [BASE + 0x1000n] }, { kind: 'end' }]);
  const memory = GuestMemory.allocate(64 * 2 ** 20);
  let seed = 0x5eed;
  const rand = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed; };
  const interesting = [0n, 1n, 7n, 0xffffffffffffffffn, 1n << 63n, BASE, BASE + 0x1000n, HHDM, ...COMMON_MAGIC, ...REQUEST_IDS.hhdm];
  let booted = 0;
  for (let i = 0; i < 300; i++) {
    const bytes = Uint8Array.from(base.bytes);
    const view = new DataView(bytes.buffer);
    for (let n = 1 + (rand() % 4); n > 0; n--) {
      const word = rand() % (base.at[base.at.length - 1] / 8);
      view.setBigUint64(base.fileOffset + word * 8, interesting[rand() % interesting.length], true);
    }
    try {
      loadKernel({ kernelPath: FILE, kernel: bytes, memory, cmdline: '', modules: [], cpus: 2 });
      booted++;
    } catch (e) {
      assert.ok(e instanceof Error && e.name === 'BootError' && !e.message.includes('internal error'), `case ${i}: ${(e as Error).stack}`);
    }
  }
  assert.ok(booted > 0, 'some mutations still boot');
});

/** A relocatable (ELF DYN) kernel linked at 0: a dynamic table at 0x100, RELA entries at 0x200, an HHDM request at 0x400, code at 0x1000. */
function pieKernel(relocs: [bigint, bigint, bigint][], tags: [bigint, bigint][] = []) {
  const data = new Uint8Array(0x1010);
  const v = new DataView(data.buffer);
  const dyn: [bigint, bigint][] = [...tags, [7n, 0x200n], [8n, BigInt(relocs.length * 24)], [9n, 24n], [0n, 0n]];
  dyn.forEach(([t, x], i) => { v.setBigUint64(0x100 + i * 16, t, true); v.setBigUint64(0x108 + i * 16, BigInt.asUintN(64, x), true); });
  relocs.forEach((r, i) => r.forEach((w, j) => v.setBigUint64(0x200 + i * 24 + j * 8, BigInt.asUintN(64, w), true)));
  [...COMMON_MAGIC, ...REQUEST_IDS.hhdm, 0n, 0n].forEach((w, i) => v.setBigUint64(0x400 + i * 8, w, true));
  data.set([0xf4], 0x1000);
  const elf = buildElf({ bits: 64, entry: 0x1000, segments: [{ paddr: 0, vaddr: 0, data, memsz: 0x2000 }], notes: [{ name: 'x', type: 1, desc: new Uint8Array(4) }] });
  const b = Uint8Array.from(elf.bytes);
  const w = new DataView(b.buffer);
  w.setUint16(16, 3, true); // ET_DYN
  const ph = elf.phoff + elf.phentsize; // the note's header becomes PT_DYNAMIC
  w.setUint32(ph, 2, true);
  w.setBigUint64(ph + 16, 0x100n, true);
  w.setBigUint64(ph + 40, BigInt(dyn.length * 16), true);
  return b;
}

test('a relocatable kernel linked at 0 slides to 0xffffffff80000000 and its RELATIVE and 64 relocations are applied', () => {
  const memory = dirtyMemory();
  const info = loadKernel({ kernelPath: FILE, kernel: pieKernel([[0x300n, 8n, 0x1000n], [0x308n, 8n, 0x10n], [0x310n, 0n, 0n]]), memory, cmdline: '', modules: [] });
  assert.equal(info.protocol, 'limine');
  assert.equal(info.cpu.regs.rip, BASE + 0x1000n);
  assert.deepEqual([memory.readU64(0x100300), memory.readU64(0x100308)], [BASE + 0x1000n, BASE + 0x10n]);
  assert.notEqual(memory.readU64(0x100400 + 40), 0n, 'the HHDM request found and answered');
});

test('hostile relocations get one sentence: a place outside the image, an unknown type, a table larger than the image, packed RELR', () => {
  const load = (k: Uint8Array) => () => loadKernel({ kernelPath: FILE, kernel: k, memory: dirtyMemory(), cmdline: '', modules: [] });
  expectBootError(load(pieKernel([[0x5000n, 8n, 0n]])), FILE, 'relocation 0 of the RELA relocation table at 0x5000', 'outside the loaded kernel image');
  expectBootError(load(pieKernel([[0x300n, 37n, 0n]])), FILE, 'relocation type 37');
  expectBootError(load(pieKernel([[0x300n, 1n | (5n << 32n), 0n]])), FILE, 'no dynamic symbol table');
  expectBootError(load(pieKernel([[0x300n, 8n, 0n]], [[8n, 1n << 40n]])), FILE, 'RELA relocation table');
  expectBootError(load(pieKernel([], [[36n, 0x200n]])), FILE, 'DT_RELR');
});

test('base revision 0 with a .limine_reqs section: only the requests it lists are answered; from revision 1 on the section is ignored', () => {
  for (const revision of [0n, 1n]) {
    const k = kernel([{ kind: 'revision', n: revision }, { kind: 'request', name: 'hhdm' }, { kind: 'request', name: 'memmap' }]);
    const elf = new ElfFile(FILE, k.bytes);
    const reqs = new Uint8Array(16);
    new DataView(reqs.buffer).setBigUint64(0, BASE + BigInt(k.at[1]), true);
    const data = elf.segmentData(elf.programHeaders[0]);
    const bytes = buildElf({ bits: 64, entry: BASE + 0x1000n, segments: [
      { paddr: BASE, vaddr: BASE, data, memsz: 0x3000 },
      { paddr: BASE + 0x3000n, vaddr: BASE + 0x3000n, data: reqs, section: '.limine_reqs' },
    ] }).bytes;
    const memory = dirtyMemory();
    loadLimine({ kernelPath: FILE, kernel: bytes, memory, cmdline: '', modules: [] }, new ElfFile(FILE, bytes), HOST);
    const response = (i: number) => memory.readU64(0x100000 + k.at[i] + 40);
    assert.notEqual(response(1), 0n, `revision ${revision}: HHDM answered`);
    assert.equal(response(2) === 0n, revision === 0n, `revision ${revision}: memmap ${revision === 0n ? 'not listed, so not answered' : 'found by the scan'}`);
  }
});
