/**
 * Call stacks of a stopped vCPU: the symbols' unwinder (DWARF CFI, then
 * frame pointers) over guest virtual memory, each frame named by its
 * function, with source file and line where DWARF knows them, else
 * `module+offset` and an instructionPointerReference for the disassembly view.
 */
import type { Regs } from '../native/types';
import type { Symbols, StackFrame as UnwoundFrame } from './symbols';
import { formatRef } from './memory';

export interface Frame {
  pc: bigint;
  sp: bigint;
  name: string;
  file?: string;
  line?: number;
  column?: number;
  instructionPointerReference: string;
  /** `module+0x...` when there is no source. */
  module?: string;
}

const hex = (v: bigint): string => '0x' + v.toString(16);

export function registerMap(regs: Regs, bits: 32 | 64): Map<number, bigint> {
  const order64: (keyof Regs)[] = ['rax', 'rdx', 'rcx', 'rbx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
  const order32: (keyof Regs)[] = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'];
  const m = new Map<number, bigint>();
  (bits === 64 ? order64 : order32).forEach((r, i) => m.set(i, bits === 64 ? regs[r] : regs[r] & 0xffff_ffffn));
  return m;
}

/** Names a frame's pc: `fib`, with file and line when known. Callers' pcs are looked up at pc-1 (inside the call). */
export function describeFrame(symbols: Symbols | undefined, pc: bigint, isCaller: boolean): Frame {
  const lookup = isCaller && pc > 0n ? pc - 1n : pc;
  const fn = symbols?.functionAt(lookup);
  const sym = symbols?.symbolize(lookup);
  const loc = symbols?.lineForAddress(lookup);
  const name = fn?.name ?? sym?.name;
  const frame: Frame = {
    pc, sp: 0n,
    name: name ?? hex(pc),
    instructionPointerReference: formatRef('v', pc),
  };
  if (loc) { frame.file = loc.file; frame.line = loc.line; frame.column = loc.column || 1; }
  else {
    const base = sym ? `${sym.name}+${hex(pc - sym.symbol.address)}` : hex(pc);
    frame.module = symbols ? `${symbols.objectNameAt(lookup)}!${base}` : base;
    frame.name = sym ? base : frame.name;
  }
  return frame;
}

export interface UnwindInput {
  regs: Regs;
  bits: 32 | 64;
  symbols?: Symbols;
  readMemory: (addr: bigint, size: number) => Uint8Array | undefined;
  maxFrames?: number;
}

/** The raw frames (pc, sp) of a stopped vCPU, innermost first. */
export function unwindFrames(input: UnwindInput): { unwound: UnwoundFrame[]; stopReason: string } {
  const { regs, bits, symbols } = input;
  const mask = bits === 64 ? (1n << 64n) - 1n : 0xffff_ffffn;
  const snapshot = { pc: regs.rip & mask, sp: regs.rsp & mask, fp: regs.rbp & mask, registers: registerMap(regs, bits) };
  if (!symbols) return { unwound: [{ pc: snapshot.pc, sp: snapshot.sp, fp: snapshot.fp, method: 'registers', registers: snapshot.registers }], stopReason: '' };
  const r = symbols.unwind(snapshot, input.readMemory, input.maxFrames ?? 64);
  return { unwound: r.frames, stopReason: r.stopReason };
}

/** Names frames [start, end) of an unwind (only those: line lookups are what a stack trace costs). */
export function describeFrames(symbols: Symbols | undefined, unwound: readonly UnwoundFrame[], start = 0, end = unwound.length): Frame[] {
  return unwound.slice(start, end).map((f, i) => ({ ...describeFrame(symbols, f.pc, start + i > 0), sp: f.sp }));
}
