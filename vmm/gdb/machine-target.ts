/**
 * GDB's view of a Machine: the stub's GdbTarget implemented with the same
 * pieces the debug adapter uses (hardware breakpoints in DR0-3, the page
 * walker for virtual memory, the exit counters), so the two debuggers
 * behave alike.
 */
import type { Machine } from '../machine/machine';
import { AllStop, type VcpuAction } from '../machine/all-stop';
import type { StopReason, VmEnd } from '../machine/protocol';
import { MAX_PAGE_WATCH, type HwLength, type HwRequest } from '../debug/hw-breakpoints';
import { readVirtual, writeVirtual } from '../debug/virtual-memory';
import { walk, type PagingState } from '../debug/page-walk';
import type { Fpu, Regs, Sregs } from '../../native/types';
import type { ArmResult } from '../debug/vcpu-debug';
import { guestCode, SoftwareBreakpoints, trapFits } from '../debug/software-breakpoints';
import type { BreakpointType, GdbStop, GdbTarget, StopKind } from './target';

const MSR_KERNEL_GS_BASE = 0xc000_0102;
const SIGINT = 2;
const SIGTRAP = 5;
const hex = (v: bigint | number) => '0x' + v.toString(16);

/** What gdb reads again and again while the vCPU stays stopped (each is a round trip to the vCPU thread). */
interface StoppedState {
  regs?: Promise<Regs>;
  sregs?: Promise<Sregs>;
  kernelGsBase?: Promise<bigint>;
  fpu?: Promise<Fpu>;
}

export class MachineGdbTarget implements GdbTarget {
  private readonly listeners: ((s: GdbStop) => void)[] = [];
  private stop?: GdbStop;
  /**
   * Register state of the current stop, per vCPU: after a stepi gdb sends g
   * and several m packets (each m needs the paging registers), so one read
   * per stop is kept until the vCPUs run or gdb writes a register.
   */
  private cache = new Map<number, StoppedState>();
  /** Breakpoints and watchpoints gdb asked for, in the order it asked. */
  private hw: { type: BreakpointType; request: HwRequest }[] = [];
  /** Z0s beyond the debug registers (int3s), and the page tables of the stop they were set at. */
  private readonly software = new SoftwareBreakpoints();
  private plantPaging?: PagingState;
  /** All-stop over the vCPUs (gdb's default mode): one stop of the whole machine per report. */
  private readonly allStop: AllStop;

  constructor(private readonly machine: Machine) {
    if (machine.int3.trap) this.software.trap = machine.int3.trap;
    this.allStop = new AllStop(machine);
    this.allStop.on('stop', (vcpu: number, reason: StopReason) => this.report(toStopKind(reason), vcpu));
    machine.on('ended', (end: VmEnd) => this.report({ kind: 'exited', status: end.status & 0xff }));
    if (!machine.running && !machine.ended) this.stop = { vcpu: 0, stop: { kind: 'signal', signal: SIGTRAP } };
  }

  private report(stop: StopKind, vcpu = this.stop?.vcpu ?? 0): void {
    // Lifted whatever the stop: memory reads, steps and the next breakpoint set see the guest's own bytes.
    if (this.software.isPlanted) this.software.restore(guestCode(this.machine.memory, this.plantPaging!));
    this.stop = { vcpu, stop };
    this.cache.clear();
    if (stop.kind !== 'exited') this.prefetch(vcpu);
    for (const l of this.listeners) l(this.stop);
  }

  /**
   * gdb answers every stop reply with `g` (and m reads that need the paging
   * registers): ask the vCPU thread now, so its answers travel while the
   * stop reply does. A failed read is not kept (cached() drops it).
   */
  private prefetch(vcpu: number): void {
    this.readRegisters(vcpu).catch(() => {});
    this.readFpu(vcpu).catch(() => {});
  }

  /** `read` once per stop and vCPU. */
  private cached<K extends keyof StoppedState>(vcpu: number, key: K, read: () => NonNullable<StoppedState[K]>): NonNullable<StoppedState[K]> {
    let entry = this.cache.get(vcpu);
    if (!entry) this.cache.set(vcpu, entry = {});
    const have = entry[key];
    if (have) return have as NonNullable<StoppedState[K]>;
    const p = read();
    const e = entry;
    e[key] = p;
    p.catch(() => { if (e[key] === p) delete e[key]; });
    return p;
  }

  private sregs(vcpu: number): Promise<Sregs> { return this.cached(vcpu, 'sregs', () => this.machine.getSregs(vcpu)); }

