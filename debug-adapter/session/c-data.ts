/**
 * C data for the Variables, Watch and hover views and the Debug Console:
 * the scopes of a C frame (Locals, Arguments, Statics), values as DAP
 * variables (lazily expanded, paged, each with its evaluateName, type and
 * memoryReference), C expressions, Set Value, and what a data breakpoint
 * on a value watches. The DWARF reading, the value model and the
 * expression language are their own modules (dwarf/, variables/, expr/);
 * this only translates, and keeps what a variablesReference names.
 */
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { Regs } from '../../native/types';
import type { DebugData, FrameContext, VariableInfo } from '../dwarf/model';
import { assignExpression, completions, evaluateExpression, ExprError, type ExprContext } from '../expr';
import { childCount, children } from '../variables/children';
import { formatValue } from '../variables/format';
import { typeName } from '../variables/type-name';
import { addressOf, memoryRange, ValueError, type Value } from '../variables/value';
import { frameContext, type LogicalFrame } from '../c-frames';
import { formatRef } from '../memory';
import { registerValue, type CpuSnapshot } from '../registers';
import type { Frames } from './frames';
import { RequestError, type SessionState } from './state';

/** A C scope (its variables in one frame) or a C value with children. */
export type CContainer =
  | { kind: 'c-scope'; vars: () => readonly VariableInfo[]; ctx: ExprContext }
  | { kind: 'c-value'; value: Value; expr?: string; ctx: ExprContext };

/** DWARF register numbers of x86-64 -> the vCPU's register names (what a write to the innermost frame sets). */
const DWARF_TO_REG: (keyof Regs)[] = ['rax', 'rdx', 'rcx', 'rbx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip'];

/** The longest a request waits for the name index before answering without it. */
const NAME_INDEX_WAIT_MS = 20_000;

export class CData {
  /** Show integers in hex (kvm/displayFormat, the "Toggle Hexadecimal Values" command). */
  hex = false;
  /** Register writes made by the last Set Value, to reach the vCPU when it ends. */
  private pendingRegisters = new Map<number, Map<keyof Regs, bigint>>();

  constructor(private readonly state: SessionState, private readonly frames: Frames) {}

  get debug(): DebugData | undefined {
    return this.state.symbols?.debug;
  }

  /** The C context of a logical frame of a vCPU; undefined when the frame is not C (no DWARF there). */
  async context(vcpu: number, index: number): Promise<ExprContext | undefined> {
    const { unwound, logical } = await this.frames.logical(vcpu);
    const lf: LogicalFrame | undefined = logical[index];
    const debug = this.debug;
    if (!lf || !debug) return undefined;
    await this.namesReady();
    const snapshot = await this.state.snapshot(vcpu);
    const frame = this.frameOf(vcpu, snapshot, unwound[lf.physical], lf.physical === 0);
    return this.exprContext(frame, lf, snapshot, vcpu, debug);
  }

  /** C names resolve through the name index: a first stop waits for it (seconds on a distro kernel, once: then it is cached). */
  private async namesReady(): Promise<void> {
    const names = this.state.symbols?.names;
    if (!names || names.state !== 'building') return;
    let timer: NodeJS.Timeout | undefined;
    // The timer is cleared when the index wins: a pending one kept a finished adapter process alive for 20 s.
    await Promise.race([names.ready, new Promise((r) => { timer = setTimeout(r, NAME_INDEX_WAIT_MS); })]);
    clearTimeout(timer);
  }

  /** A C context for conditions and the console where there is no frame list yet: the vCPU's innermost frame. */
  async innermost(vcpu: number): Promise<ExprContext | undefined> {
    return this.context(vcpu, 0);
  }

  private exprContext(frame: FrameContext, lf: LogicalFrame, snapshot: CpuSnapshot, vcpu: number, debug: DebugData): ExprContext {
    const symbols = this.state.symbols;
    return {
      frame,
      scopes: lf.scopes,
      debug,
      register: (name) => registerValue(snapshot, name),
      symbolAddress: (name) => symbols?.addressOf(name),
      linux: { cpu: vcpu },
    };
  }

