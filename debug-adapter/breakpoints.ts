/**
 * Every breakpoint the client set (source lines, functions, instructions,
 * data) and where each one lives in the machine: hardware (DR0-DR3, four in
 * all, watchpoints included) first, then software (int3) for code
 * breakpoints beyond four when the host's #BP exits were probed to arrive
 * (ARCHITECTURE rule 6; planted by the session, vmm/debug/software-breakpoints.ts).
 * Conditions and hit counts are decided here when the vCPU stops; the
 * session only asks "stop or go on?".
 */
import type { HwLength, HwRequest, WatchAccess } from '../vmm/debug/hw-breakpoints';
import type { ArmResult } from '../vmm/debug/vcpu-debug';
import type { StopReason } from '../vmm/machine/protocol';
import { hitConditionMatcher, syntaxProblem } from './expressions';

/**
 * 'exception': a guest exception vector, a breakpoint on its IDT handler (vector-breakpoints.ts).
 * 'hook': a kernel hook the user never sees (kernel-hooks.ts).
 */
export type BreakpointKind = 'source' | 'function' | 'instruction' | 'data' | 'exception' | 'hook';

/** Where a breakpoint lives: a debug register, or an int3 in guest memory (any of its addresses). */
export type Backend = 'hardware' | 'software';

/** How the plan may place code breakpoints. */
export interface PlanOptions {
  /** The host delivers #BP exits: code breakpoints beyond the 4 debug registers may be int3s. */
  software?: boolean;
  /**
   * Whether code is mapped at an address now (the stopped vCPU's page tables). Unmapped
   * addresses (a kernel not decompressed yet, paging not on) get the debug registers first:
   * those fire on the linear address whatever is there later; an int3 has to wait for the page.
   */
  mapped?: (address: bigint) => boolean;
}

export interface Breakpoint {
  id: number;
  kind: BreakpointKind;
  /** Code breakpoints: every address (one source line may have several). */
  addresses: bigint[];
  watch?: { address: bigint; length: HwLength; access: WatchAccess };
  /** Exception breakpoints: the vector whose handler `addresses` holds. */
  vector?: number;
  condition?: string;
  hitCondition?: string;
  hits: number;
  verified: boolean;
  /** Why it can never be placed as set (no symbol, bad condition): it is not armed. */
  problem?: string;
  /** What the client sees: the problem, or why it is not armed right now. */
  message?: string;
  backend?: Backend;
  /** Echo for the client: the line it resolved to, the source path, the instruction reference. */
  line?: number;
  path?: string;
  instructionReference?: string;
  offset?: number;
  /** Identity when the client sets the same breakpoint again (file:line, name, address). */
  key: string;
  /** Resolved again whenever a kernel module loads or unloads (linux/module-tracker.ts). */
  rebind?: boolean;
  /** Its problem is that no loaded object has its code yet: a module load may bind it. */
  pending?: boolean;
}

export interface BreakpointSpec {
  key: string;
  kind: BreakpointKind;
  addresses?: bigint[];
  watch?: Breakpoint['watch'];
  vector?: number;
  condition?: string;
  hitCondition?: string;
  /** Why it cannot be placed at all (no such symbol, no code on the line...). */
  problem?: string;
  line?: number;
  path?: string;
  instructionReference?: string;
  offset?: number;
  rebind?: boolean;
  pending?: boolean;
}

const hex = (v: bigint): string => '0x' + v.toString(16);

export class BreakpointTable {
  private nextId = 1;
  /** Groups: 'source:<path>', 'function', 'instruction', 'data'. Each set request replaces one group. */
  private readonly groups = new Map<string, Breakpoint[]>();
  /** A temporary stop address used by stepping (not a user breakpoint). */
  private temporary?: bigint;

  /** Replaces one group; returns the breakpoints in request order. */
  replace(group: string, specs: BreakpointSpec[]): Breakpoint[] {
    const old = new Map((this.groups.get(group) ?? []).map((b) => [b.key, b]));
    const list = specs.map((s): Breakpoint => {
      const prev = old.get(s.key);
      const bp: Breakpoint = {
        id: prev?.id ?? this.nextId++, kind: s.kind, key: s.key,
        addresses: s.addresses ?? [], watch: s.watch, vector: s.vector,
        condition: s.condition?.trim() || undefined, hitCondition: s.hitCondition?.trim() || undefined,
        hits: prev && prev.condition === s.condition && prev.hitCondition === s.hitCondition ? prev.hits : 0,
        verified: false, line: s.line, path: s.path, instructionReference: s.instructionReference, offset: s.offset,
        problem: s.problem, rebind: s.rebind, pending: s.pending,
      };
      if (!s.problem) {
        const cond = bp.condition ? syntaxProblem(bp.condition) : undefined;
        if (cond) bp.problem = `condition "${bp.condition}": ${cond}`;
        else if (bp.hitCondition && !hitConditionMatcher(bp.hitCondition)) {
          bp.problem = `hit count "${bp.hitCondition}": expected a number such as 5, ">= 5", "== 5" or "% 3"`;
        }
      }
      bp.message = bp.problem;
      return bp;
    });
    this.groups.set(group, list);
    return list;
  }

  all(): Breakpoint[] {
    return [...this.groups.values()].flat();
  }

  setTemporary(address: bigint | undefined): void {
    this.temporary = address;
  }

  /** Usable = no problem sentence (resolved, valid condition). */
  private usable(b: Breakpoint): boolean {
    return b.problem === undefined;
  }

