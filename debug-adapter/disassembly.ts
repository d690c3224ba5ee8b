/**
 * DAP disassemble with iced-x86, in the vCPU's current mode (16, 32 or
 * 64-bit from CS.L, CS.D/B and CR0.PE), symbolized (`call 0x100140 <fib>`),
 * with instruction references ("v:0x...") VS Code's disassembly view uses.
 * Negative instruction offsets decode from a known instruction boundary
 * (the function start, else a few candidate starts that resynchronize).
 */
import { Decoder, DecoderOptions, FlowControl, Formatter, FormatterSyntax } from 'iced-x86';
import type { Sregs } from '../native/types';
import type { Symbols } from './symbols';

export type Bitness = 16 | 32 | 64;

export function bitnessOf(sregs: Pick<Sregs, 'cs' | 'cr0'>): Bitness {
  if (sregs.cs.l) return 64;
  if ((sregs.cr0 & 1n) === 0n) return 16;
  return sregs.cs.db ? 32 : 16;
}

export interface Instr {
  address: bigint;
  length: number;
  bytes: Uint8Array;
  text: string;
  invalid: boolean;
  flow: FlowControl;
  /** Near branch/call target, when there is one. */
  target?: bigint;
}

export type ReadBytes = (address: bigint, length: number) => { data: Uint8Array; readable: Uint8Array };

const hex = (v: bigint): string => '0x' + v.toString(16);

/** Decodes instructions from `start`; unreadable bytes end the run with invalid entries. */
export function decodeFrom(read: ReadBytes, bitness: Bitness, start: bigint, count: number, end?: bigint): Instr[] {
  const out: Instr[] = [];
  const formatter = new Formatter(FormatterSyntax.Gas);
  try {
    let at = start;
    const more = (): boolean => out.length < count && (end === undefined || at < end);
    while (more()) {
      const chunkLen = Math.min(4096, (count - out.length) * 15 + 15);
      const { data, readable } = read(at, chunkLen);
      let usable = 0;
      while (usable < data.length && readable[usable]) usable++;
      if (usable === 0) {
        out.push({ address: at, length: 1, bytes: new Uint8Array(0), text: '??', invalid: true, flow: FlowControl.Next });
        at += 1n;
        continue;
      }
      const decoder = new Decoder(bitness, data.subarray(0, usable), DecoderOptions.None);
      decoder.ip = at;
      let consumed = 0;
      try {
        while (more() && decoder.position < usable) {
          const instr = decoder.decode();
          try {
            // A truncated instruction at the end of the chunk: decode it again from a fresh chunk.
            if (instr.isInvalid && decoder.position >= usable && usable === data.length && consumed > 0) break;
            const len = instr.length || 1;
            const target = instr.flowControl === FlowControl.Call || instr.flowControl === FlowControl.UnconditionalBranch
              || instr.flowControl === FlowControl.ConditionalBranch ? instr.nearBranchTarget : undefined;
            out.push({
              address: instr.ip, length: len, bytes: data.slice(consumed, consumed + len),
              text: instr.isInvalid ? '(bad)' : formatter.format(instr), invalid: instr.isInvalid, flow: instr.flowControl,
              target: target !== undefined && target !== 0n ? target : undefined,
            });
            consumed += len;
            if (end !== undefined && instr.ip + BigInt(len) >= end) { at += BigInt(consumed); consumed = 0; break; }
          } finally {
            instr.free();
          }
        }
      } finally {
        decoder.free();
      }
      if (consumed === 0) consumed = 1;
      at += BigInt(consumed);
    }
  } finally {
    formatter.free();
  }
  return out;
}

/**
 * The `count` instructions that end right before `address`: decoding from
 * the function start when known, else from candidates that land exactly on
 * `address`. Missing ones (unknown code) are padded as invalid entries.
 */
export function decodeBefore(read: ReadBytes, bitness: Bitness, address: bigint, count: number, functionStart?: bigint): Instr[] {
  const starts: bigint[] = [];
  if (functionStart !== undefined && functionStart <= address && address - functionStart <= 0x10000n) starts.push(functionStart);
  for (const back of [count * 7, count * 5, count * 4, count * 3 + 1, count * 2 + 3]) {
    const s = address - BigInt(back);
    if (s >= 0n) starts.push(s);
  }
  for (const s of starts) {
    const span = Number(address - s);
    if (span === 0) break;
    const list = decodeFrom(read, bitness, s, span + 1, address + 1n);
    const idx = list.findIndex((i) => i.address >= address);
    const before = idx < 0 ? list : list.slice(0, idx);
    const lands = idx >= 0 && list[idx].address === address;
    if (lands && before.every((i) => !i.invalid || i.text === '??')) {
      const tail = before.slice(-count);
      return [...pad(tail[0]?.address ?? address, count - tail.length), ...tail];
    }
  }
  return pad(address, count);
}

function pad(end: bigint, n: number): Instr[] {
  const out: Instr[] = [];
  for (let i = n; i > 0; i--) out.push({ address: end - BigInt(i), length: 1, bytes: new Uint8Array(0), text: '??', invalid: true, flow: FlowControl.Next });
  return out;
}

/** Appends `<symbol+off>` to branch targets. */
export function symbolizedText(instr: Instr, symbols?: Symbols): string {
  if (instr.target === undefined || !symbols) return instr.text;
  const s = symbols.symbolize(instr.target);
  if (!s) return instr.text;
  return `${instr.text} <${s.name}${s.offset ? '+' + hex(s.offset) : ''}>`;
}

/** Instructions for a DAP disassemble request: offsets in instructions, negative = before. */
export function disassemble(read: ReadBytes, bitness: Bitness, address: bigint, instructionOffset: number, count: number, symbols?: Symbols): Instr[] {
  if (count <= 0) return [];
  const out: Instr[] = [];
  if (instructionOffset < 0) {
    const before = decodeBefore(read, bitness, address, -instructionOffset, symbols?.functionAt(address)?.start);
    out.push(...before.slice(0, count));
    if (out.length < count) out.push(...decodeFrom(read, bitness, address, count - out.length));
    return out;
  }
  const all = decodeFrom(read, bitness, address, instructionOffset + count);
  return all.slice(instructionOffset);
}
