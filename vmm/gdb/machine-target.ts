/**
 * GDB's view of a Machine: the stub's GdbTarget implemented with the same
 * pieces the debug adapter uses (hardware breakpoints in DR0-3, the page
 * walker for virtual memory, the exit counters), so the two debuggers
 * behave alike.
 */
import type { Machine } from '../machine/machine';
import type { StopReason, VmEnd } from '../machine/protocol';
import type { HwLength, HwRequest } from '../debug/hw-breakpoints';
import { readVirtual, writeVirtual } from '../debug/virtual-memory';
import { walk, type PagingState } from '../debug/page-walk';
import type { Fpu, Regs, Sregs } from '../../native/types';
import type { BreakpointType, GdbStop, GdbTarget, StopKind } from './target';

const MSR_KERNEL_GS_BASE = 0xc000_0102;
const SIGINT = 2;
const SIGTRAP = 5;
const hex = (v: bigint | number) => '0x' + v.toString(16);

export class MachineGdbTarget implements GdbTarget {
  private readonly listeners: ((s: GdbStop) => void)[] = [];
  private stop?: GdbStop;
  /** Breakpoints and watchpoints gdb asked for, in the order it asked. */
  private hw: { type: BreakpointType; request: HwRequest }[] = [];

  constructor(private readonly machine: Machine) {
    machine.on('stopped', (reason: StopReason) => this.report(toStopKind(reason)));
    machine.on('ended', (end: VmEnd) => this.report({ kind: 'exited', status: end.status & 0xff }));
    if (!machine.running && !machine.ended) this.stop = { vcpu: 0, stop: { kind: 'signal', signal: SIGTRAP } };
  }

  private report(stop: StopKind): void {
    this.stop = { vcpu: 0, stop };
    for (const l of this.listeners) l(this.stop);
  }

  vcpus(): number[] { return [0]; }
  currentStop(): GdbStop | undefined { return this.machine.running ? undefined : this.stop; }
  onStop(listener: (s: GdbStop) => void): void { this.listeners.push(listener); }
  threadInfo(vcpu: number): string { return `vCPU ${vcpu} (${this.machine.running ? 'running' : 'stopped'})`; }

  async readRegisters(): Promise<{ regs: Regs; sregs: Sregs; fsBase: bigint; gsBase: bigint; kernelGsBase: bigint }> {
    const [regs, sregs, msrs] = await Promise.all([this.machine.getRegs(), this.machine.getSregs(), this.machine.getMsrs([MSR_KERNEL_GS_BASE])]);
    return { regs, sregs, fsBase: sregs.fs.base, gsBase: sregs.gs.base, kernelGsBase: msrs[0]?.value ?? 0n };
  }

  async writeRegisters(_vcpu: number, regs: Partial<Regs>, sregs?: Partial<Sregs>): Promise<void> {
    await this.machine.setRegs(regs);
    if (sregs) await this.machine.setSregs(sregs);
  }

  readFpu(): Promise<Fpu> { return this.machine.getFpu(); }
  writeFpu(_vcpu: number, fpu: Fpu): Promise<void> { return this.machine.setFpu(fpu); }

  private async paging(): Promise<PagingState> {
    const s = await this.machine.getSregs();
    return { cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer };
  }

  async readMemory(_vcpu: number, address: bigint, length: number): Promise<{ data: Uint8Array; readable: number }> {
    const r = readVirtual(this.machine.memory, await this.paging(), address, length);
    const firstUnreadable = r.readable.indexOf(0);
    return { data: r.data, readable: firstUnreadable < 0 ? length : firstUnreadable };
  }

  async writeMemory(_vcpu: number, address: bigint, data: Uint8Array): Promise<number> {
    return writeVirtual(this.machine.memory, await this.paging(), address, data).written;
  }

  /**
   * Z0 and Z1 both become hardware breakpoints: int3 needs a host that
   * delivers #BP exits (inside nested QEMU it does not), and gdb's own
   * fallback of writing 0xCC would then hand the trap to the guest.
   */
  async insertBreakpoint(type: BreakpointType, address: bigint, kind: number): Promise<'ok' | 'unsupported' | 'error'> {
    const request = toHwRequest(type, address, kind);
    if (!request) return 'unsupported';
    this.hw.push({ type, request });
    const result = await this.machine.armHardware(this.hw.map((h) => h.request));
    if (result.armed[this.hw.length - 1]) return 'ok';
    this.hw.pop();
    await this.machine.armHardware(this.hw.map((h) => h.request));
    return 'error';
  }

  async removeBreakpoint(type: BreakpointType, address: bigint, kind: number): Promise<'ok' | 'unsupported' | 'error'> {
    const want = toHwRequest(type, address, kind);
    if (!want) return 'unsupported';
    const i = this.hw.findIndex((h) => h.type === type && sameRequest(h.request, want));
    if (i < 0) return 'error';
    this.hw.splice(i, 1);
    await this.machine.armHardware(this.hw.map((h) => h.request));
    return 'ok';
  }

  resume(actions: Map<number, 'continue' | 'step' | 'stop'>): void {
    const action = actions.get(0);
    if (action === 'step') {
      this.machine.step().then((reason) => this.report(toStopKind(reason)), () => {});
    } else if (action === 'continue') {
      this.stop = undefined;
      this.machine.resume();
    }
  }

  interrupt(): void {
    if (this.machine.running) void this.machine.pause();
    else if (this.stop) this.report({ kind: 'signal', signal: SIGINT });
  }

  detach(): void { this.machine.resume(); }
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
        const w = walk(this.machine.memory, await this.paging(), va);
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

function toHwRequest(type: BreakpointType, address: bigint, kind: number): HwRequest | undefined {
  if (type === 0 || type === 1) return { kind: 'execute', address };
  if (type === 3) return undefined;  // x86 debug registers cannot watch reads alone
  const length = ([1, 2, 4, 8].includes(kind) ? kind : 0) as HwLength;
  return { kind: 'watch', address, length, access: type === 2 ? 'write' : 'readWrite' };
}

function sameRequest(a: HwRequest, b: HwRequest): boolean {
  return a.kind === b.kind && a.address === b.address
    && (a.kind === 'execute' || (b.kind === 'watch' && a.length === b.length && a.access === b.access));
}

function toStopKind(reason: StopReason): StopKind {
  switch (reason.reason) {
    case 'pause': return { kind: 'signal', signal: SIGINT };
    case 'breakpoint': return { kind: 'hwbreak' };
    case 'watchpoint': return { kind: 'watch', access: reason.access === 'write' ? 'write' : 'access', address: reason.address };
    default: return { kind: 'signal', signal: SIGTRAP };
  }
}
