/**
 * The fixed register layouts we serve to gdb: x86-64 or i386, chosen once
 * per session (by the kernel's ELF class, or --gdb-arch). The layout never
 * changes with the vCPU mode (real, protected or long), so a guest switching
 * modes never confuses gdb's register cache. The i386 layout shows the low
 * 32 bits of the 64-bit registers; writing a 32-bit register keeps the upper
 * half.
 *
 * Numbering (= the `p`/`P` register number, = the order in `g`/`G`):
 *
 * x86-64 (608 bytes):
 *   0-15  rax rbx rcx rdx rsi rdi rbp rsp r8..r15   (64 bit)   org.gnu.gdb.i386.core
 *   16    rip (64)   17 eflags (32)   18-23 cs ss ds es fs gs (32)
 *   24-31 st0..st7 (80)   32-39 fctrl fstat ftag fiseg fioff foseg fooff fop (32)
 *   40-55 xmm0..xmm15 (128)   56 mxcsr (32)                        org.gnu.gdb.i386.sse
 *   57-58 fs_base gs_base (64)                                   org.gnu.gdb.i386.segments
 *   59-65 k_gs_base cr0 cr2 cr3 cr4 cr8 efer (64)                org.kvmdbg.x86.sys
 *
 * i386 (gdb's own i386 order, 340 bytes):
 *   0-7   eax ecx edx ebx esp ebp esi edi (32)                   org.gnu.gdb.i386.core
 *   8     eip (32)   9 eflags (32)   10-15 cs ss ds es fs gs (32)
 *   16-23 st0..st7 (80)   24-31 fctrl .. fop (32)
 *   32-39 xmm0..xmm7 (128)   40 mxcsr (32)                         org.gnu.gdb.i386.sse
 *   41-42 fs_base gs_base (32)   43-46 cr0 cr2 cr3 cr4 (32)
 *   47 efer (64, an MSR)                                         org.kvmdbg.x86.sys
 * fs_base/gs_base are in our feature, not org.gnu.gdb.i386.segments: with
 * the GNU/Linux OS ABI (gdb's default, also for a kernel ELF) gdb 13's i386
 * numbers that feature's registers past its register count and dies on an
 * internal assertion (tdesc_use_registers).
 *
 * gdb requires the x87 registers in the core feature; when the target cannot
 * read the FPU they are sent as unavailable (`xx`).
 *
 * All values are little-endian in the protocol.
 */
import type { Fpu, Regs, Sregs } from '../../native/types';
import type { Segment } from '../boot/boot-state';

/** The register layout of a session: gdb's i386:x86-64 or i386 architecture. */
export type GdbArch = 'x86-64' | 'i386';
export const GDB_ARCHES: readonly GdbArch[] = ['x86-64', 'i386'];

/** What a register read produces: everything one `g` needs. */
export interface RegisterState {
  regs: Regs;
  sregs: Sregs;
  fsBase: bigint;
  gsBase: bigint;
  kernelGsBase: bigint;
  /** Absent when the target cannot read the FPU: x87/SSE registers are unavailable. */
  fpu?: Fpu;
}

export type RegisterFeature = 'core' | 'sse' | 'segments' | 'sys';

