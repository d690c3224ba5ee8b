/**
 * What this host's KVM can do for a debugger, as measured by the probes
 * (probes.ts), and what each answer means for the user: one line a
 * capability, the consequence, and what kvmdbg does instead. Plain data:
 * it crosses threads and processes (the test runner routes KVM-tier files
 * by it), and `kvmdbg doctor` prints it.
 */
import { existsSync, readFileSync } from 'node:fs';

export type CapabilityId =
  | 'real-mode' | 'long-mode' | 'single-step' | 'hw-breakpoints' | 'dr-watchpoints' | 'int3-exits' | 'int3-trap' | 'port-trap'
  | 'shutdown-exit' | 'fail-entry' | 'msr-exits' | 'guest-exceptions' | 'user-mode-debug' | 'readonly-slots' | 'dirty-log' | 'kick-halted';

/** Derived from the probes: an unmodified Linux needs exceptions through its IDT; software breakpoints need one of the traps. */
export type DerivedId = 'linux' | 'software-breakpoints';

export type KvmFlavour = 'hardware-intel' | 'hardware-amd' | 'nested-intel' | 'nested-amd' | 'pvm' | 'unknown' | 'none';

export interface CapabilityResult { id: CapabilityId | DerivedId; works: boolean; detail: string }

export interface HostReport {
  flavour: KvmFlavour;
  /** One sentence: why there is no usable KVM (flavour 'none'), else undefined. */
  problem?: string;
  capabilities: CapabilityResult[];
  /** Wall time the probes took, ms. */
  probeMs: number;
}

interface Meaning {
  title: string;
  /** What works, said when it does. */
  yes: string;
  /** What the user loses, and what kvmdbg does instead. */
  no: string;
}

export const MEANINGS: Record<CapabilityId | DerivedId, Meaning> = {
  'real-mode': { title: 'real-mode guest', yes: 'real-mode and 16-bit code runs: BIOS boot sectors boot (kvmdbg\'s own BIOS)', no: 'real-mode code does not run: BIOS boot sectors and real-mode entry points cannot boot on this host' },
  'long-mode': { title: '64-bit guest', yes: 'kernels run (multiboot, PVH, ELF64)', no: 'no 64-bit guest runs: kvmdbg cannot boot kernels on this host' },
  'single-step': { title: 'single-step', yes: 'instruction and source-line steps', no: 'no stepping: steps are refused with this reason' },
  'hw-breakpoints': { title: 'hardware breakpoints (DR0-3)', yes: 'the first 4 code breakpoints use debug registers', no: 'code breakpoints use the software trap only' },
  'dr-watchpoints': { title: 'DR watchpoints', yes: 'data breakpoints of up to 8 bytes use debug registers (fast path)', no: 'data breakpoints use page protection (read-only or unmapped memory slots): any size, any count, reads too' },
  'int3-exits': { title: 'int3 debug exits', yes: 'int3 gives KVM debug exits', no: 'int3 gives no debug exit: see the int3 trap below' },
  'int3-trap': { title: 'int3 as a software breakpoint', yes: 'unlimited code breakpoints: int3s beyond the 4 debug registers', no: 'code breakpoints are limited to the 4 debug registers (DR0-3)' },
  'port-trap': { title: 'port trap as a software breakpoint', yes: 'unlimited code breakpoints where int3 cannot trap: a planted 2-byte OUT (on instructions of 2 bytes or more)', no: 'no port trap: code breakpoints beyond the debug registers need the int3 trap' },
  'shutdown-exit': { title: 'triple fault as a shutdown exit', yes: 'a triple fault ends the VM with "triple fault"', no: 'a triple fault arrives as a KVM internal error: kvmdbg recognizes it from the guest state and names it a triple fault' },
  'fail-entry': { title: 'failed-entry reporting', yes: 'an invalid CPU state is reported by KVM', no: 'KVM never reports an invalid CPU state (it does not return): kvmdbg checks the states it sets itself and refuses invalid ones' },
  'msr-exits': { title: 'MSR exits (MSR filter)', yes: 'MSR access breakpoints (rdmsr/wrmsr)', no: 'MSR breakpoints are refused: this KVM does not complete the filtered MSR accesses kvmdbg answers' },
  'guest-exceptions': { title: 'exceptions and INT n through the guest IDT', yes: 'exception (vector) breakpoints; kernels that take faults and software interrupts run', no: 'some exceptions or software interrupts (INT n, int3) never reach the guest\'s IDT: such a kernel stops with an internal error, named as a host limit' },
  'user-mode-debug': { title: 'stepping ring-3 (user) code', yes: 'breakpoints and steps work in user space too', no: 'the debugger does not see ring-3 code on this host: steps run through it and its breakpoints do not stop; debug user space on hardware or nested KVM, or in the KVM sandbox' },
  'readonly-slots': { title: 'read-only memory slots', yes: 'page-protection watchpoints (any size, any count, reads too)', no: 'no page-protection watchpoints: data breakpoints need DR watchpoints' },
  'dirty-log': { title: 'dirty page logging', yes: 'framebuffer change detection', no: 'the guest screen is re-read whole each frame' },
  'kick-halted': { title: 'pause of a halted vCPU', yes: 'pause stops a vCPU in HLT (an idle CPU)', no: 'a vCPU halted with interrupts off cannot be paused: pause waits until it wakes; ending the VM still works' },
  'software-breakpoints': { title: 'software breakpoints', yes: 'unlimited code breakpoints (DAP and gdb)', no: 'code breakpoints are limited to the 4 debug registers (DR0-3)' },
  linux: { title: 'unmodified Linux kernel', yes: 'Linux boots (bzImage, vmlinux)', no: 'an unmodified Linux cannot start here (it needs every exception and int3 through its IDT): use hardware or nested KVM, or the KVM sandbox (test/sandbox/run)' },
};

