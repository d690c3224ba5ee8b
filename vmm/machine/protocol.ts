/**
 * Messages between the main thread (Machine) and a vCPU worker. Hot data
 * (console bytes, exit counts, control flags) does not travel here: it lives
 * in shared buffers. Messages carry commands and rare events only.
 */
import type { BootInfo } from '../boot/boot-state';
import type { RamRegion } from '../memory/guest-memory';
import type { DiskSpec, VirtioSlot } from '../virtio/layout';
import type { Fpu, GuestDebug, MsrEntry, Regs, Sregs, Translation, VcpuExit } from '../../native/types';
import type { HwRequest, WatchAccess, WatchMechanisms } from '../debug/hw-breakpoints';
import type { ExitBreakpointSpec } from '../debug/exit-filters';
import type { ArmResult } from '../debug/vcpu-debug';
import type { DisplayBuffers } from '../devices/display';

export interface MachineOptions {
  memoryBytes: number;
  cpus: number;
  /** isa-debug-exit at port 0xF4 (QEMU-compatible); on by default. */
  debugExit: boolean;
  /** Raw disk images for virtio-blk (--disk FILE[,ro]), in order: /dev/vda first. */
  disks: DiskSpec[];
}

export interface WorkerInit {
  /** 0: the boot vCPU, which also owns the VM and the board's devices; others are APs. */
  vcpuId: number;
  options: MachineOptions;
  memory: { buffer: SharedArrayBuffer; regions: RamRegion[] };
  boot: BootInfo;
  /** The virtio-mmio devices (the same list the ACPI DSDT describes). */
  virtio: VirtioSlot[];
  consoleOut: SharedArrayBuffer;
  consoleIn: SharedArrayBuffer;
  /** Host key presses for the PS/2 keyboard: one byte each, KEY_CODES index | 0x80 on release. */
  keysIn: SharedArrayBuffer;
  /** The screen's registers and framebuffer (display.ts). */
  display: DisplayBuffers;
  /** This vCPU's control word (CONTROL_*). */
  control: SharedArrayBuffer;
  /** The fast lane for instruction steps (step-lane.ts). */
  lane: SharedArrayBuffer;
  /** This vCPU's registers at its last stop or step, raw (native/state-layout.ts): the worker writes, the main thread reads after the event. */
  state: SharedArrayBuffer;
  /** This vCPU's exit counters (exit-stats.ts). */
  stats: SharedArrayBuffer;
  /** The last exits (exit-ring.ts); vCPU 0 only for now (the VM-exits view shows vCPU 0's). */
  exitRing?: SharedArrayBuffer;
  /** Every AP's device mailbox (device-mailbox.ts), indexed by vCPU id (index 0 unused). */
  mailboxes: SharedArrayBuffer[];
  /** VM-wide state every thread sees (device-mailbox.ts VM_ENDING). */
  vmState: SharedArrayBuffer;
  /** APs only: how to reach the VM and vCPU 0 (whose thread owns both). */
  ap?: { vmFd: number; deviceControl: SharedArrayBuffer; deviceKickToken: number };
}

/** One device of the board as a devices view shows it (plain data: it crosses threads). */
export interface DeviceSnapshot {
  name: string;
  /** One line: "16550A at 0x3f8, IRQ 4". */
  description: string;
  details: [string, string][];
}

/** Bits in the control word: why the main thread kicked the vCPU. */
export const CONTROL_PAUSE = 1;
export const CONTROL_INPUT = 2;
export const CONTROL_STOP = 4;
/** vCPU 0 only: an AP waits in its device mailbox (device-mailbox.ts). */
export const CONTROL_DEVICE = 8;

/** Why a vCPU stopped running and returned to its command loop. */
export type StopReason =
  | { reason: 'pause' }
  | { reason: 'step' }
  | { reason: 'entry' }
  /** An instruction breakpoint at `address` (the vCPU is about to execute it). */
  | { reason: 'breakpoint'; address: bigint }
  /** A data watchpoint fired; the access has happened, RIP is after the instruction. */
  | { reason: 'watchpoint'; address: bigint; length: number; access: WatchAccess }
  /** A VM-exit breakpoint: the exit is not handled yet (an OUT has not reached its device). */
  | { reason: 'exit'; exit: VcpuExit; description: string }
  /** A debug exit that is none of ours (e.g. a #DB the guest caused itself). */
  | { reason: 'debug'; exit: VcpuExit & { kind: 'debug' } };

