/**
 * A virtual machine as seen from the main thread. Guest RAM is a
 * SharedArrayBuffer every thread sees; each vCPU runs KVM_RUN on its own
 * worker thread and handles its exits there (ARCHITECTURE rules 2, 3; the
 * devices live on vCPU 0's thread, the others reach them through
 * device-mailbox.ts). This side never blocks: it sends commands, kicks vCPUs
 * through the addon, and turns the workers' events and the console ring into
 * EventEmitter events:
 *   'output' (Uint8Array)              guest console bytes, batched
 *   'stopped' (StopReason, rip, vcpu)  one vCPU stopped (pause, step, breakpoint)
 *   'ended' (VmEnd)                    the VM is over; every vCPU thread is gone
 *   'log' (level, message)             guest errors and notes from the devices
 * Per-vCPU operations take the vCPU index last (default 0); resume() and
 * pause() without one act on every vCPU. Whatever ends the VM on any vCPU
 * (power-off, reset, triple fault) ends all of them.
 */
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { GuestMemory, pcRamRegions, sharedBufferSizeFor } from '../memory/guest-memory';
import { loadKernel } from '../boot/detect';
import type { BootInfo } from '../boot/boot-state';
import { readUserFile } from './user-files';
import { virtioLayout, type VirtioSlot } from '../virtio/layout';
import { checkDiskFile } from '../virtio/disk-check';
import { checkAtaDisks } from '../devices/ata-attach';
import { explainHostFailure } from '../host/kvm-errors';
import { SharedRing } from './shared-ring';
import { ExitStats, ExitStatsSum } from './exit-stats';
import { ExitRing } from './exit-ring';
import { CONTROL_INPUT, type DeviceSnapshot, type MachineOptions, type RangeStepRequest, type StopReason, type VmEnd, type WorkerInit } from './protocol';
import { pageAlignedOffset } from '../../native';
import { VcpuThread, type VcpuRequest, type VcpuRunState } from './vcpu-thread';
import { createMailbox, VM_ENDING } from './device-mailbox';
import { MAX_CPUS } from '../acpi/madt';
import type { Fpu, GuestDebug, MsrEntry, Regs, Sregs, Translation } from '../../native/types';
import type { HwRequest, WatchMechanisms } from '../debug/hw-breakpoints';
import { probeHost } from './host-probe';
import { checkBootDiskFits, checkLinuxFits, isBiosBootDisk, isLinuxKernel } from '../host/guest-fit';
import { MEANINGS, works } from '../host/probe/capabilities';
import type { ExitBreakpointSpec } from '../debug/exit-filters';
import type { ArmResult } from '../debug/vcpu-debug';
import { int3From, type Int3Probe } from '../debug/int3-probe';
import { createDisplayBuffers, Display } from '../devices/display';
import { VRAM_BYTES } from '../devices/bochs-vbe';
import { KEY_RELEASE, keyIndex, type KeyEvent } from '../devices/scancodes';

export interface MachineConfig extends Partial<MachineOptions> {
  kernel: string;
  initrd?: string;
  /** Boot modules after the initrd (multiboot, multiboot2, PVH), each with its own command line (default: its path). */
  modules?: { path: string; cmdline?: string }[];
  cmdline?: string;
  /**
   * Probe the host at start (default true): debuggers need its answers
   * (int3 trap, watch mechanisms) at once; a plain `kvmdbg run` does not, and
   * starts a few hundred ms sooner (the probe runs later, on first need).
   */
  probeHost?: boolean;
}

export const DEFAULT_MEMORY = 256 * 1024 * 1024;

/** The most vCPUs a machine may have here: the host's CPUs (and what the MADT can describe). */
export function maxCpus(): number {
  return Math.min(availableParallelism(), MAX_CPUS);
}

