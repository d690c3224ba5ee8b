/**
 * The GDT kvmdbg writes for every protocol and the CPU states built on it.
 * The segment registers we hand KVM must match descriptors that really sit
 * in guest memory: a kernel that reloads a selector (or an SMI, or a task
 * switch) reads the GDT, and VMX checks TR and the segment types on entry.
 *
 * TR: a busy TSS at base 0, limit 0x67, as the PVH ABI specifies.
 * Slots: 0x08 64-bit code, 0x10 32-bit code, 0x18 data, 0x20 TSS (16 bytes,
 * a 64-bit TSS descriptor whose upper half reads as null in 32-bit mode).
 */
import { BootCpuState, Segment } from './boot-state';
import { GuestMemory } from '../memory/guest-memory';
import { BOOT_STACK_TOP, GDT_ADDR, TSS_ADDR, TSS_LIMIT } from './layout';

export const SEL_CODE64 = 0x08;
export const SEL_CODE32 = 0x10;
export const SEL_DATA = 0x18;
export const SEL_TSS = 0x20;
export const GDT_LIMIT = 6 * 8 - 1;

import { CR0_ET, CR0_NE, CR0_PE, CR0_PG, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_PAE, EFER_LMA, EFER_LME } from '../cpu/control-bits';
export { CR0_ET, CR0_NE, CR0_PE, CR0_PG, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_PAE, EFER_LMA, EFER_LME };
/** Bit 1 of RFLAGS is reserved and always set; IF (and everything else) clear. */
export const RFLAGS_BOOT = 0x2n;

/** Descriptor type fields, accessed bit set (VMX requires it for usable segments). */
const TYPE_CODE_XR_A = 0xb;
const TYPE_DATA_RW_A = 0x3;
const TYPE_TSS_BUSY = 0xb;
const TYPE_LDT = 0x2;

function flat(selector: number, type: number, opts: { l?: boolean } = {}): Segment {
  return {
    base: 0n, limit: 0xffffffff, selector, type, present: true, dpl: 0,
    db: !opts.l, s: true, l: !!opts.l, g: true, avl: false, unusable: false,
  };
}

export const code32 = (): Segment => flat(SEL_CODE32, TYPE_CODE_XR_A);
export const code64 = (): Segment => flat(SEL_CODE64, TYPE_CODE_XR_A, { l: true });
export const data = (): Segment => flat(SEL_DATA, TYPE_DATA_RW_A);

export function tss(): Segment {
  return {
    base: BigInt(TSS_ADDR), limit: TSS_LIMIT, selector: SEL_TSS, type: TYPE_TSS_BUSY, present: true, dpl: 0,
    db: false, s: false, l: false, g: false, avl: false, unusable: false,
  };
}

/** LDTR as after reset: selector 0, but a valid (present, type LDT) cache so entry checks pass. */
export function ldt(): Segment {
  return {
    base: 0n, limit: 0xffff, selector: 0, type: TYPE_LDT, present: true, dpl: 0,
    db: false, s: false, l: false, g: false, avl: false, unusable: false,
  };
}

/** The 8-byte descriptor for a segment (base below 4 GiB). */
export function encodeDescriptor(seg: Segment): bigint {
  const base = BigInt.asUintN(32, seg.base);
  const limit = BigInt(seg.g ? seg.limit >>> 12 : seg.limit) & 0xfffffn;
  const access = BigInt(seg.type | (seg.s ? 0x10 : 0) | (seg.dpl << 5) | (seg.present ? 0x80 : 0));
  const flags = BigInt((seg.avl ? 1 : 0) | (seg.l ? 2 : 0) | (seg.db ? 4 : 0) | (seg.g ? 8 : 0));
  return (limit & 0xffffn) | ((base & 0xffffffn) << 16n) | (access << 40n)
    | ((limit >> 16n) << 48n) | (flags << 52n) | ((base >> 24n) << 56n);
}

/** Writes the GDT and a zeroed TSS (I/O map base past the limit: no I/O bitmap). */
export function writeGdt(memory: GuestMemory): void {
  memory.fill(GDT_ADDR, GDT_LIMIT + 1);
  memory.writeU64(GDT_ADDR + SEL_CODE64, encodeDescriptor(code64()));
  memory.writeU64(GDT_ADDR + SEL_CODE32, encodeDescriptor(code32()));
  memory.writeU64(GDT_ADDR + SEL_DATA, encodeDescriptor(data()));
  memory.writeU64(GDT_ADDR + SEL_TSS, encodeDescriptor(tss()));
  memory.fill(TSS_ADDR, TSS_LIMIT + 1);
  memory.writeU16(TSS_ADDR + 0x66, TSS_LIMIT + 1);
}

/** 32-bit protected mode, flat segments, paging off, IF clear: multiboot and PVH. */
export function protectedModeState(entry: number, regs: BootCpuState['regs']): BootCpuState {
  return {
    regs: { rflags: RFLAGS_BOOT, rip: BigInt(entry), rsp: BigInt(BOOT_STACK_TOP), ...regs },
    sregs: {
      cs: code32(), ds: data(), es: data(), fs: data(), gs: data(), ss: data(),
      tr: tss(), ldt: ldt(),
      gdt: { base: BigInt(GDT_ADDR), limit: GDT_LIMIT }, idt: { base: 0n, limit: 0 },
      cr0: CR0_PE | CR0_ET, cr3: 0n, cr4: 0n, efer: 0n,
    },
  };
}

/** 64-bit long mode with paging through `cr3`, SSE usable. */
export function longModeState(rip: bigint, cr3: number, regs: BootCpuState['regs']): BootCpuState {
  return {
    regs: { rflags: RFLAGS_BOOT, rip, rsp: BigInt(BOOT_STACK_TOP), ...regs },
    sregs: {
      cs: code64(), ds: data(), es: data(), fs: data(), gs: data(), ss: data(),
      tr: tss(), ldt: ldt(),
      gdt: { base: BigInt(GDT_ADDR), limit: GDT_LIMIT }, idt: { base: 0n, limit: 0 },
      cr0: CR0_PE | CR0_ET | CR0_NE | CR0_PG, cr3: BigInt(cr3),
      cr4: CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT, efer: EFER_LME | EFER_LMA,
    },
  };
}
