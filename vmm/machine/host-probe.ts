/**
 * What this host's KVM can do, measured once per process (ARCHITECTURE
 * rule 6) on a vCPU worker thread (KVM_RUN never runs on the main one).
 * A probe whose KVM_RUN does not return within its deadline is kicked and
 * counts as "no": some hosts loop inside KVM where others exit (PVM on an
 * invalid CPU state, for one).
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { kick } from '../../native';
import { KVM_DEVICE, insideSandbox, kvmProblem } from '../host/kvm-host';
import { kvmFlavour, withDerived, type CapabilityResult, type HostReport } from '../host/probe/capabilities';
import type { ProbeMessage } from '../host/probe/run-probes';

/** How long one probe's guest may run: µs on any real host; the emulated sandbox is ~100x slower. */
const deadlineMs = () => (insideSandbox() ? 3000 : 300);

let cached: Promise<HostReport> | undefined;

/** The host's report, probed on first use and cached for the process. */
export function probeHost(): Promise<HostReport> {
  cached ??= measure();
  return cached;
}

function measure(): Promise<HostReport> {
  const started = performance.now();
  const problem = kvmProblem();
  if (problem) return Promise.resolve({ flavour: 'none', problem, capabilities: [], probeMs: 0 });
  const flavour = kvmFlavour();
  return new Promise((resolve) => {
    const results: CapabilityResult[] = [];
    let timer: NodeJS.Timeout | undefined;
    const worker = new Worker(join(__dirname, 'vcpu-worker.js'), { workerData: { probe: true, device: KVM_DEVICE } });
    const finish = (failure?: string) => {
      if (timer) clearTimeout(timer);
      worker.unref();
      void worker.terminate();
      resolve({
        flavour,
        problem: failure,
        capabilities: failure && results.length === 0 ? [] : withDerived(results),
        probeMs: performance.now() - started,
      });
    };
    worker.on('message', (m: ProbeMessage) => {
      if (m.type === 'probe-vcpu') {
        if (timer) clearTimeout(timer);
        const deadline = Math.min(deadlineMs(), m.deadlineMs ?? Infinity) * (insideSandbox() ? 10 : 1);
        timer = setTimeout(() => {
          kick(m.kickToken);
          // A KVM that ignores even the kick: this probe is "no", and the others are done (it runs last).
          timer = setTimeout(() => {
            results.push({ id: m.id as CapabilityResult['id'], works: false, detail: 'KVM_RUN did not return even when kicked' });
            finish();
          }, deadlineMs());
        }, deadline);
      } else if (m.type === 'probe-result') {
        if (timer) clearTimeout(timer);
        timer = undefined;
        results.push(m.result);
      } else if (m.type === 'probe-failed') finish(m.message);
      else finish();
    });
    worker.on('error', (e) => finish(`the host probe failed: ${e.message}`));
    worker.on('exit', () => finish('the host probe ended early'));
  });
}