export class Machine extends EventEmitter {
  readonly memory: GuestMemory;
  readonly boot: BootInfo;
  /** Exit counts of all vCPUs (each counts its own). */
  readonly exits: ExitStatsSum;
  /** The last 64 exits of vCPU 0, written by its thread (no RIP: see exit-ring.ts). */
  readonly exitRing: ExitRing;
  private readonly threads: VcpuThread[];
  private readonly consoleOut: SharedRing;
  private readonly consoleIn: SharedRing;
  private readonly keysIn: SharedRing;
  /** The guest's screen (registers and framebuffer), readable any time from this thread (vmm/screen renders it). */
  readonly display: Display;
  private readonly vmState = new Int32Array(new SharedArrayBuffer(4));
  private ending?: VmEnd;
  private end?: VmEnd;
  /** Whether a planted int3 stops a vCPU on this host (the host probe, once per process; ARCHITECTURE rule 6). */
  int3: Int3Probe = { delivered: false, note: 'the host was not probed (Machine.create with probeHost: false)' };
  private readonly endPromise: Promise<VmEnd>;
  private resolveEnd!: (e: VmEnd) => void;

  private constructor(readonly options: MachineOptions, memory: GuestMemory, boot: BootInfo, readonly virtio: VirtioSlot[]) {
    super();
    this.memory = memory;
    this.boot = boot;
    this.exitRing = new ExitRing();
    this.consoleOut = SharedRing.create(1 << 16);
    this.consoleIn = SharedRing.create(1 << 12);
    this.keysIn = SharedRing.create(1 << 14);
    // The framebuffer follows guest RAM in RAM's buffer (display.ts says why), page-aligned as RAM is.
    const ramEnd = memory.regions.reduce((end, r) => Math.max(end, r.offset + r.size), 0);
    this.display = new Display(createDisplayBuffers({ buffer: memory.buffer, offset: ramEnd }));
    this.endPromise = new Promise((r) => { this.resolveEnd = r; });
    this.threads = Array.from({ length: options.cpus }, (_, id) => new VcpuThread(id, {
      // What the guest printed before it stopped reaches listeners before the stop does.
      stopped: (stop, rip) => { this.flushConsole(); this.emit('stopped', stop, rip, id); },
      ended: (end) => void this.endVm(end),
      log: (level, message) => this.emit('log', level, message),
      exit: (error) => void this.endVm(error
        ? { status: 70, kind: 'crash', message: `the thread of vCPU ${id} crashed: ${error.message}` }
        : { status: 70, kind: 'crash', message: `the thread of vCPU ${id} ended unexpectedly` }),
    }));
    this.exits = new ExitStatsSum(this.threads.map(() => new ExitStats()));
  }

  /**
   * Loads the kernel into a fresh VM and starts its vCPU threads, all
   * stopped: vCPU 0 at the entry point, the others waiting for the guest's
   * INIT/SIPI. Bad files and missing KVM reject with one sentence.
   */
  static async create(config: MachineConfig): Promise<Machine> {
    const options: MachineOptions = {
      memoryBytes: config.memoryBytes ?? DEFAULT_MEMORY,
      cpus: config.cpus ?? 1,
      debugExit: config.debugExit ?? true,
      disks: (config.disks ?? []).map((d) => ({ path: d.path, readOnly: d.readOnly, bus: d.bus })),
    };
    const most = maxCpus();
    if (!Number.isInteger(options.cpus) || options.cpus < 1 || options.cpus > most) {
      throw new Error(`--cpus ${options.cpus}: this host can run 1 to ${most} vCPUs (one thread each, up to its ${availableParallelism()} CPUs)`);
    }
    const kernel = readUserFile(config.kernel, 'kernel');
    // Before anything starts: a kernel this host cannot run gets one sentence now, not a silent spin.
    if (isLinuxKernel(kernel)) checkLinuxFits(config.kernel, await probeHost());
    else if (isBiosBootDisk(kernel)) checkBootDiskFits(config.kernel, await probeHost());
    for (const d of options.disks) checkDiskFile(d);
    checkAtaDisks(options.disks.filter((d) => d.bus === 'ide'));
    const virtio = virtioLayout(options.disks.filter((d) => d.bus !== 'ide'));
    const modules = [
      ...(config.initrd ? [{ path: config.initrd, data: readUserFile(config.initrd, 'initrd') }] : []),
      ...(config.modules ?? []).map((m) => ({ path: m.path, cmdline: m.cmdline, data: readUserFile(m.path, 'module') })),
    ];
    const buffer = new SharedArrayBuffer(sharedBufferSizeFor(options.memoryBytes) + VRAM_BYTES);
    const memory = new GuestMemory(buffer, pcRamRegions(options.memoryBytes, pageAlignedOffset(buffer)));
    const boot = loadKernel({ kernelPath: config.kernel, kernel, memory, cmdline: config.cmdline ?? '', modules, cpus: options.cpus, virtio });
    const machine = new Machine(options, memory, boot, virtio);
    try {
      await machine.startThreads(config.probeHost ?? true);
    } catch (e) {
      await machine.endVm({ status: 70, kind: 'crash', message: (e as Error).message });
      throw explainHostFailure(e);
    }
    return machine;
  }

