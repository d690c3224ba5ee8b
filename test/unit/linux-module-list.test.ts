// The kernel's module list read through DWARF types by name (linux/module-list.ts), against
// synthetic guest memory: the types come from C compiled here with `gcc -c -g` in the shapes
// of Linux 6.1 (core_layout/init_layout) and 6.4 (mem[MOD_TEXT...]), the offsets the memory is
// built with from the same compile (offsetof), never from the reader. A cycle, a wild pointer
// and a kernel without struct module give a sentence. lsmod's text from it. No KVM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { symbolsFromObject } from '../../debug-adapter/symbols';
import { relocatableObject } from '../../debug-adapter/symbols/relocate';
import { moduleLayout, moduleRanges, readModule, walkModules, type ModuleLayout } from '../../debug-adapter/linux/module-list';
import { lsmodText } from '../../debug-adapter/linux/module-lsmod';
import type { DebugData } from '../../debug-adapter/dwarf/model';

const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-modlist-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const COMMON = `
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

const V61 = `${COMMON}
struct module_layout { void *base; unsigned int size; unsigned int text_size; unsigned int ro_size; unsigned int ro_after_init_size; };
struct module {
	enum module_state state; struct list_head list; char name[56]; const char *version; const char *srcversion;
	long pad[12]; struct module_layout core_layout; struct module_layout init_layout;
	struct module_sect_attrs *sect_attrs; struct list_head source_list; struct list_head target_list; atomic_t refcnt;
};
`;

const V64 = `${COMMON}
enum mod_mem_type { MOD_TEXT = 0, MOD_DATA, MOD_RODATA, MOD_RO_AFTER_INIT, MOD_INIT_TEXT, MOD_INIT_DATA, MOD_INIT_RODATA, MOD_MEM_NUM_TYPES };
struct module_memory { void *base; unsigned int size; };
struct module {
	enum module_state state; struct list_head list; char name[56]; const char *version; const char *srcversion;
	struct module_memory mem[MOD_MEM_NUM_TYPES];
	struct module_sect_attrs *sect_attrs; struct list_head source_list; struct list_head target_list; atomic_t refcnt;
};
`;

const OFFSETS = (layout: '61' | '64') => `
struct module mod_example; struct module_sect_attrs *sect_example; struct module_use *use_example; enum mod_mem_type *kind_example;
unsigned long offsets[] = {
	offsetof(struct module, state), offsetof(struct module, list), offsetof(struct module, name), offsetof(struct module, version),
	${layout === '61' ? 'offsetof(struct module, core_layout), offsetof(struct module, init_layout), sizeof(struct module_layout)' : 'offsetof(struct module, mem), sizeof(struct module_memory), 0'},
	offsetof(struct module, sect_attrs), offsetof(struct module, source_list), offsetof(struct module, refcnt),
	offsetof(struct module_sect_attrs, nsections), offsetof(struct module_sect_attrs, attrs), sizeof(struct module_sect_attr),
	offsetof(struct module_sect_attr, address), offsetof(struct module_use, source), sizeof(struct module),
};
`.replace('enum mod_mem_type *kind_example;', layout === '64' ? 'enum mod_mem_type *kind_example;' : '');

interface Compiled { debug: DebugData; off: bigint[] }

function compile(name: string, source: string): Compiled {
  const src = join(dir, `${name}.c`);
  const out = join(dir, `${name}.o`);
  writeFileSync(src, source);
  const r = spawnSync('gcc', ['-c', '-g', '-O1', '-o', out, src], { encoding: 'utf8' });
  if (r.error || r.status !== 0) assert.fail(`gcc -c -g failed (apt-get install gcc): ${r.error?.message ?? r.stderr}`);
  const bytes = new Uint8Array(readFileSync(out));
  const obj = relocatableObject(name, bytes, new Map());
  const syms = symbolsFromObject(obj, { name });
  const data = obj.section('.data')!.data;
  const sym = relocatableObject(name, bytes, new Map([['.data', 0n]])).symbols().find((s) => s.name === 'offsets')!;
  const v = new DataView(data.buffer, data.byteOffset + Number(sym.value), Number(sym.size));
  const off = Array.from({ length: Number(sym.size) / 8 }, (_, i) => v.getBigUint64(i * 8, true));
  return { debug: syms.debug!, off };
}

/** Sparse guest memory: 4 KiB pages that exist only where something was written. */
class Memory {
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

const HEAD = 0xffffffff81aa9720n;

/** Two modules on the list (newest first, as the kernel adds them), the first with two sections and one user. */
function build(c: Compiled, layout: '61' | '64'): { mem: Memory; a: bigint; b: bigint } {
  const [oState, oList, oName, oVersion, oMem1, oMem2, , oSect, oSource, oRef, oNsec, oAttrs, attrSize, oAddr, oUseSource] = c.off.map(Number);
  const mem = new Memory();
  const a = 0xffffffffa0010000n;
  const b = 0xffffffffa0020000n;
  const mod = (at: bigint, name: string, state: number, text: bigint, size: number, init: bigint, initSize: number, refcnt: number): void => {
    mem.write(at, new Uint8Array(c.off[15] ? Number(c.off[15]) : 1024));
    mem.u32(at + BigInt(oState), state);
    mem.str(at + BigInt(oName), name);
    mem.u64(at + BigInt(oVersion), 0n);
    mem.u32(at + BigInt(oRef), refcnt + 1);
    mem.u64(at + BigInt(oSource), at + BigInt(oSource));
    mem.u64(at + BigInt(oSource) + 8n, at + BigInt(oSource));
    if (layout === '61') {
      mem.u64(at + BigInt(oMem1), text); mem.u32(at + BigInt(oMem1) + 8n, size); mem.u32(at + BigInt(oMem1) + 12n, 0x1000);
      mem.u64(at + BigInt(oMem2), init); mem.u32(at + BigInt(oMem2) + 8n, initSize);
    } else {
      mem.u64(at + BigInt(oMem1), text); mem.u32(at + BigInt(oMem1) + 8n, size);                    // MOD_TEXT
      // (the 6.4 offsets list gives sizeof(struct module_memory) second)
      mem.u64(at + BigInt(oMem1 + 4 * oMem2), init); mem.u32(at + BigInt(oMem1 + 4 * oMem2) + 8n, initSize);  // MOD_INIT_TEXT
    }
  };
  mod(a, 'kvmdbg_mod', 1, 0xffffffffa0000000n, 0x3000, 0xffffffffa0040000n, 0x1000, 1);
  mod(b, 'helper_mod', 0, 0xffffffffa0005000n, 0x2000, 0n, 0, 1);
  // The list: head -> a -> b -> head.
  mem.u64(HEAD, a + BigInt(oList));
  mem.u64(a + BigInt(oList), b + BigInt(oList));
  mem.u64(b + BigInt(oList), HEAD);
  // a's sect_attrs: .text and .data.
  const attrs = 0xffff888000100000n;
  mem.u64(a + BigInt(oSect), attrs);
  mem.u32(attrs + BigInt(oNsec), 2);
  const names = 0xffff888000101000n;
  mem.str(names, '.text'); mem.str(names + 16n, '.data');
  mem.u64(attrs + BigInt(oAttrs), names); mem.u64(attrs + BigInt(oAttrs + oAddr), 0xffffffffa0000000n);
  mem.u64(attrs + BigInt(oAttrs + attrSize), names + 16n); mem.u64(attrs + BigInt(oAttrs + attrSize + oAddr), 0xffffffffa0002000n);
  mem.u64(b + BigInt(oSect), 0n);
  // helper_mod is used by kvmdbg_mod: a module_use on helper_mod's source_list.
  const use = 0xffff888000102000n;
  mem.u64(b + BigInt(oSource), use);
  mem.u64(use, b + BigInt(oSource));
  mem.u64(use + BigInt(oUseSource), a);
  return { mem, a, b };
}

for (const layout of ['61', '64'] as const) {
  test(`struct module before and after 6.4 (${layout === '61' ? 'core_layout/init_layout' : 'mem[MOD_TEXT...]'}): the list, names, states, memory, sections, users`, () => {
    const c = compile(`mod${layout}`, (layout === '61' ? V61 : V64) + OFFSETS(layout));
    const l = moduleLayout(c.debug);
    assert.equal(typeof l, 'object', String(l));
    const { mem, a, b } = build(c, layout);
    const walk = walkModules(l as ModuleLayout, HEAD, mem.read);
    assert.equal(walk.problem, undefined);
    assert.deepEqual(walk.modules.map((m) => [m.name, m.address, m.state, m.refcount]), [['kvmdbg_mod', a, 'coming', 1], ['helper_mod', b, 'live', 1]]);
    const [m1, m2] = walk.modules;
    assert.deepEqual(moduleRanges(m1), [[0xffffffffa0000000n, 0xffffffffa0003000n], [0xffffffffa0040000n, 0xffffffffa0041000n]]);
    assert.deepEqual(m1.regions.map((g) => [g.kind, g.init]), layout === '61' ? [['core', false], ['init', true]] : [['text', false], ['init_text', true]]);
    assert.deepEqual(moduleRanges(m2), [[0xffffffffa0005000n, 0xffffffffa0007000n]]);
    assert.deepEqual([...m1.sections!], [['.text', 0xffffffffa0000000n], ['.data', 0xffffffffa0002000n]]);
    assert.equal(m2.sections, undefined);
    assert.equal(m2.sectionsProblem, 'its sect_attrs is NULL (sysfs not set up for it yet)');
    assert.deepEqual(m2.usedBy, ['kvmdbg_mod']);
    assert.equal(lsmodText(walk.modules), [
      'Module                  Size  Used by      Address',
      'kvmdbg_mod             16384  1            0xffffffffa0000000  (loading)',
      'helper_mod              8192  1 kvmdbg_mod 0xffffffffa0005000',
    ].join('\n'));
  });
}

test('a damaged list: a cycle and a wild pointer end the walk with a sentence and the modules read so far', () => {
  const c = compile('cyc', V61 + OFFSETS('61'));
  const l = moduleLayout(c.debug) as ModuleLayout;
  const { mem, a, b } = build(c, '61');
  const oList = BigInt(c.off[1]);
  mem.u64(b + oList, a + oList);   // b -> a again
  const cyc = walkModules(l, HEAD, mem.read);
  assert.deepEqual(cyc.modules.map((m) => m.name), ['kvmdbg_mod', 'helper_mod']);
  assert.equal(cyc.problem, `the kernel's module list is damaged: it loops back to 0x${(a + oList).toString(16)} after module helper_mod without reaching its head`);
  mem.u64(b + oList, 0xdead000000000100n);
  const wild = walkModules(l, HEAD, mem.read);
  assert.deepEqual(wild.modules.map((m) => m.name), ['kvmdbg_mod', 'helper_mod']);
  assert.equal(wild.problem, 'the kernel\'s module list is damaged: the struct module at 0xdead0000000000f8 cannot be read (after module helper_mod)');
  assert.equal(readModule(l, 0x1000n, mem.read), 'the struct module at 0x1000 cannot be read');
  assert.equal(walkModules(l, 0x5000n, mem.read).problem, 'the kernel\'s module list head at 0x5000 cannot be read');
});

test('a kernel whose DWARF has no struct module gets one sentence', () => {
  const c = compile('nomod', 'struct other { int x; } other_example;\nunsigned long offsets[] = { 1 };\n');
  assert.equal(moduleLayout(c.debug), 'the kernel\'s DWARF does not describe struct module (a kernel without CONFIG_MODULES?)');
  assert.equal(moduleLayout(undefined), 'the kernel has no DWARF (.debug_info), so kvmdbg cannot read its struct module');
});
