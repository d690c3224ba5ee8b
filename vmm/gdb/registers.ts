/**
 * The one x86-64 register layout we serve to gdb, whatever mode the vCPU is
 * in (real, protected or long mode): the layout never changes, so a guest
 * switching modes never confuses gdb's register cache.
 *
 * Numbering (= the `p`/`P` register number, = the order in `g`/`G`):
 *   0-15  rax rbx rcx rdx rsi rdi rbp rsp r8..r15   (64 bit)   org.gnu.gdb.i386.core
 *   16    rip (64)   17 eflags (32)   18-23 cs ss ds es fs gs (32)
 *   24-31 st0..st7 (80)   32-39 fctrl fstat ftag fiseg fioff foseg fooff fop (32)
 *   40-55 xmm0..xmm15 (128)   56 mxcsr (32)                        org.gnu.gdb.i386.sse
 *   57-58 fs_base gs_base (64)                                   org.gnu.gdb.i386.segments
 *   59-65 k_gs_base cr0 cr2 cr3 cr4 cr8 efer (64)                org.kvmdbg.x86.sys
 * gdb requires the x87 registers in the core feature for i386:x86-64; when
 * the target cannot read the FPU they are sent as unavailable (`xx`).
 *
 * All values are little-endian in the protocol.
 */
import type { Fpu, Regs, Sregs } from '../../native/types';
import type { Segment } from '../boot/boot-state';

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

export interface RegisterDef {
  name: string;
  bits: number;
  /** gdb type name used in the target description. */
  type: string;
  feature: RegisterFeature;
  /** gdb register group; absent = gdb's default (general for integer registers, shown by `info registers`). */
  group?: 'float' | 'vector';
  /** Byte offset of the register in the `g` packet data. */
  offset: number;
  /** Register number (p/P). */
  regnum: number;
}

const GPRS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
const SEGS = ['cs', 'ss', 'ds', 'es', 'fs', 'gs'] as const;
const X87_CONTROL = ['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'] as const;
export const SYS_REGS = ['k_gs_base', 'cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer'] as const;

function buildLayout(): RegisterDef[] {
  const defs: Omit<RegisterDef, 'offset' | 'regnum'>[] = [];
  for (const n of GPRS) defs.push({ name: n, bits: 64, type: n === 'rbp' || n === 'rsp' ? 'data_ptr' : 'int64', feature: 'core' });
  defs.push({ name: 'rip', bits: 64, type: 'code_ptr', feature: 'core' });
  defs.push({ name: 'eflags', bits: 32, type: 'i386_eflags', feature: 'core' });
  for (const n of SEGS) defs.push({ name: n, bits: 32, type: 'int32', feature: 'core' });
  for (let i = 0; i < 8; i++) defs.push({ name: `st${i}`, bits: 80, type: 'i387_ext', feature: 'core' });
  for (const n of X87_CONTROL) defs.push({ name: n, bits: 32, type: 'int', feature: 'core', group: 'float' });
  for (let i = 0; i < 16; i++) defs.push({ name: `xmm${i}`, bits: 128, type: 'vec128', feature: 'sse' });
  defs.push({ name: 'mxcsr', bits: 32, type: 'i386_mxcsr', feature: 'sse', group: 'vector' });
  defs.push({ name: 'fs_base', bits: 64, type: 'int', feature: 'segments' });
  defs.push({ name: 'gs_base', bits: 64, type: 'int', feature: 'segments' });
  const sysTypes: Record<string, string> = { cr0: 'kvmdbg_cr0', cr4: 'kvmdbg_cr4', efer: 'kvmdbg_efer', cr2: 'data_ptr' };
  for (const n of SYS_REGS) defs.push({ name: n, bits: 64, type: sysTypes[n] ?? 'int64', feature: 'sys' });
  let offset = 0;
  return defs.map((d, regnum) => {
    const r = { ...d, offset, regnum };
    offset += d.bits / 8;
    return r;
  });
}

export const REGISTERS: readonly RegisterDef[] = buildLayout();
export const G_PACKET_BYTES = REGISTERS.reduce((n, r) => n + r.bits / 8, 0);
const BY_NAME = new Map(REGISTERS.map((r) => [r.name, r]));

