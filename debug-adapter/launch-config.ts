/**
 * The `launch` arguments of a "kvm" debug session: the schema as data (one
 * source of truth: issue 5 generates/checks package.json's
 * contributes.debuggers[].configurationAttributes from LAUNCH_SCHEMA) and
 * the validation, one sentence a problem.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseDisk, parseModule, parseSize } from '../vmm/cli/args';
import { checkCondition, EXIT_FILTERS } from './exit-breakpoints';
import { sourceFileMapProblem } from './source-map';

/**
 * VM-exit breakpoints on from the start, by exception filter id (exit-breakpoints.ts):
 * a condition string for filters that take one ("pio": "0x3f8-0x3ff"), or true/false.
 */
export type ExitBreakpointDefaults = Record<string, string | boolean>;

export interface LaunchConfig {
  kernel: string;
  /** An ELF with DWARF (often the kernel itself), or a System.map. */
  symbols?: string;
  systemMap?: string;
  initrd?: string;
  /** Boot modules after the initrd (multiboot, multiboot2, PVH). */
  modules: { path: string; cmdline?: string }[];
  cmdline: string;
  memoryBytes: number;
  cpus: number;
  /** Raw disk images for virtio-blk (/dev/vda first) or, with bus 'ide', the ATA channel. */
  disks: { path: string; readOnly: boolean; bus?: 'virtio' | 'ide' }[];
  stopOnEntry: boolean;
  exitBreakpoints: ExitBreakpointDefaults;
  /** Single steps may enter interrupt handlers (default false: they hold interrupts back). */
  stepIntoInterrupts: boolean;
  /** Compile directory (as DWARF names it) -> the user's source tree (source-map.ts). */
  sourceFileMap: Record<string, string>;
}

type JsonType = 'string' | 'number' | 'boolean' | 'object' | 'array';

export interface LaunchProperty {
  type: JsonType | JsonType[];
  description: string;
  /** For arrays: what each element may be. */
  items?: { type: JsonType | JsonType[] };
  default?: unknown;
  required?: boolean;
}

/** The launch.json attributes of the "kvm" debug type. */
export const LAUNCH_SCHEMA: Record<string, LaunchProperty> = {
  kernel: { type: 'string', required: true, description: 'The guest kernel to boot: a Linux bzImage, a multiboot or PVH ELF, or a 64-bit ELF.' },
  symbols: { type: 'string', description: 'Where names, source lines and frames come from: an ELF with DWARF (e.g. vmlinux) or a System.map. Default: the kernel itself when it is an ELF.' },
  initrd: { type: 'string', description: 'An initial ramdisk (or multiboot module) to load with the kernel.' },
  modules: {
    type: 'array', items: { type: ['string', 'object'] }, default: [],
    description: 'Boot modules for a multiboot, multiboot2 or PVH kernel, after the initrd, in order: "font.psf", "font.psf,its command line", or { "path": "font.psf", "cmdline": "..." } (the command line defaults to the path).',
  },
  cmdline: { type: 'string', default: '', description: 'The kernel command line.' },
  memory: { type: ['string', 'number'], default: '256M', description: 'Guest RAM: a size like "256M" or "2G", or a number of bytes.' },
  cpus: { type: 'number', default: 1, description: 'Number of vCPUs, each on its own thread (up to this host\'s CPU count).' },
  disks: {
    type: 'array', items: { type: ['string', 'object'] }, default: [],
    description: 'Raw disk images the guest sees as virtio-blk disks (/dev/vda, /dev/vdb, ... in order), or with bus "ide" on the primary ATA channel (master, then slave): "disk.img", "disk.img,ro", "disk.img,ide", or { "path": "disk.img", "readOnly": true, "bus": "ide" }.',
  },
  stopOnEntry: { type: 'boolean', default: false, description: 'Stop at the kernel\'s first instruction.' },
  stepIntoInterrupts: { type: 'boolean', default: false, description: 'Let single steps enter interrupt handlers (a timer tick between two instructions). Default false: while stepping, KVM holds interrupts back (KVM_GUESTDBG_BLOCKIRQ, Linux 5.15+).' },
  sourceFileMap: {
    type: 'object', default: {},
    description: 'Where the sources a kernel was compiled from are on this machine: { "compile directory as the DWARF names it": "your tree" }, e.g. { "debian/build/build_amd64_none_amd64": "${workspaceFolder}" } or { "/build/linux-6.1": "/home/me/linux" }. Applied to stack frames, breakpoints and disassembly; the longest matching prefix wins.',
  },
  exitBreakpoints: {
    type: 'object', default: {},
    description: 'VM-exit breakpoints enabled at launch, as in the Breakpoints view: { "pio": "0x3f8-0x3ff", "mmio": "0xfee00000-0xfee00fff", "msr": "wrmsr EFER", "vector": "#PF, #GP", "shutdown": true, "hlt": true, "hypercall": true }. A filter that takes a condition also takes true (no condition).',
  },
};

