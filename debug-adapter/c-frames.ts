/**
 * From unwound machine frames to the frames a C programmer sees: each
 * machine frame becomes its inlined instances (innermost first) and then
 * its concrete function, as gdb shows them; and each of those gets the
 * FrameContext that DWARF locations and C expressions are evaluated in
 * (its registers, CFA, guest memory, KASLR, per-cpu base).
 */
import type { DebugData, FrameContext, FunctionScope } from './dwarf/model';
import type { StackFrame as UnwoundFrame, Symbols } from './symbols';

/** One frame of the call stack as shown: a machine frame, or an inlined call inside one. */
export interface LogicalFrame {
  /** Index of the machine frame in the unwind. */
  physical: number;
  /** What is in scope here, from this frame outward within its machine frame (an ExprContext's scopes); empty without DWARF. */
  scopes: readonly FunctionScope[];
  /** The function's name from DWARF (an inlined function's own name); undefined: the machine frame's. */
  name?: string;
  /** The source position of this frame when it is the caller of an inlined call: the call's line, not the pc's. */
  callSite?: { file?: string; line?: number; column?: number };
  /** Innermost logical frame of its machine frame: its line is the pc's. */
  innermostOfMachineFrame: boolean;
}

/** The logical frames of an unwind. Without DWARF each machine frame is one frame. */
export function logicalFrames(unwound: readonly UnwoundFrame[], symbols: Symbols | undefined, debug: DebugData | undefined): LogicalFrame[] {
  const out: LogicalFrame[] = [];
  unwound.forEach((f, i) => {
    const lookup = i > 0 && f.pc > 0n ? f.pc - 1n : f.pc;
    const chain = debug && symbols ? debug.scopesAt(symbols.toLinked(lookup)) : [];
    if (chain.length === 0) {
      out.push({ physical: i, scopes: [], innermostOfMachineFrame: true });
      return;
    }
    chain.forEach((scope, k) => {
      out.push({
        physical: i,
        scopes: chain.slice(k),
        name: scope.name,
        callSite: k > 0 ? chain[k - 1].inlinedAt : undefined,
        innermostOfMachineFrame: k === 0,
      });
    });
  });
  return out;
}

/** What a FrameContext reads and writes through, for one vCPU at one stop. */
export interface FrameEnvironment {
  symbols?: Symbols;
  addressSize: 4 | 8;
  readMemory(address: bigint, size: number): Uint8Array | undefined;
  writeMemory?(address: bigint, bytes: Uint8Array): boolean;
  /** The innermost frame's register writes (they reach the vCPU when the request that made them ends). */
  writeRegister?(dwarfRegister: number, value: bigint): boolean;
  /** The per-cpu base (GS base in the kernel); undefined when the vCPU is not in the kernel. */
  tlsBase?(): bigint | undefined;
}

const DWARF_RSP = 7;
const DWARF_RIP = 16;

/** The evaluation context of machine frame `frame` (`innermost` = frame 0 of its vCPU). */
export function frameContext(frame: UnwoundFrame, innermost: boolean, env: FrameEnvironment): FrameContext {
  const symbols = env.symbols;
  const linkedPc = symbols ? symbols.toLinked(frame.pc) : frame.pc;
  const register = (n: number): bigint | undefined => {
    if (n === DWARF_RSP) return frame.sp;
    if (n === DWARF_RIP) return frame.pc;
    return frame.registers.get(n);
  };
  return {
    pc: linkedPc,
    innermost,
    addressSize: env.addressSize,
    register,
    cfa: () => frame.cfa ?? cfaFromRow(symbols, frame, innermost, register),
    readMemory: (address, size) => {
      try {
        return env.readMemory(address, size);
      } catch {
        return undefined;
      }
    },
    relocate: (address) => (symbols ? symbols.toRuntime(address) : address),
    tlsBase: env.tlsBase,
    writeMemory: env.writeMemory,
    // A caller's registers are where the unwinder found them (saved slots or the callee's own): not writable as registers.
    writeRegister: innermost ? env.writeRegister : undefined,
  };
}

/** The outermost frame's CFA, which the unwinder did not need: from its CFI row. */
function cfaFromRow(symbols: Symbols | undefined, frame: UnwoundFrame, innermost: boolean, register: (n: number) => bigint | undefined): bigint | undefined {
  const row = symbols?.unwindRow(innermost || frame.pc === 0n ? frame.pc : frame.pc - 1n);
  if (!row || row.cfa.kind !== 'register') return undefined;
  const base = register(row.cfa.register);
  return base === undefined ? undefined : BigInt.asUintN(64, base + row.cfa.offset);
}