  private frameOf(vcpu: number, snapshot: CpuSnapshot, unwound: Parameters<typeof frameContext>[0], innermost: boolean): FrameContext {
    const { sregs } = snapshot;
    const view = this.state.view!;
    const paging = { cr0: sregs.cr0, cr3: sregs.cr3, cr4: sregs.cr4, efer: sregs.efer };
    const reader = view.reader(paging);
    const kernelMode = (sregs.cs.selector & 3) === 0;
    return frameContext(unwound, innermost, {
      symbols: this.state.symbols,
      addressSize: (sregs.efer & 0x400n) !== 0n && sregs.cs.l ? 8 : 4,
      readMemory: (a, n) => reader.readExact(a, n),
      writeMemory: (address, bytes) => {
        const r = view.write({ space: 'v', address }, bytes);
        return r.written === bytes.length;
      },
      writeRegister: (n, value) => {
        const reg = DWARF_TO_REG[n];
        if (!reg) return false;
        const pending = this.pendingRegisters.get(vcpu) ?? new Map();
        pending.set(reg, value);
        this.pendingRegisters.set(vcpu, pending);
        return true;
      },
      // In the kernel, GS holds this CPU's per-cpu base (x86-64 Linux); elsewhere the helpers use __per_cpu_offset.
      tlsBase: () => (kernelMode && sregs.gs.base !== 0n ? sregs.gs.base : undefined),
    });
  }

  /** Register writes of the last Set Value reach the vCPUs. */
  async flushRegisters(): Promise<void> {
    const pending = this.pendingRegisters;
    this.pendingRegisters = new Map();
    for (const [vcpu, regs] of pending) await this.state.vcpu!.setRegs(Object.fromEntries(regs) as Partial<Regs>, vcpu);
  }

  /** The C scopes of a logical frame: Locals (innermost block first), Arguments, Statics (the unit's). */
  scopes(ctx: ExprContext, create: (c: CContainer) => number): DebugProtocol.Scope[] {
    const fn = ctx.scopes[0];
    if (!fn) return [];
    const locals: VariableInfo[] = [];
    const seen = new Set<string>();
    for (const block of fn.blocks) {
      // In declaration order within a block, as the source reads (clang's DIEs need not be).
      const ordered = [...block.locals].sort((a, b) => (a.declLine ?? 0) - (b.declLine ?? 0));
      for (const v of ordered) if (!seen.has(v.name)) { seen.add(v.name); locals.push(v); }
    }
    const out: DebugProtocol.Scope[] = [];
    if (locals.length > 0) out.push({ name: 'Locals', presentationHint: 'locals', variablesReference: create({ kind: 'c-scope', vars: () => locals, ctx }), namedVariables: locals.length, expensive: false });
    if (fn.parameters.length > 0) out.push({ name: 'Arguments', presentationHint: 'arguments', variablesReference: create({ kind: 'c-scope', vars: () => fn.parameters, ctx }), namedVariables: fn.parameters.length, expensive: false });
    // The unit's statics and globals, then the globals it uses from other units (its extern declarations), read when opened.
    let statics: VariableInfo[] | undefined;
    const unitVariables = (): readonly VariableInfo[] => (statics ??= this.unitVariables(fn.unit, ctx));
    out.push({ name: 'Statics', variablesReference: create({ kind: 'c-scope', vars: unitVariables, ctx }), expensive: false });
    return out;
  }

  private unitVariables(unit: ExprContext['scopes'][number]['unit'], ctx: ExprContext): VariableInfo[] {
    const own = [...unit.statics()];
    const names = new Set(own.map((v) => v.name));
    for (const name of unit.externs?.() ?? []) {
      if (names.has(name)) continue;
      const v = ctx.debug?.findVariable(name, unit);
      if (v) { names.add(name); own.push(v); }
    }
    return own;
  }

  /** A scope's variables or a value's children (a page of them when asked). */
  variables(c: CContainer, args: DebugProtocol.VariablesArguments, create: (c: CContainer) => number): DebugProtocol.Variable[] {
    const hex = args.format?.hex ?? this.hex;
    if (c.kind === 'c-scope') return c.vars().map((v) => this.toVariable(v.name, this.valueOf(v, c.ctx), v.name, c.ctx, create, undefined, hex));
    if (args.filter === 'named' && childCount(c.value).indexed > 0) return [];
    const list = children(c.value, c.expr, { start: args.start, count: args.count || undefined });
    return list.map((ch) => this.toVariable(ch.name, ch.value, ch.evaluateName, c.ctx, create, ch.typeName, hex));
  }

  valueOf(v: VariableInfo, ctx: ExprContext): Value {
    let location;
    try {
      location = v.location(ctx.frame);
    } catch (e) {
      location = { kind: 'unavailable' as const, reason: (e as Error).message };
    }
    return { type: v.type(), location, frame: ctx.frame };
  }

  /** One value as a DAP variable: its text, type, evaluateName, children counts and memory reference. */
  toVariable(name: string, value: Value, expr: string | undefined, ctx: ExprContext, create: (c: CContainer) => number, type?: string, hex = this.hex): DebugProtocol.Variable {
    let count = { named: 0, indexed: 0 };
    try { count = childCount(value); } catch { /* unreadable: a leaf that says why */ }
    const address = addressOf(value);
    return {
      name,
      value: this.format(value, hex),
      type: type ?? safeTypeName(value),
      evaluateName: expr,
      variablesReference: count.named + count.indexed > 0 ? create({ kind: 'c-value', value, expr, ctx }) : 0,
      namedVariables: count.named || undefined,
      indexedVariables: count.indexed || undefined,
      memoryReference: address !== undefined ? formatRef('v', address) : undefined,
    };
  }