/** Keys VS Code itself puts into every configuration. */
const VSCODE_KEYS = new Set(['type', 'request', 'name', '__sessionId', '__configurationTarget', 'preLaunchTask', 'postDebugTask',
  'internalConsoleOptions', 'debugServer', 'presentation', 'noDebug', '__restart', 'suppressMultipleSessionWarning']);

export class LaunchConfigError extends Error {}

export interface Validated {
  config: LaunchConfig;
  /** Sentences for the debug console (unknown keys and the like). */
  warnings: string[];
}

function fileArg(args: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const v = args[key];
  if (v === undefined || v === null || v === '') {
    if (required) throw new LaunchConfigError(`launch.json: "${key}" is missing: set it to the path of the guest kernel to boot`);
    return undefined;
  }
  if (typeof v !== 'string') throw new LaunchConfigError(`launch.json: "${key}" must be a file path (a string), not ${JSON.stringify(v)}`);
  if (!existsSync(v)) throw new LaunchConfigError(`launch.json: "${key}": ${v} does not exist`);
  if (!statSync(v).isFile()) throw new LaunchConfigError(`launch.json: "${key}": ${v} is not a file`);
  return v;
}

/** True when the file starts with the ELF magic. */
function isElf(path: string): boolean {
  try {
    const b = readFileSync(path).subarray(0, 4);
    return b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
  } catch {
    return false;
  }
}

function parseMemory(v: unknown): number {
  if (v === undefined) return 256 * 1024 * 1024;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 2 * 1024 * 1024 || v % 4096 !== 0) {
      throw new LaunchConfigError(`launch.json: "memory": ${v} bytes must be a whole multiple of 4096 and at least 2M (or use a string like "256M")`);
    }
    return v;
  }
  if (typeof v !== 'string') throw new LaunchConfigError(`launch.json: "memory" must be a size like "256M" or a number of bytes, not ${JSON.stringify(v)}`);
  try {
    return parseSize(v);
  } catch (e) {
    throw new LaunchConfigError(`launch.json: "memory": ${(e as Error).message.replace(/^--memory /, '')}`);
  }
}

/** "disks": strings like the CLI's --disk (FILE, FILE,ro, FILE,ide) or { path, readOnly, bus } objects. */
function parseDisks(v: unknown): LaunchConfig['disks'] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new LaunchConfigError(`launch.json: "disks" must be a list like ["disk.img", "other.img,ro"], not ${JSON.stringify(v).slice(0, 60)}`);
  return v.map((d, i) => {
    let disk: { path: string; readOnly: boolean; bus?: 'virtio' | 'ide' };
    if (typeof d === 'string') {
      disk = d === '' || d.startsWith(',') ? { path: '', readOnly: false } : parseDisk(d);
    } else if (typeof d === 'object' && d !== null && !Array.isArray(d)) {
      const o = d as Record<string, unknown>;
      if (typeof o.path !== 'string') throw new LaunchConfigError(`launch.json: "disks"[${i}] needs a "path" (a string)`);
      if (o.readOnly !== undefined && typeof o.readOnly !== 'boolean') throw new LaunchConfigError(`launch.json: "disks"[${i}].readOnly must be true or false`);
      if (o.bus !== undefined && o.bus !== 'virtio' && o.bus !== 'ide') throw new LaunchConfigError(`launch.json: "disks"[${i}].bus must be "virtio" or "ide", not ${JSON.stringify(o.bus)}`);
      disk = { path: o.path, readOnly: o.readOnly === true, ...(o.bus === 'ide' ? { bus: 'ide' as const } : {}) };
    } else {
      throw new LaunchConfigError(`launch.json: "disks"[${i}] must be a file path or { "path": ..., "readOnly": ... }, not ${JSON.stringify(d)}`);
    }
    if (disk.path === '') throw new LaunchConfigError(`launch.json: "disks"[${i}] is an empty path`);
    if (!existsSync(disk.path)) throw new LaunchConfigError(`launch.json: "disks"[${i}]: ${disk.path} does not exist`);
    if (!statSync(disk.path).isFile()) throw new LaunchConfigError(`launch.json: "disks"[${i}]: ${disk.path} is not a file`);
    return disk;
  });
}