  vcpus(): number[] { return Array.from({ length: this.machine.cpus }, (_, v) => v); }
  currentStop(): GdbStop | undefined { return this.allStop.running ? undefined : this.stop; }
  onStop(listener: (s: GdbStop) => void): void { this.listeners.push(listener); }
  threadInfo(vcpu: number): string { return `vCPU ${vcpu} (${this.machine.ended ? 'ended' : this.machine.vcpuState(vcpu)})`; }

  async readRegisters(vcpu: number): Promise<{ regs: Regs; sregs: Sregs; fsBase: bigint; gsBase: bigint; kernelGsBase: bigint }> {
    const [regs, sregs, kernelGsBase] = await Promise.all([
      this.cached(vcpu, 'regs', () => this.machine.getRegs(vcpu)),
      this.sregs(vcpu),
      this.cached(vcpu, 'kernelGsBase', async () => (await this.machine.getMsrs([MSR_KERNEL_GS_BASE], vcpu))[0]?.value ?? 0n),
    ]);
    return { regs, sregs, fsBase: sregs.fs.base, gsBase: sregs.gs.base, kernelGsBase };
  }

  async writeRegisters(vcpu: number, regs: Partial<Regs>, sregs?: Partial<Sregs>): Promise<void> {
    this.cache.delete(vcpu);
    try {
      await this.machine.setRegs(regs, vcpu);
      if (sregs) await this.machine.setSregs(sregs, vcpu);
    } finally {
      this.cache.delete(vcpu);
    }
  }

  readFpu(vcpu: number): Promise<Fpu> { return this.cached(vcpu, 'fpu', () => this.machine.getFpu(vcpu)); }
  async writeFpu(vcpu: number, fpu: Fpu): Promise<void> {
    delete this.cache.get(vcpu)?.fpu;
    try { await this.machine.setFpu(fpu, vcpu); } finally { delete this.cache.get(vcpu)?.fpu; }
  }

  private async paging(vcpu = 0): Promise<PagingState> {
    const s = await this.sregs(vcpu);
    return { cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer };
  }

  async readMemory(vcpu: number, address: bigint, length: number): Promise<{ data: Uint8Array; readable: number }> {
    const r = readVirtual(this.machine.memory, await this.paging(vcpu), address, length);
    const firstUnreadable = r.readable.indexOf(0);
    return { data: r.data, readable: firstUnreadable < 0 ? length : firstUnreadable };
  }

  async writeMemory(vcpu: number, address: bigint, data: Uint8Array): Promise<number> {
    return writeVirtual(this.machine.memory, await this.paging(vcpu), address, data).written;
  }

  /**
   * Z0 and Z1 take the debug registers first; beyond four, a Z0 is an int3
   * of ours where the host hands a planted int3 back (the probe's int3
   * trap), planted while the vCPUs run and lifted at every stop, so gdb's
   * own memory reads see the guest's bytes. gdb's fallback of writing 0xCC
   * itself would hand the trap to the guest, so Z0 is always answered.
   */
  async insertBreakpoint(type: BreakpointType, address: bigint, kind: number): Promise<'ok' | 'unsupported' | 'error'> {
    const request = toHwRequest(type, address, kind, this.machine.int3.delivered);
    if (!request) return 'unsupported';
    this.hw.push({ type, request });
    if ((await this.rearm()).armed[this.hw.length - 1]) return 'ok';
    this.hw.pop();
    await this.rearm();
    return 'error';
  }

  async removeBreakpoint(type: BreakpointType, address: bigint, kind: number): Promise<'ok' | 'unsupported' | 'error'> {
    const want = toHwRequest(type, address, kind, false);
    if (!want) return 'unsupported';
    const i = this.hw.findIndex((h) => h.type === type && sameRequest(h.request, want));
    if (i < 0) return 'error';
    this.hw.splice(i, 1);
    await this.rearm();
    return 'ok';
  }

  /**
   * Arms every request (in gdb's order, but code a trap cannot take first,
   * for the debug registers); those the machine gave to traps are planted
   * on the next resume, through this stop's page tables.
   */
  private async rearm(): Promise<ArmResult> {
    const paging = await this.paging(this.stop?.vcpu ?? 0);
    const code = guestCode(this.machine.memory, paging, this.machine.kernelCodeBits);
    const fits = this.hw.map((h) => h.request.kind !== 'execute' || !h.request.software || trapFits(code, h.request.address, this.software.trap));
    const order = [...this.hw.keys()].sort((a, b) => Number(fits[a]) - Number(fits[b]));
    const requests = order.map((i) => (fits[i] ? this.hw[i].request : { ...this.hw[i].request, software: false }));
    const got = await this.machine.armHardware(requests);
    const back = <T>(list: T[]): T[] => { const out: T[] = []; order.forEach((i, k) => { out[i] = list[k]; }); return out; };
    const result: ArmResult = { armed: back(got.armed), software: back(got.software), problems: back(got.problems), page: got.page && back(got.page) };
    this.software.set(this.hw.flatMap((h, i) => (result.software[i] ? [h.request.address] : [])));
    this.plantPaging = this.software.addresses.length > 0 ? paging : undefined;
    return result;
  }

