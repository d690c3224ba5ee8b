/**
 * The data models of the KVM views: plain trees of labelled nodes built from
 * the custom DAP bodies (debug-adapter/protocol-extensions.ts). No VS Code
 * here, so they are unit-tested directly.
 */
import type { DescriptorTablesBody, DevicesBody, ExitStatsBody, PageWalkBody, StateEventBody } from '../debug-adapter/protocol-extensions';

export interface ViewNode {
  label: string;
  description?: string;
  tooltip?: string;
  /** ThemeIcon id. */
  icon?: string;
  children?: ViewNode[];
  /** A memoryReference to open (disassembly at an exit's RIP, memory at a table). */
  memoryReference?: string;
}

export function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(1)}M/s`;
  if (perSecond >= 1e4) return `${Math.round(perSecond / 1e3)}k/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)}k/s`;
  return `${Math.round(perSecond)}/s`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function exitsModel(s: ExitStatsBody): ViewNode[] {
  const kinds = [...s.byKind].sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind));
  const byKind: ViewNode = {
    label: 'By kind',
    description: `${formatCount(s.total)} exits in ${(s.elapsedMs / 1000).toFixed(1)} s`,
    icon: 'graph',
    children: kinds.map((k) => ({
      label: k.kind,
      description: `${formatCount(k.count)}${k.perSecond > 0 ? ` · ${formatRate(k.perSecond)}` : ''}`,
      tooltip: `${k.count} ${k.kind} exits (${s.total ? ((100 * k.count) / s.total).toFixed(1) : 0}% of all)`,
      icon: 'symbol-event',
    })),
  };
  const recent: ViewNode = {
    label: 'Last exits',
    description: `${s.recent.length}`,
    icon: 'history',
    children: [...s.recent].reverse().map((e) => ({
      label: e.kind,
      // RIP is known only for exits the vCPU stopped at (reading it per exit costs an ioctl).
      description: e.rip ? `${e.rip}  ${e.detail}` : e.detail,
      tooltip: `${e.kind}${e.rip ? ` at RIP ${e.rip}` : ''}: ${e.detail}${e.timeMs !== undefined ? ` (+${e.timeMs.toFixed(1)} ms)` : ''}.${e.rip ? ' Click: disassembly at RIP.' : ''}`,
      icon: 'debug-stackframe-dot',
      memoryReference: e.rip ? `v:${e.rip}` : undefined,
    })),
  };
  return [byKind, recent];
}

export function pageWalkModel(w: PageWalkBody): ViewNode[] {
  const head: ViewNode = {
    label: w.address,
    description: w.physical ? `-> physical ${w.physical}${w.pageSize ? ` (${pageSizeName(w.pageSize)} page)` : ''}` : `not mapped${w.fault ? `: ${w.fault}` : ''}`,
    tooltip: `paging mode: ${w.mode}`,
    icon: w.physical ? 'pass' : 'error',
    memoryReference: w.physical ? `p:${w.physical}` : undefined,
  };
  const levels = w.levels.map((l): ViewNode => ({
    label: l.name,
    description: `${l.entry}  ${l.flags.join(' ')}`,
    tooltip: `entry at physical ${l.entryAddress}${l.present ? '' : ' (not present)'}`,
    icon: l.present ? 'circle-filled' : 'circle-outline',
    memoryReference: `p:${l.entryAddress}`,
  }));
  return [head, { label: `Mode: ${w.mode}`, icon: 'layers' }, ...levels];
}

export function pageSizeName(bytes: number): string {
  if (bytes >= 1 << 30) return `${bytes / (1 << 30)} GiB`;
  if (bytes >= 1 << 20) return `${bytes / (1 << 20)} MiB`;
  return `${bytes / 1024} KiB`;
}

export function devicesModel(d: DevicesBody): ViewNode[] {
  return d.devices.map((dev) => ({
    label: dev.name,
    description: dev.description,
    icon: 'circuit-board',
    children: dev.details?.map(([k, v]) => ({ label: k, description: v })),
  }));
}

export function descriptorTablesModel(t: DescriptorTablesBody): ViewNode[] {
  const table = (name: string, tb: DescriptorTablesBody['gdt'], space: string): ViewNode => ({
    label: name,
    description: `base ${tb.base} limit 0x${tb.limit.toString(16)} (${tb.entries.length} entries)`,
    icon: 'table',
    memoryReference: `${space}:${tb.base}`,
    children: tb.entries.map((e) => ({ label: `[${e.index}]`, description: e.decoded, tooltip: e.raw })),
  });
  return [table('GDT', t.gdt, 'v'), table('IDT', t.idt, 'v')];
}

/** The status bar text: "$(vm-running) KVM running · 1 vCPU · 12k exits/s". */
export function statusText(s: Pick<StateEventBody, 'state' | 'vcpus' | 'exitsPerSecond'>): string {
  const icon = s.state === 'running' ? '$(vm-running)' : s.state === 'paused' ? '$(debug-pause)' : s.state === 'exited' ? '$(vm-outline)' : '$(loading~spin)';
  const parts = [`${icon} KVM ${s.state}`];
  if (s.vcpus > 0) parts.push(`${s.vcpus} vCPU${s.vcpus === 1 ? '' : 's'}`);
  if (s.state === 'running' && s.exitsPerSecond !== undefined) parts.push(`${formatRate(s.exitsPerSecond)} exits`);
  return parts.join(' · ');
}

/** Parses what the user typed as an address: hex (0x..., or with h suffix), or decimal. */
export function parseAddress(text: string): bigint | undefined {
  const t = text.trim().replace(/_/g, '');
  try {
    if (/^0x[0-9a-f]+$/i.test(t)) return BigInt(t);
    if (/^[0-9a-f]+h$/i.test(t)) return BigInt('0x' + t.slice(0, -1));
    if (/^[0-9]+$/.test(t)) return BigInt(t);
  } catch { /* fall through */ }
  return undefined;
}
