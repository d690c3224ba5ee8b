/**
 * A virtual machine as seen from the main thread. Guest RAM is a
 * SharedArrayBuffer both threads see; the vCPU runs KVM_RUN on its own
 * worker thread and handles its exits there (ARCHITECTURE rules 2, 3). This
 * side never blocks: it sends commands, kicks the vCPU through the addon,
 * and turns the worker's events and the console ring into EventEmitter events:
 *   'output' (Uint8Array)  guest console bytes, batched
 *   'stopped' (StopReason) the vCPU stopped (pause, step, breakpoint)
 *   'ended' (VmEnd)        the VM is over; the worker is gone
 *   'log' (level, message) guest errors and notes from the devices
 */
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { GuestMemory, pcRamRegions, sharedBufferSizeFor } from '../memory/guest-memory';
import { loadKernel } from '../boot/detect';
import type { BootInfo } from '../boot/boot-state';
import { readUserFile } from './user-files';
import { virtioLayout, type VirtioSlot } from '../virtio/layout';
import { checkDiskFile } from '../virtio/disk-check';
import { SharedRing } from './shared-ring';
import { ExitStats } from './exit-stats';
import { ExitRing } from './exit-ring';
import {
  CONTROL_INPUT, CONTROL_PAUSE, CONTROL_STOP,
  type Command, type DeviceSnapshot, type Event, type MachineOptions, type ReplyOf, type StopReason, type VmEnd, type WorkerInit,
} from './protocol';
import { kick, pageAlignedOffset } from '../../native';
import type { Fpu, GuestDebug, MsrEntry, Regs, Sregs, Translation } from '../../native/types';
import type { HwRequest } from '../debug/hw-breakpoints';
import type { ExitBreakpointSpec } from '../debug/exit-filters';
import type { ArmResult } from '../debug/vcpu-debug';
import type { Int3Probe } from '../debug/int3-probe';

export interface MachineConfig extends Partial<MachineOptions> {
  kernel: string;
  initrd?: string;
  cmdline?: string;
}

export const DEFAULT_MEMORY = 256 * 1024 * 1024;

type State = 'starting' | 'stopped' | 'running' | 'ended';

export class Machine extends EventEmitter {
  readonly memory: GuestMemory;
  readonly boot: BootInfo;
  readonly exits: ExitStats;
  /** The last 64 exits, written by the vCPU thread (no RIP: see exit-ring.ts). */
  readonly exitRing: ExitRing;
  private state: State = 'starting';
  private worker!: Worker;
  private kickToken = -1;
  private readonly control: Int32Array;
  private readonly consoleOut: SharedRing;
  private readonly consoleIn: SharedRing;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private stopWaiters: ((s: StopReason) => void)[] = [];
  private end?: VmEnd;
  private stopMessage?: string;
  /** Whether this host delivers int3 as a debug exit (probed at start; ARCHITECTURE rule 6). */
  int3: Int3Probe = { delivered: false, note: 'not probed yet' };
  private readonly endPromise: Promise<VmEnd>;
  private resolveEnd!: (e: VmEnd) => void;

  private constructor(readonly options: MachineOptions, memory: GuestMemory, boot: BootInfo, readonly virtio: VirtioSlot[]) {
    super();
    this.memory = memory;
    this.boot = boot;
    this.exits = new ExitStats();
    this.exitRing = new ExitRing();
    this.control = new Int32Array(new SharedArrayBuffer(4));
    this.consoleOut = SharedRing.create(1 << 16);
    this.consoleIn = SharedRing.create(1 << 12);
    this.endPromise = new Promise((r) => { this.resolveEnd = r; });
  }

