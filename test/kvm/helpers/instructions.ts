// Instruction addresses of a test kernel, decoded from the file (not from
// the vCPU, whose mode at launch may be 32-bit): for breakpoints on every
// instruction of a sequence.
import { readFileSync } from 'node:fs';
import { ElfFile } from '../../../vmm/boot/elf';
import { disassemble } from '../../../debug-adapter/disassembly';
import { hex, kernelPath } from './guests';

/** The addresses ("0x...") of the first `count` 64-bit instructions at `address` in the kernel's .text. */
export function instructionsAt(kernel: Parameters<typeof kernelPath>[0], address: number, count: number): string[] {
  const path = kernelPath(kernel);
  const elf = new ElfFile(path, readFileSync(path));
  const text = elf.section('.text')!;
  const code = elf.sectionData(text);
  const read = (a: bigint, n: number) => {
    const at = Number(a - text.addr);
    return { data: code.slice(at, at + n), readable: new Uint8Array(n).fill(1) };
  };
  return disassemble(read, 64, BigInt(address), 0, count).map((i) => hex(i.address));
}
