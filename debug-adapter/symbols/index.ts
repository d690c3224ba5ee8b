/**
 * The symbol layer of the debug adapter: `loadSymbols(kernel)` reads an ELF
 * kernel's symbol table, DWARF line tables, DWARF compile units and call
 * frame information, and answers the debugger's questions (where is this
 * line, which line and function is this address, what are the caller
 * frames). It never throws: what could not be read is said in `summary`
 * and `warnings`, one sentence each, and the queries answer with what there is.
 */
export { ByteReader, DwarfError } from './dwarf-reader';
export { LineTable } from './line-table';
export { parseLineTables } from './line-table-load';
export type { LineRow, SourceLocation, LineTableInput } from './line-table';
export { CallFrameInfo, parseCallFrameInfo } from './cfi';
export type { CfaRule, RegisterRule, UnwindRow, CfiInput, FrameSection } from './cfi';
export { unwindStack } from './unwind';
export type { ReadMemory, RegisterSnapshot, StackFrame, UnwindOptions, UnwindResult } from './unwind';
export { SymbolTable } from './symbol-table';
export type { SymbolEntry, Symbolized, ElfSymbolLike } from './symbol-table';
export { parseDebugInfo, subprogramAt } from './dwarf-info';
export type { CompileUnit, Subprogram, DebugInfo, DebugInfoInput } from './dwarf-info';
export { objectFileFromElf } from './object-file';
export type { ObjectFile, SectionData } from './object-file';
export { X86_64_ABI, I386_ABI, abiFor, registerName, registerNumber } from './dwarf-registers';

export { Symbols, SLIDABLE_START, SLIDABLE_END } from './symbols';
export type { LoadOptions, FunctionInfo } from './symbols';
export { loadSymbols, symbolsFromObject } from './load';
