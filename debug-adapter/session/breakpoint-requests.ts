/**
 * The set*Breakpoints requests (source lines, functions, instructions, data)
 * turned into breakpoint specs, and arming: the breakpoint table
 * (breakpoints.ts) decides which get DR0-3 and which int3s; this module
 * hands that plan to the machine and reports what changed to the client.
 */
import { basename } from 'node:path';
import { Breakpoint as DapBreakpoint, BreakpointEvent, Source } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { assignHwSlots, MAX_PAGE_WATCH, type HwLength } from '../../vmm/debug/hw-breakpoints';
import { dataId, parseDataId, type Breakpoint, type BreakpointSpec } from '../breakpoints';
import { formatRef, parseRef } from '../memory';
import { hex, type ClientPaths, type SessionState } from './state';

export class BreakpointRequests {
  constructor(private readonly state: SessionState, private readonly paths: ClientPaths) {}

  /**
   * Re-arms DR0-3 (and the int3s beyond them) from the breakpoint table; tells the client
   * about breakpoints that changed state, except those of `exceptGroup` (their own response
   * says it). Planned while stopped: what is mapped decides which code breakpoints get the
   * debug registers (breakpoints.ts hardwarePlan).
   */
  async arm(exceptGroup?: Breakpoint[]): Promise<void> {
    const { machine, breakpoints } = this.state;
    const vcpu = this.state.vcpu!;
    if (!machine || machine.ended) return;
    const software = this.state.software!;
    const { plan, result } = await vcpu.withStopped(async () => {
      await vcpu.sregs().catch(() => undefined);
      this.state.hooks.sync(this.state.symbols, machine.int3.delivered ? {
        fits: (a) => software.fits(vcpu.paging, a),
        firstByte: (a) => this.state.view?.readExact({ space: 'v', address: a }, 1)?.[0],
      } : undefined);
      // Code a trap cannot take (unmapped yet, or an instruction shorter than the port trap) gets the debug registers first.
      const plan = breakpoints.hardwarePlan({ software: machine.int3.delivered, mapped: (a) => software.fits(vcpu.paging, a) });
      const result = await machine.armHardware(plan.requests);
      software.breakpoints.set(plan.requests.flatMap((r, i) => (r.kind === 'execute' && result.software[i] ? [r.address] : [])));
      return { plan, result };
    });
    this.state.debugreg = assignHwSlots(plan.requests, await machine.watchMechanisms()).debugreg;
    const changed = breakpoints.applyArmResult(plan, result);
    this.state.hooks.sayUnarmed();
    for (const b of changed) if (!exceptGroup?.includes(b) && b.kind !== 'exception' && b.kind !== 'hook') this.state.send(new BreakpointEvent('changed', this.toDap(b)));
  }

  toDap(b: Breakpoint): DebugProtocol.Breakpoint {
    const out = new DapBreakpoint(b.verified) as DebugProtocol.Breakpoint;
    out.id = b.id;
    if (b.message) out.message = b.message;
    if (b.line !== undefined) out.line = b.line;
    if (b.path) out.source = new Source(basename(b.path), this.paths.toClientPath(b.path));
    if (b.addresses[0] !== undefined) out.instructionReference = formatRef('v', b.addresses[0]);
    if (!b.verified && !b.message) out.message = 'not armed';
    return out;
  }

  /** Replaces one group of the table and arms it; a failure to arm is told on each breakpoint, not thrown. */
  private async setGroup(group: string, specs: BreakpointSpec[]): Promise<DebugProtocol.Breakpoint[]> {
    const list = this.state.breakpoints.replace(group, specs);
    try {
      await this.arm(list);
    } catch (e) {
      for (const b of list) if (!b.message) b.message = `could not be armed: ${(e as Error).message}`;
    }
    return list.map((b) => this.toDap(b));
  }

  setSource(args: DebugProtocol.SetBreakpointsArguments): Promise<DebugProtocol.Breakpoint[]> {
    const { symbols } = this.state;
    const path = args.source.path ? this.paths.toDebuggerPath(args.source.path) : args.source.name ?? '';
    const specs = (args.breakpoints ?? []).map((bp): BreakpointSpec => {
      const line = this.paths.toDebuggerLine(bp.line);
      const base = { key: `${path}:${line}`, kind: 'source' as const, condition: bp.condition, hitCondition: bp.hitCondition, path, line };
      if (!symbols) return { ...base, problem: 'no symbols: set "symbols" in launch.json to an ELF with DWARF line tables' };
      const file = this.state.sourceMap.unmapSource(path);
      const r = symbols.resolveBreakpoint(file, line);
      // With kernel modules, a line may bind (or unbind) as they load: linux/module-breakpoints.ts.
      const rebind = this.state.modules?.active;
      if (!r || r.addresses.length === 0) {
        const pending = this.state.modules?.pendingSource(file, line);
        if (pending) return { ...base, problem: pending, pending: true, rebind };
        return { ...base, problem: `no code at or after line ${line} of ${basename(path)} in the DWARF line tables of ${symbols.name}` };
      }
      return { ...base, line: r.line, addresses: r.addresses, rebind };
    });
    return this.setGroup(`source:${path}`, specs);
  }