/** "modules": strings like the CLI's --module (FILE or FILE,CMDLINE) or { path, cmdline } objects. */
function parseModules(v: unknown): LaunchConfig['modules'] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new LaunchConfigError(`launch.json: "modules" must be a list like ["font.psf", "initrd.tar,root"], not ${JSON.stringify(v).slice(0, 60)}`);
  return v.map((m, i) => {
    let mod: { path: string; cmdline?: string };
    if (typeof m === 'string') {
      mod = m === '' || m.startsWith(',') ? { path: '' } : parseModule(m);
    } else if (typeof m === 'object' && m !== null && !Array.isArray(m)) {
      const o = m as Record<string, unknown>;
      if (typeof o.path !== 'string') throw new LaunchConfigError(`launch.json: "modules"[${i}] needs a "path" (a string)`);
      if (o.cmdline !== undefined && typeof o.cmdline !== 'string') throw new LaunchConfigError(`launch.json: "modules"[${i}].cmdline must be a string`);
      mod = o.cmdline === undefined ? { path: o.path } : { path: o.path, cmdline: o.cmdline as string };
    } else {
      throw new LaunchConfigError(`launch.json: "modules"[${i}] must be a file path or { "path": ..., "cmdline": ... }, not ${JSON.stringify(m)}`);
    }
    if (mod.path === '') throw new LaunchConfigError(`launch.json: "modules"[${i}] is an empty path`);
    if (!existsSync(mod.path)) throw new LaunchConfigError(`launch.json: "modules"[${i}]: ${mod.path} does not exist`);
    if (!statSync(mod.path).isFile()) throw new LaunchConfigError(`launch.json: "modules"[${i}]: ${mod.path} is not a file`);
    return mod;
  });
}

