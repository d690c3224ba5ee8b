/**
 * Run control of the machine for the adapter, all-stop (as VS Code shows
 * it: allThreadsStopped): running/stopped state, the vCPU in focus (the one
 * that stopped, or the thread the user stepped; its paging is what memory
 * references go through), each vCPU's registers at this stop (fetched once
 * a stop, on demand), and "stop
 * briefly to change something" for requests that arrive while the guest
 * runs (breakpoints set in a running session). Never blocks: every
 * operation is a promise on the Machine's messages.
 */
import type { Machine } from '../vmm/machine/machine';
import { AllStop } from '../vmm/machine/all-stop';
import type { RangeStepRequest, StopReason } from '../vmm/machine/protocol';
import type { Regs, Sregs } from '../native/types';
import type { PagingState } from '../vmm/debug/page-walk';

export type VcpuState = 'stopped' | 'running' | 'ended';

/** What the session does around every resume and stop (software breakpoints: plant, lift). */
export interface RunHooks {
  /** Before resuming, while stopped (may single-step the current vCPU); a stop it returns is the run's stop. */
  prepare?(): Promise<StopReason | undefined>;
  /** Synchronously right before the vCPUs resume: nothing else can run in between. */
  resuming?(): void;
  /** Synchronously at every machine stop, before anyone is told of it. */
  stopped?(): void;
}

export class VcpuControl {
  state: VcpuState = 'stopped';
  /** The vCPU in focus: the one that stopped first, or the thread the user stepped; 0 until something stops. */
  id = 0;
  private readonly allStop: AllStop;
  /** Per vCPU, cleared whenever anything may run. */
  private readonly regsCache = new Map<number, Promise<Regs>>();
  private readonly sregsCache = new Map<number, Promise<Sregs>>();
  /** Last known paging state (kept while running, for physical reads by virtual address). */
  paging?: PagingState;
  private waiter?: (s: StopReason | undefined) => void;
  /** Set while an internal pause holds the vCPU; resolves when it may run again. */
  internalHold?: Promise<void>;
  hooks: RunHooks = {};

  constructor(readonly machine: Machine) {
    this.allStop = new AllStop(machine);
    this.allStop.on('stop', (vcpu: number, stop: StopReason) => {
      this.state = 'stopped';
      this.hooks.stopped?.();
      this.id = vcpu;
      this.invalidate();
      this.prefetch();
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

  /** The DAP thread id of the current stop's vCPU (threads are vCPU index + 1). */
  get threadId(): number {
    return this.id + 1;
  }

  get name(): string {
    return `vCPU ${this.id} (${this.state})`;
  }

  /** One DAP thread per vCPU, named with its state. */
  threads(): { id: number; name: string }[] {
    return Array.from({ length: this.machine.cpus }, (_, v) => ({
      id: v + 1,
      name: `vCPU ${v} (${this.machine.ended ? 'ended' : this.machine.vcpuState(v)})`,
    }));
  }

  /** Whether another vCPU's stop, held since it hit at the same moment as the reported one, is still worth reporting. */
  set stillWanted(f: (vcpu: number, stop: StopReason) => boolean) { this.allStop.stillWanted = f; }

  /** True when `threadId` names one of this machine's vCPUs. */
  hasThread(threadId: number): boolean {
    return Number.isInteger(threadId) && threadId >= 1 && threadId <= this.machine.cpus;
  }

  /** Puts `vcpu` in focus (the user stepped or picked its thread): the memory view follows its paging. */
  focus(vcpu: number): void {
    if (vcpu === this.id) return;
    this.id = vcpu;
    this.paging = undefined;
  }

  private invalidate(): void {
    this.regsCache.clear();
    this.sregsCache.clear();
  }

  /**
   * After every stop the client asks for the stack and the registers at
   * once: start both reads (round trips to the vCPU thread) now, while the
   * stopped event travels. A failed read fails its callers as it would have.
   */
  private prefetch(): void {
    if (this.machine.ended) return;
    this.regs().catch(() => {});
    this.sregs().catch(() => {});
  }

  /** The code's width at this stop without decoding the system registers (Machine.codeBits), when it can say. */
  codeBits(vcpu = this.id): 16 | 32 | 64 | undefined {
    return this.machine.ended ? undefined : this.machine.codeBits(vcpu);
  }

  regs(vcpu = this.id): Promise<Regs> {
    let p = this.regsCache.get(vcpu);
    if (!p) this.regsCache.set(vcpu, (p = this.machine.getRegs(vcpu)));
    return p;
  }

  /** A vCPU's system registers; the focused one's also set the paging memory references go through. */
  async sregs(vcpu = this.id): Promise<Sregs> {
    let p = this.sregsCache.get(vcpu);
    if (!p) this.sregsCache.set(vcpu, (p = this.machine.getSregs(vcpu)));
    const s = await p;
    if (vcpu === this.id) this.paging = { cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer };
    return s;
  }

  async setRegs(regs: Partial<Regs>, vcpu = this.id): Promise<void> {
    await this.machine.setRegs(regs, vcpu);
    this.invalidate();
  }

  /**
   * Resumes every vCPU (or only `only`, DAP's singleThread: the others stay
   * stopped) and resolves with the next stop of the machine (undefined: the VM ended).
   */
  async run(only?: number): Promise<StopReason | undefined> {
    if (this.state === 'ended') return undefined;
    const early = await this.hooks.prepare?.();
    if (early) return early;
    if ((this.state as VcpuState) === 'ended') return undefined;
    this.invalidate();
    const p = new Promise<StopReason | undefined>((r) => { this.waiter = r; });
    this.hooks.resuming?.();
    this.state = 'running';
    this.allStop.resume(only === undefined ? undefined : new Map([[only, 'continue']]));
    return p;
  }

  /** One instruction on the vCPU in focus; the others stay stopped. */
  async step(): Promise<StopReason> {
    this.invalidate();
    try {
      return await this.machine.step(this.id);
    } finally {
      this.invalidate();
      // Whoever stepped reads RIP next (line stepping after every instruction, the UI's stack trace).
      if (!this.machine.ended) this.regs().catch(() => {});
    }
  }

  /** Steps the vCPU in focus while RIP is in `req.ranges`, on its thread (Machine.rangeStep); the run hooks plant and lift int3s around it. */
  async rangeStep(req: RangeStepRequest): Promise<StopReason> {
    const early = await this.hooks.prepare?.();
    if (early) return early;
    this.invalidate();
    this.hooks.resuming?.();
    try {
      return await this.machine.rangeStep(req, this.id);
    } finally {
      this.hooks.stopped?.();
      this.invalidate();
      if (!this.machine.ended) this.regs().catch(() => {});
    }
  }

  /** A user's pause: the pending run() resolves with reason 'pause'; a step still waiting (a halted vCPU) ends. */
  pause(): void {
    this.pauses++;
    if (this.state === 'running' || this.machine.stepping) this.allStop.interrupt();
  }

  /** User pauses so far: a line step made of several range steps ends at the next one after a pause. */
  pauses = 0;

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
      // Every vCPU stops (all-stop); the VM ending meanwhile also ends the wait.
      await new Promise<void>((resolve) => {
        this.allStop.once('stop', () => resolve());
        void this.machine.whenEnded().then(() => resolve());
        this.allStop.interrupt();
      });
      return await fn();
    } finally {
      if (this.internalHold === hold) this.internalHold = undefined;
      release();
    }
  }
}
