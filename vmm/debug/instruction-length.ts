/**
 * How long the guest instruction at an address is, decoded with iced-x86
 * (loaded on first use: only the port trap needs it, to know that its two
 * bytes cover one instruction).
 */
import type { PagingState } from './page-walk';
import { CR0_PE, EFER_LMA } from '../cpu/control-bits';

export type Bitness = 16 | 32 | 64;

/** The code size the vCPU runs at, from its paging registers (long mode: 64-bit code; compat-mode code is not guessed). */
export function codeBitness(p: Pick<PagingState, 'cr0' | 'efer'>): Bitness {
  if (p.efer & EFER_LMA) return 64;
  return p.cr0 & CR0_PE ? 32 : 16;
}

type Iced = typeof import('iced-x86');
let iced: Iced | undefined;

/** The length of the instruction in `bytes` (up to 15 of them, read at `address`), or undefined when it does not decode. */
export function instructionLength(bytes: Uint8Array, bitness: Bitness, address: bigint): number | undefined {
  iced ??= require('iced-x86') as Iced;
  const decoder = new iced.Decoder(bitness, bytes, iced.DecoderOptions.None);
  decoder.ip = address;
  const instr = decoder.decode();
  try {
    return instr.isInvalid ? undefined : instr.length;
  } finally {
    instr.free();
    decoder.free();
  }
}
