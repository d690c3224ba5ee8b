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
import type { Sregs } from '../native/types';
import type { BreakpointSpec } from './breakpoints';
import { readGate, vectorLabel, type CpuMode, type IdtContext, type ReadLinear } from '../vmm/debug/idt';
import { CR0_PE, EFER_LMA } from '../vmm/cpu/control-bits';

export const IDT_POLL_MS = 100;

export function cpuMode(sregs: Pick<Sregs, 'cr0' | 'efer'>): CpuMode {
  if ((sregs.cr0 & CR0_PE) === 0n) return 'real';
  return (sregs.efer & EFER_LMA) !== 0n ? 'long' : 'protected';
}

export function idtContext(sregs: Sregs): IdtContext {
  return {
    mode: cpuMode(sregs),
    idt: { base: sregs.idt.base, limit: sregs.idt.limit },
    gdt: { base: sregs.gdt.base, limit: sregs.gdt.limit },
  };
}

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

  /** True when `specs` differ from what was armed last (and remembers them). */
  changed(specs: BreakpointSpec[]): boolean {
    const now = specs.map((s) => `${s.vector}:${s.addresses?.join('/') ?? s.problem}`).join(',');
    if (now === this.resolved) return false;
    this.resolved = now;
    return true;
  }
}
