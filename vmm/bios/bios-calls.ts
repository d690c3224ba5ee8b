/**
 * The BIOS on the vCPU thread. A ROM stub's `out BIOS_PORT, al` exits
 * here: the caller's registers and the FLAGS word of its INT frame go to
 * the service, its answers come back, and RIP moves on to the stub's iret
 * (set explicitly: hosts differ on whether RIP is on the OUT or past it).
 * Where a host cannot run a real-mode INT n, INT3 or IRET itself (it gives
 * KVM an internal error with RIP on the instruction), emulate() does what
 * the CPU would: push FLAGS, CS and IP and enter the vector through the
 * IVT (ours or the guest's own), or pop them.
 */
import type { Regs, Sregs } from '../../native/types';
import type { Segment } from '../boot/boot-state';
import type { GuestMemory } from '../memory/guest-memory';
import type { Bios, BiosOutcome } from './bios';
import type { BiosLog } from './guest-access';
import { IVT_ADDR, ROM_KEY_WAIT, ROM_POST, ROM_SEGMENT, stubResume, stubVector } from './layout';
import { type BiosRegs, FLAG_CF, FLAG_IF, FLAG_TF } from './regs';

export interface BiosVcpu {
  getRegs(): Regs;
  setRegs(regs: Partial<Regs>): void;
  getSregs(): Sregs;
  setSregs(sregs: Partial<Sregs>): void;
}

const CR0_PE = 1n;
const hex4 = (v: number): string => v.toString(16).toUpperCase().padStart(4, '0');
const low16 = (v: bigint): number => Number(v & 0xffffn);
const keep32 = (old: bigint, v: number): bigint => (old & ~0xffff_ffffn) | BigInt(v >>> 0);

/** The CPU exceptions a real-mode boot sector cannot survive without a handler of its own (iret would restart the instruction for ever). */
const FATAL_EXCEPTIONS: Record<number, string> = { 0x00: '#DE (divide error)', 0x06: '#UD (invalid opcode)' };

export class BiosCalls {
  constructor(private readonly vcpu: BiosVcpu, private readonly memory: GuestMemory, private readonly bios: Bios, private readonly log: BiosLog,
    /** Ends the VM with a sentence (an exception no handler takes). */
    private readonly end: (message: string) => void = () => {}) {}

  /** Kinds of guest error already logged: each once, so a guest calling in a loop cannot flood the log. */
  private readonly logged = new Set<string>();

  private guestError(kind: string, message: string): void {
    if (this.logged.has(kind)) return;
    this.logged.add(kind);
    this.log.guestError(`${message} (said once)`);
  }

  /** An OUT to BIOS_PORT: true when a ROM stub made it (served); false for any other (an ordinary port write). */
  portCall(): boolean {
    const s = this.vcpu.getSregs();
    if (s.cr0 & CR0_PE || s.cs.base !== BigInt(ROM_SEGMENT * 16)) return false;
    const regs = this.vcpu.getRegs();
    const vector = stubVector(low16(regs.rip));
    if (vector === undefined) return false;
    // The INT frame at SS:SP: IP, CS, FLAGS (the stub pushed nothing).
    const flagsAt = Number(s.ss.base) + ((low16(regs.rsp) + 4) & 0xffff);
    const frame = this.memory.contains(flagsAt, 2);
    const fatal = FATAL_EXCEPTIONS[vector];
    if (fatal) {
      const ipAt = Number(s.ss.base) + low16(regs.rsp);
      const where = this.memory.contains(ipAt, 4)
        ? `${hex4(this.memory.readU16(ipAt + 2))}:${hex4(this.memory.readU16(ipAt))}` : 'an address its stack does not say';
      this.end(`the guest raised ${fatal} at ${where} in real mode, and vector ${vector.toString(16).padStart(2, '0')}h is still kvmdbg's BIOS default (the guest installed no handler)`);
      return true;
    }
    const r = toBiosRegs(regs, s, frame ? this.memory.readU16(flagsAt) : low16(regs.rflags));
    let outcome: BiosOutcome = 'return';
    try {
      outcome = this.bios.call(vector, r);
    } catch (e) {
      this.guestError(`failed ${vector}`, `kvmdbg's BIOS failed in INT ${vector.toString(16).padStart(2, '0')}h (AX=${(r.eax & 0xffff).toString(16).padStart(4, '0')}): ${(e as Error).message}; the call returns with CF set`);
      r.flags |= FLAG_CF;
    }
    if (outcome === 'reboot') {
      // POST sets every register it hands the boot sector; nothing returns to the caller.
      this.vcpu.setRegs({ ...regs, rip: BigInt(ROM_POST), rflags: 0x2n });
      return true;
    }
    if (frame) this.memory.writeU16(flagsAt, r.flags & 0xffff);
    else this.guestError('stack', `INT ${vector.toString(16)}h: the caller's stack at SS:SP is not guest RAM, so its FLAGS (CF) could not be set`);
    this.writeBack(regs, s, r, BigInt(outcome === 'wait' ? ROM_KEY_WAIT : stubResume(vector)));
    return true;
  }

