/**
 * Turns the exit buffer into VcpuExit objects. The frequent exits (io, mmio,
 * hlt, interrupted) are one reused object each per vCPU, so a run() creates
 * no garbage: their fields and `data` are valid until the next run().
 */
import type { VcpuExit } from './types';
import { ExitReason, SystemEventType } from './constants';
import * as L from './exit-layout';

type IoExit = Extract<VcpuExit, { kind: 'io' }>;
type MmioExit = Extract<VcpuExit, { kind: 'mmio' }>;

// Module-local copies: per-file transpilation turns imported constants into
// getter calls, which the per-exit path should not pay.
const A = L.EXIT_A / 4;
const B = L.EXIT_B / 4;
const C = L.EXIT_C / 4;
const D = L.EXIT_D / 4;
const ADDR = L.EXIT_ADDR / 8;
const DATA = L.EXIT_DATA;
const IO: number = ExitReason.IO;
const MMIO: number = ExitReason.MMIO;
const HLT: number = ExitReason.HLT;
const INTR: number = ExitReason.INTR;
/** sizeof kvm_run.hypercall and kvm_run.msr: the addon copies them into the data area and back. */
const HYPERCALL_SIZE = 72;
const MSR_SIZE = 24;

const systemEventNames: Record<number, 'shutdown' | 'reset' | 'crash'> = {
  [SystemEventType.SHUTDOWN]: 'shutdown',
  [SystemEventType.RESET]: 'reset',
  [SystemEventType.CRASH]: 'crash',
};

export class ExitDecoder {
  private readonly u32: Uint32Array;
  private readonly f64: Float64Array;
  private readonly u64: BigUint64Array;
  /** Views of the data area by length, created once each. */
  private readonly dataViews: Uint8Array[] = [];
  private readonly io: IoExit;
  private readonly mmio: MmioExit;
  private readonly hlt: VcpuExit = { kind: 'hlt' };
  private readonly shutdown: VcpuExit = { kind: 'shutdown' };
  private readonly interrupted: VcpuExit = { kind: 'interrupted' };
  private readonly irqWindowOpen: VcpuExit = { kind: 'irqWindowOpen' };

  constructor(readonly buffer: SharedArrayBuffer, private readonly interruptedCode: number) {
    this.u32 = new Uint32Array(buffer, 0, L.EXIT_DATA / 4);
    this.f64 = new Float64Array(buffer, 0, L.EXIT_DATA / 8);
    this.u64 = new BigUint64Array(buffer, 0, L.EXIT_DATA / 8);
    this.io = { kind: 'io', direction: 'out', port: 0, size: 1, count: 0, data: this.data(0) };
    this.mmio = { kind: 'mmio', address: 0, size: 0, isWrite: false, data: this.data(0) };
  }

  decode(reason: number): VcpuExit {
    const u32 = this.u32;
    switch (reason) {
      case IO: {
        const io = this.io;
        const size = u32[C] as 1 | 2 | 4;
        const count = u32[D];
        io.direction = u32[A] === 0 ? 'in' : 'out';
        io.port = u32[B];
        io.size = size;
        io.count = count;
        io.data = this.data(size * count);
        return io;
      }
      case MMIO: {
        const m = this.mmio;
        const len = u32[C];
        m.isWrite = u32[A] !== 0;
        m.size = len;
        m.address = this.f64[ADDR];
        m.data = this.data(len);
        return m;
      }
      case HLT: return this.hlt;
      case ExitReason.SHUTDOWN: return this.shutdown;
      case INTR: return this.interrupted;
      case ExitReason.IRQ_WINDOW_OPEN: return this.irqWindowOpen;
      case ExitReason.DEBUG:
        return { kind: 'debug', exception: u32[L.EXIT_A / 4], pc: this.x(L.EXIT_X0), dr6: this.x(L.EXIT_X1), dr7: this.x(L.EXIT_X2) };
      case ExitReason.FAIL_ENTRY:
        return { kind: 'failEntry', hardwareReason: this.x(L.EXIT_X0), cpu: u32[L.EXIT_A / 4] };
      case ExitReason.INTERNAL_ERROR:
        return { kind: 'internalError', suberror: u32[L.EXIT_A / 4], data: this.words(u32[L.EXIT_B / 4]) };
      case ExitReason.SYSTEM_EVENT: {
        const rawType = u32[L.EXIT_A / 4];
        return { kind: 'systemEvent', type: systemEventNames[rawType] ?? 'other', rawType, data: this.words(u32[L.EXIT_B / 4]) };
      }
      case ExitReason.HYPERCALL:
        return { kind: 'hypercall', nr: this.x(L.EXIT_X0), args: this.words(6), reply: this.data(HYPERCALL_SIZE) };
      case ExitReason.X86_RDMSR:
      case ExitReason.X86_WRMSR:
        return {
          kind: reason === ExitReason.X86_RDMSR ? 'rdmsr' : 'wrmsr',
          index: u32[L.EXIT_A / 4], reason: u32[L.EXIT_B / 4], data: this.x(L.EXIT_X0), reply: this.data(MSR_SIZE),
        };
      default:
        if (reason === this.interruptedCode) return this.interrupted;
        return { kind: 'unknown', reason };
    }
  }

  private data(len: number): Uint8Array {
    return (this.dataViews[len] ??= new Uint8Array(this.buffer, DATA, len));
  }

  private x(offset: number): bigint {
    return this.u64[offset / 8];
  }

  private words(n: number): bigint[] {
    const out: bigint[] = [];
    for (let i = 0; i < Math.min(n, 16); i++) out.push(this.u64[L.EXIT_WORDS / 8 + i]);
    return out;
  }
}
