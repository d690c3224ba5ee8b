/**
 * kvmdbg's additions to DAP: the custom requests and events the extension
 * (extension/) and the debug adapter (debug-adapter/session.ts) exchange,
 * typed once here and imported by both sides. Everything else is standard
 * DAP (launch, threads, stackTrace, readMemory, disassemble, ...).
 *
 * Wire rules: names start with "kvm/"; addresses and 64-bit values travel as
 * hex strings ("0xffffffff81000000"), bytes as base64. No type here depends
 * on VS Code or on the VMM, so both bundles can import it.
 */

/** The memoryReference scheme of readMemory/writeMemory/disassemble: "v:0xADDR" (virtual) or "p:0xADDR" (physical). */
export type MemorySpace = 'v' | 'p';
export const memoryReference = (space: MemorySpace, address: bigint): string => `${space}:0x${BigInt.asUintN(64, address).toString(16)}`;

// ---- events (adapter -> extension) ---------------------------------------

/** Guest serial console output, exactly the bytes the guest sent (colours included). */
export interface ConsoleEventBody { data: string /* base64 */ }

/** The machine's run state, sent on every change (and with a few rates while running, at most ~1/s). */
export interface StateEventBody {
  state: 'starting' | 'running' | 'paused' | 'exited';
  vcpus: number;
  /** VM exits a second over the last interval, while running. */
  exitsPerSecond?: number;
}

/**
 * The guest's screen (VGA text or the dispi framebuffer) as a PNG: the reply
 * to kvm/screen, and, while the extension watches, an event each time the
 * picture changed (at most maxFps a second, only while the guest runs, and
 * once more when it stops).
 */
export interface ScreenBody {
  png: string /* base64 */;
  width: number;
  height: number;
  mode: 'text' | 'framebuffer' | 'vga-graphics';
  /** "80x25 text", "1024x768x32". */
  description: string;
  /** Fingerprint of the picture: equal hashes, equal pictures. */
  hash: number;
  /** Text mode: the rows as Unicode text (CP437 mapped), for screen readers, copying and tests. */
  text?: string[];
}

export interface KvmEvents {
  'kvm/console': ConsoleEventBody;
  'kvm/state': StateEventBody;
  'kvm/screen': ScreenBody;
}
export type KvmEventName = keyof KvmEvents;

// ---- requests (extension -> adapter) -------------------------------------

/** The current screen; watch: true starts kvm/screen events (false stops them). */
export interface ScreenArgs {
  watch?: boolean;
  /** Frames a second at most while watching, 1 to 30 (default 30). */
  maxFps?: number;
}

/** Keys for the guest's PS/2 keyboard: events named as KeyboardEvent.code, or text typed on a US layout ({Enter} names a key). */
export interface KeyboardArgs {
  keys?: { code: string; down: boolean }[];
  text?: string;
}

/** Keyboard input for the guest's serial console (what the user typed, UTF-8 text). */
export interface ConsoleInputArgs { data: string }

export interface ExitStatsArgs {
  /** How many of the most recent exits to return (default 20). */
  last?: number;
}
export interface ExitKindStats {
  /** "io", "mmio", "hlt", "shutdown", "cpuid", "msr", "hypercall", "debug", "intr", ... as the VMM names them. */
  kind: string;
  count: number;
  /** Exits a second over the last interval (0 while paused). */
  perSecond: number;
}
export interface RecentExit {
  kind: string;
  /**
   * Guest RIP at the exit, hex, when known: the vCPU thread does not read RIP
   * per exit (an ioctl each), so only debug exits and the exit the vCPU is
   * stopped at carry it.
   */
  rip?: string;
  /** One line: "out 0x3f8 <- 0x41 (1 byte)", "mmio read 0xfee00020 (4 bytes)". */
  detail: string;
  /** Milliseconds since the VM started. */
  timeMs?: number;
}
export interface ExitStatsBody {
  total: number;
  /** Milliseconds the VM has been running (excluding paused time when known). */
  elapsedMs: number;
  byKind: ExitKindStats[];
  recent: RecentExit[];
}

export interface PageWalkArgs {
  /** Virtual address to translate, hex or decimal. */
  address: string;
  /** Page-table root; default: CR3 of the stopped vCPU. */
  cr3?: string;
  /** vCPU (thread id); default: the first. */
  threadId?: number;
}
export interface PageWalkLevel {
  /** "PML5", "PML4", "PDPT", "PD", "PT" (or "PD (32-bit)" ...). */
  name: string;
  /** Physical address of the entry, hex. */
  entryAddress: string;
  /** The raw entry, hex. */
  entry: string;
  /** Decoded flags, e.g. ["P", "RW", "US", "A", "D", "PS", "NX"]. */
  flags: string[];
  present: boolean;
}
export interface PageWalkBody {
  address: string;
  /** "none" (paging off), "32-bit", "PAE", "4-level", "5-level". */
  mode: string;
  levels: PageWalkLevel[];
  /** Physical address it translates to, hex; absent when not mapped. */
  physical?: string;
  /** Page size in bytes when mapped. */
  pageSize?: number;
  /** Why it does not translate (one sentence), when it does not. */
  fault?: string;
}

