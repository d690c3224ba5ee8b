/**
 * VM exits as DAP exception breakpoints: the filters VS Code lists in the
 * Breakpoints view (each with a condition), their translation into the
 * machine's ExitBreakpointSpec, and the exceptionInfo of a stop at one.
 */
import type { DebugProtocol } from '@vscode/debugprotocol';
import { MSR_NAMES, msrName, type ExitBreakpointSpec, type Direction } from '../vmm/debug/exit-filters';
import { MAX_RANGES, msrFilterFor, MsrFilterError } from '../vmm/debug/msr-filter';
import type { VcpuExit } from '../native/types';
import { parseVectors, VectorConditionError } from '../vmm/debug/idt';
import { IDT_POLL_MS } from './vector-breakpoints';

export const EXIT_FILTERS: DebugProtocol.ExceptionBreakpointsFilter[] = [
  {
    filter: 'pio', label: 'VM exit: port I/O', default: false, supportsCondition: true,
    description: 'Stop before a port access reaches its device.',
    conditionDescription: 'ports, e.g. "0x3f8", "0x3f8-0x3ff", "in 0x60", "out 0x3f8, 0x80"; empty = every port',
  },
  {
    filter: 'mmio', label: 'VM exit: MMIO', default: false, supportsCondition: true,
    description: 'Stop before an MMIO access reaches its device.',
    conditionDescription: 'guest-physical addresses, e.g. "0xfee00000-0xfee00fff", "write 0xd0000000"; empty = every MMIO exit',
  },
  {
    filter: 'shutdown', label: 'VM exit: shutdown (triple fault)', default: false,
    description: 'Stop when the CPU shuts down (a triple fault), with the last state kept.',
  },
  {
    filter: 'msr', label: 'VM exit: MSR access (RDMSR/WRMSR)', default: false, supportsCondition: true,
    description: 'Stop before the guest reads or writes an MSR (a KVM MSR filter sends exactly these to kvmdbg, which then '
      + 'performs them with KVM_GET_MSRS/KVM_SET_MSRS). KVM never lets the x2APIC MSRs 0x800-0x8ff out.',
    conditionDescription: `MSRs by number or name, e.g. "0xc0000080", "EFER", "wrmsr LSTAR", "rdmsr 0xc0000100-0xc0000102"; up to ${MAX_RANGES} ranges; empty = every MSR`,
  },
  {
    filter: 'hlt', label: 'VM exit: HLT (vCPU halted)', default: false,
    description: 'Stop when the vCPU sits in HLT. KVM handles HLT itself (in-kernel LAPIC, no exit), so kvmdbg looks every '
      + '20 ms while the guest runs: a halt that an interrupt ends sooner can be missed.',
  },
  {
    filter: 'hypercall', label: 'VM exit: hypercall (VMCALL/VMMCALL)', default: false,
    description: 'Stop at a hypercall that KVM sends to user space. KVM answers hypercalls itself; with KVM_CAP_EXIT_HYPERCALL '
      + 'only KVM_HC_MAP_GPA_RANGE (12) leaves it, and kvmdbg answers it as KVM would without the capability (-KVM_ENOSYS).',
  },
  {
    filter: 'vector', label: 'Guest exception (IDT vector)', default: false, supportsCondition: true,
    description: 'Stop at the first instruction of the guest\'s handler for an exception or interrupt vector, with CR2 and the error code '
      + 'the CPU pushed. KVM keeps guest exceptions to itself, so this is a breakpoint (debug register or int3) on the handler the '
      + `guest's IDT names, looked up again at every stop and every ${IDT_POLL_MS} ms while the guest runs: a fault right after the `
      + 'guest installs its handler can be missed.',
    conditionDescription: 'vectors by name or number, e.g. "#PF, #GP, 14" or "0x80"; empty = #UD, #DF, #GP',
  },
];

export class ExitConditionError extends Error {}

interface Range { first: number; last: number; direction?: Direction }

