/**
 * What the module tests share: C compiled here with `gcc -c -g` (relocatable
 * objects: the .ko stand-ins, and "kernels" with struct module in their
 * DWARF), sections placed as the module loader lays them out, and sparse
 * synthetic guest memory.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ElfFile } from '../../../vmm/boot/elf';

export const workDir = mkdtempSync(join(tmpdir(), 'kvmdbg-modules-'));
process.on('exit', () => rmSync(workDir, { recursive: true, force: true }));

/** `gcc -c -g -O1` of `source` as NAME.c; fails the test with the command to install gcc. */
export function gcc(name: string, source: string, flags: string[] = []): { path: string; bytes: Uint8Array; source: string } {
  const src = join(workDir, name + '.c');
  const out = join(workDir, name + '.o');
  writeFileSync(src, source);
  const r = spawnSync('gcc', ['-c', '-g', '-O1', '-fno-stack-protector', ...flags, '-o', out, src], { encoding: 'utf8' });
  if (r.error || r.status !== 0) assert.fail(`gcc -c -g -O1 failed (apt-get install gcc): ${r.error?.message ?? r.stderr}`);
  return { path: out, bytes: new Uint8Array(readFileSync(out)), source: src };
}

/** Every SHF_ALLOC section one after another from `base`, aligned, as the module loader lays them out. */
export function placeAll(bytes: Uint8Array, base: bigint): Map<string, bigint> {
  const loads = new Map<string, bigint>();
  let at = base;
  for (const s of new ElfFile('o', bytes).sections()) {
    if ((s.flags & 2n) === 0n || s.size === 0 || loads.has(s.name)) continue;
    const align = s.addralign > 0n ? s.addralign : 1n;
    at = (at + align - 1n) / align * align;
    loads.set(s.name, at);
    at += BigInt(s.size);
  }
  return loads;
}

export const lineOf = (source: string, marker: string): number => source.split('\n').findIndex((l) => l.includes(marker)) + 1;

/** Sparse guest memory: 4 KiB pages that exist only where something was written. */
export class Memory {
  readonly pages = new Map<bigint, Uint8Array>();
  private page(a: bigint, make: boolean): Uint8Array | undefined {
    const p = a & ~0xfffn;
    let b = this.pages.get(p);
    if (!b && make) this.pages.set(p, (b = new Uint8Array(4096)));
    return b;
  }
  write(a: bigint, bytes: Uint8Array): void { bytes.forEach((x, i) => { const at = a + BigInt(i); this.page(at, true)![Number(at & 0xfffn)] = x; }); }
  u64(a: bigint, v: bigint): void { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true); this.write(a, b); }
  u32(a: bigint, v: number): void { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v >>> 0, true); this.write(a, b); }
  str(a: bigint, s: string): void { this.write(a, new Uint8Array([...Buffer.from(s, 'latin1'), 0])); }
  read = (a: bigint, n: number): Uint8Array | undefined => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const at = a + BigInt(i);
      const p = this.page(at, false);
      if (!p) return undefined;
      out[i] = p[Number(at & 0xfffn)];
    }
    return out;
  };
}

/** The types around struct module as Linux 6.1 has them (the members kvmdbg reads, at their real relative order). */
export const STRUCT_MODULE_COMMON = `
#include <stddef.h>
struct list_head { struct list_head *next, *prev; };
typedef struct { int counter; } atomic_t;
enum module_state { MODULE_STATE_LIVE, MODULE_STATE_COMING, MODULE_STATE_GOING, MODULE_STATE_UNFORMED };
struct attribute { const char *name; unsigned short mode; };
struct bin_attribute { struct attribute attr; unsigned long size; void *private; void *read, *write, *mmap; };
struct attribute_group { const char *name; void *is_visible, *is_bin_visible, *attrs, *bin_attrs; };
struct module_sect_attr { struct bin_attribute battr; unsigned long address; };
struct module_sect_attrs { struct attribute_group grp; unsigned int nsections; struct module_sect_attr attrs[]; };
struct module;
struct module_use { struct list_head source_list; struct list_head target_list; struct module *source, *target; };
`;

export const STRUCT_MODULE_61 = `${STRUCT_MODULE_COMMON}
struct module_layout { void *base; unsigned int size; unsigned int text_size; unsigned int ro_size; unsigned int ro_after_init_size; };
struct module {
	enum module_state state; struct list_head list; char name[56]; const char *version; const char *srcversion;
	long pad[12]; struct module_layout core_layout; struct module_layout init_layout;
	struct module_sect_attrs *sect_attrs; struct list_head source_list; struct list_head target_list; atomic_t refcnt;
};
`;

