/**
 * The "MSRs" scope: the model-specific registers a kernel developer checks
 * (system-call entry points, FS/GS bases, the APIC base, PAT...), each named,
 * pointer-like ones with a memoryReference and the symbol they point at.
 * Reading MSRs is a round trip to the vCPU's thread, so the scope is marked
 * expensive: VS Code reads it only when the user opens it.
 */
import type { MsrEntry } from '../native/types';
import { formatRef } from './memory';
import type { RegisterNode } from './registers';

export interface MsrInfo { index: number; name: string; pointer?: boolean }

/** In the order shown. KVM may refuse some (a CPU without SYSENTER MSRs, say): those are left out. */
export const INTERESTING_MSRS: MsrInfo[] = [
  { index: 0xc000_0082, name: 'LSTAR', pointer: true },
  { index: 0xc000_0081, name: 'STAR' },
  { index: 0xc000_0083, name: 'CSTAR', pointer: true },
  { index: 0xc000_0084, name: 'SFMASK' },
  { index: 0xc000_0100, name: 'FS_BASE', pointer: true },
  { index: 0xc000_0101, name: 'GS_BASE', pointer: true },
  { index: 0xc000_0102, name: 'KERNEL_GS_BASE', pointer: true },
  { index: 0xc000_0103, name: 'TSC_AUX' },
  { index: 0x174, name: 'SYSENTER_CS' },
  { index: 0x175, name: 'SYSENTER_ESP', pointer: true },
  { index: 0x176, name: 'SYSENTER_EIP', pointer: true },
  { index: 0x1b, name: 'APIC_BASE' },
  { index: 0x277, name: 'PAT' },
  { index: 0x10, name: 'TSC' },
];

const hex = (v: bigint): string => '0x' + v.toString(16).padStart(16, '0');

/** Nodes for the MSRs KVM returned; `symbolize` names what a pointer MSR points at (e.g. LSTAR: entry_SYSCALL_64). */
export function msrNodes(entries: MsrEntry[], symbolize?: (address: bigint) => string | undefined): RegisterNode[] {
  const out: RegisterNode[] = [];
  for (const info of INTERESTING_MSRS) {
    const e = entries.find((x) => x.index === info.index);
    if (!e) continue;
    const at = info.pointer && e.value !== 0n ? symbolize?.(e.value) : undefined;
    out.push({
      name: info.name, raw: e.value, value: at ? `${hex(e.value)} <${at}>` : hex(e.value),
      memoryReference: info.pointer ? formatRef('v', e.value) : undefined,
    });
  }
  return out;
}

/**
 * Reads `indices` with a reader that stops at the first MSR KVM refuses
 * (KVM_GET_MSRS semantics): skips each refused one and goes on.
 */
export async function readMsrs(indices: number[], read: (indices: number[]) => Promise<MsrEntry[]>): Promise<MsrEntry[]> {
  const got: MsrEntry[] = [];
  let rest = indices;
  while (rest.length > 0) {
    const part = await read(rest);
    got.push(...part);
    rest = rest.slice(part.length + 1);
  }
  return got;
}