  /**
   * Loads the kernel into a fresh VM and starts its vCPU thread, stopped at
   * the entry point. Bad files and missing KVM reject with one sentence.
   */
  static async create(config: MachineConfig): Promise<Machine> {
    const options: MachineOptions = {
      memoryBytes: config.memoryBytes ?? DEFAULT_MEMORY,
      cpus: config.cpus ?? 1,
      debugExit: config.debugExit ?? true,
      disks: (config.disks ?? []).map((d) => ({ path: d.path, readOnly: d.readOnly })),
    };
    if (options.cpus !== 1) throw new Error(`--cpus ${options.cpus}: kvmdbg runs one vCPU for now (SMP is not implemented yet)`);
    const kernel = readUserFile(config.kernel, 'kernel');
    for (const d of options.disks) checkDiskFile(d);
    const virtio = virtioLayout(options.disks);
    const modules = config.initrd ? [{ path: config.initrd, data: readUserFile(config.initrd, 'initrd') }] : [];
    const buffer = new SharedArrayBuffer(sharedBufferSizeFor(options.memoryBytes));
    const memory = new GuestMemory(buffer, pcRamRegions(options.memoryBytes, pageAlignedOffset(buffer)));
    const boot = loadKernel({ kernelPath: config.kernel, kernel, memory, cmdline: config.cmdline ?? '', modules, cpus: options.cpus, virtio });
    const machine = new Machine(options, memory, boot, virtio);
    await machine.startWorker();
    return machine;
  }

  private startWorker(): Promise<void> {
    const init: WorkerInit = {
      vcpuId: 0,
      options: this.options,
      memory: { buffer: this.memory.buffer, regions: [...this.memory.regions] },
      boot: this.boot,
      virtio: this.virtio,
      consoleOut: this.consoleOut.buffer,
      consoleIn: this.consoleIn.buffer,
      control: this.control.buffer as SharedArrayBuffer,
      stats: this.exits.buffer,
      exitRing: this.exitRing.buffer,
    };
    this.worker = new Worker(join(__dirname, 'vcpu-worker.js'), { workerData: init });
    this.pumpConsole();
    return new Promise((resolve, reject) => {
      this.worker.on('message', (e: Event) => {
        if (e.type === 'ready') { this.kickToken = e.kickToken; this.int3 = e.int3; this.state = 'stopped'; resolve(); }
        else if (e.type === 'initFailed') { reject(new Error(e.message)); }
        else this.onEvent(e);
      });
      this.worker.on('error', (err) => {
        reject(err);
        this.finish({ status: 70, kind: 'crash', message: `the vCPU thread crashed: ${err.message}` });
      });
      this.worker.on('exit', () => {
        this.finish(this.stopMessage !== undefined
          ? { status: 130, kind: 'stopped', message: this.stopMessage }
          : { status: 70, kind: 'crash', message: 'the vCPU thread ended unexpectedly' });
      });
    });
  }

  private async pumpConsole(): Promise<void> {
    while (!this.consoleOut.closed || this.consoleOut.available > 0) {
      await this.consoleOut.waitForData();
      const bytes = this.consoleOut.drain();
      if (bytes.length > 0) this.emit('output', bytes);
    }
  }

  private onEvent(e: Event): void {
    switch (e.type) {
      case 'stopped': {
        this.state = 'stopped';
        const waiters = this.stopWaiters;
        this.stopWaiters = [];
        for (const w of waiters) w(e.stop);
        this.emit('stopped', e.stop, e.rip);
        break;
      }
      case 'ended': this.finish(e.end); break;
      case 'reply': {
        const p = this.pending.get(e.id);
        this.pending.delete(e.id);
        if (e.error !== undefined) p?.reject(new Error(e.error)); else p?.resolve(e.result);
        break;
      }
      case 'log': this.emit('log', e.level, e.message); break;
    }
  }

  private finish(end: VmEnd): void {
    if (this.end) return;
    this.end = end;
    this.state = 'ended';
    // Flush what the guest printed last before anyone hears it ended.
    const rest = this.consoleOut.drain();
    if (rest.length > 0) this.emit('output', rest);
    this.consoleOut.close();
    for (const p of this.pending.values()) p.reject(new Error(`the VM has ended: ${end.message}`));
    this.pending.clear();
    this.emit('ended', end);
    this.resolveEnd(end);
  }

  get running(): boolean { return this.state === 'running'; }
  get ended(): VmEnd | undefined { return this.end; }

  /** Resolves when the VM is over (guest power-off, debug exit, crash or stop()). */
  whenEnded(): Promise<VmEnd> { return this.endPromise; }

  private post(cmd: Command): void { this.worker.postMessage(cmd); }