/** Parses "0x3f8", "0x3f8-0x3ff", "in 0x60", "out 0x3f8, 0x80-0x8f" into ranges. */
export function parseRanges(text: string, what: 'port' | 'address', max: number): Range[] {
  const out: Range[] = [];
  for (const part of text.split(/[,;]/).map((p) => p.trim()).filter(Boolean)) {
    const m = /^(?:(in|out|read|write|r|w)\s+)?(0x[0-9a-f]+|\d+)(?:\s*(?:-|\.\.)\s*(0x[0-9a-f]+|\d+))?$/i.exec(part);
    if (!m) {
      throw new ExitConditionError(`"${part}" is not a ${what} or ${what} range: write e.g. ${what === 'port' ? '"0x3f8", "0x3f8-0x3ff" or "in 0x60"' : '"0xfee00000-0xfee00fff" or "write 0xd0000000"'}`);
    }
    const first = Number(m[2]);
    const last = m[3] !== undefined ? Number(m[3]) : first;
    if (first > last) throw new ExitConditionError(`"${part}": the range ends before it starts`);
    if (last > max) throw new ExitConditionError(`"${part}": ${what}s go up to 0x${max.toString(16)}`);
    const word = m[1]?.toLowerCase();
    const direction: Direction | undefined = word === 'in' || word === 'read' || word === 'r' ? 'in' : word ? 'out' : undefined;
    out.push({ first, last, direction });
  }
  return out;
}

const MSR_BY_NAME = new Map([...MSR_NAMES].map(([index, name]) => [name.toLowerCase(), index]));

/** Parses "0xc0000080", "EFER", "wrmsr LSTAR", "rdmsr 0xc0000100-0xc0000102" into MSR ranges. */
export function parseMsrRanges(text: string): Range[] {
  const out: Range[] = [];
  for (const part of text.split(/[,;]/).map((p) => p.trim()).filter(Boolean)) {
    const m = /^(?:(rdmsr|wrmsr|read|write|r|w)\s+)?([\w]+)(?:\s*(?:-|\.\.)\s*([\w]+))?$/i.exec(part);
    const value = (s: string | undefined): number | undefined => {
      if (s === undefined) return undefined;
      if (/^(0x[0-9a-f]+|\d+)$/i.test(s)) return Number(s);
      return MSR_BY_NAME.get(s.toLowerCase().replace(/^msr_/, ''));
    };
    const first = value(m?.[2]);
    const last = m?.[3] !== undefined ? value(m[3]) : first;
    if (!m || first === undefined || last === undefined) {
      throw new ExitConditionError(`"${part}" is not an MSR or MSR range: write e.g. "0xc0000080", "EFER", "wrmsr LSTAR" or "rdmsr 0xc0000100-0xc0000102"`);
    }
    if (first > last) throw new ExitConditionError(`"${part}": the range ends before it starts`);
    if (last > 0xffff_ffff) throw new ExitConditionError(`"${part}": MSR numbers go up to 0xffffffff`);
    if (first <= 0x8ff && last >= 0x800 && first >= 0x800 && last <= 0x8ff) {
      throw new ExitConditionError(`"${part}": the x2APIC MSRs (0x800-0x8ff) never leave KVM, so they cannot stop the vCPU`);
    }
    const word = m[1]?.toLowerCase();
    const direction: Direction | undefined = word === 'rdmsr' || word === 'read' || word === 'r' ? 'in' : word ? 'out' : undefined;
    out.push({ first, last, direction });
  }
  return out;
}

/** Throws ExitConditionError when `condition` does not suit the filter (a breakpoint's one-sentence message). */
export function checkCondition(filterId: string, condition: string | undefined): void {
  const cond = condition?.trim();
  if (!cond) return;
  if (filterId === 'pio') parseRanges(cond, 'port', 0xffff);
  else if (filterId === 'mmio') parseRanges(cond, 'address', Number.MAX_SAFE_INTEGER);
  else if (filterId === 'msr') {
    try { msrFilterFor({ msr: parseMsrRanges(cond) }); } catch (e) { throw e instanceof MsrFilterError ? new ExitConditionError(e.message) : e; }
  } else if (filterId === 'vector') {
    try { parseVectors(cond); } catch (e) { throw e instanceof VectorConditionError ? new ExitConditionError(e.message) : e; }
  } else throw new ExitConditionError(`this VM-exit breakpoint takes no condition (got "${cond}")`);
}

