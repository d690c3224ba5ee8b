/**
 * What an expression is evaluated against: one frame of one vCPU, what
 * DWARF says is in scope there, and the fallbacks a kernel without DWARF
 * still has (registers by name, ELF symbols as addresses).
 */
import type { DebugData, FrameContext, FunctionScope, VariableInfo } from '../dwarf/model';
import { isFallbackTypeName } from './types';

export interface ExprContext {
  frame: FrameContext;
  /**
   * DebugData.scopesAt(frame's pc), innermost first. Locals and parameters
   * come from the first only (C: an inlined function does not see its
   * caller's locals); a session showing inlined frames passes the slice
   * that starts at the selected one.
   */
  scopes: readonly FunctionScope[];
  debug?: DebugData;
  /** A register by name (`rip`, `eax`, `cr3`; lower case, no `$`), for names with no DWARF number or none in this frame. */
  register?(name: string): bigint | undefined;
  /** An ELF (or System.map) symbol's run-time address: names DWARF does not describe are their address. */
  symbolAddress?(name: string): bigint | undefined;
  linux?: LinuxConfig;
}

export interface LinuxConfig {
  /** This vCPU's index, for per-cpu data when the GS base is not the kernel's (stopped in user mode or before swapgs). */
  cpu?: number;
  /** The most tasks `$task(pid)` walks (default 10000). */
  maxTasks?: number;
}

/** A variable by C's scoping: innermost block's locals, parameters, the unit's statics, then globals. */
export function lookupVariable(ctx: ExprContext, name: string): VariableInfo | undefined {
  const scope = ctx.scopes[0];
  if (scope) {
    for (const block of scope.blocks) {
      const v = block.locals.find((l) => l.name === name);
      if (v) return v;
    }
    const p = scope.parameters.find((l) => l.name === name);
    if (p) return p;
    const s = scope.unit.statics().find((l) => l.name === name);
    if (s) return s;
  }
  return ctx.debug?.findVariable(name, scope?.unit);
}

/** Whether `name` names a type here (a variable of that name in scope shadows a typedef, as in C). */
export function typeNameTest(ctx: ExprContext): (name: string) => boolean {
  const cache = new Map<string, boolean>();
  return (name) => {
    let known = cache.get(name);
    if (known === undefined) {
      known = (ctx.debug?.findType(name) !== undefined || isFallbackTypeName(name)) && lookupVariable(ctx, name) === undefined;
      cache.set(name, known);
    }
    return known;
  };
}

/** A frame that reads zeros and no registers: `sizeof expr` evaluates its operand only for its type (C does not evaluate it). */
export function typeOnlyFrame(frame: FrameContext): FrameContext {
  return {
    pc: frame.pc, innermost: frame.innermost, addressSize: frame.addressSize,
    register: () => 0n,
    cfa: () => 0n,
    readMemory: (_address, size) => (size <= 1 << 16 ? new Uint8Array(size) : undefined),
    relocate: (a) => frame.relocate(a),
    tlsBase: () => 0n,
  };
}
