/**
 * The registers as KVM lays them out (struct kvm_regs, then struct
 * kvm_sregs, x86-64), for a vCPU's state copied raw out of kvm_run
 * (Vcpu.copySynced) into a buffer another thread reads: decoding is done by
 * the reader, and only when it looks (no structured clone of 60 bigints a stop).
 */
import type { Regs, Sregs } from './types';
import type { DescriptorTable, Segment } from '../vmm/boot/boot-state';

/** KVM_SYNC_X86_REGS, KVM_SYNC_X86_SREGS. */
export const SYNC_REGS = 1;
export const SYNC_SREGS = 2;

export const REGS_BYTES = 144;
export const SREGS_BYTES = 312;
/** kvm_regs at 0, kvm_sregs at REGS_BYTES. */
export const STATE_BYTES = REGS_BYTES + SREGS_BYTES;

const REG_NAMES = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags'] as const;
/** Indexes of RIP and RSP in kvm_regs as 64-bit words. */
export const RIP_WORD = 16;
export const RSP_WORD = 6;

const SEGMENTS = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const;
const SEGMENT_BYTES = 24;
const DTABLE_BYTES = 16;

export function decodeRegs(view: DataView, at = 0): Regs {
  const r = {} as Regs;
  for (let i = 0; i < REG_NAMES.length; i++) r[REG_NAMES[i]] = view.getBigUint64(at + i * 8, true);
  return r;
}

function segment(view: DataView, at: number): Segment {
  return {
    base: view.getBigUint64(at, true), limit: view.getUint32(at + 8, true), selector: view.getUint16(at + 12, true),
    type: view.getUint8(at + 14), present: view.getUint8(at + 15) !== 0, dpl: view.getUint8(at + 16),
    db: view.getUint8(at + 17) !== 0, s: view.getUint8(at + 18) !== 0, l: view.getUint8(at + 19) !== 0,
    g: view.getUint8(at + 20) !== 0, avl: view.getUint8(at + 21) !== 0, unusable: view.getUint8(at + 22) !== 0,
  };
}

function dtable(view: DataView, at: number): DescriptorTable {
  return { base: view.getBigUint64(at, true), limit: view.getUint16(at + 8, true) };
}

/** kvm_sregs at `at` (REGS_BYTES in a copied state). */
export function decodeSregs(view: DataView, at = REGS_BYTES): Sregs {
  const s = {} as Sregs;
  SEGMENTS.forEach((name, i) => { s[name] = segment(view, at + i * SEGMENT_BYTES); });
  let o = at + SEGMENTS.length * SEGMENT_BYTES;
  s.gdt = dtable(view, o);
  s.idt = dtable(view, o + DTABLE_BYTES);
  o += 2 * DTABLE_BYTES;
  const u64 = (): bigint => { const v = view.getBigUint64(o, true); o += 8; return v; };
  s.cr0 = u64(); s.cr2 = u64(); s.cr3 = u64(); s.cr4 = u64(); s.cr8 = u64(); s.efer = u64(); s.apicBase = u64();
  s.interruptBitmap = [u64(), u64(), u64(), u64()];
  return s;
}
