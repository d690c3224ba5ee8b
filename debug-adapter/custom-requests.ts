/**
 * The adapter's side of kvmdbg's DAP additions (protocol-extensions.ts):
 * the kvm/* requests and the kvm/console and kvm/state events. session.ts
 * hands it the machine, tells it about run-state changes and console
 * batches, and routes kvm/* requests here; the shaping lives in kvm-info.ts.
 */
import type { Machine } from '../vmm/machine/machine';
import type { DeviceSnapshot, StopReason } from '../vmm/machine/protocol';
import { walk, isLongMode, type PagingState } from '../vmm/debug/page-walk';
import { readVirtual } from '../vmm/debug/virtual-memory';
import { EXIT_RING_ENTRIES } from '../vmm/machine/exit-ring';
import type { VcpuControl } from './vcpu';
import {
  isKvmRequest, type ConsoleInputArgs, type DescriptorTablesArgs, type DescriptorTablesBody, type DevicesBody,
  type ExitStatsArgs, type ExitStatsBody, type KvmEvents, type KvmRequestName, type PageWalkArgs, type PageWalkBody,
  type StateEventBody,
} from './protocol-extensions';
import {
  exitStatsBody, pageWalkBody, parseAddressArg, ratesBetween, readDescriptorTable, recentCount, recentExit, type Rates,
} from './kvm-info';

/** How often kvm/state carries a fresh exit rate while the guest runs. */
export const STATE_INTERVAL_MS = 1000;

type Counts = Partial<Record<string, number>>;

export class KvmCustomRequests {
  private machine?: Machine;
  private vcpu?: VcpuControl;
  private state: StateEventBody['state'] = 'starting';
  private timer?: NodeJS.Timeout;
  /** Running time before the current run, and when the current run began. */
  private runMs = 0;
  private runningSince?: number;
  private sample?: { at: number; counts: Counts; total: number };
  private rates: Rates = {};
  private lastDevices?: DeviceSnapshot[];
  /** The exit the vCPU stopped at (a VM-exit breakpoint): its ring number and the RIP then. */
  private stopAt?: { seq: number; rip: bigint };

  constructor(private readonly send: <K extends keyof KvmEvents>(event: K, body: KvmEvents[K]) => void) {}

  /** A VM exists (launch): kvm/state 'starting'. */
  attach(machine: Machine, vcpu: VcpuControl): void {
    this.machine = machine;
    this.vcpu = vcpu;
    machine.on('stopped', (stop: StopReason, rip: bigint) => {
      this.stopAt = stop.reason === 'exit' ? { seq: machine.exitRing.written - 1, rip } : undefined;
    });
    this.setState('starting');
  }