  private async startThreads(probe: boolean): Promise<void> {
    const mailboxes = this.threads.map((_, i) => (i === 0 ? new SharedArrayBuffer(0) : createMailbox()));
    const common: Omit<WorkerInit, 'control' | 'state' | 'vcpuId' | 'lane'> = {
      options: this.options,
      memory: { buffer: this.memory.buffer, regions: [...this.memory.regions] },
      boot: this.boot,
      virtio: this.virtio,
      consoleOut: this.consoleOut.buffer,
      consoleIn: this.consoleIn.buffer,
      keysIn: this.keysIn.buffer,
      display: this.display.buffers,
      stats: new SharedArrayBuffer(0),
      mailboxes,
      vmState: this.vmState.buffer as SharedArrayBuffer,
    };
    this.pumpConsole();
    const [bsp, ...aps] = this.threads;
    const [ready, host] = await Promise.all([bsp.start({ ...common, stats: this.exits.parts[0].buffer, exitRing: this.exitRing.buffer }),
      probe ? probeHost() : undefined]);
    if (host) this.int3 = int3From(host);
    if (aps.length === 0) return;
    // APs create their vCPUs on vCPU 0's VM (fd numbers cross threads; Node objects do not).
    const ap = { vmFd: ready.vmFd!, deviceControl: bsp.control.buffer as SharedArrayBuffer, deviceKickToken: bsp.kickToken };
    await Promise.all(aps.map((t) => t.start({ ...common, stats: this.exits.parts[t.id].buffer, ap })));
  }

  private async pumpConsole(): Promise<void> {
    while (!this.consoleOut.closed || this.consoleOut.available > 0) {
      await this.consoleOut.waitForData();
      const bytes = this.consoleOut.drain();
      if (bytes.length > 0) this.emit('output', bytes);
    }
  }

  /** Ends the VM once: every vCPU thread is asked to stop (a stuck one is terminated); then 'ended'. */
  private async endVm(end: VmEnd): Promise<void> {
    if (this.ending) return;
    this.ending = end;
    Atomics.store(this.vmState, VM_ENDING, 1);
    await Promise.all(this.threads.map((t) => t.stop()));
    this.finish(end);
  }

  private finish(end: VmEnd): void {
    if (this.end) return;
    this.end = end;
    // Flush what the guest printed last before anyone hears it ended.
    this.flushConsole();
    this.consoleOut.close();
    for (const t of this.threads) t.failPending(end.message);
    this.emit('ended', end);
    this.resolveEnd(end);
  }

  private flushConsole(): void {
    const rest = this.consoleOut.drain();
    if (rest.length > 0) this.emit('output', rest);
  }

  /** 64 when the kernel is 64-bit code (PVH, ELF64 and Linux entries), whatever mode its entry starts in. */
  get kernelCodeBits(): 64 | undefined {
    return this.boot.protocol === 'multiboot' || this.boot.protocol === 'multiboot2' || this.boot.protocol === 'bios' ? undefined : 64;
  }

