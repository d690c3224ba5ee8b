/**
 * The vCPU-thread side of the host probe: runs every probe in order and
 * reports each result, and the kick token of each probe's vCPU before it
 * runs, so the main thread can stop a KVM that never returns
 * (vmm/machine/host-probe.ts).
 */
import type { MessagePort } from 'node:worker_threads';
import { Kvm } from '../../../native';
import { PROBES } from './probes';
import type { CapabilityResult } from './capabilities';

export type ProbeMessage =
  | { type: 'probe-vcpu'; id: string; kickToken: number; deadlineMs?: number }
  | { type: 'probe-result'; result: CapabilityResult }
  | { type: 'probe-failed'; message: string }
  | { type: 'probe-done' };

export function runProbes(port: Pick<MessagePort, 'postMessage'>, device: string): void {
  const post = (m: ProbeMessage) => port.postMessage(m);
  let kvm: Kvm;
  try {
    kvm = new Kvm(device);
  } catch (e) {
    post({ type: 'probe-failed', message: (e as Error).message });
    return;
  }
  try {
    for (const [id, probe] of PROBES) {
      const outcome = probe({ kvm, onVcpu: (kickToken, deadlineMs) => post({ type: 'probe-vcpu', id, kickToken, deadlineMs }) });
      post({ type: 'probe-result', result: { id, ...outcome } });
    }
  } finally {
    kvm.close();
  }
  post({ type: 'probe-done' });
}
