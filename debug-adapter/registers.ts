/**
 * The vCPU's registers as DAP scopes: a tree of named values, decoded the
 * way a kernel developer reads them (RFLAGS and CR0/CR4/EFER bits by name,
 * segments with their hidden parts), each pointer-like value with a
 * memoryReference. Pure functions of a register snapshot: no DAP, no KVM.
 */
import type { Regs, Sregs } from '../native/types';
import type { Segment } from '../vmm/boot/boot-state';
import { formatRef } from './memory';

export interface CpuSnapshot {
  regs: Regs;
  sregs: Sregs;
  /** DR0-DR7 as kvmdbg armed them (KVM_SET_GUEST_DEBUG). */
  debugreg: bigint[];
}

export interface RegisterNode {
  name: string;
  value: string;
  /** The raw value (for hovers and conditions). */
  raw?: bigint;
  children?: RegisterNode[];
  memoryReference?: string;
  /** The Regs field a setVariable on this node writes; absent = read-only. */
  writes?: keyof Regs;
  /** Bits of the 64-bit register this name covers (eax: 32). */
  width?: number;
}

export interface ScopeData { name: string; readonly nodes: RegisterNode[]; expensive?: boolean }

const hexPad = (v: bigint, digits: number): string => '0x' + v.toString(16).padStart(digits, '0');
const bitSet = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) === 1n;

/** Flag names of a register, lowest bit first; `[bit, name]`. */
export const RFLAGS_BITS: [number, string][] = [
  [0, 'CF'], [2, 'PF'], [4, 'AF'], [6, 'ZF'], [7, 'SF'], [8, 'TF'], [9, 'IF'], [10, 'DF'], [11, 'OF'],
  [14, 'NT'], [16, 'RF'], [17, 'VM'], [18, 'AC'], [19, 'VIF'], [20, 'VIP'], [21, 'ID'],
];
export const CR0_BITS: [number, string][] = [
  [0, 'PE'], [1, 'MP'], [2, 'EM'], [3, 'TS'], [4, 'ET'], [5, 'NE'], [16, 'WP'], [18, 'AM'], [29, 'NW'], [30, 'CD'], [31, 'PG'],
];
export const CR4_BITS: [number, string][] = [
  [0, 'VME'], [1, 'PVI'], [2, 'TSD'], [3, 'DE'], [4, 'PSE'], [5, 'PAE'], [6, 'MCE'], [7, 'PGE'], [8, 'PCE'], [9, 'OSFXSR'],
  [10, 'OSXMMEXCPT'], [11, 'UMIP'], [12, 'LA57'], [13, 'VMXE'], [14, 'SMXE'], [16, 'FSGSBASE'], [17, 'PCIDE'], [18, 'OSXSAVE'],
  [20, 'SMEP'], [21, 'SMAP'], [22, 'PKE'], [23, 'CET'],
];
export const EFER_BITS: [number, string][] = [[0, 'SCE'], [8, 'LME'], [10, 'LMA'], [11, 'NXE'], [12, 'SVME'], [14, 'FFXSR']];

/** "0x246 [IF ZF PF]": set flags, highest first, as gdb prints eflags. */
export function decodeBits(value: bigint, bits: [number, string][]): string[] {
  return bits.filter(([b]) => bitSet(value, b)).map(([, n]) => n).reverse();
}

function flagsNode(name: string, value: bigint, bits: [number, string][], digits: number, extra: RegisterNode[] = []): RegisterNode {
  const set = decodeBits(value, bits);
  return {
    name, raw: value, value: `${hexPad(value, digits)} [${set.join(' ')}]`,
    children: [...bits.map(([b, n]) => ({ name: n, value: bitSet(value, b) ? '1' : '0', raw: (value >> BigInt(b)) & 1n })), ...extra],
  };
}

export function rflagsNode(rflags: bigint): RegisterNode {
  const iopl = (rflags >> 12n) & 3n;
  return { ...flagsNode('rflags', rflags, RFLAGS_BITS, 8, [{ name: 'IOPL', value: iopl.toString(), raw: iopl }]), writes: 'rflags' };
}

const GPR64: (keyof Regs)[] = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const GPR32: [string, keyof Regs][] = [['eax', 'rax'], ['ebx', 'rbx'], ['ecx', 'rcx'], ['edx', 'rdx'], ['esi', 'rsi'], ['edi', 'rdi'], ['ebp', 'rbp'], ['esp', 'rsp']];

/** Is the vCPU in long mode with a 64-bit code segment? */
export function is64(s: CpuSnapshot): boolean {
  return s.sregs.cs.l;
}

export function generalNodes(s: CpuSnapshot): RegisterNode[] {
  if (is64(s)) {
    return GPR64.map((r) => ({ name: r, raw: s.regs[r], value: hexPad(s.regs[r], 16), memoryReference: formatRef('v', s.regs[r]), writes: r, width: 64 }));
  }
  return GPR32.map(([n, r]) => {
    const v = s.regs[r] & 0xffff_ffffn;
    return { name: n, raw: v, value: hexPad(v, 8), memoryReference: formatRef('v', v), writes: r, width: 32 };
  });
}

