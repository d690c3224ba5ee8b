/**
 * DWARF register numbers of the two ABIs our guests use (System V psABI
 * x86-64 and i386): CFI rules and unwinder register sets are keyed by them.
 */

/** x86-64: 0-15 general registers (note rdx/rcx order), 16 = return address (rip). */
export const X86_64_REGISTERS = [
  'rax', 'rdx', 'rcx', 'rbx', 'rsi', 'rdi', 'rbp', 'rsp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip',
] as const;

/** i386: 0-7 general registers, 8 = eip. */
export const I386_REGISTERS = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip'] as const;

/** Stack pointer, frame pointer and return-address (pc) register numbers for one ABI. */
export interface RegisterAbi {
  bits: 32 | 64;
  sp: number;
  fp: number;
  pc: number;
  names: readonly string[];
}

export const X86_64_ABI: RegisterAbi = { bits: 64, sp: 7, fp: 6, pc: 16, names: X86_64_REGISTERS };
export const I386_ABI: RegisterAbi = { bits: 32, sp: 4, fp: 5, pc: 8, names: I386_REGISTERS };

export function abiFor(bits: 32 | 64): RegisterAbi {
  return bits === 64 ? X86_64_ABI : I386_ABI;
}

/** "rbp" for 6 on x86-64; "r99" for a number outside the ABI's table. */
export function registerName(abi: RegisterAbi, n: number): string {
  return abi.names[n] ?? `r${n}`;
}

/** The DWARF number of a register name ("rbp" -> 6), or undefined. */
export function registerNumber(abi: RegisterAbi, name: string): number | undefined {
  const i = abi.names.indexOf(name.toLowerCase());
  return i < 0 ? undefined : i;
}
