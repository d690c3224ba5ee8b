/**
 * Guest exception vectors as breakpoints (the exception filter 'vector'):
 * KVM keeps guest exceptions to itself, so "stop at #PF" is a code
 * breakpoint on the #PF handler the guest's IDT names (vmm/debug/idt.ts).
 * The guest installs and changes its IDT as it boots, so the handlers are
 * looked up again at every stop, before every resume, and every
 * IDT_POLL_MS while the guest runs; a changed handler re-arms the
 * breakpoints. A fault within that interval of a new handler appearing can
 * be missed, which the filter's description says.
 */
import type { Regs, Sregs } from '../native/types';
import type { BreakpointSpec } from './breakpoints';
import {
  cpuMode, describeException, ERROR_CODE_VECTORS, idtContext, pageFaultCause, readExceptionFrame, readGate, vectorLabel, type ReadLinear,
} from '../vmm/debug/idt';
export { cpuMode, idtContext } from '../vmm/debug/idt';

export const IDT_POLL_MS = 100;
/**
 * While running, most looks reuse the IDTR and page tables of the last stop and only read
 * the gates from guest memory (no pause); every IDT_PAUSE_EVERY-th look pauses the vCPUs
 * to read IDTR too (a LIDT of a new table).
 */
export const IDT_PAUSE_EVERY = 10;

export class VectorBreakpoints {
  /** The vectors the filter asks for (empty: the filter is off). */
  vectors: number[] = [];
  /** The handler addresses last resolved, as one string: a change means re-arm. */
  private resolved = '';

  /** The breakpoint table's 'exception' group for the vCPU state now. */
  specs(sregs: Sregs | undefined, read: ReadLinear): BreakpointSpec[] {
    return this.vectors.map((vector): BreakpointSpec => {
      const base = { key: `vector:${vector}`, kind: 'exception' as const, vector };
      if (!sregs) return { ...base, problem: `${vectorLabel(vector)}: the vCPU's IDT register could not be read` };
      const g = readGate(idtContext(sregs), read, vector);
      if (!g.ok) return { ...base, problem: `${g.reason}; kvmdbg looks again at every stop and every ${IDT_POLL_MS} ms while the guest runs` };
      return { ...base, addresses: [g.gate.handler] };
    });
  }

  /** True when `specs` differ from what was armed last. */
  differs(specs: BreakpointSpec[]): boolean {
    return this.keyOf(specs) !== this.resolved;
  }

  /** True when `specs` differ from what was armed last (and remembers them). */
  changed(specs: BreakpointSpec[]): boolean {
    if (!this.differs(specs)) return false;
    this.resolved = this.keyOf(specs);
    return true;
  }

  private keyOf(specs: BreakpointSpec[]): string {
    return specs.map((s) => `${s.vector}:${s.addresses?.join('/') ?? s.problem}`).join(',');
  }
}

/** A stop at a handler breakpoint, in words: the stopped event's text and exceptionInfo's details. */
export function describeVectorStop(
  vector: number, handler: bigint, regs: Regs, sregs: Sregs, read: ReadLinear, handlerName?: string,
): { description: string; details: string } {
  const mode = cpuMode(sregs);
  // The frame sits at SS:RSP; segment bases count outside long mode.
  const sp = mode === 'long' ? regs.rsp
    : mode === 'protected' ? (sregs.ss.base + (regs.rsp & 0xffff_ffffn)) & 0xffff_ffffn
      : sregs.ss.base + (regs.rsp & 0xffffn);
  const frame = readExceptionFrame(mode, read, sp, vector);
  const description = describeException({ vector, handler }, frame, sregs.cr2, handlerName);
  const hex = (v: bigint): string => '0x' + v.toString(16);
  const lines = [
    `vector: ${vectorLabel(vector)}`,
    `handler: ${hex(handler)}${handlerName ? ` <${handlerName}>` : ''} (${mode === 'long' ? '64-bit' : mode === 'protected' ? '32-bit' : 'real-mode'} IDT at ${hex(sregs.idt.base)}, limit ${hex(BigInt(sregs.idt.limit))})`,
    frame ? `pushed ${ERROR_CODE_VECTORS.has(vector) && frame.errorCode !== undefined ? 'error code, ' : ''}return address at ${hex(sp)}: ${hex(frame.returnAddress)}` : `the exception frame at ${hex(sp)} is not readable`,
  ];
  if (frame?.errorCode !== undefined) lines.push(`error code: ${hex(frame.errorCode)}${vector === 14 ? ` (${pageFaultCause(frame.errorCode)})` : ''} (an INT ${vector} from software pushes none: then this is the return address)`);
  if (vector === 14) lines.push(`cr2: ${hex(sregs.cr2)} (the faulting address)`);
  lines.push('how: a breakpoint on the handler the guest\'s IDT names (KVM does not let guest exceptions out)');
  return { description, details: lines.join('\n') };
}
