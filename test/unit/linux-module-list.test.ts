// The kernel's module list read through DWARF types by name (linux/module-list.ts), against
// synthetic guest memory: the types come from C compiled here with `gcc -c -g` in the shapes
// of Linux 6.1 (core_layout/init_layout) and 6.4 (mem[MOD_TEXT...]), the offsets the memory is
// built with from the same compile (offsetof), never from the reader. A cycle, a wild pointer
// and a kernel without struct module give a sentence. lsmod's text from it. No KVM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { symbolsFromObject } from '../../debug-adapter/symbols';
import { relocatableObject } from '../../debug-adapter/symbols/relocate';
import { moduleLayout, moduleRanges, readModule, walkModules, type ModuleLayout } from '../../debug-adapter/linux/module-list';
import { lsmodText } from '../../debug-adapter/linux/module-lsmod';
import type { DebugData } from '../../debug-adapter/dwarf/model';
import { gcc, Memory, offsetsOf, offsetsSource, STRUCT_MODULE_61, STRUCT_MODULE_64 } from './helpers/kernel-modules';

interface Compiled { debug: DebugData; off: bigint[] }

function compile(name: string, source: string): Compiled {
  const { bytes } = gcc(name, source);
  const debug = symbolsFromObject(relocatableObject(name, bytes, new Map()), { name }).debug!;
  return { debug, off: offsetsOf(bytes).map(BigInt) };
}

const V61 = STRUCT_MODULE_61;
const V64 = STRUCT_MODULE_64;
const OFFSETS = offsetsSource;

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
