/**
 * VM exits as DAP exception breakpoints: the filters VS Code lists in the
 * Breakpoints view (each with a condition), their translation into the
 * machine's ExitBreakpointSpec, and the exceptionInfo of a stop at one.
 */
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { ExitBreakpointSpec, Direction } from '../vmm/debug/exit-filters';
import type { VcpuExit } from '../native/types';

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
  }
  return fields.join('\n');
}
