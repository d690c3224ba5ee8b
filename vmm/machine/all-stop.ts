/**
 * All-stop run control over a Machine, as debuggers expect it (gdb's
 * default mode, DAP's allThreadsStopped): when one vCPU stops (breakpoint,
 * step, pause, VM-exit breakpoint), the others are paused before anyone is
 * told, and the stop is reported once, naming the vCPU that stopped first.
 * The pauses this causes on the way are absorbed; a second vCPU's own stop
 * at the same moment (it hit a breakpoint too) is kept, as gdb keeps a
 * pending status: the next resume reports it at once, without running
 * anything, if that vCPU is still where it stopped. The Machine itself stays
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
  /** Other vCPUs' stops that came while collecting, with their RIP then: reported by later resumes. */
  private readonly pending = new Map<number, { stop: StopReason; rip: bigint }>();
  /**
   * Whether a pending stop still means something when its turn comes (the
   * debugger may have removed that breakpoint meanwhile). Default: yes.
   */
  stillWanted: (vcpu: number, stop: StopReason) => boolean = () => true;

  constructor(private readonly machine: Machine) {
    super();
    machine.on('stopped', (stop: StopReason, rip: bigint, vcpu = 0) => this.stopped(vcpu, stop, rip));
    machine.on('ended', () => this.pending.clear());
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
    const actionOf = (v: number): VcpuAction | undefined => (actions ? actions.get(v) : 'continue');
    // A vCPU that is stepped moves on from its pending stop; one left stopped keeps it.
    for (const v of [...this.pending.keys()]) if (actionOf(v) === 'step') this.pending.delete(v);
    const due = [...this.pending.keys()].filter((v) => actionOf(v) === 'continue');
    if (due.length === 0) { this.start(actionOf, generation); return; }
    this.collecting = true;
    void this.reportPending(due, actionOf, generation);
  }

  /** Reports the first pending stop that still holds (nothing runs); with none left, resumes for real. */
  private async reportPending(due: number[], actionOf: (v: number) => VcpuAction | undefined, generation: number): Promise<void> {
    for (const v of due) {
      const p = this.pending.get(v);
      this.pending.delete(v);
      if (!p || this.machine.ended) continue;
      const rip = await this.machine.getRegs(v).then((r) => r.rip, () => undefined);
      if (rip !== p.rip || !this.stillWanted(v, p.stop)) continue;
      this.collecting = false;
      if (generation === this.generation && !this.machine.ended) this.emit('stop', v, p.stop);
      return;
    }
    this.collecting = false;
    if (generation === this.generation) this.start(actionOf, generation);
  }

  private start(actionOf: (v: number) => VcpuAction | undefined, generation: number): void {
    for (let v = 0; v < this.machine.cpus; v++) {
      const action = actionOf(v);
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
    if (this.machine.running || this.machine.stepping) void this.machine.pause();
  }

  private stopped(vcpu: number, stop: StopReason, rip?: bigint): void {
    if (this.collecting) {
      if (stop.reason !== 'pause' && rip !== undefined) this.pending.set(vcpu, { stop, rip });
      return;
    }
    this.collecting = true;
    this.machine.pause().then(() => {
      this.collecting = false;
      if (!this.machine.ended) this.emit('stop', vcpu, stop);
    }, () => { this.collecting = false; });
  }
}
