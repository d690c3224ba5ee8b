/**
 * The launch request up to a VM ready to run: launch.json checked
 * (launch-config.ts), symbols loaded (with a progress notification for a
 * large vmlinux), KASLR handled for Linux, the machine created and wired to
 * the session (run hooks for int3s and the IDT watch, console, end).
 */
import { basename } from 'node:path';
import { statSync } from 'node:fs';
import { ProgressEndEvent, ProgressStartEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { Machine } from '../../vmm/machine/machine';
import type { VmEnd } from '../../vmm/machine/protocol';
import { loadSymbols, type Symbols } from '../symbols';
import { SymbolSpace } from '../symbols/symbol-space';
import { loadSystemMap } from '../symbols/system-map';
import { makeSourceFileMap } from '../source-map';
import { LaunchConfigError, looksLikeLinux, validateLaunchArgs, withNoKaslr, type LaunchConfig } from '../launch-config';
import { kaslrTrackerFor } from '../kaslr';
import { SoftwareTraps } from '../software-traps';
import { VcpuControl } from '../vcpu';
import { GuestMemoryView } from '../memory';
import type { ExceptionRequests } from './exception-requests';
import { RequestError, type SessionState } from './state';

export interface LaunchHost {
  /** The client said it shows progress notifications (initialize). */
  showsProgress(): boolean;
  /** The machine and its vCPU control exist (the kvm/* custom requests attach to them). */
  created(machine: Machine, vcpu: VcpuControl): void;
  /** Bytes the guest wrote to its console. */
  output(bytes: Uint8Array): void;
  /** The VM ended (powered off, crashed, or stopped by us). */
  ended(end: VmEnd): void;
}

function loadSymbolsFor(config: LaunchConfig, note: (line: string) => void): Symbols | undefined {
  // The name index (C globals and types by name) builds in a worker, or comes from its cache by build-id.
  if (config.symbols) return loadSymbols(config.symbols, { nameIndex: { log: note } });
  if (config.systemMap) return loadSystemMap(config.systemMap);
  return undefined;
}

export class Launcher {
  private progressCount = 0;

  constructor(private readonly state: SessionState, private readonly exceptions: ExceptionRequests, private readonly host: LaunchHost) {}

  /**
   * A large vmlinux takes seconds to read: say so with a DAP progress (VS Code shows
   * a notification when it lasts) if the client can show one. Loading itself is
   * synchronous; one turn of the event loop lets the start event leave first.
   */
  private async withProgress<T extends { summary: string } | undefined>(file: string | undefined, work: () => T): Promise<T> {
    if (!this.host.showsProgress() || !file) return work();
    const id = `kvmdbg-symbols-${++this.progressCount}`;
    let size = '';
    try { size = ` (${(statSync(file).size / 1048576).toFixed(1)} MiB)`; } catch { /* loadSymbols reports it */ }
    this.state.send(new ProgressStartEvent(id, `Loading symbols from ${basename(file)}${size}`));
    await new Promise((r) => setImmediate(r));
    let result: T | undefined;
    try {
      return (result = work());
    } finally {
      this.state.send(new ProgressEndEvent(id, result?.summary));
    }
  }

  /** Everything a launch does before the client's configuration: throws a RequestError for what the user must fix. */
  async launch(args: DebugProtocol.LaunchRequestArguments): Promise<LaunchConfig> {
    const { state } = this;
    let config: LaunchConfig;
    try {
      const v = validateLaunchArgs(args);
      config = v.config;
      for (const w of v.warnings) state.note(w, 'important');
    } catch (e) {
      throw new RequestError(e instanceof LaunchConfigError ? e.message : `launch: ${(e as Error).message}`);
    }
    state.config = config;
    state.sourceMap = makeSourceFileMap(config.sourceFileMap);
    const symbols = await this.withProgress(config.symbols ?? config.systemMap, () => loadSymbolsFor(config, (line) => state.note(line)));
    // vmlinux and, as they load, the kernel's modules (symbols/symbol-space.ts).
    state.symbols = symbols && new SymbolSpace(symbols);
    if (symbols) {
      state.note(symbols.summary);
      for (const w of symbols.warnings) state.note(w);
    } else {
      state.note(`${basename(config.kernel)} is not an ELF and no "symbols" were given: only instruction breakpoints by address work`);
    }
    let cmdline = config.cmdline;
    if (symbols && looksLikeLinux((n) => symbols.table.lookup(n) !== undefined)) {
      const k = withNoKaslr(cmdline, symbols.name);
      cmdline = k.cmdline;
      if (k.note) state.note(k.note);
      state.kaslr = kaslrTrackerFor(symbols);
      state.modules?.install();
    }
    try {
      const on = Object.entries(config.exitBreakpoints).filter(([, v]) => v !== false)
        .map(([filterId, v]) => ({ filterId, condition: typeof v === 'string' ? v : undefined }));
      this.exceptions.setLaunchFilters(on);
    } catch (e) {
      throw new RequestError(`launch.json: "exitBreakpoints": ${(e as Error).message}`);
    }
    let machine: Machine;
    try {
      machine = state.machine = await Machine.create({ kernel: config.kernel, initrd: config.initrd, modules: config.modules, cmdline, memoryBytes: config.memoryBytes, cpus: config.cpus, disks: config.disks });
    } catch (e) {
      throw new RequestError((e as Error).message);
    }
    state.note(`kvmdbg: ${machine.int3.note}`);
    const software = state.software = new SoftwareTraps(machine, (m) => state.note(m, 'important'));
    const vcpu = state.vcpu = new VcpuControl(machine);
    vcpu.hooks = {
      prepare: async () => { await this.exceptions.refreshVectors(); return software.stepOff(vcpu); },
      resuming: () => { software.plant(vcpu.paging); this.exceptions.watchIdt(); },
      stopped: () => { software.lift(); this.exceptions.stopWatchingIdt(); },
    };
    // A breakpoint hit held back by the all-stop is reported later only if that breakpoint is still set.
    vcpu.stillWanted = (_v, stop) => stop.reason !== 'breakpoint' || state.breakpoints.matching(stop).length > 0;
    this.host.created(machine, vcpu);
    state.view = new GuestMemoryView(machine.memory, () => vcpu.paging);
    machine.on('output', (bytes: Uint8Array) => this.host.output(bytes));
    machine.on('log', (level: string, message: string) => { if (level === 'guest-error') state.note(`guest error: ${message}`); });
    machine.on('ended', (end: VmEnd) => this.host.ended(end));
    await vcpu.sregs().catch(() => undefined);
    await this.exceptions.armLaunchFilters();
    const blocks = await machine.setStepIntoInterrupts(config.stepIntoInterrupts);
    if (!config.stepIntoInterrupts && !blocks) state.note('kvmdbg: this KVM cannot hold interrupts back during a single step (KVM_GUESTDBG_BLOCKIRQ needs Linux 5.15): a step may enter an interrupt handler');
    return config;
  }
}
