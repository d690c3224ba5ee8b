/**
 * All-stop run control over a Machine, as debuggers expect it (gdb's
 * default mode, DAP's allThreadsStopped): when one vCPU stops (breakpoint,
 * step, pause, VM-exit breakpoint), the others are paused before anyone is
 * told, and the stop is reported once, naming the vCPU that stopped first.
 * Stops of the other vCPUs on the way (the pauses this causes, or a second
 * breakpoint hit at the same moment) are absorbed. The Machine itself stays
 * per-vCPU (non-stop); this is a policy above it, shared by the debug
 * adapter and the GDB stub.
 *
 * Events: 'stop' (vcpu: number, stop: StopReason), once per machine stop.
 */
import { EventEmitter } from 'node:events';
import type { Machine } from './machine';
import type { StopReason } from './protocol';

export type VcpuAction = 'continue' | 'step';

export class AllStop extends EventEmitter {
  /** True while the other vCPUs are being paused after a first stop. */
  private collecting = false;
  /** Bumped by every resume, so a step of an older run never reports into a newer one. */
  private generation = 0;
  /** Steps in flight (a stepping vCPU is not 'running' for the Machine, but the stop is still to come). */
  private stepping = 0;

  constructor(private readonly machine: Machine) {
    super();
    machine.on('stopped', (stop: StopReason, _rip: bigint, vcpu = 0) => this.stopped(vcpu, stop));
  }

  /** True while any vCPU runs (whoever resumed it) or a stop is being collected. */
  get running(): boolean { return this.collecting || this.stepping > 0 || this.machine.running; }

  /**
   * Resumes the machine: every vCPU continues, or each as `actions` says
   * (a vCPU absent from the map stays stopped, as in gdb's vCont).
   */
  resume(actions?: ReadonlyMap<number, VcpuAction>): void {
    if (this.machine.ended) return;
    const generation = ++this.generation;
    for (let v = 0; v < this.machine.cpus; v++) {
      const action = actions ? actions.get(v) : 'continue';
      if (action === 'continue') this.machine.resume(v);
      else if (action === 'step') {
        this.stepping++;
        this.machine.step(v).then(
          (stop) => { this.stepping--; if (generation === this.generation) this.stopped(v, stop); },
          () => { this.stepping--; },
        );
      }
    }
  }

  /** Pauses every vCPU; the 'stop' event follows (reason 'pause' unless something else stopped first). */
  interrupt(): void {
    if (this.machine.running) void this.machine.pause();
  }

  private stopped(vcpu: number, stop: StopReason): void {
    if (this.collecting) return;
    this.collecting = true;
    this.machine.pause().then(() => {
      this.collecting = false;
      if (!this.machine.ended) this.emit('stop', vcpu, stop);
    }, () => { this.collecting = false; });
  }
}
