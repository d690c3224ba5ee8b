/**
 * The stack unwinder: from a stopped vCPU's registers and a way to read
 * guest memory, the chain of frames. Each step uses the CFI row of the pc
 * when there is one (and its CFA rule is a register + offset), otherwise the
 * frame-pointer chain ([fp] = caller's fp, [fp + word] = return address).
 *
 * It always ends: at a frame limit, at a return address of 0 or an
 * "undefined" return-address rule, at unreadable memory, when the stack
 * pointer stops growing towards higher addresses, or at a repeated frame.
 * `stopReason` says which.
 */
import type { CallFrameInfo, UnwindRow } from './cfi';
import { abiFor } from './dwarf-registers';

/** Reads guest (virtual) memory; undefined = unreadable. */
export type ReadMemory = (addr: bigint, size: number) => Uint8Array | undefined;

export interface RegisterSnapshot {
  pc: bigint;
  sp: bigint;
  fp: bigint;
  /** Other registers by DWARF number (x86-64: rbx = 3, r12 = 12...), when known. */
  registers?: ReadonlyMap<number, bigint>;
}

export interface StackFrame {
  pc: bigint;
  /** The stack pointer in this frame (for a caller: its value after the call returns). */
  sp: bigint;
  fp: bigint;
  /** The canonical frame address of this frame, when CFI gave one. */
  cfa?: bigint;
  /** How this frame's registers were found: the snapshot, CFI, or the frame-pointer chain. */
  method: 'registers' | 'cfi' | 'frame-pointer';
  /**
   * This frame's registers by DWARF number. In a caller, a register the CFI
   * says nothing about keeps the callee's value (as gdb assumes: gcc's IPA
   * register allocation keeps a caller's values in registers its callee is
   * known not to touch); one it marks undefined is absent.
   */
  registers: ReadonlyMap<number, bigint>;
}

export interface UnwindOptions {
  bits: 32 | 64;
  readMemory: ReadMemory;
  /** Only unwindRow is used: a rebased view (KASLR) can stand in for the parsed CFI. */
  cfi?: Pick<CallFrameInfo, 'unwindRow'>;
  /** At most this many frames (default 64, at most 4096). */
  maxFrames?: number;
}

export interface UnwindResult {
  frames: StackFrame[];
  /** Why unwinding stopped, as a sentence fragment ("return address is 0 (outermost frame)"). */
  stopReason: string;
}

export function unwindStack(snapshot: RegisterSnapshot, options: UnwindOptions): UnwindResult {
  const abi = abiFor(options.bits);
  const word = options.bits === 64 ? 8 : 4;
  const mask = options.bits === 64 ? 0xffffffffffffffffn : 0xffffffffn;
  const limit = Math.max(1, Math.min(options.maxFrames ?? 64, 4096));
  const readWord = (addr: bigint): bigint | undefined => {
    let bytes: Uint8Array | undefined;
    try {
      bytes = options.readMemory(addr & mask, word);
    } catch {
      return undefined;
    }
    if (!bytes || bytes.length < word) return undefined;
    let v = 0n;
    for (let i = word - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
    return v;
  };

  let regs = new Map<number, bigint>(snapshot.registers ?? []);
  regs.set(abi.pc, snapshot.pc & mask);
  regs.set(abi.sp, snapshot.sp & mask);
  regs.set(abi.fp, snapshot.fp & mask);
  const frames: StackFrame[] = [{ pc: snapshot.pc & mask, sp: snapshot.sp & mask, fp: snapshot.fp & mask, method: 'registers', registers: regs }];
  const seen = new Set<string>([`${frames[0].pc}:${frames[0].sp}`]);
  let signalFrame = false;

  while (frames.length < limit) {
    const cur = frames[frames.length - 1];
    // A return address points after the call; look up the call itself (it may be a function's last instruction).
    const lookup: bigint = frames.length === 1 || signalFrame ? cur.pc : (cur.pc - 1n) & mask;
    let next: { regs: Map<number, bigint>; cfa?: bigint; method: StackFrame['method'] } | undefined;
    let why = '';

    const row: UnwindRow | undefined = options.cfi?.unwindRow(lookup);
    if (row && row.cfa.kind === 'register' && regs.has(row.cfa.register)) {
      const cfa = (regs.get(row.cfa.register)! + row.cfa.offset) & mask;
      const out = new Map(regs);
      let ok = true;
      for (const [reg, rule] of row.registers) {
        switch (rule.kind) {
          case 'offset': {
            const v = readWord(cfa + rule.offset);
            if (v === undefined) {
              if (reg === row.returnAddressRegister) { ok = false; why = `the return address at 0x${((cfa + rule.offset) & mask).toString(16)} is unreadable`; }
              out.delete(reg);
            } else out.set(reg, v);
            break;
          }
          case 'val_offset': out.set(reg, (cfa + rule.offset) & mask); break;
          case 'register': { const v = regs.get(rule.register); if (v === undefined) out.delete(reg); else out.set(reg, v); break; }
          case 'same': break;
          case 'undefined': case 'unsupported': out.delete(reg); break;
        }
      }
      const raRule = row.registers.get(row.returnAddressRegister);
      if (raRule?.kind === 'undefined') return { frames, stopReason: 'the CFI marks the return address undefined (outermost frame)' };
      if (ok && out.has(row.returnAddressRegister)) {
        out.set(abi.pc, out.get(row.returnAddressRegister)!);
        out.set(abi.sp, cfa);
        next = { regs: out, cfa, method: 'cfi' };
        signalFrame = row.signalFrame;
      } else if (!why) {
        why = 'the CFI gives no rule for the return address';
      }
    } else if (row && row.cfa.kind === 'unsupported') {
      why = row.cfa.reason;
    }

    if (!next) {
      const fp = regs.get(abi.fp);
      if (fp === undefined || fp === 0n) return { frames, stopReason: why ? `${why}, and the frame pointer is unknown or 0` : 'the frame pointer is 0 (outermost frame)' };
      if (fp < cur.sp) return { frames, stopReason: `the frame pointer 0x${fp.toString(16)} is below the stack pointer 0x${cur.sp.toString(16)} (not a frame-pointer frame)` };
      const savedFp = readWord(fp);
      const ra = readWord(fp + BigInt(word));
      if (savedFp === undefined || ra === undefined) return { frames, stopReason: `the frame at 0x${fp.toString(16)} is unreadable` };
      const out = new Map(regs);
      out.set(abi.pc, ra);
      out.set(abi.sp, (fp + BigInt(2 * word)) & mask);
      out.set(abi.fp, savedFp);
      next = { regs: out, method: 'frame-pointer' };
      signalFrame = false;
    }

    const pc = next.regs.get(abi.pc)!;
    const sp = next.regs.get(abi.sp)!;
    if (pc === 0n) return { frames, stopReason: 'the return address is 0 (outermost frame)' };
    if (sp <= cur.sp) return { frames, stopReason: `the stack pointer did not move up (0x${sp.toString(16)} after 0x${cur.sp.toString(16)}): a corrupt or looping stack` };
    const key = `${pc}:${sp}`;
    if (seen.has(key)) return { frames, stopReason: 'a frame repeats (loop in the stack)' };
    seen.add(key);
    regs = next.regs;
    if (next.cfa !== undefined) cur.cfa = next.cfa;
    frames.push({ pc, sp, fp: regs.get(abi.fp) ?? 0n, method: next.method, registers: regs });
  }
  return { frames, stopReason: `the frame limit (${limit}) was reached` };
}