export function ripNodes(s: CpuSnapshot): RegisterNode[] {
  const wide = is64(s);
  const rip = wide ? s.regs.rip : s.regs.rip & 0xffff_ffffn;
  return [
    { name: wide ? 'rip' : 'eip', raw: rip, value: hexPad(rip, wide ? 16 : 8), memoryReference: formatRef('v', rip), writes: 'rip', width: wide ? 64 : 32 },
    { ...rflagsNode(s.regs.rflags), name: wide ? 'rflags' : 'eflags' },
  ];
}

const SEGMENT_TYPES_CODE = ['execute-only', 'execute-only accessed', 'execute/read', 'execute/read accessed',
  'conforming execute-only', 'conforming execute-only accessed', 'conforming execute/read', 'conforming execute/read accessed'];
const SEGMENT_TYPES_DATA = ['read-only', 'read-only accessed', 'read/write', 'read/write accessed',
  'read-only expand-down', 'read-only expand-down accessed', 'read/write expand-down', 'read/write expand-down accessed'];

export function describeSegmentType(seg: Segment): string {
  if (!seg.s) return `system type 0x${seg.type.toString(16)}`;
  return (seg.type & 8) ? `code, ${SEGMENT_TYPES_CODE[seg.type & 7]}` : `data, ${SEGMENT_TYPES_DATA[seg.type & 7]}`;
}

export function segmentNode(name: string, seg: Segment): RegisterNode {
  const mode = seg.l ? '64-bit' : seg.db ? '32-bit' : '16-bit';
  const summary = `${hexPad(BigInt(seg.selector), 4)} (base ${hexPad(seg.base, 1)}, limit ${hexPad(BigInt(seg.limit >>> 0), 1)}, ${seg.s && seg.type & 8 ? mode + ' ' : ''}dpl ${seg.dpl}${seg.present ? '' : ', not present'})`;
  return {
    name, raw: BigInt(seg.selector), value: summary,
    children: [
      { name: 'selector', value: hexPad(BigInt(seg.selector), 4), raw: BigInt(seg.selector) },
      { name: 'index', value: String(seg.selector >> 3) },
      { name: 'TI', value: seg.selector & 4 ? '1 (LDT)' : '0 (GDT)' },
      { name: 'RPL', value: String(seg.selector & 3) },
      { name: 'base', value: hexPad(seg.base, 1), raw: seg.base, memoryReference: formatRef('v', seg.base) },
      { name: 'limit', value: hexPad(BigInt(seg.limit >>> 0), 1), raw: BigInt(seg.limit >>> 0) },
      { name: 'type', value: `0x${seg.type.toString(16)} (${describeSegmentType(seg)})`, raw: BigInt(seg.type) },
      { name: 'S', value: seg.s ? '1 (code/data)' : '0 (system)' },
      { name: 'DPL', value: String(seg.dpl) },
      { name: 'P', value: seg.present ? '1' : '0' },
      { name: 'D/B', value: seg.db ? '1' : '0' },
      { name: 'L', value: seg.l ? '1' : '0' },
      { name: 'G', value: seg.g ? '1' : '0' },
      { name: 'AVL', value: seg.avl ? '1' : '0' },
      { name: 'unusable', value: seg.unusable ? '1' : '0' },
    ],
  };
}

export function segmentNodes(s: CpuSnapshot): RegisterNode[] {
  const r = s.sregs;
  return [['cs', r.cs], ['ds', r.ds], ['es', r.es], ['fs', r.fs], ['gs', r.gs], ['ss', r.ss], ['tr', r.tr], ['ldtr', r.ldt]]
    .map(([n, seg]) => segmentNode(n as string, seg as Segment));
}

export function controlNodes(s: CpuSnapshot): RegisterNode[] {
  const r = s.sregs;
  const cr3Base = r.cr3 & ~0xfffn;
  return [
    flagsNode('cr0', r.cr0, CR0_BITS, 8),
    { name: 'cr2', raw: r.cr2, value: `${hexPad(r.cr2, 1)} (last page-fault address)`, memoryReference: formatRef('v', r.cr2) },
    {
      name: 'cr3', raw: r.cr3, value: `${hexPad(r.cr3, 1)} (page tables at physical ${hexPad(cr3Base, 1)})`, memoryReference: formatRef('p', cr3Base),
      children: [
        { name: 'base', value: hexPad(cr3Base, 1), raw: cr3Base, memoryReference: formatRef('p', cr3Base) },
        { name: 'PWT', value: bitSet(r.cr3, 3) ? '1' : '0' },
        { name: 'PCD', value: bitSet(r.cr3, 4) ? '1' : '0' },
        { name: 'PCID', value: String(r.cr3 & 0xfffn) },
      ],
    },
    flagsNode('cr4', r.cr4, CR4_BITS, 8),
    { name: 'cr8', raw: r.cr8, value: `${hexPad(r.cr8, 1)} (task priority)` },
    flagsNode('efer', r.efer, EFER_BITS, 4),
    { name: 'apic_base', raw: r.apicBase, value: `${hexPad(r.apicBase, 1)}${bitSet(r.apicBase, 11) ? ' [enabled]' : ''}${bitSet(r.apicBase, 8) ? ' [BSP]' : ''}`, memoryReference: formatRef('p', r.apicBase & ~0xfffn) },
  ];
}

