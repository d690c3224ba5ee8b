/**
 * What the GDB stub needs from the machine. The machine's debug controller
 * implements it; the stub (session.ts) only talks to this interface, so it is
 * tested against a fake target without KVM.
 */
import type { Fpu, Regs, Sregs } from '../../native/types';

export type StopKind =
  | { kind: 'signal'; signal: number }
  | { kind: 'swbreak' }
  | { kind: 'hwbreak' }
  | { kind: 'watch'; access: 'write' | 'read' | 'access'; address: bigint }
  | { kind: 'exited'; status: number };

export interface GdbStop { vcpu: number; stop: StopKind }

/** GDB's Z/z type numbers: 0 software breakpoint, 1 hardware breakpoint, 2 write, 3 read, 4 access watchpoint. */
export type BreakpointType = 0 | 1 | 2 | 3 | 4;

export interface GdbTarget {
  /** vCPU indices; thread ids are vcpu+1 in the protocol. */
  vcpus(): number[];
  readRegisters(vcpu: number): Promise<{ regs: Regs; sregs: Sregs; fsBase: bigint; gsBase: bigint; kernelGsBase: bigint }>;
  writeRegisters(vcpu: number, regs: Partial<Regs>, sregs?: Partial<Sregs>): Promise<void>;
  /** Virtual addresses, through that vCPU's page tables. `readable`: bytes readable from the start. */
  readMemory(vcpu: number, address: bigint, length: number): Promise<{ data: Uint8Array; readable: number }>;
  /** Returns the number of bytes written (from the start). */
  writeMemory(vcpu: number, address: bigint, data: Uint8Array): Promise<number>;
  /** Z0..Z4 semantics; `kind` is the breakpoint length (1 for int3) or the watched length. */
  insertBreakpoint(type: BreakpointType, address: bigint, kind: number): Promise<'ok' | 'unsupported' | 'error'>;
  removeBreakpoint(type: BreakpointType, address: bigint, kind: number): Promise<'ok' | 'unsupported' | 'error'>;
  /** vCont semantics, per vCPU; a vCPU absent from the map stays stopped. A stop arrives later via onStop. */
  resume(actions: Map<number, 'continue' | 'step' | 'stop'>): void;
  /** Ctrl-C: pause all vCPUs; a stop arrives via onStop. */
  interrupt(): void;
  /** One event per stop of the whole machine (all-stop mode). */
  onStop(listener: (s: GdbStop) => void): void;
  /** qRcmd (gdb's `monitor`): the text output. Throwing reports the message to gdb. */
  monitor(command: string): Promise<string>;
  /** Resume all and leave the VM running. */
  detach(): void;
  /** End the VM. */
  kill(): void;

  // ---- optional ----

  /**
   * The machine's current stop while it is stopped, undefined while it runs.
   * Used to answer `?` when gdb attaches. Without it, `?` calls interrupt(),
   * which must then deliver an onStop event even if the machine is already stopped.
   */
  currentStop?(): GdbStop | undefined;
  /** x87/SSE state (KVM_GET_FPU). Without it, gdb sees st0-7, xmm0-15 etc. as <unavailable>. */
  readFpu?(vcpu: number): Promise<Fpu>;
  writeFpu?(vcpu: number, fpu: Fpu): Promise<void>;
  /** MSR_KERNEL_GS_BASE; without it k_gs_base is read-only. */
  writeKernelGsBase?(vcpu: number, value: bigint): Promise<void>;
  /** One line shown by gdb's `info threads` (qThreadExtraInfo), e.g. "vCPU 0 (long mode)". */
  threadInfo?(vcpu: number): string;
}