export function works(report: HostReport, id: CapabilityId | DerivedId): boolean {
  return report.capabilities.find((c) => c.id === id)?.works === true;
}

/** Adds what follows from the measured capabilities. */
export function withDerived(capabilities: CapabilityResult[]): CapabilityResult[] {
  const got = (id: CapabilityId) => capabilities.find((c) => c.id === id);
  const exceptions = got('guest-exceptions');
  const linux: CapabilityResult = exceptions?.works && got('long-mode')?.works
    ? { id: 'linux', works: true, detail: 'exceptions and INT n reach the guest\'s IDT' }
    : { id: 'linux', works: false, detail: exceptions?.detail ?? 'not probed' };
  const trap = [got('int3-trap'), got('port-trap')].find((c) => c?.works);
  const software: CapabilityResult = trap
    ? { id: 'software-breakpoints', works: true, detail: `the ${trap.id === 'int3-trap' ? 'int3' : 'port'} trap` }
    : { id: 'software-breakpoints', works: false, detail: `int3: ${got('int3-trap')?.detail ?? 'not probed'}; port trap: ${got('port-trap')?.detail ?? 'not probed'}` };
  return [...capabilities, software, linux];
}

/** The host CPU's flags (/proc/cpuinfo's first "flags" line; none when it cannot be read). */
export function hostCpuFlags(read: (path: string) => string | undefined = readText): string[] {
  return /^flags\s*:(.*)$/m.exec(read('/proc/cpuinfo') ?? '')?.[1].split(/\s+/) ?? [];
}

/** Which kind of KVM this is, from the loaded modules and CPU flags (naming only: capabilities are measured). */
export function kvmFlavour(read: (path: string) => string | undefined = readText, exists: (path: string) => boolean = existsSync): KvmFlavour {
  if (exists('/sys/module/kvm_pvm')) return 'pvm';
  const flags = hostCpuFlags(read);
  const nested = flags.includes('hypervisor');
  if (exists('/sys/module/kvm_intel')) return nested ? 'nested-intel' : 'hardware-intel';
  if (exists('/sys/module/kvm_amd')) return nested ? 'nested-amd' : 'hardware-amd';
  return 'unknown';
}

export const FLAVOUR_NAMES: Record<KvmFlavour, string> = {
  'hardware-intel': 'hardware KVM (Intel VT-x)',
  'hardware-amd': 'hardware KVM (AMD-V)',
  'nested-intel': 'nested KVM (Intel VT-x under a hypervisor)',
  'nested-amd': 'nested KVM (AMD-V under a hypervisor)',
  pvm: 'PVM (KVM in software with shadow paging, no VT-x/AMD-V)',
  unknown: 'KVM of an unknown kind',
  none: 'no KVM',
};

function readText(path: string): string | undefined {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
}

/** `kvmdbg doctor`'s table: one line a capability, measured yes/no, and what it means here. */
export function formatReport(report: HostReport): string {
  const lines = [`host: ${FLAVOUR_NAMES[report.flavour]}${report.problem ? `: ${report.problem}` : ''}`];
  if (report.capabilities.length === 0) return lines.join('\n');
  const width = Math.max(...report.capabilities.map((c) => MEANINGS[c.id].title.length));
  for (const c of report.capabilities) {
    const m = MEANINGS[c.id];
    lines.push(`  ${m.title.padEnd(width)}  ${c.works ? 'yes' : 'no '}  -> ${c.works ? m.yes : m.no}`);
    if (!c.works) lines.push(`  ${''.padEnd(width)}       (measured: ${c.detail})`);
  }
  lines.push(`probed in ${Math.round(report.probeMs)} ms`);
  return lines.join('\n');
}

/** The main job: booting our kernels and stepping through them. */
export function mainJobWorks(report: HostReport): boolean {
  return works(report, 'long-mode') && works(report, 'single-step');
}
