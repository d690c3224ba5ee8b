/**
 * The kernel's loaded modules, read from guest memory the way the kernel
 * itself keeps them: the `modules` list of `struct module` (list, name,
 * state), where each one's memory is (before 6.4 `core_layout` /
 * `init_layout` {base, size, text_size}; from 6.4 `mem[MOD_TEXT ...]`), and
 * each section's address from `sect_attrs` (what /sys/module/NAME/sections
 * shows). Every offset comes from the kernel's DWARF types by name, never a
 * fixed layout; a kernel whose types we cannot read gets one sentence.
 *
 * The list is guest memory, so it is hostile: at most MAX_MODULES entries,
 * a link seen twice (a cycle) or a pointer that cannot be read ends the walk
 * with a sentence and the modules read so far.
 */
import type { CType, DebugData, RecordType } from '../dwarf/model';
import { arrayCount, arrayElement, findMember, isRecord, sizeOf, strip } from '../variables/ctype';

export const MAX_MODULES = 4096;
/** More sections than this in one module's sect_attrs is a damaged count. */
export const MAX_SECTIONS = 4096;
const MAX_NAME = 64;

/** Reads guest virtual memory; undefined when any byte is unmapped. */
export type ReadGuest = (address: bigint, length: number) => Uint8Array | undefined;

export interface MemoryRegion {
  /** 'text', 'data', 'rodata', 'ro_after_init', 'init_text', ... (6.4's mod_mem_type), or 'core' / 'init' before 6.4. */
  kind: string;
  base: bigint;
  size: number;
  /** The region's code bytes at its start (before 6.4: text_size). */
  textSize?: number;
  init: boolean;
}

export interface KernelModule {
  /** The struct module's address. */
  address: bigint;
  name: string;
  /** 'live', 'coming', 'going', 'unformed' (the enum's names without MODULE_STATE_), or the number. */
  state: string;
  regions: MemoryRegion[];
  /** Section name -> load address, from sect_attrs; undefined when the kernel has none (no sysfs/kallsyms). */
  sections?: Map<string, bigint>;
  /** A sentence when the sections could not be read. */
  sectionsProblem?: string;
  /** lsmod's "Used by" count (refcnt - 1), when the kernel counts (MODULE_UNLOAD). */
  refcount?: number;
  /** Names of the modules using this one (source_list). */
  usedBy?: string[];
  /** MODULE_VERSION, when the module has one. */
  version?: string;
}

export interface ModuleWalk {
  modules: KernelModule[];
  /** Why the walk stopped early (a cycle, a wild pointer), or undefined. */
  problem?: string;
}

interface Field { offset: number; size: number; type: CType }

/** The offsets the walk needs, from the kernel's types. */
export interface ModuleLayout {
  list: number;
  name: Field;
  state: Field & { names: Map<bigint, string> };
  memory:
    | { kind: 'mem'; offset: number; stride: number; kinds: string[]; base: number; size: number }
    | { kind: 'layout'; layouts: { label: 'core' | 'init' | 'data'; offset: number; base: number; size: number; textSize?: number }[] };
  sectAttrs?: number;
  sect?: { nsections: number; attrs: number; stride: number; name: number; address: number };
  refcnt?: number;
  sourceList?: number;
  use?: { sourceList: number; source: number };
  version?: number;
}

function path(record: CType, names: string): Field | undefined {
  let t = strip(record);
  let offset = 0;
  let found: Field | undefined;
  for (const n of names.split('.')) {
    if (!isRecord(t)) return undefined;
    const m = findMember(t, n);
    if (!m) return undefined;
    offset += m.offset;
    found = { offset, size: sizeOf(m.type), type: m.type };
    t = strip(m.type);
  }
  return found;
}

function recordNamed(debug: DebugData, name: string): RecordType | undefined {
  const t = debug.findType(`struct ${name}`);
  const s = t && strip(t);
  return s && isRecord(s) && !s.declaration && s.size > 0 ? s : undefined;
}

const MEM_KIND_NAMES = ['MOD_TEXT', 'MOD_DATA', 'MOD_RODATA', 'MOD_RO_AFTER_INIT', 'MOD_INIT_TEXT', 'MOD_INIT_DATA', 'MOD_INIT_RODATA'];

