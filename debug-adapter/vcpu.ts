/**
 * Run control of one vCPU for the adapter: running/stopped state, the
 * register snapshot of the current stop (fetched once a stop), and
 * "stop briefly to change something" for requests that arrive while the
 * guest runs (breakpoints set in a running session). Never blocks: every
 * operation is a promise on the Machine's messages.
 */
import type { Machine } from '../vmm/machine/machine';
import type { StopReason } from '../vmm/machine/protocol';
import type { Regs, Sregs } from '../native/types';
import type { PagingState } from '../vmm/debug/page-walk';

export type VcpuState = 'stopped' | 'running' | 'ended';

export class VcpuControl {
  state: VcpuState = 'stopped';
  private regsCache?: Promise<Regs>;
  private sregsCache?: Promise<Sregs>;
  /** Last known paging state (kept while running, for physical reads by virtual address). */
  paging?: PagingState;
  private waiter?: (s: StopReason | undefined) => void;
  /** Set while an internal pause holds the vCPU; resolves when it may run again. */
  internalHold?: Promise<void>;

  constructor(readonly machine: Machine, readonly id = 0) {
    machine.on('stopped', (stop: StopReason) => {
      this.state = 'stopped';
      const w = this.waiter;
      this.waiter = undefined;
      w?.(stop);
    });
    machine.on('ended', () => {
      this.state = 'ended';
      const w = this.waiter;
      this.waiter = undefined;
      w?.(undefined);
    });
  }

  get name(): string {
    return `vCPU ${this.id} (${this.state})`;
  }

  private invalidate(): void {
    this.regsCache = undefined;
    this.sregsCache = undefined;
  }

  regs(): Promise<Regs> {
    return (this.regsCache ??= this.machine.getRegs());
  }

  async sregs(): Promise<Sregs> {
    const s = await (this.sregsCache ??= this.machine.getSregs());
    this.paging = { cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer };
    return s;
  }

  async setRegs(regs: Partial<Regs>): Promise<void> {
    await this.machine.setRegs(regs);
    this.invalidate();
  }

  /** Resumes and resolves with the next stop (undefined: the VM ended). */
  run(): Promise<StopReason | undefined> {
    if (this.state === 'ended') return Promise.resolve(undefined);
    this.invalidate();
    const p = new Promise<StopReason | undefined>((r) => { this.waiter = r; });
    this.state = 'running';
    this.machine.resume();
    return p;
  }

  async step(): Promise<StopReason> {
    this.invalidate();
    try {
      return await this.machine.step();
    } finally {
      this.invalidate();
    }
  }

  /** A user's pause: the pending run() resolves with reason 'pause'. */
  pause(): void {
    if (this.state === 'running') void this.machine.pause();
  }

  /**
   * Runs `fn` with the vCPU stopped. When it was running, it is paused
   * first and the run loop (which sees a 'pause' while internalHold is set)
   * resumes it afterwards.
   */
  async withStopped<T>(fn: () => Promise<T>): Promise<T> {
    if (this.state !== 'running') return fn();
    let release!: () => void;
    const hold = new Promise<void>((r) => { release = r; });
    this.internalHold = hold;
    try {
      await this.machine.pause();
      return await fn();
    } finally {
      if (this.internalHold === hold) this.internalHold = undefined;
      release();
    }
  }
}
