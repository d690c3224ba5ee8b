/**
 * Small facts about the running kernel, as the Debug Console shows them:
 * its command line (saved_command_line), its banner (linux_banner), the
 * physical memory map (the iomem_resource tree, as /proc/iomem), and a
 * per-cpu variable's value on each CPU (through the expression helpers'
 * per_cpu, so the per-cpu rules live in one place).
 */
import { evaluateExpression, ExprError } from '../expr';
import { formatValue } from '../variables/format';
import { strip } from '../variables/ctype';
import { Kernel, LinuxError, printable } from './kernel';

/** saved_command_line, or boot_command_line before setup_arch saved it. */
export function commandLine(k: Kernel): string {
  const saved = k.global('saved_command_line');
  const boot = k.global('boot_command_line');
  if (!saved && !boot) throw new LinuxError("cmdline needs the kernel's 'saved_command_line', which its DWARF does not describe");
  const text = saved ? k.text(saved, "the kernel's saved_command_line", 4096) : '';
  return printable(text || (boot ? k.text(boot, "the kernel's boot_command_line", 4096) : ''));
}

export function versionBanner(k: Kernel): string {
  const v = k.need('linux_banner', 'version');
  return printable(k.text(v, "the kernel's linux_banner", 1024).replace(/\n+$/, ''));
}

export interface IomemEntry { start: bigint; end: bigint; name: string; depth: number }

const MAX_RESOURCES = 4096;
const MAX_DEPTH = 16;

/** The iomem_resource tree, depth first, as /proc/iomem lists it (bounded: a loop or a wild pointer ends the walk with a note). */
export function iomem(k: Kernel): { entries: IomemEntry[]; problem?: string } {
  const root = k.need('iomem_resource', 'iomem');
  const type = root.type;
  const entries: IomemEntry[] = [];
  const seen = new Set<bigint>();
  let problem: string | undefined;
  const visit = (first: bigint, depth: number): void => {
    for (let at = first; at !== 0n; ) {
      if (entries.length >= MAX_RESOURCES) { problem ??= `the list stops after ${MAX_RESOURCES} resources (the limit)`; return; }
      if (seen.has(at)) { problem ??= `the resource tree loops back to 0x${at.toString(16)}`; return; }
      if (depth > MAX_DEPTH) { problem ??= `the resource tree is deeper than ${MAX_DEPTH} levels`; return; }
      seen.add(at);
      const r = k.at(type, at);
      let child: bigint;
      let sibling: bigint;
      try {
        entries.push({
          start: k.int(k.field(r, 'start', 'iomem'), 'a resource start'),
          end: k.int(k.field(r, 'end', 'iomem'), 'a resource end'),
          name: printable(k.text(k.field(r, 'name', 'iomem'), 'a resource name', 64)),
          depth,
        });
        child = k.int(k.field(r, 'child', 'iomem'), 'a resource child');
        sibling = k.int(k.field(r, 'sibling', 'iomem'), 'a resource sibling');
      } catch (e) {
        if (!(e instanceof LinuxError)) throw e;
        problem ??= `the resource at 0x${at.toString(16)} is unreadable (${e.message})`;
        return;
      }
      if (child !== 0n) visit(child, depth + 1);
      at = sibling;
    }
  };
  visit(k.int(k.field(root, 'child', 'iomem'), "iomem_resource's first child"), 0);
  return { entries, problem };
}

export function formatIomem(entries: IomemEntry[]): string[] {
  const width = entries.some((e) => e.end > 0xffff_ffffn) ? 16 : 8;
  const h = (v: bigint): string => v.toString(16).padStart(width, '0');
  return entries.map((e) => `${'  '.repeat(e.depth)}${h(e.start)}-${h(e.end)} : ${e.name}`);
}

/** `name`'s value on CPUs 0..cpus-1, one line each (a CPU that cannot be read says why). */
export function perCpu(k: Kernel, name: string, cpus: number): string[] {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new LinuxError(`per-cpu takes a variable name, like 'runqueues' (not "${name}")`);
  const v = k.global(name);
  if (!v) throw new LinuxError(`the kernel's DWARF describes no variable '${name}'`);
  const lines: string[] = [];
  const count = Math.max(1, Math.min(cpus, possibleCpus(k) ?? cpus));
  for (let cpu = 0; cpu < count; cpu++) {
    try {
      const value = evaluateExpression(`per_cpu(${name}, ${cpu})`, k.ctx);
      lines.push(`cpu ${cpu}: ${formatValue(value, { hex: strip(value.type).kind === 'pointer' })}`);
    } catch (e) {
      if (!(e instanceof ExprError)) throw e;
      lines.push(`cpu ${cpu}: ${e.message}`);
    }
  }
  return lines;
}

/** nr_cpu_ids, when the kernel has it: CPUs beyond it have no per-cpu area. */
function possibleCpus(k: Kernel): number | undefined {
  const v = k.global('nr_cpu_ids');
  if (!v) return undefined;
  try { return Number(k.int(v, 'nr_cpu_ids')); } catch { return undefined; }
}
