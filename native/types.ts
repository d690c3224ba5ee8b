/**
 * The public shape of the KVM addon (Kvm -> Vm -> Vcpu, as rust-vmm's
 * kvm-ioctls). Plain data types only; native/index.ts implements them over
 * the raw binding. 64-bit register values are bigint.
 */
import type { Segment, DescriptorTable } from '../vmm/boot/boot-state';

export interface CpuidEntry {
  function: number; index: number; flags: number;
  eax: number; ebx: number; ecx: number; edx: number;
}

export interface MsrEntry { index: number; value: bigint }

export interface Regs {
  rax: bigint; rbx: bigint; rcx: bigint; rdx: bigint;
  rsi: bigint; rdi: bigint; rsp: bigint; rbp: bigint;
  r8: bigint; r9: bigint; r10: bigint; r11: bigint;
  r12: bigint; r13: bigint; r14: bigint; r15: bigint;
  rip: bigint; rflags: bigint;
}

export interface Sregs {
  cs: Segment; ds: Segment; es: Segment; fs: Segment; gs: Segment; ss: Segment;
  tr: Segment; ldt: Segment;
  gdt: DescriptorTable; idt: DescriptorTable;
  cr0: bigint; cr2: bigint; cr3: bigint; cr4: bigint; cr8: bigint;
  efer: bigint; apicBase: bigint;
  /** Pending external interrupt bitmap (kvm_sregs.interrupt_bitmap), 4 x 64 bits. */
  interruptBitmap: bigint[];
}

export interface Fpu {
  /** 8 x 16 bytes (80-bit registers padded). */
  fpr: Uint8Array;
  fcw: number; fsw: number; ftwx: number; lastOpcode: number;
  lastIp: bigint; lastDp: bigint;
  /** 16 x 16 bytes. */
  xmm: Uint8Array;
  mxcsr: number;
}

export interface GuestDebug {
  enable: boolean;
  singleStep?: boolean;
  /** int3 -> KVM_EXIT_DEBUG (KVM_GUESTDBG_USE_SW_BP). */
  softwareBreakpoints?: boolean;
  /** DR0-3/DR7 below (KVM_GUESTDBG_USE_HW_BP). */
  hardwareBreakpoints?: boolean;
  /** Queue a #BP for the guest now (KVM_GUESTDBG_INJECT_BP): hands a guest's own int3 back. */
  injectBreakpoint?: boolean;
  /** No interrupt injection while single-stepping (KVM_GUESTDBG_BLOCKIRQ). */
  blockInterrupts?: boolean;
  /** DR0..DR7 as KVM takes them (debugreg[4..5] unused); absent = zeros. */
  debugreg?: bigint[];
}

export interface Translation {
  physicalAddress: bigint; valid: boolean; writeable: boolean; usermode: boolean;
}

export interface VcpuEvents {
  exceptionInjected: boolean; exceptionNr: number; exceptionHasErrorCode: boolean; exceptionErrorCode: number;
  interruptInjected: boolean; interruptNr: number; nmiInjected: boolean; nmiPending: boolean; nmiMasked: boolean;
}

/**
 * One VM exit. The object (and its data view) may be reused by the next
 * run(): copy what you keep. For `io` with direction 'in' and for `mmio`
 * reads, write the result into `data`; the addon hands it to KVM before the
 * next KVM_RUN, which completes the instruction.
 */
export type VcpuExit =
  | { kind: 'io'; direction: 'in' | 'out'; port: number; size: 1 | 2 | 4; count: number; data: Uint8Array }
  | { kind: 'mmio'; address: number; size: number; isWrite: boolean; data: Uint8Array }
  | { kind: 'hlt' }
  /** Triple fault (or other shutdown). */
  | { kind: 'shutdown' }
  | { kind: 'debug'; exception: number; pc: bigint; dr6: bigint; dr7: bigint }
  | { kind: 'failEntry'; hardwareReason: bigint; cpu: number }
  | { kind: 'internalError'; suberror: number; data: bigint[] }
  | { kind: 'systemEvent'; type: 'shutdown' | 'reset' | 'crash' | 'other'; rawType: number; data: bigint[] }
  /** KVM_RUN returned EINTR: a kick (or another signal) interrupted it. */
  | { kind: 'interrupted' }
  | { kind: 'irqWindowOpen' }
  /** `reply` is kvm_run.hypercall as KVM gave it; the u64 at 56 (ret) goes back on the next run(). */
  | { kind: 'hypercall'; nr: bigint; args: bigint[]; reply: Uint8Array }
  /** `reply` is kvm_run.msr: byte 0 (error: 1 = #GP) and the u64 at 16 (data read) go back on the next run(). */
  | { kind: 'rdmsr' | 'wrmsr'; index: number; data: bigint; reason: number; reply: Uint8Array }
  | { kind: 'unknown'; reason: number };

export type VcpuExitKind = VcpuExit['kind'];

export interface MemoryRegionSpec {
  slot: number;
  guestPhys: number;
  size: number;
  /** Guest RAM: the shared buffer and the (page-aligned) offset of this region in it. */
  buffer: SharedArrayBuffer;
  offset: number;
  readonly?: boolean;
  logDirtyPages?: boolean;
}

/** Accumulated by the addon while vcpu.setTiming(true): time inside the KVM_RUN ioctl. */
export interface RunStats {
  /** KVM_RUN calls timed. */
  runs: number;
  /** Nanoseconds spent inside KVM_RUN (CLOCK_MONOTONIC around the ioctl). */
  nsInKvmRun: number;
}

/** The guest's own debug registers (KVM_GET_DEBUGREGS). */
export interface DebugRegs { db: bigint[]; dr6: bigint; dr7: bigint }