export function registerByName(name: string): RegisterDef {
  const r = BY_NAME.get(name);
  if (!r) throw new Error(`no register ${name}`);
  return r;
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

/** The value of one register as bytes (little-endian), or undefined when unavailable. */
export function readRegister(state: RegisterState, def: RegisterDef): Uint8Array | undefined {
  const out = new Uint8Array(def.bits / 8);
  const n = def.name;
  const put = (v: bigint) => { putLE(out, 0, out.length, v); return out; };
  if ((GPRS as readonly string[]).includes(n) || n === 'rip') return put(state.regs[n as keyof Regs]);
  if (n === 'eflags') return put(state.regs.rflags);
  if ((SEGS as readonly string[]).includes(n)) return put(BigInt(state.sregs[n as typeof SEGS[number]].selector));
  if (n === 'fs_base') return put(state.fsBase);
  if (n === 'gs_base') return put(state.gsBase);
  if (n === 'k_gs_base') return put(state.kernelGsBase);
  if (n === 'cr0' || n === 'cr2' || n === 'cr3' || n === 'cr4' || n === 'cr8' || n === 'efer') return put(state.sregs[n]);
  const fpu = state.fpu;
  if (!fpu) return undefined;
  if (n.startsWith('st')) { const i = Number(n.slice(2)); out.set(fpu.fpr.subarray(i * 16, i * 16 + 10)); return out; }
  if (n.startsWith('xmm')) { const i = Number(n.slice(3)); out.set(fpu.xmm.subarray(i * 16, i * 16 + 16)); return out; }
  switch (n) {
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
export function encodeAllRegisters(state: RegisterState): string {
  let s = '';
  for (const def of REGISTERS) s += registerHex(state, def);
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
 * Apply new register values (bytes per register number) to the current
 * state and work out what changed. Values equal to the current ones are not
 * written, so a `G` that rewrites everything only touches what gdb changed.
 * Registers whose value bytes are undefined, or contain `x` (unavailable), are skipped.
 */
export function computeChanges(state: RegisterState, values: Map<number, Uint8Array>): RegisterChanges {
  const ch: RegisterChanges = { regs: {}, sregs: {}, readOnly: [] };
  const realMode = (state.sregs.cr0 & 1n) === 0n;
  let fpu: Fpu | undefined;
  for (const [regnum, bytes] of values) {
    const def = REGISTERS[regnum];
    if (!def || bytes.length !== def.bits / 8) continue;
    const current = readRegister(state, def);
    if (current && Buffer.from(current).equals(Buffer.from(bytes))) continue;
    const v = getLE(bytes, 0, bytes.length);
    const n = def.name;
    if ((GPRS as readonly string[]).includes(n) || n === 'rip') ch.regs[n as keyof Regs] = v & M64;
    else if (n === 'eflags') ch.regs.rflags = (state.regs.rflags & ~0xffffffffn) | v;
    else if ((SEGS as readonly string[]).includes(n)) {
      const s = n as typeof SEGS[number];
      ch.sregs[s] = withSelector(state.sregs[s], Number(v & 0xffffn), realMode);
    } else if (n === 'fs_base') ch.sregs.fs = { ...(ch.sregs.fs ?? state.sregs.fs), base: v };
    else if (n === 'gs_base') ch.sregs.gs = { ...(ch.sregs.gs ?? state.sregs.gs), base: v };
    else if (n === 'k_gs_base') ch.kernelGsBase = v;
    else if (n === 'cr0' || n === 'cr2' || n === 'cr3' || n === 'cr4' || n === 'cr8' || n === 'efer') ch.sregs[n] = v;
    else {
      if (!state.fpu) { ch.readOnly.push(n); continue; }
      fpu ??= cloneFpu(state.fpu);
      if (n.startsWith('st')) { const i = Number(n.slice(2)); fpu.fpr.set(bytes, i * 16); }
      else if (n.startsWith('xmm')) { const i = Number(n.slice(3)); fpu.xmm.set(bytes, i * 16); }
      else switch (n) {
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
export function decodeAllRegisters(hex: string): Map<number, Uint8Array> | undefined {
  if (hex.length % 2 !== 0 || hex.length > G_PACKET_BYTES * 2 || !/^[0-9a-fA-Fx]*$/.test(hex)) return undefined;
  const values = new Map<number, Uint8Array>();
  for (const def of REGISTERS) {
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
