/**
 * Messages between the main thread (Machine) and a vCPU worker. Hot data
 * (console bytes, exit counts, control flags) does not travel here: it lives
 * in shared buffers. Messages carry commands and rare events only.
 */
import type { BootInfo } from '../boot/boot-state';
import type { RamRegion } from '../memory/guest-memory';
import type { GuestDebug, Regs, Sregs, Translation, VcpuExit } from '../../native/types';

export interface MachineOptions {
  memoryBytes: number;
  cpus: number;
  /** isa-debug-exit at port 0xF4 (QEMU-compatible); on by default. */
  debugExit: boolean;
}

export interface WorkerInit {
  vcpuId: number;
  options: MachineOptions;
  memory: { buffer: SharedArrayBuffer; regions: RamRegion[] };
  boot: BootInfo;
  consoleOut: SharedArrayBuffer;
  consoleIn: SharedArrayBuffer;
  control: SharedArrayBuffer;
  stats: SharedArrayBuffer;
}

/** Bits in the control word: why the main thread kicked the vCPU. */
export const CONTROL_PAUSE = 1;
export const CONTROL_INPUT = 2;
export const CONTROL_STOP = 4;

/** Why a vCPU stopped running and returned to its command loop. */
export type StopReason =
  | { reason: 'pause' }
  | { reason: 'step' }
  | { reason: 'breakpoint'; exit: VcpuExit & { kind: 'debug' } }
  | { reason: 'entry' };

/** Why the VM ended. `status` is the process exit status kvmdbg run returns. */
export interface VmEnd {
  status: number;
  /** One sentence for the user. */
  message: string;
  kind: 'poweroff' | 'debug-exit' | 'reset' | 'triple-fault' | 'internal-error' | 'fail-entry' | 'stopped' | 'crash';
}

export type Command =
  | { type: 'continue' }
  | { type: 'step'; id: number }
  | { type: 'getRegs'; id: number }
  | { type: 'getSregs'; id: number }
  | { type: 'setRegs'; id: number; regs: Partial<Regs> }
  | { type: 'setGuestDebug'; id: number; debug: GuestDebug }
  | { type: 'translate'; id: number; gva: bigint }
  | { type: 'runStats'; id: number }
  | { type: 'setTiming'; id: number; on: boolean }
  | { type: 'stop' };

export type Event =
  | { type: 'ready'; kickToken: number }
  | { type: 'initFailed'; message: string }
  | { type: 'stopped'; stop: StopReason; rip: bigint }
  | { type: 'ended'; end: VmEnd }
  | { type: 'reply'; id: number; result?: unknown; error?: string }
  | { type: 'log'; level: 'info' | 'guest-error'; message: string };

export type ReplyOf = {
  step: StopReason; getRegs: Regs; getSregs: Sregs; setRegs: void; setGuestDebug: void;
  translate: Translation; runStats: { runs: number; nsInKvmRun: number }; setTiming: void;
};
