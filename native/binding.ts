/**
 * Private typing of the raw addon (build/Release/kvm.node). Only native/ uses
 * it; everyone else uses the hand-written API in native/index.ts.
 */
import type { CpuidEntry, DebugRegs, Fpu, MsrEntry, Regs, RunStats, Sregs, Translation, VcpuEvents } from './types';

export interface RawKvm {
  apiVersion(): number;
  checkExtension(cap: number): number;
  vcpuMmapSize(): number;
  supportedCpuid(): CpuidEntry[];
  msrIndexList(): number[];
  createVm(): RawVm;
  /** A Vm over a duplicate of `fd` (another thread's VM fd). */
  adoptVm(fd: number): RawVm;
  close(): void;
}

export interface RawVm {
  /** view: a Uint8Array over the whole guest RAM SharedArrayBuffer. */
  setUserMemoryRegion(slot: number, flags: number, guestPhys: number, size: number, view: Uint8Array, offset: number): void;
  setTssAddr(addr: bigint | number): void;
  setIdentityMapAddr(addr: bigint | number): void;
  createIrqchip(): void;
  createPit2(flags: number): void;
  irqLine(irq: number, level: number): void;
  checkExtension(cap: number): number;
  enableCap(cap: number, args: bigint[]): void;
  /** KVM_GET_DIRTY_LOG into `bitmap` (one bit a page; length a multiple of 8 bytes). */
  getDirtyLog(slot: number, bitmap: Uint8Array): void;
  /** exitView: a Uint8Array over a SharedArrayBuffer of exitBufferSize bytes. */
  createVcpu(id: number, exitView: Uint8Array): RawVcpu;
  fd(): number;
  close(): void;
}

export interface RawVcpu {
  /** The KVM exit reason (see ExitReason), or exitInterrupted; fields are in the exit buffer. */
  run(): number;
  completePendingIo(): number;
  kickToken(): number;
  id(): number;
  kick(): boolean;
  setTiming(on: boolean, reset: boolean): void;
  runStats(): RunStats;
  close(): void;
  setSyncRegs(mask: number): void;
  /** kvm_regs at 0 and/or kvm_sregs at 144 (mask: KVM_SYNC_X86_REGS 1, _SREGS 2), from kvm_run when synced, else by ioctl. */
  readState(view: Uint8Array, mask: number): void;
  getRegs(): Regs;
  setRegs(regs: Partial<Regs>): void;
  getSregs(): Sregs;
  setSregs(sregs: Partial<Sregs>): void;
  getFpu(): Fpu;
  setFpu(fpu: Fpu): void;
  getXsave(): Uint8Array;
  setXsave(xsave: Uint8Array): void;
  getMsrs(indices: number[]): MsrEntry[];
  setMsrs(entries: MsrEntry[]): number;
  setCpuid2(entries: CpuidEntry[]): void;
  getLapic(): Uint8Array;
  setLapic(lapic: Uint8Array): void;
  getMpState(): number;
  setMpState(state: number): void;
  getVcpuEvents(): VcpuEvents;
  dropException(): boolean;
  getDebugRegs(): DebugRegs;
  setGuestDebug(control: number, debugreg: bigint[]): void;
  translate(gva: bigint | number): Translation;
}

export interface RawBinding {
  RawKvm: new (path?: string) => RawKvm;
  kick(token: number): boolean;
  /** view: a Uint8Array over the SharedArrayBuffer. */
  pageAlignedOffset(view: Uint8Array): number;
  setErrorClass(ctor: new (message: string, ioctl: string, errno: number, code: string | undefined) => Error): void;
  readonly exitBufferSize: number;
  readonly exitInterrupted: number;
  readonly kickSignal: number;
  readonly kvmApiVersion: number;
  /** A raw futex wait on the word at byte `offset` of `view` (native/src/futex.cc). */
  futexWait(view: Uint8Array, offset: number, expected: number, timeoutMs: number): 'changed' | 'timed-out';
  /** Wakes up to `count` futexWait callers on the word; how many it woke. */
  futexWake(view: Uint8Array, offset: number, count: number): number;
  /** KVM_X86_SET_MSR_FILTER on the VM fd (native/src/msr_filter.cc). */
  setMsrFilter(vmFd: number, flags: number, ranges: { flags: number; base: number; nmsrs: number; bitmap: Uint8Array }[]): void;
}