  private request<K extends keyof ReplyOf>(cmd: Extract<Command, { type: K }> extends infer C ? Omit<C, 'id'> : never): Promise<ReplyOf[K]> {
    if (this.state === 'ended') return Promise.reject(new Error(`the VM has ended: ${this.end?.message}`));
    if (this.state === 'running') return Promise.reject(new Error('the vCPU is running: pause it first'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ ...(cmd as object), id } as Command);
    });
  }

  /** Lets the vCPU run until something stops it. */
  resume(): void {
    if (this.state !== 'stopped') return;
    this.state = 'running';
    this.post({ type: 'continue' });
  }

  private signal(bit: number): void {
    Atomics.or(this.control, 0, bit);
    if (this.kickToken >= 0) kick(this.kickToken);
  }

  /** Stops a running vCPU wherever it is (even spinning with interrupts off). */
  pause(): Promise<StopReason> {
    if (this.state !== 'running') return Promise.resolve({ reason: 'pause' });
    const stopped = new Promise<StopReason>((r) => this.stopWaiters.push(r));
    this.signal(CONTROL_PAUSE);
    return stopped;
  }

  /** Executes one guest instruction. */
  step(): Promise<StopReason> { return this.request<'step'>({ type: 'step' }); }
  getRegs(): Promise<Regs> { return this.request<'getRegs'>({ type: 'getRegs' }); }
  getSregs(): Promise<Sregs> { return this.request<'getSregs'>({ type: 'getSregs' }); }
  setRegs(regs: Partial<Regs>): Promise<void> { return this.request<'setRegs'>({ type: 'setRegs', regs }); }
  setSregs(sregs: Partial<Sregs>): Promise<void> { return this.request<'setSregs'>({ type: 'setSregs', sregs }); }
  getFpu(): Promise<Fpu> { return this.request<'getFpu'>({ type: 'getFpu' }); }
  setFpu(fpu: Fpu): Promise<void> { return this.request<'setFpu'>({ type: 'setFpu', fpu }); }
  /** The MSRs KVM lets us read, in order, up to the first it refuses. */
  getMsrs(indices: number[]): Promise<MsrEntry[]> { return this.request<'getMsrs'>({ type: 'getMsrs', indices }); }
  setGuestDebug(debug: GuestDebug): Promise<void> { return this.request<'setGuestDebug'>({ type: 'setGuestDebug', debug }); }
  /** Replaces the hardware breakpoints and watchpoints (DR0-3). */
  armHardware(requests: HwRequest[]): Promise<ArmResult> { return this.request<'armHardware'>({ type: 'armHardware', requests }); }
  /** Which VM exits stop the vCPU before their device handles them. */
  setExitBreakpoints(spec: ExitBreakpointSpec): Promise<void> { return this.request<'setExitBreakpoints'>({ type: 'setExitBreakpoints', spec }); }
  translate(gva: bigint): Promise<Translation> { return this.request<'translate'>({ type: 'translate', gva }); }
  /** Time spent inside KVM_RUN (needs setTiming(true)), to separate our own per-exit cost. */
  runStats(): Promise<{ runs: number; nsInKvmRun: number }> { return this.request<'runStats'>({ type: 'runStats' }); }
  setTiming(on: boolean): Promise<void> { return this.request<'setTiming'>({ type: 'setTiming', on }); }
  /** The board's devices and their state (the vCPU must be stopped: the devices live on its thread). */
  devices(): Promise<DeviceSnapshot[]> { return this.request<'devices'>({ type: 'devices' }); }

  /** Host input for the guest's serial console. */
  sendInput(bytes: Uint8Array): void {
    if (this.state === 'ended') return;
    this.consoleIn.write(bytes, 0);
    this.signal(CONTROL_INPUT);
  }

  /** Ends the VM (as Ctrl-C does) and resolves when its thread is gone. */
  async stop(message = 'stopped by the user'): Promise<VmEnd> {
    if (this.end) return this.end;
    this.stopMessage = message;
    if (this.state === 'starting') {
      await this.worker.terminate();
      return this.endPromise;
    }
    this.signal(CONTROL_STOP);
    this.post({ type: 'stop' });
    // A vCPU that does not come back within seconds is torn down hard.
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    const end = await this.endPromise;
    clearTimeout(timer);
    return end;
  }
}