/** The layout of `struct module` and friends in this kernel, or the sentence why it cannot be read. */
export function moduleLayout(debug: DebugData | undefined): ModuleLayout | string {
  if (!debug) return 'the kernel has no DWARF (.debug_info), so kvmdbg cannot read its struct module';
  const mod = recordNamed(debug, 'module');
  if (!mod) return 'the kernel\'s DWARF does not describe struct module (a kernel without CONFIG_MODULES?)';
  const list = path(mod, 'list');
  const name = path(mod, 'name');
  const state = path(mod, 'state');
  if (!list || !name || !state) return 'the kernel\'s struct module has no list, name or state member kvmdbg knows';
  const st = strip(state.type);
  const names = new Map<bigint, string>();
  if (st.kind === 'enum') for (const e of st.enumerators) names.set(e.value, e.name.replace(/^MODULE_STATE_/, '').toLowerCase());
  let memory: ModuleLayout['memory'] | undefined;
  const mem = path(mod, 'mem');
  const memType = mem && strip(mem.type);
  if (mem && memType?.kind === 'array') {
    const element = strip(arrayElement(memType));
    const base = path(element, 'base');
    const size = path(element, 'size');
    const count = arrayCount(memType) ?? 0;
    if (!base || !size || count === 0) return 'the kernel\'s struct module_memory has no base or size member kvmdbg knows';
    const kindEnum = debug.findType('enum mod_mem_type');
    const kinds = Array.from({ length: count }, (_, i) => {
      const k = kindEnum && strip(kindEnum);
      const e = k?.kind === 'enum' ? k.enumerators.find((x) => x.value === BigInt(i))?.name : MEM_KIND_NAMES[i];
      return (e ?? `mem${i}`).replace(/^MOD_/, '').toLowerCase();
    });
    memory = { kind: 'mem', offset: mem.offset, stride: sizeOf(arrayElement(memType)), kinds, base: base.offset, size: size.offset };
  } else {
    const layouts: Extract<ModuleLayout['memory'], { kind: 'layout' }>['layouts'] = [];
    for (const label of ['core', 'init', 'data'] as const) {
      const l = path(mod, `${label}_layout`);
      if (!l) continue;
      const base = path(l.type, 'base');
      const size = path(l.type, 'size');
      const text = path(l.type, 'text_size');
      if (base && size) layouts.push({ label, offset: l.offset, base: base.offset, size: size.offset, textSize: text?.offset });
    }
    if (layouts.length === 0) return 'the kernel\'s struct module has neither mem[] (6.4 on) nor core_layout (before 6.4): kvmdbg cannot tell where modules are';
    memory = { kind: 'layout', layouts };
  }
  const out: ModuleLayout = { list: list.offset, name, state: { ...state, names }, memory };
  out.sectAttrs = path(mod, 'sect_attrs')?.offset;
  const attrs = recordNamed(debug, 'module_sect_attrs');
  const attr = recordNamed(debug, 'module_sect_attr');
  if (attrs && attr) {
    const nsections = path(attrs, 'nsections');
    const list2 = path(attrs, 'attrs');
    // 5.8 on: battr.attr.name; before: a name member of its own.
    const nameField = path(attr, 'battr.attr.name') ?? path(attr, 'name');
    const address = path(attr, 'address');
    if (nsections && list2 && nameField && address) out.sect = { nsections: nsections.offset, attrs: list2.offset, stride: attr.size, name: nameField.offset, address: address.offset };
  }
  out.refcnt = path(mod, 'refcnt.counter')?.offset ?? path(mod, 'refcnt')?.offset;
  out.sourceList = path(mod, 'source_list')?.offset;
  const use = recordNamed(debug, 'module_use');
  const useList = use && path(use, 'source_list');
  const useSource = use && path(use, 'source');
  if (useList && useSource) out.use = { sourceList: useList.offset, source: useSource.offset };
  out.version = path(mod, 'version')?.offset;
  return out;
}

const hex = (v: bigint): string => '0x' + v.toString(16);