/** Why the VM ended. `status` is the process exit status kvmdbg run returns. */
export interface VmEnd {
  status: number;
  /** One sentence for the user. */
  message: string;
  kind: 'poweroff' | 'debug-exit' | 'reset' | 'triple-fault' | 'internal-error' | 'fail-entry' | 'stopped' | 'crash';
}

/** A range step (range-step.ts): single steps while RIP is in one of the [start, end) ranges. */
export interface RangeStepRequest {
  ranges: [bigint, bigint][];
  /** Run calls to their return address instead of stepping into them. */
  overCalls: boolean;
  /** The code's width: addresses and the stack's words are 32 or 64 bits. */
  bits: 32 | 64;
  /**
   * Instead of the ranges: execute one instruction, then run until RIP is
   * `address` with the stack pointer at least `minSp` (a step out, a call
   * stepped over: a recursive call reaching the same address deeper runs on).
   */
  out?: { address: bigint; minSp: bigint };
}

export type Command =
  | { type: 'continue' }
  | { type: 'step'; id: number }
  | ({ type: 'rangeStep'; id: number } & RangeStepRequest)
  /** `fresh`: from KVM now, not from the copy taken at the stop. */
  | { type: 'getRegs'; id: number; fresh?: boolean }
  | { type: 'getSregs'; id: number; fresh?: boolean }
  | { type: 'setRegs'; id: number; regs: Partial<Regs> }
  | { type: 'setSregs'; id: number; sregs: Partial<Sregs> }
  | { type: 'getFpu'; id: number }
  | { type: 'setFpu'; id: number; fpu: Fpu }
  | { type: 'getMsrs'; id: number; indices: number[] }
  | { type: 'setGuestDebug'; id: number; debug: GuestDebug }
  | { type: 'armHardware'; id: number; requests: HwRequest[]; mechanisms: WatchMechanisms }
  | { type: 'setExitBreakpoints'; id: number; spec: ExitBreakpointSpec }
  | { type: 'setStepIntoInterrupts'; id: number; into: boolean }
  | { type: 'translate'; id: number; gva: bigint }
  | { type: 'runStats'; id: number }
  | { type: 'setTiming'; id: number; on: boolean }
  | { type: 'devices'; id: number }
  | { type: 'stop' };

export type Event =
  /** vmFd: the VM fd (vCPU 0 only) that APs adopt to create their vCPUs. */
  | { type: 'ready'; kickToken: number; vmFd?: number }
  | { type: 'initFailed'; message: string }
  | { type: 'stopped'; stop: StopReason; rip: bigint; state?: StateAtStop }
  | { type: 'ended'; end: VmEnd }
  /** A step's reply carries the registers after it (state), as a stop does. */
  | { type: 'reply'; id: number; result?: unknown; error?: string; state?: StateAtStop }
  | { type: 'log'; level: 'info' | 'guest-error'; message: string };

/**
 * The registers as a vCPU stopped, along with the stop: a debugger asks for
 * them right after every stop and step, and each ask would otherwise be a
 * round trip to the vCPU's thread. `true`: they are in the vCPU's shared
 * state buffer (WorkerInit.state), raw, read by the main thread on receipt
 * (no structured clone of 60 bigints a step).
 */
export type StateAtStop = true;

export type ReplyOf = {
  step: StopReason; rangeStep: StopReason; getRegs: Regs; getSregs: Sregs; setRegs: void; setSregs: void; setGuestDebug: void;
  getFpu: Fpu; setFpu: void; getMsrs: MsrEntry[];
  armHardware: ArmResult; setExitBreakpoints: void; setStepIntoInterrupts: boolean;
  translate: Translation; runStats: { runs: number; nsInKvmRun: number }; setTiming: void;
  devices: DeviceSnapshot[];
};
