/**
 * The guest's interrupt descriptor table, read the way the CPU reads it:
 * where vector N's handler is (real-mode IVT, 32-bit gates with the code
 * segment's base from the GDT, 64-bit gates), and what the CPU pushed when
 * it entered that handler. KVM never lets guest exceptions out to user space
 * (only #DB and #BP, which are ours), so a "stop at exception N" is a
 * hardware breakpoint on its handler; this module finds the handler.
 *
 * The tables are guest memory and hostile: an entry beyond IDTR.limit, a
 * gate that is not present, of a reserved type, or unreadable is a sentence,
 * never an exception.
 */

import type { Sregs } from '../../native/types';
import { CR0_PE, EFER_LMA } from '../cpu/control-bits';

/** Reads `length` bytes at a linear address (through the guest's page tables), or undefined. */
export type ReadLinear = (address: bigint, length: number) => Uint8Array | undefined;

export type CpuMode = 'real' | 'protected' | 'long';

export function cpuMode(sregs: Pick<Sregs, 'cr0' | 'efer'>): CpuMode {
  if ((sregs.cr0 & CR0_PE) === 0n) return 'real';
  return (sregs.efer & EFER_LMA) !== 0n ? 'long' : 'protected';
}

/** The tables the CPU would use now. */
export function idtContext(sregs: Sregs): IdtContext {
  return {
    mode: cpuMode(sregs),
    idt: { base: sregs.idt.base, limit: sregs.idt.limit },
    gdt: { base: sregs.gdt.base, limit: sregs.gdt.limit },
  };
}

export interface DescriptorTable { base: bigint; limit: number }

export interface IdtContext {
  mode: CpuMode;
  idt: DescriptorTable;
  /** For 32-bit gates: the handler's code segment base comes from its GDT descriptor. */
  gdt: DescriptorTable;
}

export interface Gate {
  vector: number;
  /** Linear address of the first instruction of the handler. */
  handler: bigint;
  selector: number;
  kind: 'interrupt gate' | 'trap gate' | 'real-mode vector';
}

export type GateLookup = { ok: true; gate: Gate } | { ok: false; reason: string };

/** The architectural exception names (SDM vol. 3, table 6-1). */
export const VECTOR_NAMES: ReadonlyMap<number, string> = new Map([
  [0, '#DE'], [1, '#DB'], [2, 'NMI'], [3, '#BP'], [4, '#OF'], [5, '#BR'], [6, '#UD'], [7, '#NM'],
  [8, '#DF'], [10, '#TS'], [11, '#NP'], [12, '#SS'], [13, '#GP'], [14, '#PF'], [16, '#MF'], [17, '#AC'],
  [18, '#MC'], [19, '#XM'], [20, '#VE'], [21, '#CP'], [28, '#HV'], [29, '#VC'], [30, '#SX'],
]);

/** Exceptions for which the CPU pushes an error code (not when software raises them with INT n). */
export const ERROR_CODE_VECTORS: ReadonlySet<number> = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);

const hex = (v: bigint | number): string => '0x' + v.toString(16);

/** "#PF (vector 14)", "vector 0x80". */
export function vectorLabel(vector: number): string {
  const name = VECTOR_NAMES.get(vector);
  return name ? `${name} (vector ${vector})` : `vector ${hex(vector)}`;
}

function u16(b: Uint8Array, o: number): number { return b[o] | (b[o + 1] << 8); }
function u32(b: Uint8Array, o: number): number { return (u16(b, o) | (u16(b, o + 2) << 16)) >>> 0; }

/** The base of the segment `selector` names in the GDT (LDT selectors are not followed). */
function segmentBase(ctx: IdtContext, read: ReadLinear, selector: number): bigint | string {
  if (selector & 4) return `its code selector ${hex(selector)} is in the LDT, which kvmdbg does not follow`;
  const index = selector & ~7;
  if (index === 0) return 'its code selector is null';
  if (index + 7 > ctx.gdt.limit) return `its code selector ${hex(selector)} is beyond the GDT limit ${hex(ctx.gdt.limit)}`;
  const d = read(ctx.gdt.base + BigInt(index), 8);
  if (!d) return `the GDT entry of its code selector ${hex(selector)} is not readable (unmapped)`;
  return BigInt((u16(d, 2) | (d[4] << 16) | (d[7] << 24)) >>> 0);
}