  format(value: Value, hex = this.hex): string {
    return formatValue(value, { hex, symbolize: (a) => this.state.symbolName(a) });
  }

  /** Evaluates a C expression; the result as the Watch/hover/console show it. */
  evaluate(text: string, ctx: ExprContext, create: (c: CContainer) => number, hex = this.hex): DebugProtocol.EvaluateResponse['body'] {
    const value = evaluateExpression(text, ctx);
    const v = this.toVariable(text, value, text, ctx, create, undefined, hex);
    return { result: v.value, type: v.type, variablesReference: v.variablesReference, namedVariables: v.namedVariables, indexedVariables: v.indexedVariables, memoryReference: v.memoryReference };
  }

  /** Set Value on a variable of a C container. */
  async set(c: CContainer, name: string, text: string, create: (c: CContainer) => number): Promise<DebugProtocol.SetVariableResponse['body']> {
    let target: Value | undefined;
    let expr: string | undefined;
    if (c.kind === 'c-scope') {
      const v = c.vars().find((x) => x.name === name);
      if (v) { target = this.valueOf(v, c.ctx); expr = v.name; }
    } else {
      const ch = childNamed(c.value, c.expr, name);
      if (ch) { target = ch.value; expr = ch.evaluateName; }
    }
    if (!target) throw new RequestError(`there is no "${name}" here to set`);
    const written = assignExpression(target, expr ?? name, text, c.ctx);
    await this.flushRegisters();
    const v = this.toVariable(name, written, expr, c.ctx, create);
    return { value: v.value, type: v.type, variablesReference: v.variablesReference, namedVariables: v.namedVariables, indexedVariables: v.indexedVariables, memoryReference: v.memoryReference };
  }

  /** setExpression (Set Value in the Watch view): `expression = text`. */
  async setExpression(expression: string, text: string, ctx: ExprContext, create: (c: CContainer) => number): Promise<DebugProtocol.SetExpressionResponse['body']> {
    const target = evaluateExpression(expression, ctx);
    const written = assignExpression(target, expression, text, ctx);
    await this.flushRegisters();
    const v = this.toVariable(expression, written, expression, ctx, create);
    return { value: v.value, type: v.type, variablesReference: v.variablesReference, namedVariables: v.namedVariables, indexedVariables: v.indexedVariables, memoryReference: v.memoryReference };
  }

  /** What a data breakpoint on a variable (of a container) or an expression watches: its bytes in memory. */
  watchRange(c: CContainer | undefined, name: string, ctx: ExprContext | undefined): { address: bigint; size: number; label: string } | string {
    let value: Value | undefined;
    let label = name;
    try {
      if (c?.kind === 'c-scope') {
        const v = c.vars().find((x) => x.name === name);
        if (v) value = this.valueOf(v, c.ctx);
      } else if (c?.kind === 'c-value') {
        const ch = childNamed(c.value, c.expr, name);
        if (ch) { value = ch.value; label = ch.evaluateName ?? name; }
      } else if (ctx) {
        value = evaluateExpression(name, ctx);
      }
    } catch (e) {
      if (e instanceof ExprError || e instanceof ValueError) return `"${name}" cannot be watched: ${e.message}`;
      throw e;
    }
    if (!value) return `there is no "${name}" here to watch`;
    const range = memoryRange(value);
    if (!range) return `"${label}" is not in memory here (a register or a computed value): it cannot be watched`;
    return { ...range, label };
  }

  /** Debug Console completions. */
  completions(text: string, column: number, ctx: ExprContext): DebugProtocol.CompletionItem[] {
    const before = text.slice(0, Math.max(0, column - 1));
    return completions(before, ctx, 100).map((c) => ({ label: c.label, type: c.type, start: c.start, length: c.length }));
  }
}

/** The child the Variables view names `name`: an element `[i]` is read alone, not with its whole array. */
function childNamed(value: Value, expr: string | undefined, name: string): ReturnType<typeof children>[number] | undefined {
  const index = /^\[(\d+)\]$/.exec(name);
  const list = index ? children(value, expr, { start: Number(index[1]), count: 1 }) : children(value, expr, { count: 100_000 });
  return list.find((x) => x.name === name);
}

function safeTypeName(v: Value): string {
  try {
    return typeName(v.type);
  } catch {
    return '';
  }
}