class Reader {
  constructor(private readonly read: ReadGuest) {}
  bytes(address: bigint, n: number): Uint8Array | undefined {
    try { return this.read(address, n); } catch { return undefined; }
  }
  u(address: bigint, size: number): bigint | undefined {
    const b = this.bytes(address, size);
    if (!b || b.length < size) return undefined;
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    return v;
  }
  ptr(address: bigint): bigint | undefined { return this.u(address, 8); }
  /** A NUL-terminated string of at most `max` bytes; undefined when unreadable. */
  cstr(address: bigint, max: number): string | undefined {
    const out: number[] = [];
    // A page at a time (the string may end just before an unmapped page).
    for (let at = address; out.length < max;) {
      const n = Math.min(max - out.length, Number(0x1000n - (at & 0xfffn)));
      const b = this.bytes(at, n);
      if (!b) return undefined;
      const end = b.indexOf(0);
      out.push(...(end < 0 ? b : b.subarray(0, end)));
      if (end >= 0) break;
      at += BigInt(n);
    }
    return Buffer.from(out).toString('latin1');
  }
  /** A char array in place (name[56]): up to its NUL. */
  chars(address: bigint, size: number): string | undefined {
    const b = this.bytes(address, size);
    if (!b) return undefined;
    const end = b.indexOf(0);
    return Buffer.from(b.subarray(0, end < 0 ? b.length : end)).toString('latin1');
  }
}

/**
 * Walks the list at `head` (the address of the kernel's `modules` list_head). `withSections`:
 * also read each module's sect_attrs (a few hundred bytes a module), else leave `sections` out.
 */
export function walkModules(layout: ModuleLayout, head: bigint, read: ReadGuest, withSections = true): ModuleWalk {
  const r = new Reader(read);
  const modules: KernelModule[] = [];
  const seen = new Set<bigint>([head]);
  let link = r.ptr(head);
  if (link === undefined) return { modules, problem: `the kernel's module list head at ${hex(head)} cannot be read` };
  let previous = 'the list head';
  while (link !== head) {
    if (link === undefined) return { modules, problem: `the kernel's module list is damaged: the link after ${previous} cannot be read` };
    if (seen.has(link)) return { modules, problem: `the kernel's module list is damaged: it loops back to ${hex(link)} after ${previous} without reaching its head` };
    if (modules.length >= MAX_MODULES) return { modules, problem: `the kernel's module list has more than ${MAX_MODULES} entries: kvmdbg read the first ${MAX_MODULES}` };
    seen.add(link);
    const address = BigInt.asUintN(64, link - BigInt(layout.list));
    const m = readModule(layout, address, r, withSections);
    if (typeof m === 'string') return { modules, problem: `the kernel's module list is damaged: ${m} (after ${previous})` };
    modules.push(m);
    previous = `module ${m.name}`;
    link = r.ptr(link);
  }
  return { modules };
}

/** One struct module at `address` (a hook's RDI, or a list entry), or the sentence why not. */
export function readModule(layout: ModuleLayout, address: bigint, read: ReadGuest | Reader, withSections = true): KernelModule | string {
  const r = read instanceof Reader ? read : new Reader(read);
  const name = r.chars(address + BigInt(layout.name.offset), Math.min(layout.name.size || MAX_NAME, MAX_NAME));
  if (name === undefined) return `the struct module at ${hex(address)} cannot be read`;
  if (!/^[\x21-\x7e]{1,64}$/.test(name)) return `the struct module at ${hex(address)} has no printable name`;
  const stateValue = r.u(address + BigInt(layout.state.offset), layout.state.size || 4);
  const state = stateValue === undefined ? 'unknown' : layout.state.names.get(stateValue) ?? String(stateValue);
  const m: KernelModule = { address, name, state, regions: readRegions(layout, address, r) };
  if (layout.refcnt !== undefined) {
    const c = r.u(address + BigInt(layout.refcnt), 4);
    if (c !== undefined) m.refcount = Number(BigInt.asIntN(32, c)) - 1;
  }
  if (layout.version !== undefined) {
    const p = r.ptr(address + BigInt(layout.version));
    const v = p ? r.cstr(p, 64) : undefined;
    if (v) m.version = v;
  }
  if (layout.sourceList !== undefined && layout.use) m.usedBy = readUsers(layout, address, r);
  if (withSections) {
    const s = readSections(layout, address, r);
    if (typeof s === 'string') m.sectionsProblem = s;
    else m.sections = s;
  }
  return m;
}

