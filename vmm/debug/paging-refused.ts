/**
 * A CPU that shut down on the instruction that turns on 32-bit paging. On
 * hardware, a MOV to CR0 that sets PG (with PE, and NW only with CD) while
 * CR4.PAE is clear cannot fault by itself: bad page tables fault on the
 * next fetch, with RIP past the MOV. So a shutdown with RIP still on it is
 * the host refusing the mode (PVM runs no 2-level paging: xv6 and other
 * teaching kernels stop right there, at their entry.S), and the user gets
 * that sentence instead of "a broken IDT or stack" in their kernel.
 */
import type { Regs, Sregs } from '../../native/types';

const CR0_PE = 1n;
const CR0_NW = 1n << 29n;
const CR0_CD = 1n << 30n;
const CR0_PG = 1n << 31n;
const CR4_PAE = 1n << 5n;
const EFER_LME = 1n << 8n;

/** ModRM.rm -> the 32-bit general register MOV CR0, r32 reads. */
const SOURCES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'] as const;

const hex = (v: bigint) => '0x' + v.toString(16);

/** The sentence for the user when `code` (the bytes at RIP) is a valid MOV to CR0 turning on 32-bit paging; otherwise undefined. */
export function refusedPagingMessage(code: Uint8Array | undefined, regs: Regs, sregs: Sregs): string | undefined {
  if (!code || code.length < 3 || code[0] !== 0x0f || code[1] !== 0x22) return undefined;
  const modrm = code[2];
  // reg 0 is CR0; the CPU ignores mod (always a register operand).
  if ((modrm & 0x38) !== 0) return undefined;
  const value = regs[SOURCES[modrm & 7]] & 0xffffffffn;
  if (!(value & CR0_PG) || !(value & CR0_PE) || ((value & CR0_NW) && !(value & CR0_CD))) return undefined;
  if (sregs.cr0 & CR0_PG || sregs.cr4 & CR4_PAE || sregs.efer & EFER_LME) return undefined;
  return `the guest's CPU shut down at RIP ${hex(regs.rip)}, on the MOV to CR0 that turns on 32-bit paging (CR0 ${hex(value)}, CR4.PAE clear, `
    + 'as xv6 and other 32-bit kernels do), which cannot fault on hardware: this host\'s KVM does not run 32-bit paging '
    + '(a limit of this host, not of the guest); run it on hardware or nested KVM, or inside the KVM sandbox (test/sandbox/run -- kvmdbg run ...)';
}