  /** How many vCPUs the machine has. */
  get cpus(): number { return this.threads.length; }
  /** True while any vCPU runs. */
  get running(): boolean { return this.threads.some((t) => t.state === 'running'); }
  get ended(): VmEnd | undefined { return this.end; }
  /** True while a step of any vCPU is in flight (pause() ends it). */
  get stepping(): boolean { return this.threads.some((t) => t.isStepping); }

  /** One vCPU's state. */
  vcpuState(vcpu: number): VcpuRunState { return this.thread(vcpu).state; }

  /** Resolves when the VM is over (guest power-off, debug exit, crash or stop()). */
  whenEnded(): Promise<VmEnd> { return this.endPromise; }

  private thread(vcpu: number): VcpuThread {
    const t = this.threads[vcpu];
    if (!t) throw new RangeError(`there is no vCPU ${vcpu} (this VM has ${this.threads.length})`);
    return t;
  }

  private on1(vcpu: number, cmd: VcpuRequest): Promise<any> {
    if (this.ending) return Promise.reject(new Error(`the VM has ended: ${this.ending.message}`));
    try {
      return this.thread(vcpu).request(cmd as never);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Applies a per-vCPU setting on every vCPU (breakpoints are the machine's); resolves with vCPU 0's answer. */
  private async onAll(cmd: VcpuRequest): Promise<any> {
    const results = await Promise.all(this.threads.map((_, i) => this.on1(i, cmd)));
    return results[0];
  }

  /** Lets one vCPU (or every stopped one) run until something stops it. */
  resume(vcpu?: number): void {
    if (this.ending) return;
    if (vcpu === undefined) for (const t of this.threads) t.resume();
    else this.thread(vcpu).resume();
  }

  /** Stops one running vCPU (or all) wherever it is (even spinning with interrupts off). */
  async pause(vcpu?: number): Promise<StopReason> {
    if (vcpu !== undefined) return this.thread(vcpu).pause();
    await Promise.all(this.threads.map((t) => t.pause()));
    return { reason: 'pause' };
  }

  /** Executes one guest instruction on one vCPU (the others stay as they are). */
  step(vcpu = 0): Promise<StopReason> { return this.on1(vcpu, { type: 'step' }); }
  /**
   * Single-steps one vCPU on its own thread while RIP stays in `req.ranges`
   * (range-step.ts); resolves once, with 'step' when it left them, or with
   * whatever stopped it on the way (a breakpoint, watchpoint, VM exit, pause).
   */
  rangeStep(req: RangeStepRequest, vcpu = 0): Promise<StopReason> { return this.on1(vcpu, { type: 'rangeStep', ...req }); }
  /** The code's width at this stop when the vCPU's registers from it are at hand (no round trip), else undefined. */
  codeBits(vcpu = 0): 16 | 32 | 64 | undefined { return this.thread(vcpu).codeBits(); }
  /** The registers at this stop (the copy the vCPU's thread left with the stop: no round trip); `fresh`: read from KVM now. */
  getRegs(vcpu = 0, fresh = false): Promise<Regs> { return this.on1(vcpu, { type: 'getRegs', fresh }); }
  getSregs(vcpu = 0, fresh = false): Promise<Sregs> { return this.on1(vcpu, { type: 'getSregs', fresh }); }
  setRegs(regs: Partial<Regs>, vcpu = 0): Promise<void> { return this.on1(vcpu, { type: 'setRegs', regs }); }
  setSregs(sregs: Partial<Sregs>, vcpu = 0): Promise<void> { return this.on1(vcpu, { type: 'setSregs', sregs }); }
  getFpu(vcpu = 0): Promise<Fpu> { return this.on1(vcpu, { type: 'getFpu' }); }
  setFpu(fpu: Fpu, vcpu = 0): Promise<void> { return this.on1(vcpu, { type: 'setFpu', fpu }); }
  /** The MSRs KVM lets us read, in order, up to the first it refuses. */
  getMsrs(indices: number[], vcpu = 0): Promise<MsrEntry[]> { return this.on1(vcpu, { type: 'getMsrs', indices }); }
  setGuestDebug(debug: GuestDebug, vcpu = 0): Promise<void> { return this.on1(vcpu, { type: 'setGuestDebug', debug }); }
  /** Replaces the hardware breakpoints and watchpoints (DR0-3) of every vCPU (all must be stopped). */
  async armHardware(requests: HwRequest[]): Promise<ArmResult> {
    return this.onAll({ type: 'armHardware', requests, mechanisms: await this.watchMechanisms() });
  }

  /** DR watchpoints where they fire; page protection for the rest (and everything, where they never do). */
  async watchMechanisms(): Promise<WatchMechanisms> {
    const host = await probeHost();
    return { drWatch: host.flavour === 'none' || works(host, 'dr-watchpoints'), pageWatch: works(host, 'readonly-slots') };
  }
  /** Which VM exits stop a vCPU before their device handles them (every vCPU; all must be stopped). */
  async setExitBreakpoints(spec: ExitBreakpointSpec): Promise<void> {
    if (spec.msr?.length) {
      const host = await probeHost();
      const msr = host.capabilities.find((c) => c.id === 'msr-exits');
      if (msr && !msr.works) throw new Error(`MSR breakpoints do not work on this host: ${MEANINGS['msr-exits'].no.replace(/^MSR breakpoints are refused: /, '')} (measured: ${msr.detail})`);
    }
    for (const t of this.threads) t.haltWatch.setEnabled(!!spec.hlt);
    return this.onAll({ type: 'setExitBreakpoints', spec });
  }
  /** Whether single steps may enter interrupt handlers; resolves true when steps really block interrupts. */
  setStepIntoInterrupts(into: boolean): Promise<boolean> { return this.onAll({ type: 'setStepIntoInterrupts', into }); }
  translate(gva: bigint, vcpu = 0): Promise<Translation> { return this.on1(vcpu, { type: 'translate', gva }); }
  /** Time spent inside KVM_RUN (needs setTiming(true)), to separate our own per-exit cost. */
  runStats(vcpu = 0): Promise<{ runs: number; nsInKvmRun: number }> { return this.on1(vcpu, { type: 'runStats' }); }
  setTiming(on: boolean, vcpu = 0): Promise<void> { return this.on1(vcpu, { type: 'setTiming', on }); }
  /** The board's devices and their state (vCPU 0 must be stopped: the devices live on its thread). */
  devices(): Promise<DeviceSnapshot[]> { return this.on1(0, { type: 'devices' }); }

  /** Host input for the guest's serial console. */
  sendInput(bytes: Uint8Array): void {
    if (this.ending) return;
    this.consoleIn.write(bytes, 0);
    this.threads[0].signal(CONTROL_INPUT);
  }

  /**
   * Keys for the guest's PS/2 keyboard, in order (scancodes.ts typeText
   * turns a string into them). Throws on an unknown key code, naming it.
   */
  sendKeys(events: readonly KeyEvent[]): void {
    const bytes = new Uint8Array(events.length);
    events.forEach((e, i) => {
      const index = keyIndex(e.code);
      if (index === undefined) throw new Error(`unknown key '${e.code}' (keys are named as KeyboardEvent.code: KeyA, Enter, ArrowUp, ...)`);
      bytes[i] = index | (e.down ? 0 : KEY_RELEASE);
    });
    if (this.ending || bytes.length === 0) return;
    const taken = this.keysIn.write(bytes, 0);
    this.threads[0].signal(CONTROL_INPUT);
    if (taken < bytes.length) throw new Error(`${bytes.length - taken} of ${bytes.length} key events were dropped: the guest has not read the ones before (it may be stopped)`);
  }

  /** Ends the VM (as Ctrl-C does) and resolves when every vCPU thread is gone. */
  async stop(message = 'stopped by the user'): Promise<VmEnd> {
    if (this.end) return this.end;
    await this.endVm({ status: 130, kind: 'stopped', message });
    return this.endPromise;
  }
}
