/**
 * The Variables view and the Debug Console: scopes, variables, setVariable
 * and evaluate, and the context expressions are evaluated in (conditions of
 * breakpoints too). Today the scopes are a vCPU's registers (registers.ts)
 * and its MSRs (msr-scope.ts); the expression language is expressions.ts.
 *
 * Interface to the session: each request method returns its response body
 * or throws (a RequestError is the whole sentence; other errors get the
 * session's context); `reset()` at every stop. What a variablesReference
 * names is a `VariableContainer`: new kinds of scope (C locals, arguments,
 * globals) add a kind there, a case in `variables`, and scopes in `scopes`.
 */
import { Handles, Scope } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { evaluate, ExpressionError, type EvalContext } from '../expressions';
import { formatRef } from '../memory';
import { INTERESTING_MSRS, msrNodes, readMsrs } from '../msr-scope';
import { mergeWidth, registerScopes, registerValue, type CpuSnapshot, type RegisterNode } from '../registers';
import { indexOfFrame, vcpuOfFrame, type Frames } from './frames';
import { CData, type CContainer } from './c-data';
import type { ExprContext } from '../expr';
import { hex, RequestError, type SessionState } from './state';

/** Register nodes of one vCPU; the MSRs group has none until it is first opened (read then). */
interface RegisterGroup { kind: 'registers'; vcpu: number; nodes: RegisterNode[]; msrs?: boolean }

/** What a variablesReference names: registers, or C data (c-data.ts). */
type VariableContainer = RegisterGroup | CContainer;

export class VariablesRequests {
  /** Valid for one stop: reset() when the guest stops again (VS Code asks anew). */
  private handles = new Handles<VariableContainer>();

  readonly c: CData;
  private readonly create = (c: CContainer): number => this.handles.create(c);

  constructor(private readonly state: SessionState, frames: Frames) {
    this.c = new CData(state, frames);
  }

  /** The C context of a frame id (the focused vCPU's innermost frame when none): undefined without DWARF there. */
  async cContext(frameId: number | undefined): Promise<ExprContext | undefined> {
    const vcpuControl = this.state.vcpu!;
    const vcpu = vcpuOfFrame(frameId);
    if (frameId === undefined || vcpu === undefined || !this.state.hasThread(vcpu + 1)) return this.c.innermost(vcpuControl.id);
    return this.c.context(vcpu, indexOfFrame(frameId));
  }

  /** The last stop's variablesReferences no longer name anything. */
  reset(): void {
    this.handles.reset();
  }

  /** What names in an expression mean at this stop: registers of `snapshot`, symbols, guest memory (virtual). */
  evalContext(snapshot: CpuSnapshot): EvalContext {
    return {
      register: (name) => registerValue(snapshot, name),
      symbol: (name) => this.state.symbols?.addressOf(name),
      read: (address, size) => this.state.view!.readExact({ space: 'v', address }, size),
    };
  }

  /** The scopes of a frame: its vCPU's register groups, then its MSRs. */
  async scopes(args: DebugProtocol.ScopesArguments): Promise<DebugProtocol.Scope[]> {
    const vcpuControl = this.state.vcpu!;
    const vcpu = vcpuOfFrame(args.frameId) ?? vcpuControl.id;
    if (!this.state.hasThread(vcpu + 1)) throw new Error(`frame ${args.frameId} is not one of this stop's frames`);
    const scopes = registerScopes(await this.state.snapshot(vcpu));
    const c = await this.cContext(args.frameId);
    return [
      ...(c ? this.c.scopes(c, this.create) : []),
      // The scope's getter decodes its registers only when the client opens it.
      ...scopes.map((s) => ({ ...new Scope(s.name, this.handles.create({ kind: 'registers', vcpu, get nodes() { return s.nodes; } }), false), presentationHint: 'registers' })),
      // Read from the vCPU's thread only when opened (msr-scope.ts).
      { ...new Scope('MSRs', this.handles.create({ kind: 'registers', vcpu, nodes: [], msrs: true }), true), presentationHint: 'registers' },
    ];
  }

  async variables(args: DebugProtocol.VariablesArguments): Promise<DebugProtocol.Variable[]> {
    const container = this.handles.get(args.variablesReference);
    if (container && container.kind !== 'registers') return this.c.variables(container, args, this.create);
    const group = container;
    if (group?.msrs && group.nodes.length === 0) {
      if (this.state.vcpu?.state !== 'stopped') throw new RequestError('MSRs: the VM is running: pause it to read them');
      const entries = await readMsrs(INTERESTING_MSRS.map((m) => m.index), (ix) => this.state.machine!.getMsrs(ix, group.vcpu));
      group.nodes = msrNodes(entries, (a) => this.state.symbolName(a));
    }
    return (group?.nodes ?? []).map((n) => this.toVariable(group!.vcpu, n, args.format));
  }