  /** One console batch (the same one the 'output' event carries as text). */
  console(bytes: Uint8Array): void {
    if (bytes.length > 0) this.send('kvm/console', { data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64') });
  }

  running(): void {
    if (this.state === 'exited') return;
    if (this.runningSince === undefined) this.runningSince = performance.now();
    this.setState('running');
    this.takeSample();
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), STATE_INTERVAL_MS);
      this.timer.unref();
    }
  }

  paused(): void {
    if (this.state === 'exited') return;
    this.stopRunning();
    this.setState('paused');
  }

  exited(): void {
    this.stopRunning();
    this.setState('exited');
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private stopRunning(): void {
    this.dispose();
    if (this.runningSince !== undefined) this.runMs += performance.now() - this.runningSince;
    this.runningSince = undefined;
    this.rates = {};
  }

  private setState(state: StateEventBody['state'], exitsPerSecond?: number): void {
    // Every step ends 'paused' again: say it once, not once a step.
    if (state === 'paused' && this.state === 'paused') return;
    this.state = state;
    const body: StateEventBody = { state, vcpus: this.machine?.options.cpus ?? 0 };
    if (exitsPerSecond !== undefined) body.exitsPerSecond = Math.round(exitsPerSecond);
    this.send('kvm/state', body);
  }

  /** Reads the shared exit counters (no message to the vCPU thread); returns exits a second since the last sample. */
  private takeSample(): number | undefined {
    const m = this.machine;
    if (!m) return undefined;
    const now = performance.now();
    const counts = m.exits.snapshot() as Counts;
    const total = m.exits.total;
    const prev = this.sample;
    this.sample = { at: now, counts, total };
    if (!prev || now <= prev.at) return undefined;
    this.rates = ratesBetween(prev.counts, counts, now - prev.at);
    return ((total - prev.total) * 1000) / (now - prev.at);
  }

  private tick(): void {
    if (this.state !== 'running' || this.machine?.ended) return;
    const perSecond = this.takeSample();
    this.setState('running', perSecond);
  }

  private get elapsedMs(): number {
    return this.runMs + (this.runningSince !== undefined ? performance.now() - this.runningSince : 0);
  }

  // ---- requests -----------------------------------------------------------------------------

  handles(command: string): command is KvmRequestName {
    return isKvmRequest(command);
  }

  /** The response body of a kvm/* request; rejects with one sentence for an error response. */
  async handle(command: KvmRequestName, args: Record<string, unknown>): Promise<unknown> {
    const machine = this.machine;
    if (!machine) throw new Error('no VM is running (launch one first)');
    switch (command) {
      case 'kvm/consoleInput': return this.consoleInput(machine, args as unknown as ConsoleInputArgs);
      case 'kvm/exitStats': return this.exitStats(machine, args as ExitStatsArgs);
      case 'kvm/pageWalk': return this.pageWalk(machine, args as unknown as PageWalkArgs);
      case 'kvm/devices': return this.devices(machine);
      case 'kvm/descriptorTables': return this.descriptorTables(machine, args as DescriptorTablesArgs);
    }
  }

  private consoleInput(machine: Machine, args: ConsoleInputArgs): undefined {
    // protocol-extensions.ts: what the user typed, as text; the guest gets its UTF-8 bytes.
    if (typeof args.data !== 'string') throw new Error('"data" must be a string (the text typed)');
    if (machine.ended) throw new Error(`the VM has ended: ${machine.ended.message}`);
    if (args.data.length > 0) machine.sendInput(new TextEncoder().encode(args.data));
    return undefined;
  }

  private exitStats(machine: Machine, args: ExitStatsArgs): ExitStatsBody {
    const n = recentCount(args.last, EXIT_RING_ENTRIES);
    const stopAt = this.vcpu?.state === 'stopped' ? this.stopAt : undefined;
    const recent = machine.exitRing.recent(n).map((e) => recentExit(e, stopAt));
    return exitStatsBody({
      snapshot: machine.exits.snapshot() as Counts, elapsedMs: this.elapsedMs, rates: this.rates, running: this.state === 'running', recent,
    });
  }

  /** The system registers of the vCPU `threadId` names (absent: the one in focus), stopped; or one sentence saying why not. */
  private async stoppedSregs(threadId: unknown, what: string) {
    const vcpu = this.vcpu;
    if (!vcpu || vcpu.state === 'ended') throw new Error('the VM has ended');
    const named = threadId !== undefined && threadId !== null;
    if (named && (typeof threadId !== 'number' || !vcpu.hasThread(threadId))) {
      throw new Error(`no vCPU has thread id ${JSON.stringify(threadId)} (this VM has threads 1 to ${vcpu.machine.cpus})`);
    }
    if (vcpu.state !== 'stopped') throw new Error(`the VM is running: pause the VM to ${what}`);
    return vcpu.sregs(named ? (threadId as number) - 1 : vcpu.id);
  }

  private async pageWalk(machine: Machine, args: PageWalkArgs): Promise<PageWalkBody> {
    const address = parseAddressArg(args.address, '"address"');
    const cr3 = args.cr3 !== undefined && args.cr3 !== null && args.cr3 !== '' ? parseAddressArg(args.cr3, '"cr3"') : undefined;
    const s = await this.stoppedSregs(args.threadId, 'walk its page tables');
    const paging: PagingState = { cr0: s.cr0, cr3: cr3 ?? s.cr3, cr4: s.cr4, efer: s.efer };
    return pageWalkBody(walk(machine.memory, paging, address));
  }

  private async devices(machine: Machine): Promise<DevicesBody> {
    if (this.vcpu?.state === 'stopped') {
      this.lastDevices = await machine.devices();
      return { devices: this.lastDevices };
    }
    if (!this.lastDevices) throw new Error(machine.ended ? 'the VM has ended' : 'the VM is running: pause the VM to read its devices');
    const why = machine.ended ? 'the VM has ended' : 'the VM is running';
    return { devices: [{ name: 'note', description: `${why}: device state as of the last pause` }, ...this.lastDevices] };
  }

  private async descriptorTables(machine: Machine, args: DescriptorTablesArgs): Promise<DescriptorTablesBody> {
    const s = await this.stoppedSregs(args.threadId, 'read its descriptor tables');
    const paging: PagingState = { cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer };
    const read = (address: bigint, length: number) => readVirtual(machine.memory, paging, address, length);
    const long = isLongMode(paging);
    return {
      gdt: readDescriptorTable(read, 'gdt', s.gdt.base, s.gdt.limit, long),
      idt: readDescriptorTable(read, 'idt', s.idt.base, s.idt.limit, long),
    };
  }
}