  setFunctions(args: DebugProtocol.SetFunctionBreakpointsArguments): Promise<DebugProtocol.Breakpoint[]> {
    const { symbols } = this.state;
    const specs = args.breakpoints.map((bp): BreakpointSpec => {
      const name = bp.name.trim();
      const base = { key: `fn:${name}`, kind: 'function' as const, condition: bp.condition, hitCondition: bp.hitCondition };
      const literal = /^\*?(0x[0-9a-f]+)$/i.exec(name);
      const address = literal ? BigInt(literal[1]) : symbols?.addressOf(name);
      const rebind = !literal && this.state.modules?.active;
      const pending = address === undefined && rebind ? this.state.modules!.pendingFunction(name) : undefined;
      if (pending) return { ...base, problem: pending, pending: true, rebind };
      if (address === undefined) return { ...base, problem: symbols ? `no function named "${name}" in ${symbols.name}` : `no symbols to look "${name}" up in: set "symbols" in launch.json` };
      return { ...base, addresses: [address], rebind };
    });
    return this.setGroup('function', specs);
  }

  setInstructions(args: DebugProtocol.SetInstructionBreakpointsArguments): Promise<DebugProtocol.Breakpoint[]> {
    const specs = args.breakpoints.map((bp): BreakpointSpec => {
      const base = { key: `insn:${bp.instructionReference}+${bp.offset ?? 0}`, kind: 'instruction' as const, condition: bp.condition, hitCondition: bp.hitCondition };
      try {
        const ref = parseRef(bp.instructionReference);
        if (ref.space === 'p') return { ...base, problem: 'instruction breakpoints take virtual addresses (v:0x...), not physical ones' };
        const address = BigInt.asUintN(64, ref.address + BigInt(bp.offset ?? 0));
        return { ...base, key: `insn:${hex(address)}`, addresses: [address] };
      } catch (e) {
        return { ...base, problem: (e as Error).message };
      }
    });
    return this.setGroup('instruction', specs);
  }

  /** What a watch on `name` (a global symbol or an address) would cover; dataId null says why not. */
  dataInfo(args: DebugProtocol.DataBreakpointInfoArguments & { asAddress?: boolean; bytes?: number }): DebugProtocol.DataBreakpointInfoResponse['body'] {
    if (args.variablesReference) return { dataId: null, description: 'registers cannot be watched: watch a global variable or an address' };
    const { symbols } = this.state;
    const name = args.name.trim();
    let address: bigint | undefined;
    let size = args.bytes ?? 4;
    let label = name;
    const sym = symbols?.table.lookup(name);
    if (!args.asAddress && sym) {
      address = symbols!.toRuntime(sym.address);
      size = Number(sym.size) || 4;
    } else {
      try { address = parseRef(name).address; } catch { /* not an address */ }
      if (address !== undefined && !args.asAddress && args.bytes === undefined) size = 4;
      label = address !== undefined ? hex(address) : name;
    }
    if (address === undefined) return { dataId: null, description: `"${name}" is neither a global symbol nor an address` };
    return this.dataInfoFor(address, size, label);
  }

  /** A data breakpoint on `size` bytes at `address`: debug registers take up to 8 aligned bytes, page protection any size and reads alone (hw-breakpoints.ts). */
  dataInfoFor(address: bigint, size: number, label: string): DebugProtocol.DataBreakpointInfoResponse['body'] {
    const length = Math.max(1, Math.min(size, MAX_PAGE_WATCH));
    return {
      dataId: dataId(address, length),
      description: `${label} (${length} byte${length === 1 ? '' : 's'} at ${hex(address)}${length < size ? `, the first ${length} of ${size}` : ''})`,
      accessTypes: ['write', 'read', 'readWrite'],
      canPersist: true,
    };
  }

  setData(args: DebugProtocol.SetDataBreakpointsArguments): Promise<DebugProtocol.Breakpoint[]> {
    const specs = args.breakpoints.map((bp): BreakpointSpec => {
      const base = { key: `data:${bp.dataId}:${bp.accessType ?? 'write'}`, kind: 'data' as const, condition: bp.condition, hitCondition: bp.hitCondition };
      const id = parseDataId(bp.dataId);
      if (!id) return { ...base, problem: `"${bp.dataId}" is not a data breakpoint id of this adapter` };
      if (!(id.length >= 1 && id.length <= MAX_PAGE_WATCH)) return { ...base, problem: `a watchpoint covers 1 byte to ${MAX_PAGE_WATCH} bytes, not ${id.length}` };
      // Reads alone: page protection only (hw-breakpoints.ts says so where the host has none).
      return { ...base, watch: { address: id.address, length: id.length as HwLength, access: bp.accessType === 'readWrite' || bp.accessType === 'read' ? bp.accessType : 'write' } };
    });
    return this.setGroup('data', specs);
  }
}