/** Both sets of VM-exit breakpoints at once (launch.json's and the Breakpoints view's). */
export function mergeExitSpecs(a: ExitBreakpointSpec, b: ExitBreakpointSpec): ExitBreakpointSpec {
  return {
    pio: [...(a.pio ?? []), ...(b.pio ?? [])],
    mmio: [...(a.mmio ?? []), ...(b.mmio ?? [])],
    msr: [...(a.msr ?? []), ...(b.msr ?? [])],
    shutdown: !!(a.shutdown || b.shutdown),
    hlt: !!(a.hlt || b.hlt),
    hypercall: !!(a.hypercall || b.hypercall),
  };
}

/** The machine's VM-exit breakpoints for the enabled filters; throws ExitConditionError on a bad condition. */
export function exitSpecFor(filters: { filterId: string; condition?: string }[]): ExitBreakpointSpec {
  const spec: ExitBreakpointSpec = {};
  for (const f of filters) {
    const cond = f.condition?.trim() ?? '';
    if (f.filterId === 'pio') {
      spec.pio = [...(spec.pio ?? []), ...(cond ? parseRanges(cond, 'port', 0xffff) : [{ first: 0, last: 0xffff }])];
    } else if (f.filterId === 'mmio') {
      spec.mmio = [...(spec.mmio ?? []), ...(cond ? parseRanges(cond, 'address', Number.MAX_SAFE_INTEGER) : [{ first: 0, last: Number.MAX_SAFE_INTEGER }])];
    } else if (f.filterId === 'shutdown') {
      spec.shutdown = true;
    } else if (f.filterId === 'msr') {
      spec.msr = [...(spec.msr ?? []), ...(cond ? parseMsrRanges(cond) : [{ first: 0, last: 0xffff_ffff }])];
    } else if (f.filterId === 'hlt') {
      spec.hlt = true;
    } else if (f.filterId === 'hypercall') {
      spec.hypercall = true;
    }
  }
  return spec;
}

/** Which filter an exit stopped at. */
export function filterOf(exit: VcpuExit): string {
  return exit.kind === 'io' ? 'pio' : exit.kind === 'mmio' ? 'mmio' : exit.kind;
}

const hex = (v: number | bigint): string => '0x' + v.toString(16);

/** The whole exit, field by field, for exceptionInfo's details. */
export function exitDetails(exit: VcpuExit): string {
  const fields: string[] = [`kind: ${exit.kind}`];
  if (exit.kind === 'io') {
    fields.push(`direction: ${exit.direction}`, `port: ${hex(exit.port)}`, `size: ${exit.size} byte${exit.size === 1 ? '' : 's'}`, `count: ${exit.count}`);
    if (exit.direction === 'out') fields.push(`data: ${[...exit.data.subarray(0, exit.size * exit.count)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
  } else if (exit.kind === 'mmio') {
    fields.push(`direction: ${exit.isWrite ? 'write' : 'read'}`, `address: ${hex(exit.address)}`, `size: ${exit.size} bytes`);
    if (exit.isWrite) fields.push(`data: ${[...exit.data.subarray(0, exit.size)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
  } else if (exit.kind === 'rdmsr' || exit.kind === 'wrmsr') {
    const name = msrName(exit.index);
    fields.push(`direction: ${exit.kind === 'rdmsr' ? 'read (RDMSR)' : 'write (WRMSR)'}`, `msr: ${hex(exit.index >>> 0)}${name ? ` (${name})` : ''}`);
    if (exit.kind === 'wrmsr') fields.push(`data: ${hex(exit.data)} (EDX:EAX)`);
    fields.push('completed by: KVM_GET_MSRS/KVM_SET_MSRS on resume (a refused access becomes #GP in the guest)');
  } else if (exit.kind === 'hlt') {
    fields.push('the vCPU is halted (KVM mp_state HALTED): RIP is past the HLT; it runs on at the next interrupt');
  } else if (exit.kind === 'hypercall') {
    fields.push(`nr: ${exit.nr}`, ...exit.args.map((a, i) => `arg${i}: ${hex(a)}`), 'answer on resume: -KVM_ENOSYS in RAX');
  }
  return fields.join('\n');
}