  resume(actions: Map<number, 'continue' | 'step' | 'stop'>): void {
    const run = new Map<number, VcpuAction>();
    for (const [v, a] of actions) if (a !== 'stop') run.set(v, a);
    if (run.size === 0) return;
    this.stop = undefined;
    this.cache.clear();
    // Planted only for a continue: a step executes the guest's own instruction (as the adapter does).
    if (this.plantPaging && ![...run.values()].includes('step')) this.software.plant(guestCode(this.machine.memory, this.plantPaging, this.machine.kernelCodeBits));
    this.allStop.resume(run);
  }

  interrupt(): void {
    if (this.allStop.running) this.allStop.interrupt();
    else if (this.stop) this.report({ kind: 'signal', signal: SIGINT });
  }

  detach(): void { this.cache.clear(); this.allStop.resume(); }
  kill(): void { void this.machine.stop('killed by gdb'); }

  async monitor(command: string): Promise<string> {
    const [verb, ...args] = command.trim().split(/\s+/);
    switch (verb) {
      case 'exits': case 'stats': {
        const lines = Object.entries(this.machine.exits.snapshot()).map(([k, n]) => `  ${k.padEnd(14)} ${n}`);
        return `VM exits (${this.machine.exits.total} in all):\n${lines.join('\n')}\n`;
      }
      case 'walk': case 'pagewalk': {
        if (!args[0]) throw new Error('usage: monitor walk VIRTUAL-ADDRESS');
        let va: bigint;
        try { va = BigInt(args[0]); } catch { throw new Error(`monitor walk: '${args[0]}' is not an address`); }
        const w = walk(this.machine.memory, await this.paging(this.stop?.vcpu ?? 0), va);
        const levels = w.levels.map((l) => `  ${l.name.padEnd(6)} [${l.index}] at ${hex(l.entryAddress)} = ${hex(l.entry)}`
          + ` ${l.flags.present ? 'P' : '-'}${l.flags.writable ? 'W' : '-'}${l.flags.user ? 'U' : '-'}${l.flags.pageSize ? ' PS' : ''}${l.flags.noExecute ? ' NX' : ''}`);
        const head = w.ok
          ? `${hex(va)} -> physical ${hex(w.physical)} (${w.mode} paging, ${w.pageSize / 1024} KiB page${w.writable ? ', writable' : ''}${w.user ? ', user' : ''}${w.noExecute ? ', no-execute' : ''})`
          : `${hex(va)} does not translate (${w.mode} paging): ${w.reason}`;
        return `${head}\n${levels.join('\n')}\n`;
      }
      case 'help': case undefined: case '':
        return 'kvmdbg monitor commands:\n  exits            VM exit counts by kind\n  walk ADDRESS     page-table walk of a virtual address on the stopped vCPU\n';
      default:
        throw new Error(`unknown monitor command '${verb}' (try: monitor help)`);
    }
  }
}

function toHwRequest(type: BreakpointType, address: bigint, kind: number, int3: boolean): HwRequest | undefined {
  if (type === 0) return { kind: 'execute', address, ...(int3 ? { software: true } : {}) };
  if (type === 1) return { kind: 'execute', address };
  // gdb splits a watched object into aligned pieces of up to 8 bytes; page protection takes any length (and reads alone: rwatch).
  const length = (kind >= 1 && kind <= MAX_PAGE_WATCH ? kind : 0) as HwLength;
  return { kind: 'watch', address, length, access: type === 2 ? 'write' : type === 3 ? 'read' : 'readWrite' };
}

function sameRequest(a: HwRequest, b: HwRequest): boolean {
  return a.kind === b.kind && a.address === b.address
    && (a.kind === 'execute' || (b.kind === 'watch' && a.length === b.length && a.access === b.access));
}

function toStopKind(reason: StopReason): StopKind {
  switch (reason.reason) {
    case 'pause': return { kind: 'signal', signal: SIGINT };
    case 'breakpoint': return { kind: 'hwbreak' };
    case 'watchpoint': return { kind: 'watch', access: reason.access === 'readWrite' ? 'access' : reason.access, address: reason.address };
    default: return { kind: 'signal', signal: SIGTRAP };
  }
}