const GPRS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
const SEGS = ['cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const;
const X87_CONTROL = ['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'] as const;
const CRS = ['cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer'] as const;
export const SYS_REGS = ['k_gs_base', 'cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer'] as const;

type Gpr = typeof GPRS[number];
type Seg = typeof SEGS[number];
type Cr = typeof CRS[number];

/**
 * The machine state a register shows: the x86-64 register name (rax, rip,
 * eflags, cs, fs_base, cr0, st3, xmm7, fctrl, ...). A register narrower than
 * its source (eax: rax) shows the low bits of it.
 */
export type RegisterSource = string;

export interface RegisterDef {
  name: string;
  bits: number;
  /** gdb type name used in the target description. */
  type: string;
  feature: RegisterFeature;
  /** gdb register group; absent = gdb's default (general for integer registers, shown by `info registers`). */
  group?: 'float' | 'vector';
  /** Which machine register this shows (= name in the x86-64 layout). */
  source: RegisterSource;
  /** Byte offset of the register in the `g` packet data. */
  offset: number;
  /** Register number (p/P). */
  regnum: number;
}

type RegisterRow = Omit<RegisterDef, 'offset' | 'regnum' | 'source'> & { source?: RegisterSource };

export interface RegisterLayout {
  arch: GdbArch;
  /** The <architecture> of target.xml. */
  gdbArchitecture: 'i386:x86-64' | 'i386';
  registers: readonly RegisterDef[];
  /** Size of the `g` reply's data in bytes. */
  gPacketBytes: number;
  /** Throws for a register the layout does not have. */
  byName(name: string): RegisterDef;
}

/** The parts both layouts share: x87 in the core feature, mxcsr in sse. */
function x87Rows(): RegisterRow[] {
  const rows: RegisterRow[] = [];
  for (let i = 0; i < 8; i++) rows.push({ name: `st${i}`, bits: 80, type: 'i387_ext', feature: 'core' });
  for (const n of X87_CONTROL) rows.push({ name: n, bits: 32, type: 'int', feature: 'core', group: 'float' });
  return rows;
}

function xmmRows(count: number): RegisterRow[] {
  const rows: RegisterRow[] = [];
  for (let i = 0; i < count; i++) rows.push({ name: `xmm${i}`, bits: 128, type: 'vec128', feature: 'sse' });
  rows.push({ name: 'mxcsr', bits: 32, type: 'i386_mxcsr', feature: 'sse', group: 'vector' });
  return rows;
}

const SYS_TYPES: Record<string, string> = { cr0: 'kvmdbg_cr0', cr4: 'kvmdbg_cr4', efer: 'kvmdbg_efer', cr2: 'data_ptr' };

/** The rows of each architecture, in `g` order (gdb's own order for the standard features). */
const TABLES: Record<GdbArch, { gdbArchitecture: RegisterLayout['gdbArchitecture']; rows: () => RegisterRow[] }> = {
  'x86-64': {
    gdbArchitecture: 'i386:x86-64',
    rows: () => [
      ...GPRS.map((n): RegisterRow => ({ name: n, bits: 64, type: n === 'rbp' || n === 'rsp' ? 'data_ptr' : 'int64', feature: 'core' })),
      { name: 'rip', bits: 64, type: 'code_ptr', feature: 'core' },
      { name: 'eflags', bits: 32, type: 'i386_eflags', feature: 'core' },
      ...SEGS.map((n): RegisterRow => ({ name: n, bits: 32, type: 'int32', feature: 'core' })),
      ...x87Rows(),
      ...xmmRows(16),
      { name: 'fs_base', bits: 64, type: 'int', feature: 'segments' },
      { name: 'gs_base', bits: 64, type: 'int', feature: 'segments' },
      ...SYS_REGS.map((n): RegisterRow => ({ name: n, bits: 64, type: SYS_TYPES[n] ?? 'int64', feature: 'sys' })),
    ],
  },
  i386: {
    gdbArchitecture: 'i386',
    rows: () => [
      ...(['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const).map((n): RegisterRow =>
        ({ name: n, bits: 32, type: n === 'ebp' || n === 'esp' ? 'data_ptr' : 'int32', feature: 'core', source: `r${n.slice(1)}` })),
      { name: 'eip', bits: 32, type: 'code_ptr', feature: 'core', source: 'rip' },
      { name: 'eflags', bits: 32, type: 'i386_eflags', feature: 'core' },
      ...SEGS.map((n): RegisterRow => ({ name: n, bits: 32, type: 'int32', feature: 'core' })),
      ...x87Rows(),
      ...xmmRows(8),
      // Not org.gnu.gdb.i386.segments: see the comment at the top.
      { name: 'fs_base', bits: 32, type: 'int', feature: 'sys' },
      { name: 'gs_base', bits: 32, type: 'int', feature: 'sys' },
      // Control registers are 32 bits outside long mode; EFER is a 64-bit MSR in every mode.
      ...(['cr0', 'cr2', 'cr3', 'cr4'] as const).map((n): RegisterRow => ({ name: n, bits: 32, type: SYS_TYPES[n] ?? 'int32', feature: 'sys' })),
      { name: 'efer', bits: 64, type: 'kvmdbg_efer', feature: 'sys' },
    ],
  },
};

function buildLayout(arch: GdbArch): RegisterLayout {
  const table = TABLES[arch];
  let offset = 0;
  const registers = table.rows().map((row, regnum): RegisterDef => {
    const r = { ...row, source: row.source ?? row.name, offset, regnum };
    offset += row.bits / 8;
    return r;
  });
  const byName = new Map(registers.map((r) => [r.name, r]));
  return {
    arch,
    gdbArchitecture: table.gdbArchitecture,
    registers,
    gPacketBytes: offset,
    byName(name: string): RegisterDef {
      const r = byName.get(name);
      if (!r) throw new Error(`no register ${name} in the ${arch} layout`);
      return r;
    },
  };
}

const LAYOUTS: Record<GdbArch, RegisterLayout> = { 'x86-64': buildLayout('x86-64'), i386: buildLayout('i386') };
export const X86_64_LAYOUT = LAYOUTS['x86-64'];
export const I386_LAYOUT = LAYOUTS.i386;

export function registerLayout(arch: GdbArch): RegisterLayout {
  const l = LAYOUTS[arch];
  if (!l) throw new Error(`unknown gdb architecture '${arch}' (expected ${GDB_ARCHES.join(' or ')})`);
  return l;
}

/** The x86-64 layout (the default). */
export const REGISTERS: readonly RegisterDef[] = X86_64_LAYOUT.registers;
export const G_PACKET_BYTES = X86_64_LAYOUT.gPacketBytes;

export function registerByName(name: string): RegisterDef {
  return X86_64_LAYOUT.byName(name);
}

const M64 = (1n << 64n) - 1n;

function putLE(out: Uint8Array, offset: number, bytes: number, value: bigint): void {
  let v = value & ((1n << BigInt(bytes * 8)) - 1n);
  for (let i = 0; i < bytes; i++) { out[offset + i] = Number(v & 0xffn); v >>= 8n; }
}

function getLE(data: Uint8Array, offset: number, bytes: number): bigint {
  let v = 0n;
  for (let i = bytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[offset + i]);
  return v;
}

/** A `bits`-wide write into a 64-bit register: the bits above stay as they are. */
function merge(current: bigint, value: bigint, bits: number): bigint {
  if (bits >= 64) return value & M64;
  const mask = (1n << BigInt(bits)) - 1n;
  return (current & ~mask & M64) | (value & mask);
}

/** x87 full tag word (2 bits per physical register) from FXSAVE's abridged tag, as gdb's i387 code does. */
export function fullTagWord(fpu: Fpu): number {
  const top = (fpu.fsw >> 11) & 7;
  let tag = 0;
  for (let phys = 0; phys < 8; phys++) {
    let t = 3; // empty
    if (fpu.ftwx & (1 << phys)) {
      const st = (phys - top + 8) & 7;
      const b = fpu.fpr.subarray(st * 16, st * 16 + 10);
      const exponent = (b[9] & 0x7f) << 8 | b[8];
      const integerBit = (b[7] & 0x80) !== 0;
      let mantissaZero = true;
      for (let i = 0; i < 8; i++) if (b[i] !== 0) mantissaZero = false;
      if (exponent === 0x7fff) t = 2;
      else if (exponent === 0) t = mantissaZero ? 1 : 2;
      else t = integerBit ? 0 : 2;
    }
    tag |= t << (2 * phys);
  }
  return tag;
}

/** FXSAVE's abridged tag (1 = not empty) from a full tag word. */
export function abridgedTag(full: number): number {
  let t = 0;
  for (let phys = 0; phys < 8; phys++) if (((full >> (2 * phys)) & 3) !== 3) t |= 1 << phys;
  return t;
}

const isGpr = (s: string): s is Gpr | 'rip' => (GPRS as readonly string[]).includes(s) || s === 'rip';
const isSeg = (s: string): s is Seg => (SEGS as readonly string[]).includes(s);
const isCr = (s: string): s is Cr => (CRS as readonly string[]).includes(s);

/** The integer value behind a source that is not an x87/SSE register, undefined for those. */
function integerSource(state: RegisterState, s: RegisterSource): bigint | undefined {
  if (isGpr(s)) return state.regs[s];
  if (s === 'eflags') return state.regs.rflags;
  if (isSeg(s)) return BigInt(state.sregs[s].selector);
  if (s === 'fs_base') return state.fsBase;
  if (s === 'gs_base') return state.gsBase;
  if (s === 'k_gs_base') return state.kernelGsBase;
  if (isCr(s)) return state.sregs[s];
  return undefined;
}

/** The value of one register as bytes (little-endian), or undefined when unavailable. */
export function readRegister(state: RegisterState, def: RegisterDef): Uint8Array | undefined {
  const out = new Uint8Array(def.bits / 8);
  const s = def.source;
  const put = (v: bigint) => { putLE(out, 0, out.length, v); return out; };
  const int = integerSource(state, s);
  if (int !== undefined) return put(int);
  const fpu = state.fpu;
  if (!fpu) return undefined;
  if (s.startsWith('st')) { const i = Number(s.slice(2)); out.set(fpu.fpr.subarray(i * 16, i * 16 + 10)); return out; }
  if (s.startsWith('xmm')) { const i = Number(s.slice(3)); out.set(fpu.xmm.subarray(i * 16, i * 16 + 16)); return out; }
  switch (s) {
    case 'fctrl': return put(BigInt(fpu.fcw));
    case 'fstat': return put(BigInt(fpu.fsw));
    case 'ftag': return put(BigInt(fullTagWord(fpu)));
    case 'fiseg': return put((fpu.lastIp >> 32n) & 0xffffn);
    case 'fioff': return put(fpu.lastIp & 0xffffffffn);
    case 'foseg': return put((fpu.lastDp >> 32n) & 0xffffn);
    case 'fooff': return put(fpu.lastDp & 0xffffffffn);
    case 'fop': return put(BigInt(fpu.lastOpcode));
    case 'mxcsr': return put(BigInt(fpu.mxcsr));
  }
  return undefined;
}

/** Hex of one register for `p` / `g`: `xx..` when unavailable. */
export function registerHex(state: RegisterState, def: RegisterDef): string {
  const v = readRegister(state, def);
  if (!v) return 'xx'.repeat(def.bits / 8);
  return Buffer.from(v).toString('hex');
}

/** The whole `g` reply. */
export function encodeAllRegisters(state: RegisterState, layout: RegisterLayout = X86_64_LAYOUT): string {
  let s = '';
  for (const def of layout.registers) s += registerHex(state, def);
  return s;
}

/** What writing registers changes, in the shapes GdbTarget takes. Only registers whose value changed appear. */
export interface RegisterChanges {
  regs: Partial<Regs>;
  sregs: Partial<Sregs>;
  kernelGsBase?: bigint;
  fpu?: Fpu;
  /** Registers that were changed but cannot be written (no FPU access, k_gs_base without a writer). */
  readOnly: string[];
}

function cloneFpu(f: Fpu): Fpu {
  return { ...f, fpr: f.fpr.slice(), xmm: f.xmm.slice() };
}

/** Real mode (CR0.PE clear): a segment's base follows its selector. */
function withSelector(seg: Segment, selector: number, realMode: boolean): Segment {
  return { ...seg, selector, base: realMode ? BigInt(selector) << 4n : seg.base };
}

/**
 * Apply new register values (bytes per register number of `layout`) to the
 * current state and work out what changed. Values equal to the current ones
 * are not written, so a `G` that rewrites everything only touches what gdb
 * changed. A register narrower than the machine's (eax, i386 cr0) replaces
 * the low bits only. Registers whose value bytes are undefined, or contain
 * `x` (unavailable), are skipped.
 */
export function computeChanges(state: RegisterState, values: Map<number, Uint8Array>, layout: RegisterLayout = X86_64_LAYOUT): RegisterChanges {
  const ch: RegisterChanges = { regs: {}, sregs: {}, readOnly: [] };
  const realMode = (state.sregs.cr0 & 1n) === 0n;
  let fpu: Fpu | undefined;
  for (const [regnum, bytes] of values) {
    const def = layout.registers[regnum];
    if (!def || bytes.length !== def.bits / 8) continue;
    const current = readRegister(state, def);
    if (current && Buffer.from(current).equals(Buffer.from(bytes))) continue;
    const v = getLE(bytes, 0, bytes.length);
    const s = def.source;
    const wide = (cur: bigint) => merge(cur, v, def.bits);
    if (isGpr(s)) ch.regs[s] = wide(state.regs[s]);
    else if (s === 'eflags') ch.regs.rflags = wide(state.regs.rflags);
    else if (isSeg(s)) ch.sregs[s] = withSelector(state.sregs[s], Number(v & 0xffffn), realMode);
    else if (s === 'fs_base') ch.sregs.fs = { ...(ch.sregs.fs ?? state.sregs.fs), base: wide(state.fsBase) };
    else if (s === 'gs_base') ch.sregs.gs = { ...(ch.sregs.gs ?? state.sregs.gs), base: wide(state.gsBase) };
    else if (s === 'k_gs_base') ch.kernelGsBase = wide(state.kernelGsBase);
    else if (isCr(s)) ch.sregs[s] = wide(state.sregs[s]);
    else {
      if (!state.fpu) { ch.readOnly.push(def.name); continue; }
      fpu ??= cloneFpu(state.fpu);
      if (s.startsWith('st')) { const i = Number(s.slice(2)); fpu.fpr.set(bytes, i * 16); }
      else if (s.startsWith('xmm')) { const i = Number(s.slice(3)); fpu.xmm.set(bytes, i * 16); }
      else switch (s) {
        case 'fctrl': fpu.fcw = Number(v & 0xffffn); break;
        case 'fstat': fpu.fsw = Number(v & 0xffffn); break;
        case 'ftag': fpu.ftwx = abridgedTag(Number(v & 0xffffn)); break;
        case 'fiseg': fpu.lastIp = (fpu.lastIp & 0xffffffffn) | ((v & 0xffffn) << 32n); break;
        case 'fioff': fpu.lastIp = (fpu.lastIp & ~0xffffffffn) | (v & 0xffffffffn); break;
        case 'foseg': fpu.lastDp = (fpu.lastDp & 0xffffffffn) | ((v & 0xffffn) << 32n); break;
        case 'fooff': fpu.lastDp = (fpu.lastDp & ~0xffffffffn) | (v & 0xffffffffn); break;
        case 'fop': fpu.lastOpcode = Number(v & 0x7ffn); break;
        case 'mxcsr': fpu.mxcsr = Number(v & 0xffffffffn); break;
      }
    }
  }
  if (fpu) ch.fpu = fpu;
  return ch;
}

/**
 * Split a `G` payload (hex) into per-register bytes. Registers sent as `xx`
 * are left out. A payload shorter than the layout supplies only the leading
 * registers (as gdb allows); returns undefined if it is not hex, is longer
 * than the layout, or ends inside a register.
 */
export function decodeAllRegisters(hex: string, layout: RegisterLayout = X86_64_LAYOUT): Map<number, Uint8Array> | undefined {
  if (hex.length % 2 !== 0 || hex.length > layout.gPacketBytes * 2 || !/^[0-9a-fA-Fx]*$/.test(hex)) return undefined;
  const values = new Map<number, Uint8Array>();
  for (const def of layout.registers) {
    const start = def.offset * 2;
    const end = start + def.bits / 4;
    if (start >= hex.length) break;
    if (end > hex.length) return undefined;
    const part = hex.slice(start, end);
    if (part.includes('x')) continue;
    values.set(def.regnum, Buffer.from(part, 'hex'));
  }
  return values;
}
