/**
 * lsmod's table from the kernel's module list (module-list.ts): name, size,
 * how many use it and which, and where it is, as /proc/modules has them.
 * The Debug Console's `lsmod` command prints it.
 */
import { moduleBase, moduleSize, type KernelModule } from './module-list';

const hex = (v: bigint): string => '0x' + v.toString(16);

/** The lsmod text of `modules` (as walked: newest first, like the kernel's list), or a sentence when there are none. */
export function lsmodText(modules: readonly KernelModule[], problem?: string): string {
  if (modules.length === 0) return problem ?? 'No modules are loaded.';
  const rows = modules.map((m) => {
    const users = m.refcount === undefined ? '-' : `${m.refcount}${m.usedBy && m.usedBy.length > 0 ? ' ' + m.usedBy.join(',') : ''}`;
    const base = moduleBase(m);
    const state = m.state === 'live' ? '' : `  (${m.state === 'coming' ? 'loading' : m.state === 'going' ? 'unloading' : m.state})`;
    return `${m.name.padEnd(19)} ${String(moduleSize(m)).padStart(8)}  ${users.padEnd(12)} ${base === undefined ? '-' : hex(base)}${state}`;
  });
  const lines = [`${'Module'.padEnd(19)} ${'Size'.padStart(8)}  ${'Used by'.padEnd(12)} Address`, ...rows];
  if (problem) lines.push(problem);
  return lines.join('\n');
}
