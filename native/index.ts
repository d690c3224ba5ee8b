/**
 * kvmdbg's KVM API: a thin typed wrapper of the KVM ioctls, shaped like
 * rust-vmm's kvm-ioctls (Kvm -> Vm -> Vcpu, exits as a tagged union).
 * Policy (devices, boot, debugging) lives above it.
 *
 *   const kvm = new Kvm();
 *   const vm = kvm.createVm();
 *   const ram = new SharedArrayBuffer(size + 4096);
 *   vm.setUserMemoryRegion({ slot: 0, guestPhys: 0, size, buffer: ram, offset: pageAlignedOffset(ram) });
 *   const vcpu = vm.createVcpu(0);
 *   for (;;) { const exit = vcpu.run(); ... }
 */
import { binding } from './addon';

export { Kvm } from './kvm';
export { Vm } from './vm';
export { Vcpu } from './vcpu';
export { KvmError } from './errors';
export { Cap, ExitReason, GuestDebugFlag, MemFlag, MpState, PitFlag, SystemEventType } from './constants';
export type * from './types';

/**
 * Stops the vCPU with this kickToken: its run() (on whatever thread) returns
 * { kind: 'interrupted' } promptly, even if the guest spins with interrupts
 * off; a kick before run() makes the next run() return at once. Callable
 * from any thread. False if no open vCPU has the token.
 */
export function kick(token: number): boolean {
  return binding.kick(token);
}

/** Bytes to skip at the start of `buffer` so that guest RAM starts page-aligned. */
export function pageAlignedOffset(buffer: SharedArrayBuffer): number {
  return binding.pageAlignedOffset(new Uint8Array(buffer));
}

/** The real-time signal a kick sends to the thread inside KVM_RUN. */
export const kickSignal: number = binding.kickSignal;
export { FutexWords } from './futex';