export const STRUCT_MODULE_64 = `${STRUCT_MODULE_COMMON}
enum mod_mem_type { MOD_TEXT = 0, MOD_DATA, MOD_RODATA, MOD_RO_AFTER_INIT, MOD_INIT_TEXT, MOD_INIT_DATA, MOD_INIT_RODATA, MOD_MEM_NUM_TYPES };
struct module_memory { void *base; unsigned int size; };
struct module {
	enum module_state state; struct list_head list; char name[56]; const char *version; const char *srcversion;
	struct module_memory mem[MOD_MEM_NUM_TYPES];
	struct module_sect_attrs *sect_attrs; struct list_head source_list; struct list_head target_list; atomic_t refcnt;
};
`;

/** C that exports the offsets the tests build memory with (offsetof in the same compile as the DWARF). */
export function offsetsSource(layout: '61' | '64'): string {
  return `
struct module mod_example; struct module_sect_attrs *sect_example; struct module_use *use_example;${layout === '64' ? ' enum mod_mem_type *kind_example;' : ''}
unsigned long offsets[] = {
	offsetof(struct module, state), offsetof(struct module, list), offsetof(struct module, name), offsetof(struct module, version),
	${layout === '61' ? 'offsetof(struct module, core_layout), offsetof(struct module, init_layout), sizeof(struct module_layout)' : 'offsetof(struct module, mem), sizeof(struct module_memory), 0'},
	offsetof(struct module, sect_attrs), offsetof(struct module, source_list), offsetof(struct module, refcnt),
	offsetof(struct module_sect_attrs, nsections), offsetof(struct module_sect_attrs, attrs), sizeof(struct module_sect_attr),
	offsetof(struct module_sect_attr, address), offsetof(struct module_use, source), sizeof(struct module),
};
`;
}

/** The offsets array of a compiled offsetsSource, as numbers (see its order there). */
export function offsetsOf(bytes: Uint8Array): number[] {
  const elf = new ElfFile('o', bytes);
  const sym = elf.symbols().find((s) => s.name === 'offsets')!;
  const data = elf.sectionData(elf.sections()[sym.shndx]);
  const v = new DataView(data.buffer, data.byteOffset + Number(sym.value), Number(sym.size));
  return Array.from({ length: Number(sym.size) / 8 }, (_, i) => Number(v.getBigUint64(i * 8, true)));
}

export interface Offsets { state: number; list: number; name: number; version: number; core: number; init: number; sect: number; source: number; refcnt: number; nsections: number; attrs: number; attrSize: number; address: number; useSource: number; size: number }

export function named61(o: number[]): Offsets {
  const [state, list, name, version, core, init, , sect, source, refcnt, nsections, attrs, attrSize, address, useSource, size] = o;
  return { state, list, name, version, core, init, sect, source, refcnt, nsections, attrs, attrSize, address, useSource, size };
}

/** Writes a 6.1 struct module at `at`: its name, state, core (and init) memory, refcount and sect_attrs (names at `names`). */
export function writeModule61(mem: Memory, o: Offsets, at: bigint, m: { name: string; state: number; core: [bigint, number]; init?: [bigint, number]; refcnt?: number; sections?: Map<string, bigint>; attrsAt?: bigint }): void {
  mem.write(at, new Uint8Array(o.size));
  mem.u32(at + BigInt(o.state), m.state);
  mem.str(at + BigInt(o.name), m.name);
  mem.u32(at + BigInt(o.refcnt), (m.refcnt ?? 0) + 1);
  mem.u64(at + BigInt(o.source), at + BigInt(o.source));
  mem.u64(at + BigInt(o.source) + 8n, at + BigInt(o.source));
  mem.u64(at + BigInt(o.core), m.core[0]); mem.u32(at + BigInt(o.core) + 8n, m.core[1]);
  if (m.init) { mem.u64(at + BigInt(o.init), m.init[0]); mem.u32(at + BigInt(o.init) + 8n, m.init[1]); }
  if (m.sections && m.attrsAt !== undefined) {
    const attrs = m.attrsAt;
    mem.u64(at + BigInt(o.sect), attrs);
    mem.u32(attrs + BigInt(o.nsections), m.sections.size);
    let names = attrs + 0x1000n;
    [...m.sections].forEach(([name, address], i) => {
      mem.str(names, name);
      mem.u64(attrs + BigInt(o.attrs + i * o.attrSize), names);
      mem.u64(attrs + BigInt(o.attrs + i * o.attrSize + o.address), address);
      names += BigInt(name.length + 1);
    });
  }
}