/** Where vector `vector`'s handler is, in the CPU mode the vCPU is in now. */
export function readGate(ctx: IdtContext, read: ReadLinear, vector: number): GateLookup {
  if (!Number.isInteger(vector) || vector < 0 || vector > 255) return { ok: false, reason: `${vector} is not a vector (0-255)` };
  const label = vectorLabel(vector);
  const size = ctx.mode === 'real' ? 4 : ctx.mode === 'long' ? 16 : 8;
  const offset = vector * size;
  if (offset + size - 1 > ctx.idt.limit) {
    return { ok: false, reason: `${label} is beyond the guest's IDT limit (${hex(ctx.idt.limit)}): no handler installed yet` };
  }
  const e = read(ctx.idt.base + BigInt(offset), size);
  if (!e) return { ok: false, reason: `the IDT entry of ${label} at ${hex(ctx.idt.base + BigInt(offset))} is not readable (unmapped)` };
  if (ctx.mode === 'real') {
    const segment = u16(e, 2);
    return { ok: true, gate: { vector, handler: BigInt(segment) * 16n + BigInt(u16(e, 0)), selector: segment, kind: 'real-mode vector' } };
  }
  const type = e[5] & 0xf;
  if (!(e[5] & 0x80)) return { ok: false, reason: `the IDT entry of ${label} is not present` };
  const selector = u16(e, 2);
  if (ctx.mode === 'long') {
    if (type !== 0xe && type !== 0xf) return { ok: false, reason: `the IDT entry of ${label} has type ${hex(type)}, not a 64-bit interrupt or trap gate` };
    const handler = BigInt(u16(e, 0)) | (BigInt(u16(e, 6)) << 16n) | (BigInt(u32(e, 8)) << 32n);
    return { ok: true, gate: { vector, handler, selector, kind: type === 0xe ? 'interrupt gate' : 'trap gate' } };
  }
  if (type === 0x5) return { ok: false, reason: `${label} goes through a task gate (a hardware task switch): kvmdbg cannot put a breakpoint on it` };
  if (type !== 0xe && type !== 0xf && type !== 0x6 && type !== 0x7) return { ok: false, reason: `the IDT entry of ${label} has the reserved type ${hex(type)}` };
  const base = segmentBase(ctx, read, selector);
  if (typeof base === 'string') return { ok: false, reason: `${label}: ${base}` };
  const wide = type === 0xe || type === 0xf;
  const offsetValue = wide ? BigInt((u16(e, 0) | (u16(e, 6) << 16)) >>> 0) : BigInt(u16(e, 0));
  const handler = (base + offsetValue) & 0xffff_ffffn;
  return { ok: true, gate: { vector, handler, selector, kind: type === 0xe || type === 0x6 ? 'interrupt gate' : 'trap gate' } };
}

/** What the CPU pushed on entering a handler, read at the handler's first instruction. */
export interface ExceptionFrame {
  /** Where the exception happened (faults) or where execution resumes (traps, INT n). */
  returnAddress: bigint;
  /** Present when the vector is one the CPU pushes an error code for (an INT n of it pushes none). */
  errorCode?: bigint;
}

/** The exception frame at the top of the handler's stack (`sp`: the stack pointer's linear address). */
export function readExceptionFrame(mode: CpuMode, read: ReadLinear, sp: bigint, vector: number): ExceptionFrame | undefined {
  const slot = mode === 'long' ? 8 : mode === 'protected' ? 4 : 2;
  const hasCode = mode !== 'real' && ERROR_CODE_VECTORS.has(vector);
  const b = read(sp, slot * (hasCode ? 2 : 1));
  if (!b) return undefined;
  const at = (i: number): bigint => {
    let v = 0n;
    for (let k = slot - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[i * slot + k]);
    return v;
  };
  return hasCode ? { errorCode: at(0), returnAddress: at(1) } : { returnAddress: at(0) };
}

/** The bits of a #PF error code, as words. */
export function pageFaultCause(code: bigint): string {
  const words = [
    code & 1n ? 'protection violation' : 'not present',
    code & 2n ? 'write' : 'read',
    code & 4n ? 'user' : 'supervisor',
  ];
  if (code & 8n) words.push('reserved bit');
  if (code & 16n) words.push('instruction fetch');
  if (code & 32n) words.push('protection key');
  if (code & 64n) words.push('shadow stack');
  return words.join(', ');
}

/** One line for a stop at an exception handler: "#PF (vector 14) handler 0x... : fault at 0x..., CR2 0x..., error code 0x2 (...)". */
export function describeException(gate: Pick<Gate, 'vector' | 'handler'>, frame: ExceptionFrame | undefined, cr2: bigint | undefined, handlerName?: string): string {
  const parts = [`${vectorLabel(gate.vector)} handler ${hex(gate.handler)}${handlerName ? ` <${handlerName}>` : ''}`];
  const details: string[] = [];
  if (frame) details.push(`${gate.vector < 32 && gate.vector !== 3 && gate.vector !== 4 ? 'from' : 'return to'} ${hex(frame.returnAddress)}`);
  if (gate.vector === 14 && cr2 !== undefined) details.push(`CR2 ${hex(cr2)}`);
  if (frame?.errorCode !== undefined) {
    const code = frame.errorCode;
    if (gate.vector === 14) details.push(`error code ${hex(code)} (${pageFaultCause(code)})`);
    else if (code !== 0n && gate.vector !== 8) details.push(`error code ${hex(code)} (${code & 2n ? 'IDT' : code & 4n ? 'LDT' : 'GDT'} index ${code >> 3n}${code & 1n ? ', external' : ''})`);
    else details.push(`error code ${hex(code)}`);
  }
  return details.length ? `${parts[0]}: ${details.join(', ')}` : parts[0];
}

export class VectorConditionError extends Error {}

/** Parses "#PF,#GP,14", "PF", "0x80" into vectors; empty means the usual bug vectors (#UD, #DF, #GP). */
export const DEFAULT_VECTORS = [6, 8, 13];

export function parseVectors(text: string | undefined): number[] {
  const byName = new Map([...VECTOR_NAMES].map(([v, n]) => [n.replace('#', '').toLowerCase(), v]));
  const out: number[] = [];
  const parts = (text ?? '').split(/[,;\s]+/).map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) return [...DEFAULT_VECTORS];
  for (const part of parts) {
    let v: number | undefined;
    if (/^(0x[0-9a-f]+|\d+)$/i.test(part)) v = Number(part);
    else v = byName.get(part.replace(/^#/, '').toLowerCase());
    if (v === undefined || v > 255) {
      throw new VectorConditionError(`"${part}" is not an exception vector: write names or numbers, e.g. "#PF, #GP, 14" or "0x80"`);
    }
    if (!out.includes(v)) out.push(v);
  }
  return out;
}