function readRegions(layout: ModuleLayout, address: bigint, r: Reader): MemoryRegion[] {
  const out: MemoryRegion[] = [];
  const mem = layout.memory;
  if (mem.kind === 'mem') {
    mem.kinds.forEach((kind, i) => {
      const at = address + BigInt(mem.offset + i * mem.stride);
      const base = r.ptr(at + BigInt(mem.base));
      const size = r.u(at + BigInt(mem.size), 4);
      if (base && size) out.push({ kind, base, size: Number(size), init: kind.startsWith('init'), textSize: kind.endsWith('text') ? Number(size) : 0 });
    });
  } else {
    for (const l of mem.layouts) {
      const at = address + BigInt(l.offset);
      const base = r.ptr(at + BigInt(l.base));
      const size = r.u(at + BigInt(l.size), 4);
      const text = l.textSize === undefined ? undefined : r.u(at + BigInt(l.textSize), 4);
      if (base && size) out.push({ kind: l.label, base, size: Number(size), init: l.label === 'init', textSize: text === undefined ? undefined : Number(text) });
    }
  }
  return out;
}

function readSections(layout: ModuleLayout, address: bigint, r: Reader): Map<string, bigint> | string {
  if (layout.sectAttrs === undefined || !layout.sect) return 'the kernel keeps no section addresses for modules (struct module has no sect_attrs: a kernel without CONFIG_SYSFS or CONFIG_KALLSYMS)';
  const s = layout.sect;
  const attrs = r.ptr(address + BigInt(layout.sectAttrs));
  if (attrs === undefined) return `its sect_attrs pointer at ${hex(address + BigInt(layout.sectAttrs))} cannot be read`;
  if (attrs === 0n) return 'its sect_attrs is NULL (sysfs not set up for it yet)';
  const n = r.u(attrs + BigInt(s.nsections), 4);
  if (n === undefined) return `its section attributes at ${hex(attrs)} cannot be read`;
  if (n > BigInt(MAX_SECTIONS)) return `its section attributes claim ${n} sections (more than ${MAX_SECTIONS}: damaged)`;
  const out = new Map<string, bigint>();
  for (let i = 0; i < Number(n); i++) {
    const at = attrs + BigInt(s.attrs + i * s.stride);
    const namePtr = r.ptr(at + BigInt(s.name));
    const addr = r.ptr(at + BigInt(s.address));
    const name = namePtr ? r.cstr(namePtr, 128) : undefined;
    if (name === undefined || addr === undefined) return `section attribute ${i} of ${n} at ${hex(at)} cannot be read`;
    if (!out.has(name)) out.set(name, addr);
  }
  return out;
}

function readUsers(layout: ModuleLayout, address: bigint, r: Reader): string[] | undefined {
  const head = address + BigInt(layout.sourceList!);
  const use = layout.use!;
  const out: string[] = [];
  const seen = new Set<bigint>([head]);
  let link = r.ptr(head);
  while (link !== undefined && link !== head) {
    if (seen.has(link) || out.length >= 256) return out;
    seen.add(link);
    const entry = link - BigInt(use.sourceList);
    const source = r.ptr(entry + BigInt(use.source));
    const name = source ? r.chars(source + BigInt(layout.name.offset), Math.min(layout.name.size || MAX_NAME, MAX_NAME)) : undefined;
    if (name) out.push(name);
    link = r.ptr(link);
  }
  return out;
}

/** [start, end) of a module's memory now (init regions while the kernel still has them). */
export function moduleRanges(m: KernelModule): [bigint, bigint][] {
  return m.regions.map((g): [bigint, bigint] => [g.base, g.base + BigInt(g.size)]);
}

/** The module's total size as lsmod counts it (every region). */
export function moduleSize(m: KernelModule): number {
  return m.regions.reduce((n, g) => n + g.size, 0);
}

/** Where its code starts: the text region's base (what /proc/modules shows as its address). */
export function moduleBase(m: KernelModule): bigint | undefined {
  return (m.regions.find((g) => g.kind === 'text' || g.kind === 'core') ?? m.regions[0])?.base;
}