/** Validates raw launch arguments; throws LaunchConfigError with one sentence. */
export function validateLaunchArgs(raw: unknown): Validated {
  if (typeof raw !== 'object' || raw === null) throw new LaunchConfigError('launch.json: the configuration must be an object');
  const args = raw as Record<string, unknown>;
  const warnings: string[] = [];
  for (const key of Object.keys(args)) {
    if (!(key in LAUNCH_SCHEMA) && !VSCODE_KEYS.has(key)) {
      warnings.push(`launch.json: unknown attribute "${key}" is ignored (known: ${Object.keys(LAUNCH_SCHEMA).join(', ')})`);
    }
  }
  const kernel = fileArg(args, 'kernel', true)!;
  const symbolsPath = fileArg(args, 'symbols', false);
  let symbols: string | undefined;
  let systemMap: string | undefined;
  if (symbolsPath) {
    if (isElf(symbolsPath)) symbols = symbolsPath;
    else systemMap = symbolsPath;
  } else if (isElf(kernel)) {
    symbols = kernel;
  }
  const initrd = fileArg(args, 'initrd', false);
  const modules = parseModules(args.modules);
  const cmdline = args.cmdline ?? '';
  if (typeof cmdline !== 'string') throw new LaunchConfigError(`launch.json: "cmdline" must be a string, not ${JSON.stringify(cmdline)}`);
  const cpus = args.cpus ?? 1;
  if (typeof cpus !== 'number' || !Number.isInteger(cpus) || cpus < 1) {
    throw new LaunchConfigError(`launch.json: "cpus" must be a whole number of at least 1, not ${JSON.stringify(cpus)}`);
  }
  if (cpus > availableParallelism()) {
    throw new LaunchConfigError(`launch.json: "cpus": ${cpus} is more than this host's ${availableParallelism()} CPUs (each vCPU runs on its own thread)`);
  }
  const disks = parseDisks(args.disks);
  const stopOnEntry = args.stopOnEntry ?? false;
  if (typeof stopOnEntry !== 'boolean') throw new LaunchConfigError(`launch.json: "stopOnEntry" must be true or false, not ${JSON.stringify(stopOnEntry)}`);
  const stepIntoInterrupts = args.stepIntoInterrupts ?? false;
  if (typeof stepIntoInterrupts !== 'boolean') throw new LaunchConfigError(`launch.json: "stepIntoInterrupts" must be true or false, not ${JSON.stringify(stepIntoInterrupts)}`);
  const eb = args.exitBreakpoints ?? {};
  if (typeof eb !== 'object' || eb === null || Array.isArray(eb)) {
    throw new LaunchConfigError('launch.json: "exitBreakpoints" must be an object like { "pio": "0x3f8", "vector": "#GP", "shutdown": true }');
  }
  const exitBreakpoints: ExitBreakpointDefaults = {};
  const known = EXIT_FILTERS.map((f) => f.filter);
  for (const [k, v] of Object.entries(eb as Record<string, unknown>)) {
    const filter = EXIT_FILTERS.find((f) => f.filter === k);
    if (!filter) {
      warnings.push(`launch.json: unknown VM-exit breakpoint "${k}" in "exitBreakpoints" is ignored (known: ${known.join(', ')})`);
      continue;
    }
    if (typeof v === 'boolean') { exitBreakpoints[k] = v; continue; }
    if (typeof v !== 'string' || !filter.supportsCondition) {
      throw new LaunchConfigError(`launch.json: "exitBreakpoints.${k}" must be ${filter.supportsCondition ? 'a condition string (e.g. ' + JSON.stringify(filter.conditionDescription?.match(/"([^"]+)"/)?.[1] ?? '') + ') or ' : ''}true or false`);
    }
    try { checkCondition(k, v); } catch (e) { throw new LaunchConfigError(`launch.json: "exitBreakpoints.${k}": ${(e as Error).message}`); }
    exitBreakpoints[k] = v;
  }
  const mapProblem = sourceFileMapProblem(args.sourceFileMap);
  if (mapProblem) throw new LaunchConfigError(mapProblem);
  const sourceFileMap = { ...(args.sourceFileMap as Record<string, string> | undefined ?? {}) };
  return {
    config: { kernel, symbols, systemMap, initrd, modules, cmdline, memoryBytes: parseMemory(args.memory), cpus, disks, stopOnEntry, exitBreakpoints, stepIntoInterrupts, sourceFileMap },
    warnings,
  };
}

/** A Linux vmlinux is recognised by its symbols. */
export function looksLikeLinux(hasSymbol: (name: string) => boolean): boolean {
  return hasSymbol('start_kernel') && hasSymbol('linux_banner');
}

/**
 * Adds `nokaslr` unless the cmdline already says kaslr or nokaslr; returns
 * the note for the console. `symbolsName` names the symbols file in it.
 * If the kernel randomizes anyway, kaslr.ts finds the slide at a stop.
 */
export function withNoKaslr(cmdline: string, symbolsName = 'vmlinux'): { cmdline: string; note?: string } {
  const words = cmdline.split(/\s+/).filter(Boolean);
  // Parameters after "--" go to init, not the kernel.
  const dashes = words.indexOf('--');
  const kernelWords = dashes < 0 ? words : words.slice(0, dashes);
  if (kernelWords.some((w) => w === 'kaslr' || w === 'nokaslr')) return { cmdline };
  const out = dashes < 0 ? [...words, 'nokaslr'] : [...words.slice(0, dashes), 'nokaslr', ...words.slice(dashes)];
  return {
    cmdline: out.join(' '),
    note: `kvmdbg added "nokaslr" to the kernel command line so that the symbols of ${symbolsName} match the running kernel `
      + '(put "kaslr" in cmdline to keep KASLR: kvmdbg then finds the slide when the kernel stops)',
  };
}