  private writeBack(regs: Regs, s: Sregs, r: BiosRegs, rip: bigint): void {
    this.vcpu.setRegs({
      ...regs,
      rax: keep32(regs.rax, r.eax), rbx: keep32(regs.rbx, r.ebx), rcx: keep32(regs.rcx, r.ecx), rdx: keep32(regs.rdx, r.edx),
      rsi: keep32(regs.rsi, r.esi), rdi: keep32(regs.rdi, r.edi), rbp: keep32(regs.rbp, r.ebp), rip,
    });
    if (r.es !== s.es.selector || BigInt(r.esBase) !== s.es.base) this.vcpu.setSregs({ es: realSegment(s.es, r.es) });
  }

  /**
   * After a KVM internal error: performs a real-mode INT n, INT3 or IRET at
   * CS:IP the way the CPU does. False when the vCPU is not in real mode or
   * the instruction is none of those (the error stands).
   */
  emulate(): boolean {
    const s = this.vcpu.getSregs();
    if (s.cr0 & CR0_PE) return false;
    const regs = this.vcpu.getRegs();
    const ip = low16(regs.rip);
    const at = Number(s.cs.base) + ip;
    if (!this.memory.contains(at, 2)) return false;
    const op = this.memory.readU8(at);
    if (op === 0xcd) return this.interrupt(regs, s, this.memory.readU8(at + 1), ip + 2);
    if (op === 0xcc) return this.interrupt(regs, s, 3, ip + 1);
    if (op === 0xcf) return this.iret(regs, s);
    return false;
  }

  private interrupt(regs: Regs, s: Sregs, vector: number, returnIp: number): boolean {
    const sp = (low16(regs.rsp) - 6) & 0xffff;
    const ss = Number(s.ss.base);
    const slots = [0, 2, 4].map((o) => ss + ((sp + o) & 0xffff));
    if (!slots.every((a) => this.memory.contains(a, 2)) || !this.memory.contains(IVT_ADDR + vector * 4, 4)) return false;
    const flags = low16(regs.rflags);
    this.memory.writeU16(slots[0], returnIp & 0xffff);
    this.memory.writeU16(slots[1], s.cs.selector);
    this.memory.writeU16(slots[2], flags);
    const offset = this.memory.readU16(IVT_ADDR + vector * 4);
    const segment = this.memory.readU16(IVT_ADDR + vector * 4 + 2);
    this.vcpu.setSregs({ cs: realSegment(s.cs, segment) });
    this.vcpu.setRegs({
      ...regs, rip: BigInt(offset), rsp: (regs.rsp & ~0xffffn) | BigInt(sp),
      rflags: regs.rflags & ~BigInt(FLAG_IF | FLAG_TF),
    });
    return true;
  }

  private iret(regs: Regs, s: Sregs): boolean {
    const sp = low16(regs.rsp);
    const ss = Number(s.ss.base);
    const slots = [0, 2, 4].map((o) => ss + ((sp + o) & 0xffff));
    if (!slots.every((a) => this.memory.contains(a, 2))) return false;
    const [ip, cs, flags] = slots.map((a) => this.memory.readU16(a));
    this.vcpu.setSregs({ cs: realSegment(s.cs, cs) });
    this.vcpu.setRegs({
      ...regs, rip: BigInt(ip), rsp: (regs.rsp & ~0xffffn) | BigInt((sp + 6) & 0xffff),
      rflags: (regs.rflags & ~0xffffn) | BigInt(flags | 0x2),
    });
    return true;
  }
}

/** A real-mode segment register loaded with `selector` (base = selector * 16), the rest of its cache as it was. */
function realSegment(old: Segment, selector: number): Segment {
  return { ...old, selector, base: BigInt(selector * 16) };
}

export function toBiosRegs(regs: Regs, s: Sregs, flags: number): BiosRegs {
  const u32 = (v: bigint) => Number(v & 0xffff_ffffn);
  return {
    eax: u32(regs.rax), ebx: u32(regs.rbx), ecx: u32(regs.rcx), edx: u32(regs.rdx),
    esi: u32(regs.rsi), edi: u32(regs.rdi), ebp: u32(regs.rbp),
    ds: s.ds.selector, es: s.es.selector, dsBase: Number(s.ds.base), esBase: Number(s.es.base),
    flags,
  };
}