  /**
   * The machine's requests, deduplicated by address, in breakpoint order
   * (earliest-set first); the temporary step address goes first so stepping
   * never fails for lack of a slot if any slot is ours to take. With software
   * breakpoints, watchpoints (hardware only) and unmapped code come before
   * mapped code, which an int3 can take instead of a debug register.
   */
  hardwarePlan(options: PlanOptions = {}): { requests: HwRequest[]; owners: Breakpoint[][] } {
    const requests: HwRequest[] = [];
    const owners: Breakpoint[][] = [];
    const index = new Map<string, number>();
    const add = (req: HwRequest, owner?: Breakpoint): void => {
      const key = req.kind === 'execute' ? `x${req.address}` : `w${req.address}:${req.length}:${req.access}`;
      let i = index.get(key);
      if (i === undefined) { i = requests.length; index.set(key, i); requests.push(req); owners.push([]); }
      if (owner) owners[i].push(owner);
    };
    if (this.temporary !== undefined) add({ kind: 'execute', address: this.temporary });
    // Kernel hooks after the user's breakpoints: the debug registers go to what the user set first.
    const hookLast = (b: Breakpoint): number => (b.kind === 'hook' ? 1 : 0);
    const candidates = this.all().filter((b) => this.usable(b)).sort((a, b) => hookLast(a) - hookLast(b) || a.id - b.id);
    const software = options.software === true;
    for (const b of candidates) if (b.watch) add({ kind: 'watch', ...b.watch }, b);
    const code = candidates.flatMap((b) => b.addresses.map((address) => ({ b, address })));
    const first = software && options.mapped ? code.filter((c) => !options.mapped!(c.address)) : code;
    const rest = first === code ? [] : code.filter((c) => !first.includes(c));
    for (const c of [...first, ...rest]) add({ kind: 'execute', address: c.address, ...(software ? { software: true } : {}) }, c.b);
    return { requests, owners };
  }

  /** Marks breakpoints verified or not from the machine's answer; returns those whose state changed. */
  applyArmResult(plan: { owners: Breakpoint[][] }, result: ArmResult): Breakpoint[] {
    const before = new Map(this.all().map((b) => [b.id, `${b.verified}|${b.message}`]));
    const armed = new Map<number, boolean>();
    const soft = new Set<number>();
    const problems = new Map<number, string>();
    plan.owners.forEach((owners, i) => {
      for (const b of owners) {
        if (result.software[i]) soft.add(b.id);
        // A breakpoint with several addresses is verified when any is armed.
        armed.set(b.id, (armed.get(b.id) ?? false) || result.armed[i]);
        if (!result.armed[i] && result.problems[i]) problems.set(b.id, result.problems[i]!);
      }
    });
    for (const b of this.all()) {
      if (!armed.has(b.id)) { b.verified = false; b.message = b.problem; continue; }
      b.verified = armed.get(b.id)!;
      b.backend = !b.verified ? undefined : soft.has(b.id) ? 'software' : 'hardware';
      if (b.verified) b.message = undefined;
      else {
        const p = problems.get(b.id) ?? 'it could not be armed';
        b.message = /all 4 hardware/.test(p)
          ? `${p}: this breakpoint needs a software (int3) breakpoint, which this host cannot deliver (its KVM does not give int3 debug exits); remove another breakpoint or watchpoint`
          : p;
      }
    }
    return this.all().filter((b) => before.get(b.id) !== undefined && before.get(b.id) !== `${b.verified}|${b.message}`);
  }

  /** The user breakpoints a stop belongs to. */
  matching(stop: StopReason): Breakpoint[] {
    if (stop.reason === 'breakpoint') return this.all().filter((b) => b.verified && b.addresses.includes(stop.address));
    if (stop.reason === 'watchpoint') {
      return this.all().filter((b) => b.verified && b.watch && b.watch.address === stop.address && b.watch.length === stop.length && b.watch.access === stop.access);
    }
    return [];
  }

  isTemporary(stop: StopReason): boolean {
    return stop.reason === 'breakpoint' && this.temporary !== undefined && stop.address === this.temporary;
  }

  /**
   * Decides a breakpoint stop: true = report it. Each matching breakpoint's
   * condition is evaluated, then its hit count; a condition that cannot be
   * evaluated stops (and says why through `problems`).
   */
  shouldStop(hit: Breakpoint[], holds: (condition: string) => boolean, problems: string[] = []): boolean {
    let stop = false;
    for (const b of hit) {
      if (b.condition) {
        try {
          if (!holds(b.condition)) continue;
        } catch (e) {
          problems.push(`breakpoint condition "${b.condition}" could not be evaluated: ${(e as Error).message}; stopped`);
          stop = true;
          continue;
        }
      }
      b.hits++;
      if (b.hitCondition) {
        const m = hitConditionMatcher(b.hitCondition);
        if (m && !m(b.hits)) continue;
      }
      stop = true;
    }
    return stop;
  }
}

/** A data breakpoint's id: "0xADDRESS/LENGTH". */
export function dataId(address: bigint, length: number): string {
  return `${hex(address)}/${length}`;
}

export function parseDataId(id: string): { address: bigint; length: number } | undefined {
  const m = /^(0x[0-9a-f]+)\/(\d+)$/i.exec(id);
  return m ? { address: BigInt(m[1]), length: Number(m[2]) } : undefined;
}