const RW_NAMES = ['execute', 'write', 'I/O', 'read/write'];
const LEN_NAMES = [1, 2, 8, 4];

export function debugNodes(s: CpuSnapshot): RegisterNode[] {
  const dr = s.debugreg;
  const dr7 = dr[7] ?? 0n;
  const nodes: RegisterNode[] = [0, 1, 2, 3].map((i) => {
    const enabled = bitSet(dr7, 2 * i) || bitSet(dr7, 2 * i + 1);
    const rw = Number((dr7 >> BigInt(16 + 4 * i)) & 3n);
    const len = LEN_NAMES[Number((dr7 >> BigInt(18 + 4 * i)) & 3n)];
    const v = dr[i] ?? 0n;
    return {
      name: `dr${i}`, raw: v, memoryReference: formatRef('v', v),
      value: enabled ? `${hexPad(v, 1)} (${RW_NAMES[rw]}${rw === 0 ? '' : `, ${len} byte${len === 1 ? '' : 's'}`})` : `${hexPad(v, 1)} (disabled)`,
    };
  });
  nodes.push({ name: 'dr7', raw: dr7, value: `${hexPad(dr7, 8)} (as armed by kvmdbg)` });
  return nodes;
}

export function tableNodes(s: CpuSnapshot): RegisterNode[] {
  const r = s.sregs;
  const table = (name: string, t: { base: bigint; limit: number }, entry: number): RegisterNode => ({
    name, raw: t.base, memoryReference: formatRef('v', t.base),
    value: `base ${hexPad(t.base, 1)}, limit ${hexPad(BigInt(t.limit), 1)} (${Math.floor((t.limit + 1) / entry)} entries)`,
    children: [
      { name: 'base', value: hexPad(t.base, 1), raw: t.base, memoryReference: formatRef('v', t.base) },
      { name: 'limit', value: hexPad(BigInt(t.limit), 1), raw: BigInt(t.limit) },
    ],
  });
  const wide = is64(s) || (r.efer & (1n << 10n)) !== 0n;
  return [table('gdtr', r.gdt, 8), table('idtr', r.idt, wide ? 16 : 8)];
}

/** A scope whose registers are decoded when first asked for (most stops open one scope, if any). */
function lazyScope(name: string, make: () => RegisterNode[]): ScopeData {
  let nodes: RegisterNode[] | undefined;
  return { name, get nodes() { return (nodes ??= make()); } };
}

/** Every scope, in the order VS Code shows them. */
export function registerScopes(s: CpuSnapshot): ScopeData[] {
  return [
    lazyScope('General', () => generalNodes(s)),
    lazyScope('RIP / RFLAGS', () => ripNodes(s)),
    lazyScope('Segments', () => segmentNodes(s)),
    lazyScope('Control', () => controlNodes(s)),
    lazyScope('Debug', () => debugNodes(s)),
    lazyScope('Descriptor tables', () => tableNodes(s)),
  ];
}

/** Register names and values for expressions: rax/eax/ax/al..., rip, rflags, cr0-cr4, efer. */
export function registerValue(s: CpuSnapshot, name: string): bigint | undefined {
  const r = s.regs as unknown as Record<string, bigint>;
  if (name in r) return r[name];
  const legacy: Record<string, keyof Regs> = { ax: 'rax', bx: 'rbx', cx: 'rcx', dx: 'rdx', si: 'rsi', di: 'rdi', bp: 'rbp', sp: 'rsp', ip: 'rip', flags: 'rflags' };
  if (name.startsWith('e') && legacy[name.slice(1)]) return r[legacy[name.slice(1)]] & 0xffff_ffffn;
  if (legacy[name]) return r[legacy[name]] & 0xffffn;
  const m8 = /^([abcd])l$/.exec(name);
  if (m8) return r[`r${m8[1]}x`] & 0xffn;
  const h8 = /^([abcd])h$/.exec(name);
  if (h8) return (r[`r${h8[1]}x`] >> 8n) & 0xffn;
  const rd = /^r(\d+)([dwb])$/.exec(name);
  if (rd && `r${rd[1]}` in r) return r[`r${rd[1]}`] & (rd[2] === 'd' ? 0xffff_ffffn : rd[2] === 'w' ? 0xffffn : 0xffn);
  const sr = s.sregs as unknown as Record<string, unknown>;
  if (/^cr[02348]$/.test(name) || name === 'efer') return sr[name] as bigint;
  return undefined;
}

/** The new full register value when `node` (of `width` bits) is set to `value`. */
export function mergeWidth(old: bigint, value: bigint, width = 64): bigint {
  if (width >= 64) return BigInt.asUintN(64, value);
  const mask = (1n << BigInt(width)) - 1n;
  // Writing a 32-bit register zero-extends in 64-bit mode; elsewhere the upper half is invisible anyway.
  return width === 32 ? value & mask : (old & ~mask) | (value & mask);
}
