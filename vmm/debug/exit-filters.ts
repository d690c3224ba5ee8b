/**
 * VM-exit breakpoints: which exits stop the vCPU before their device sees
 * them. Checked on every exit on the vCPU thread, so the port test is one
 * array load; MMIO ranges are few and scanned.
 */
import type { VcpuExit } from '../../native/types';

export type Direction = 'in' | 'out' | 'both';

export interface ExitBreakpointSpec {
  /** Port ranges, inclusive. */
  pio?: { first: number; last: number; direction?: Direction }[];
  /** Guest physical address ranges, inclusive; direction 'in' = reads. */
  mmio?: { first: number; last: number; direction?: Direction }[];
  /** Triple fault / shutdown. */
  shutdown?: boolean;
}

const IN = 1;
const OUT = 2;
const bits = (d: Direction | undefined) => (d === 'in' ? IN : d === 'out' ? OUT : IN | OUT);

export class ExitFilter {
  private readonly ports = new Uint8Array(0x10000);
  private readonly mmio: { first: number; last: number; dir: number }[];
  readonly stopOnShutdown: boolean;
  readonly empty: boolean;

  constructor(readonly spec: ExitBreakpointSpec = {}) {
    for (const r of spec.pio ?? []) {
      const first = Math.max(0, Math.min(0xffff, r.first | 0));
      const last = Math.max(0, Math.min(0xffff, r.last | 0));
      for (let p = first; p <= last; p++) this.ports[p] |= bits(r.direction);
    }
    this.mmio = (spec.mmio ?? []).map((r) => ({ first: r.first, last: r.last, dir: bits(r.direction) }));
    this.stopOnShutdown = !!spec.shutdown;
    this.empty = !spec.pio?.length && !spec.mmio?.length && !spec.shutdown;
  }

  matchesIo(port: number, direction: 'in' | 'out'): boolean {
    return (this.ports[port & 0xffff] & (direction === 'in' ? IN : OUT)) !== 0;
  }

  matchesMmio(address: number, isWrite: boolean): boolean {
    const want = isWrite ? OUT : IN;
    for (const r of this.mmio) if (address >= r.first && address <= r.last && (r.dir & want)) return true;
    return false;
  }

  /** True when this exit should stop the vCPU before it is handled. */
  matches(exit: VcpuExit): boolean {
    if (this.empty) return false;
    if (exit.kind === 'io') return this.matchesIo(exit.port, exit.direction);
    if (exit.kind === 'mmio') return this.matchesMmio(exit.address, exit.isWrite);
    if (exit.kind === 'shutdown') return this.stopOnShutdown;
    return false;
  }
}

/** A copy of an exit that survives the next run() (exit objects are reused). */
export function snapshotExit(exit: VcpuExit): VcpuExit {
  return 'data' in exit && exit.data instanceof Uint8Array ? { ...exit, data: exit.data.slice() } as VcpuExit : { ...exit } as VcpuExit;
}

const hex = (v: number | bigint) => '0x' + v.toString(16);

function littleEndian(data: Uint8Array, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (data[i] ?? 0);
  return v;
}

function printable(v: number, size: number): string {
  return size === 1 && v >= 0x20 && v < 0x7f ? ` '${String.fromCharCode(v)}'` : '';
}

/** One line a kernel developer reads at a glance, e.g. "OUT 0x3f8 <- 0x41 'A'". */
export function describeExit(exit: VcpuExit): string {
  switch (exit.kind) {
    case 'io': {
      const rep = exit.count > 1 ? ` x${exit.count}` : '';
      const width = exit.size === 1 ? '' : exit.size === 2 ? ' (word)' : ' (dword)';
      if (exit.direction === 'in') return `IN 0x${exit.port.toString(16)}${width}${rep}`;
      const v = littleEndian(exit.data, exit.size);
      return `OUT 0x${exit.port.toString(16)} <- ${hex(v)}${printable(v, exit.size)}${width}${rep}`;
    }
    case 'mmio':
      return exit.isWrite
        ? `MMIO write ${hex(exit.address)} <- ${hex(littleEndian(exit.data, Math.min(exit.size, 6)))} (${exit.size} bytes)`
        : `MMIO read ${hex(exit.address)} (${exit.size} bytes)`;
    case 'shutdown': return 'shutdown (triple fault)';
    case 'hlt': return 'HLT';
    case 'debug': return `debug exception ${exit.exception} at ${hex(exit.pc)}`;
    case 'systemEvent': return `system event: ${exit.type}`;
    case 'internalError': return `KVM internal error (suberror ${exit.suberror})`;
    case 'failEntry': return `VM entry failed (reason ${hex(exit.hardwareReason)})`;
    default: return exit.kind;
  }
}
