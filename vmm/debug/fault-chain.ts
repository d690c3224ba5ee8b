/**
 * Why a vCPU stopped with a fault KVM could not deliver: from the
 * instruction at RIP and the guest's IDT, the chain the CPU would follow
 * (#BP -> #GP -> #DF -> triple fault). Some hosts (PVM) report a triple
 * fault as a KVM internal error rather than a shutdown exit; this is how
 * kvmdbg still names it, and how it tells it apart from a host that cannot
 * deliver an exception the guest handles correctly (never a host limit
 * called a guest bug). Guest memory is hostile: every read may fail.
 */
import { readGate, vectorLabel, type IdtContext, type ReadLinear } from './idt';

export interface FaultAnalysis {
  /** The guest's own state makes this a triple fault. */
  tripleFault: boolean;
  /** The steps, e.g. ["int3 at 0x1002e9: #BP (vector 3)", "no usable gate (...): #GP", "no usable #GP gate: #DF", ...]. */
  chain: string[];
  /** The instruction at RIP that raises an exception by itself, when it is one. */
  raised?: { vector: number; what: string; at: bigint };
}

const hex = (v: bigint | number) => '0x' + v.toString(16);

/** The exception an instruction raises by itself (INT n, int3, ud2, icebp), or undefined. */
export function raisedBy(bytes: Uint8Array | undefined): { vector: number; what: string } | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  if (bytes[0] === 0xcc) return { vector: 3, what: 'int3' };
  if (bytes[0] === 0xcd && bytes.length > 1) return { vector: bytes[1], what: `int ${hex(bytes[1])}` };
  if (bytes[0] === 0xf1) return { vector: 1, what: 'icebp' };
  if (bytes[0] === 0x0f && bytes[1] === 0x0b) return { vector: 6, what: 'ud2' };
  return undefined;
}

const DOUBLE_FAULT = 8;
const GENERAL_PROTECTION = 13;

/**
 * Only an instruction that raises its exception by itself is followed: a
 * fault of unknown cause (a fetch from MMIO, say) is KVM's to report.
 */
export function analyzeFault(ctx: IdtContext, read: ReadLinear, rip: bigint): FaultAnalysis {
  const found = raisedBy(read(rip, 2));
  if (!found) return { tripleFault: false, chain: [] };
  const raised = { ...found, at: rip };
  const chain = [`${raised.what} at ${hex(rip)}: ${vectorLabel(raised.vector)}`];
  const gate = (vector: number) => { const g = readGate(ctx, read, vector); return g.ok ? undefined : g.reason; };
  const first = gate(raised.vector);
  if (!first) return { tripleFault: false, chain, raised };
  chain.push(`no usable gate (${first}): #GP`);
  if (raised.vector !== GENERAL_PROTECTION) {
    if (!gate(GENERAL_PROTECTION)) return { tripleFault: false, chain, raised };
    chain.push('no usable #GP gate: #DF');
  }
  if (!gate(DOUBLE_FAULT)) return { tripleFault: false, chain, raised };
  chain.push('no usable #DF gate: triple fault');
  return { tripleFault: true, chain, raised };
}