  private toVariable(vcpu: number, node: RegisterNode, format?: DebugProtocol.ValueFormat): DebugProtocol.Variable {
    const value = format?.hex === false && node.raw !== undefined && !node.children ? node.raw.toString(10) : node.value;
    return {
      name: node.name, value,
      variablesReference: node.children ? this.handles.create({ kind: 'registers', vcpu, nodes: node.children }) : 0,
      memoryReference: node.memoryReference,
      evaluateName: node.writes ? node.name : undefined,
      presentationHint: node.writes ? undefined : { attributes: ['readOnly'] },
    };
  }

  /** Writes a register (the value is an expression); the caller invalidates the views after answering. */
  async setVariable(args: DebugProtocol.SetVariableArguments): Promise<DebugProtocol.SetVariableResponse['body']> {
    const container = this.handles.get(args.variablesReference);
    if (container && container.kind !== 'registers') return this.c.set(container, args.name, args.value, this.create);
    const group = container;
    const node = group?.nodes.find((n) => n.name === args.name);
    if (!group || !node?.writes) throw new RequestError(`${args.name} cannot be set from here (only general registers, RIP and RFLAGS are writable)`);
    const snap = await this.state.snapshot(group.vcpu);
    const value = evaluate(args.value, this.evalContext(snap));
    const full = mergeWidth(snap.regs[node.writes], value, node.width);
    await this.state.vcpu!.setRegs({ [node.writes]: full }, group.vcpu);
    const shown = node.width === 32 ? full & 0xffff_ffffn : full;
    return { value: '0x' + shown.toString(16).padStart(node.width === 32 ? 8 : 16, '0'), memoryReference: formatRef('v', shown) };
  }

  /**
   * An expression in a frame: C (expr/) where the kernel has DWARF, else the
   * register/symbol language (a data symbol of 1, 2, 4 or 8 bytes also
   * shows the value stored there).
   */
  async evaluate(args: DebugProtocol.EvaluateArguments): Promise<DebugProtocol.EvaluateResponse['body']> {
    const vcpuControl = this.state.vcpu;
    if (!vcpuControl || vcpuControl.state !== 'stopped') throw new ExpressionError('the vCPU is running: pause it to evaluate');
    const text = args.expression.trim();
    const c = await this.cContext(args.frameId);
    if (c) return this.c.evaluate(text, c, this.create, args.format?.hex ?? this.c.hex);
    const vcpu = vcpuOfFrame(args.frameId);
    const snap = await this.state.snapshot(vcpu !== undefined && this.state.hasThread(vcpu + 1) ? vcpu : vcpuControl.id);
    const v = evaluate(text, this.evalContext(snap));
    const sym = this.state.symbols?.table.lookup(text);
    let result = args.format?.hex === false ? v.toString(10) : `${hex(v)} (${v.toString(10)})`;
    if (sym && registerValue(snap, text.toLowerCase()) === undefined && sym.kind === 'object' && [1n, 2n, 4n, 8n].includes(sym.size)) {
      const bytes = this.state.view!.readExact({ space: 'v', address: v }, Number(sym.size));
      if (bytes) {
        let value = 0n;
        for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
        result = `${hex(value)} (${value}) at ${hex(v)}`;
      }
    }
    return { result, variablesReference: 0, memoryReference: formatRef('v', v) };
  }

  /** Set Value in the Watch view. */
  async setExpression(args: DebugProtocol.SetExpressionArguments): Promise<DebugProtocol.SetExpressionResponse['body']> {
    if (this.state.vcpu?.state !== 'stopped') throw new RequestError('the vCPU is running: pause it to set a value');
    const c = await this.cContext(args.frameId);
    if (!c) throw new RequestError(`"${args.expression}" cannot be set: the kernel has no DWARF (only registers can be set, in the Variables view)`);
    return this.c.setExpression(args.expression, args.value, c, this.create);
  }

  /** Debug Console completions: names in scope, globals, members after . and ->. */
  async completions(args: DebugProtocol.CompletionsArguments): Promise<DebugProtocol.CompletionItem[]> {
    if (this.state.vcpu?.state !== 'stopped') return [];
    const c = await this.cContext(args.frameId);
    return c ? this.c.completions(args.text, args.column, c) : [];
  }

  /** What a data breakpoint on a C variable (Break on Value Change) or a watch expression watches; undefined: not C (the caller tries symbols). */
  async watchRange(args: DebugProtocol.DataBreakpointInfoArguments): Promise<{ address: bigint; size: number; label: string } | string | undefined> {
    const container = args.variablesReference ? this.handles.get(args.variablesReference) : undefined;
    if (container && container.kind !== 'registers') return this.c.watchRange(container, args.name, undefined);
    if (args.variablesReference || this.state.vcpu?.state !== 'stopped' || !this.c.debug) return undefined;
    const c = await this.cContext(args.frameId);
    return c ? this.c.watchRange(undefined, args.name, c) : undefined;
  }
}
