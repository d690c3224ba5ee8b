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
  /** MSR index ranges, inclusive; direction 'in' = RDMSR, 'out' = WRMSR (msr-filter.ts makes KVM exit on them). */
  msr?: { first: number; last: number; direction?: Direction }[];
  /**
   * The vCPU sits in HLT. With the in-kernel LAPIC, KVM handles HLT itself
   * and never exits; halt-watch.ts kicks the running vCPU periodically and
   * the vCPU thread asks KVM for its mp_state (HALTED) on each kick.
   */
  hlt?: boolean;
  /** KVM_EXIT_HYPERCALL: with KVM_CAP_EXIT_HYPERCALL only KVM_HC_MAP_GPA_RANGE (12) leaves KVM. */
  hypercall?: boolean;
}

const IN = 1;
const OUT = 2;
const bits = (d: Direction | undefined) => (d === 'in' ? IN : d === 'out' ? OUT : IN | OUT);

export class ExitFilter {
  private readonly ports = new Uint8Array(0x10000);
  private readonly mmio: { first: number; last: number; dir: number }[];
  private readonly msr: { first: number; last: number; dir: number }[];
  readonly stopOnShutdown: boolean;
  readonly stopOnHlt: boolean;
  readonly stopOnHypercall: boolean;
  readonly empty: boolean;

  constructor(readonly spec: ExitBreakpointSpec = {}) {
    for (const r of spec.pio ?? []) {
      const first = Math.max(0, Math.min(0xffff, r.first | 0));
      const last = Math.max(0, Math.min(0xffff, r.last | 0));
      for (let p = first; p <= last; p++) this.ports[p] |= bits(r.direction);
    }
    this.mmio = (spec.mmio ?? []).map((r) => ({ first: r.first, last: r.last, dir: bits(r.direction) }));
    this.msr = (spec.msr ?? []).map((r) => ({ first: r.first >>> 0, last: r.last >>> 0, dir: bits(r.direction) }));
    this.stopOnShutdown = !!spec.shutdown;
    this.stopOnHlt = !!spec.hlt;
    this.stopOnHypercall = !!spec.hypercall;
    this.empty = !spec.pio?.length && !spec.mmio?.length && !spec.msr?.length && !spec.shutdown && !spec.hlt && !spec.hypercall;
  }

  matchesIo(port: number, direction: 'in' | 'out'): boolean {
    return (this.ports[port & 0xffff] & (direction === 'in' ? IN : OUT)) !== 0;
  }

  matchesMmio(address: number, isWrite: boolean): boolean {
    const want = isWrite ? OUT : IN;
    for (const r of this.mmio) if (address >= r.first && address <= r.last && (r.dir & want)) return true;
    return false;
  }

  matchesMsr(index: number, isWrite: boolean): boolean {
    const want = isWrite ? OUT : IN;
    for (const r of this.msr) if (index >= r.first && index <= r.last && (r.dir & want)) return true;
    return false;
  }

  /** True when this exit should stop the vCPU before it is handled. */
  matches(exit: VcpuExit): boolean {
    if (this.empty) return false;
    if (exit.kind === 'io') return this.matchesIo(exit.port, exit.direction);
    if (exit.kind === 'mmio') return this.matchesMmio(exit.address, exit.isWrite);
    if (exit.kind === 'shutdown') return this.stopOnShutdown;
    if (exit.kind === 'rdmsr' || exit.kind === 'wrmsr') return this.matchesMsr(exit.index, exit.kind === 'wrmsr');
    if (exit.kind === 'hypercall') return this.stopOnHypercall;
    if (exit.kind === 'hlt') return this.stopOnHlt;
    return false;
  }
}

/** A copy of an exit that survives the next run() (exit objects are reused). */
export function snapshotExit(exit: VcpuExit): VcpuExit {
  const copy = { ...exit } as VcpuExit & { data?: unknown; reply?: Uint8Array };
  if (copy.data instanceof Uint8Array) copy.data = copy.data.slice();
  if (copy.reply instanceof Uint8Array) copy.reply = copy.reply.slice();
  return copy;
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

/** Names of the MSRs a kernel developer meets most (Intel SDM vol. 4 / AMD APM vol. 2). */
export const MSR_NAMES: ReadonlyMap<number, string> = new Map([
  [0x10, 'TSC'], [0x1b, 'APIC_BASE'], [0x3a, 'FEATURE_CONTROL'], [0x8b, 'BIOS_SIGN_ID'],
  [0xfe, 'MTRRCAP'], [0x174, 'SYSENTER_CS'], [0x175, 'SYSENTER_ESP'], [0x176, 'SYSENTER_EIP'],
  [0x1a0, 'MISC_ENABLE'], [0x277, 'PAT'], [0x2ff, 'MTRR_DEF_TYPE'], [0x6e0, 'TSC_DEADLINE'],
  [0xc0000080, 'EFER'], [0xc0000081, 'STAR'], [0xc0000082, 'LSTAR'], [0xc0000083, 'CSTAR'],
  [0xc0000084, 'FMASK'], [0xc0000100, 'FS_BASE'], [0xc0000101, 'GS_BASE'], [0xc0000102, 'KERNEL_GS_BASE'],
  [0xc0000103, 'TSC_AUX'], [0x4b564d00, 'KVM_WALL_CLOCK_NEW'], [0x4b564d01, 'KVM_SYSTEM_TIME_NEW'],
]);

export function msrName(index: number): string {
  const known = MSR_NAMES.get(index >>> 0);
  if (known) return known;
  if (index >= 0x800 && index <= 0x8ff) return 'x2APIC';
  return '';
}

/** "0xc0000080 (EFER)" */
function msrText(index: number): string {
  const name = msrName(index);
  return `0x${(index >>> 0).toString(16)}${name ? ` (${name})` : ''}`;
}

/** KVM's hypercall numbers (include/uapi/linux/kvm_para.h). */
const HYPERCALL_NAMES: Record<number, string> = {
  1: 'KVM_HC_VAPIC_POLL_IRQ', 5: 'KVM_HC_KICK_CPU', 9: 'KVM_HC_CLOCK_PAIRING', 10: 'KVM_HC_SEND_IPI',
  11: 'KVM_HC_SCHED_YIELD', 12: 'KVM_HC_MAP_GPA_RANGE',
};

export function hypercallName(nr: bigint): string {
  return HYPERCALL_NAMES[Number(nr)] ?? `hypercall ${nr}`;
}

/**
 * One line a kernel developer reads at a glance, e.g. "OUT 0x3f8 <- 0x41 'A'".
 * `rip` (when known) places exits that happen at an instruction: "HLT at 0x...".
 */
export function describeExit(exit: VcpuExit, rip?: bigint): string {
  const at = rip === undefined ? '' : ` at ${hex(rip)}`;
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
    // KVM has executed the HLT: RIP is past it (HLT is one byte).
    case 'hlt': return rip === undefined ? 'HLT' : `HLT at ${hex(rip - 1n)}`;
    case 'rdmsr': return `RDMSR ${msrText(exit.index)}${at}`;
    case 'wrmsr': return `WRMSR ${msrText(exit.index)} <- ${hex(exit.data)}${at}`;
    case 'hypercall': return `hypercall ${hypercallName(exit.nr)} (${exit.nr})${at}`;
    case 'debug': return `debug exception ${exit.exception} at ${hex(exit.pc)}`;
    case 'systemEvent': return `system event: ${exit.type}`;
    case 'internalError': return `KVM internal error (suberror ${exit.suberror})`;
    case 'failEntry': return `VM entry failed (reason ${hex(exit.hardwareReason)})`;
    default: return exit.kind;
  }
}
