/**
 * What one debug session holds once it launched a VM (the machine, its vCPU
 * control, guest memory, symbols, the breakpoint table), shared by the
 * request modules beside this file, and the two outlets they all use:
 * events to the client and console notes. No DAP requests are answered here.
 */
import { OutputEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { Machine } from '../../vmm/machine/machine';
import type { StopReason } from '../../vmm/machine/protocol';
import type { LaunchConfig } from '../launch-config';
import type { VcpuControl } from '../vcpu';
import type { GuestMemoryView } from '../memory';
import type { Symbols } from '../symbols';
import type { KaslrTracker } from '../kaslr';
import type { SoftwareTraps } from '../software-traps';
import type { CpuSnapshot } from '../registers';
import type { Regs } from '../../native/types';
import { BreakpointTable } from '../breakpoints';
import { KernelHooks, type HookStop } from '../kernel-hooks';
import type { ModuleTracker } from '../linux/module-tracker';
import { makeSourceFileMap, type SourceFileMap } from '../source-map';

/** The one thread id used before any vCPU exists (events after the VM ended). */
export const THREAD_ID = 1;

export const hex = (v: bigint): string => '0x' + v.toString(16);

/**
 * The client's path and line conventions (DebugSession knows them from
 * initialize); modules that name source locations convert through these.
 */
export interface ClientPaths {
  toClientPath(path: string): string;
  toDebuggerPath(path: string): string;
  toClientLine(line: number): number;
  toDebuggerLine(line: number): number;
}

/**
 * An error whose message is the whole sentence the user sees: the session
 * puts no request name or context before it (the others get one).
 */
export class RequestError extends Error {}

export type NoteCategory = 'console' | 'important';

export class SessionState {
  config?: LaunchConfig;
  machine?: Machine;
  vcpu?: VcpuControl;
  view?: GuestMemoryView;
  symbols?: Symbols;
  /** Linux symbols only: finds the KASLR slide at a stop and rebases (kaslr.ts). */
  kaslr?: KaslrTracker;
  /** Software breakpoints beyond the debug registers (created with the machine). */
  software?: SoftwareTraps;
  readonly breakpoints = new BreakpointTable();
  /** Breakpoints the user never sees, with handlers (kernel-hooks.ts): module tracking, the panic stop. */
  readonly hooks = new KernelHooks(this.breakpoints, (text) => this.note(text, 'important'));
  /** The stop a kernel hook asked to show at this stop (its reason and text in the stopped event). */
  hookStop?: HookStop;
  /** Linux modules: their symbols, pending breakpoints, the Modules view, lsmod (linux/module-tracker.ts). */
  modules?: ModuleTracker;
  /** launch.json's sourceFileMap: compiled paths <-> the user's tree (frames, breakpoints). */
  sourceMap: SourceFileMap = makeSourceFileMap();
  /** DR0-7 as last armed: the Debug registers scope shows them. */
  debugreg: bigint[] = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
  /** The stop the user sees now (exceptionInfo, the breakpoint line of the top frame). */
  lastStop?: StopReason;
  /**
   * A Linux task shown as one more thread (session/linux-requests.ts): its
   * stack unwinds from the registers it saved when it was switched out.
   * `vcpu` is the made-up vCPU index its frames carry.
   */
  taskThread?: { threadId: number; vcpu: number; name: string; regs: () => Promise<Regs> };
  /** Registers a vCPU's stack is shown from at this stop instead of its own (an oops: the crashing pt_regs); cleared when the guest runs. */
  shownRegs?: { vcpu: number; regs: Regs };

  constructor(readonly send: (event: DebugProtocol.Event) => void) {}

  note(text: string, category: NoteCategory = 'console'): void {
    this.send(new OutputEvent(text.endsWith('\n') ? text : text + '\n', category));
  }

  /** One vCPU's registers at this stop (the focused one by default). */
  async snapshot(vcpu = this.vcpu!.id): Promise<CpuSnapshot> {
    // A task's stack is read through the kernel's paging as vCPU 0 has it.
    if (this.taskThread && vcpu === this.taskThread.vcpu) {
      const [regs, sregs] = await Promise.all([this.taskThread.regs(), this.vcpu!.sregs(0)]);
      return { regs, sregs, debugreg: this.debugreg };
    }
    const [regs, sregs] = await Promise.all([this.vcpu!.regs(vcpu), this.vcpu!.sregs(vcpu)]);
    if (this.shownRegs?.vcpu === vcpu) return { regs: this.shownRegs.regs, sregs, debugreg: this.debugreg };
    return { regs, sregs, debugreg: this.debugreg };
  }

  /** The vCPU a request's threadId names (absent: the one in focus); one sentence when it names none. */
  vcpuOfThread(threadId: number | undefined): number {
    if (threadId === undefined || threadId === null) return this.vcpu!.id;
    if (this.taskThread && threadId === this.taskThread.threadId) return this.taskThread.vcpu;
    if (!this.vcpu!.hasThread(threadId)) throw new Error(`no vCPU has thread id ${JSON.stringify(threadId)} (this VM has threads 1 to ${this.machine!.cpus})`);
    return threadId - 1;
  }

  /** A vCPU's thread, or the task thread. */
  hasThread(threadId: number): boolean {
    return this.vcpu!.hasThread(threadId) || threadId === this.taskThread?.threadId;
  }

  /** `name` or `name+0x..` for an address the symbols know. */
  symbolName(address: bigint): string | undefined {
    const sym = this.symbols?.symbolize(address);
    return sym && (sym.offset === 0n ? sym.name : `${sym.name}+${hex(sym.offset)}`);
  }
}
