/**
 * Registers by name in expressions: `$rip`, `$eax`, and bare `rax` when no
 * variable is called that. The general registers are lvalues at their
 * DWARF numbers (so `$rax` can be set in the innermost frame, and a
 * caller's frame shows its unwound values); sub-registers are their low
 * bytes. Any other register the session knows (`cr3`, `efer`, `fs_base`)
 * is a value read through ExprContext.register.
 *
 * Types follow gdb: `$rip` is a function pointer and `$rsp`/`$rbp` are
 * `void *` (so they show `<symbol>`), the rest unsigned integers of their width.
 */
import type { CType, FunctionType } from '../dwarf/model';
import { BASE, pointerTo, VOID } from '../variables/ctype';
import { intRvalue, type Value } from '../variables/value';
import type { ExprContext } from './context';

const GPR64 = ['rax', 'rdx', 'rcx', 'rbx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip'];
const GPR32 = ['eax', 'edx', 'ecx', 'ebx', 'esi', 'edi', 'ebp', 'esp', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d', 'eip'];
const GPR16 = ['ax', 'dx', 'cx', 'bx', 'si', 'di', 'bp', 'sp', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w', 'ip'];
const GPR8 = ['al', 'dl', 'cl', 'bl', 'sil', 'dil', 'bpl', 'spl', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b'];

const CODE: FunctionType = { kind: 'function', returns: () => VOID, params: () => [], variadic: false };

/** A register's DWARF number and the width a name takes of it, when it is a general register (or part of one). */
export function generalRegister(name: string): { dwarf: number; size: number } | undefined {
  for (const [names, size] of [[GPR64, 8], [GPR32, 4], [GPR16, 2], [GPR8, 1]] as const) {
    const i = names.indexOf(name);
    if (i >= 0) return { dwarf: i, size };
  }
  return undefined;
}

function registerType(name: string, size: number): CType {
  if (name === 'rip' || name === 'eip') return pointerTo(CODE, size);
  if (['rsp', 'rbp', 'esp', 'ebp'].includes(name)) return pointerTo(VOID, size);
  return size === 8 ? BASE.unsignedLong : size === 4 ? BASE.unsignedInt : size === 2 ? BASE.unsignedShort : BASE.unsignedChar;
}

export function registerValue(ctx: ExprContext, name: string): Value | undefined {
  const frame = ctx.frame;
  const gpr = generalRegister(name);
  if (gpr && frame.register(gpr.dwarf) !== undefined) {
    return { type: registerType(name, gpr.size), location: { kind: 'register', register: gpr.dwarf }, frame };
  }
  const v = ctx.register?.(name);
  if (v === undefined) return undefined;
  const size = gpr?.size ?? 8;
  return intRvalue(gpr ? registerType(name, size) : BASE.unsignedLong, v, frame);
}

export const REGISTER_NAMES: readonly string[] = [...GPR64, ...GPR32];