export interface DeviceInfo {
  /** "uart0", "pit", "ioapic", "pci 00:01.0", ... */
  name: string;
  /** One line: "16550A at 0x3f8, IRQ 4". */
  description: string;
  /** Register or state lines to show under it: [label, value]. */
  details?: [string, string][];
}
export interface DevicesBody { devices: DeviceInfo[] }

export interface DescriptorTablesArgs { threadId?: number }
export interface DescriptorEntry {
  index: number;
  /** Raw descriptor, hex. */
  raw: string;
  /** Decoded: "code64 DPL0 P", "interrupt gate -> 0xffffffff81a00000 IST0 DPL0". */
  decoded: string;
}
export interface DescriptorTable { base: string; limit: number; entries: DescriptorEntry[] }
export interface DescriptorTablesBody { gdt: DescriptorTable; idt: DescriptorTable }

/** How values are shown from now on (the "Toggle Hexadecimal Values" command); the adapter then invalidates the variables views. */
export interface DisplayFormatArgs { hex: boolean }

/** The kernel log (Linux guests): records after `afterSeq` (incremental), or the last `last`. */
export interface DmesgArgs { afterSeq?: number; last?: number }
export interface DmesgRecord {
  seq: number;
  /** Nanoseconds since boot, decimal. */
  tsNsec: string;
  /** 0 (emerg) .. 7 (debug). */
  level: number;
  facility: number;
  callerId?: number;
  text: string;
}
export interface DmesgBody {
  records: DmesgRecord[];
  /** The next record's sequence number: ask with afterSeq = nextSeq - 1 for what is new. */
  nextSeq: number;
  source: 'printk_ringbuffer' | 'log_buf';
  /** Read while the guest runs (it may be changing). */
  live: boolean;
}

/** The kernel's tasks (Linux guests). */
export interface TaskEntry {
  pid: number;
  tgid: number;
  comm: string;
  /** ps's state letter: R S D T t X Z P I. */
  state: string;
  cpu?: number;
  /** The vCPU running it now. */
  runningOn?: number;
  /** The task_struct, hex. */
  address: string;
  /** The task kvm/selectTask selected. */
  selected?: boolean;
}
export interface TasksBody { tasks: TaskEntry[]; problem?: string; live: boolean }

/** Shows a task's stack: a running task is its vCPU's thread, another one the extra thread "task PID NAME". */
export interface SelectTaskArgs { pid: number }
export interface SelectTaskBody { threadId: number; name: string; running: boolean }

export interface KvmRequests {
  'kvm/consoleInput': { args: ConsoleInputArgs; body: Record<string, never> | undefined };
  'kvm/exitStats': { args: ExitStatsArgs; body: ExitStatsBody };
  'kvm/pageWalk': { args: PageWalkArgs; body: PageWalkBody };
  'kvm/devices': { args: Record<string, never>; body: DevicesBody };
  'kvm/descriptorTables': { args: DescriptorTablesArgs; body: DescriptorTablesBody };
  'kvm/displayFormat': { args: DisplayFormatArgs; body: Record<string, never> | undefined };
  'kvm/screen': { args: ScreenArgs; body: ScreenBody };
  'kvm/keyboard': { args: KeyboardArgs; body: Record<string, never> | undefined };
  'kvm/dmesg': { args: DmesgArgs; body: DmesgBody };
  'kvm/tasks': { args: Record<string, never>; body: TasksBody };
  'kvm/selectTask': { args: SelectTaskArgs; body: SelectTaskBody };
}
export type KvmRequestName = keyof KvmRequests;

export const KVM_REQUESTS: readonly KvmRequestName[] = ['kvm/consoleInput', 'kvm/exitStats', 'kvm/pageWalk', 'kvm/devices', 'kvm/descriptorTables', 'kvm/displayFormat',
  'kvm/screen', 'kvm/keyboard', 'kvm/dmesg', 'kvm/tasks', 'kvm/selectTask'];
export const KVM_EVENTS: readonly KvmEventName[] = ['kvm/console', 'kvm/state', 'kvm/screen'];

export function isKvmRequest(command: string): command is KvmRequestName {
  return (KVM_REQUESTS as readonly string[]).includes(command);
}
