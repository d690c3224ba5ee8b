/**
 * One vCPU's debug state on its own thread: the hardware breakpoints and
 * watchpoints armed in DR0-3, the guest-debug flags KVM gets, and what a
 * debug exit means (which breakpoint, which watchpoint, or a step).
 */
import type { GuestDebug, VcpuExit } from '../../native/types';
import { assignHwSlots, DR6_BS, DR7_ENABLE_BITS, DR_ONLY, firedSlots, HW_SLOTS, type HwAssignment, type HwRequest, type WatchMechanisms } from './hw-breakpoints';
import { PageWatch, type AccessDirection } from './page-watch';
import type { StopReason } from '../machine/protocol';

export interface ArmResult {
  /** Same order as the requests. */
  armed: boolean[];
  /** Armed as an int3 (planted by the adapter) rather than in a debug register. */
  software: boolean[];
  problems: (string | undefined)[];
  /** Kept by page protection (read-only or unmapped pages) rather than a debug register. */
  page?: boolean[];
}

/** Guest RAM as page protection needs it, on the vCPU's own thread. */
export interface PageProtection {
  /** The guest-physical RAM address behind virtual `va` in this vCPU's address space. */
  physical(va: bigint): number | undefined;
  isRam(gpa: number): boolean;
  /** Writes what the guest wrote into a protected page (KVM did not). */
  writeRam(gpa: number, data: Uint8Array): void;
  /** Reads what the guest reads from an unmapped page into `into` (KVM cannot). */
  readRam(gpa: number, into: Uint8Array): void;
  /**
   * Maps exactly these page frames read-only, and leaves exactly these
   * unmapped (vCPU 0, which owns the VM's slots; a no-op on the others).
   */
  protect(readOnly: number[], unmapped: number[]): void;
}

type DebugExit = VcpuExit & { kind: 'debug' };

export class VcpuDebug {
  private assignments: HwAssignment[] = [];
  private debugreg: bigint[] = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
  /** Addresses of our int3s: a #BP exit elsewhere is the guest's own. */
  private softwareAt = new Set<bigint>();
  /**
   * Single steps block interrupt injection (KVM_GUESTDBG_BLOCKIRQ), so a
   * step does not land in a timer handler. Off when the user asks to step
   * into interrupts, or when this KVM lacks the flag (Linux < 5.15).
   */
  blockInterruptsWhenStepping: boolean;

  constructor(private readonly apply: (d: GuestDebug) => void, readonly canBlockInterrupts = false) {
    this.blockInterruptsWhenStepping = canBlockInterrupts;
  }

  /** Watchpoints kept by page protection (none without `protection`). */
  readonly pageWatch = new PageWatch();
  protection?: PageProtection;

  /** Bumped whenever guestDebug() may answer differently (a cached setting is stale then). */
  generation = 0;

  /** Replaces every hardware breakpoint and watchpoint (and page-protection watchpoint). */
  arm(requests: readonly HwRequest[], mechanisms: WatchMechanisms = DR_ONLY): ArmResult {
    this.generation++;
    const canPage = mechanisms.pageWatch && this.protection !== undefined;
    const { assignments, debugreg } = assignHwSlots(requests, { ...mechanisms, pageWatch: canPage });
    if (canPage) this.armPages(assignments);
    this.assignments = assignments;
    this.debugreg = debugreg;
    this.softwareAt = new Set(assignments.filter((a) => a.software).map((a) => a.request.address));
    this.apply(this.guestDebug(false));
    return {
      armed: assignments.map((a) => a.slot !== undefined || !!a.software || !!a.page),
      software: assignments.map((a) => !!a.software),
      problems: assignments.map((a) => a.problem),
      page: assignments.map((a) => !!a.page),
    };
  }

  private armPages(assignments: HwAssignment[]): void {
    const protection = this.protection!;
    const paged = assignments.filter((a) => a.page);
    const inRegisters = assignments.filter((a) => a.slot !== undefined && a.request.kind === 'watch').map((a) => a.request as HwRequest & { kind: 'watch' });
    const plan = this.pageWatch.set(paged.map((a) => a.request as HwRequest & { kind: 'watch' }),
      (va) => protection.physical(va), (gpa) => protection.isRam(gpa), inRegisters, this.mustStayMapped);
    plan.problems.forEach((problem, i) => { if (problem) { paged[i].page = false; paged[i].problem = problem; } });
    protection.protect(plan.readOnly, plan.unmapped);
  }

  /** Pages a read watch unmapped where KVM then could not emulate the guest: never unmapped again this session. */
  private readonly mustStayMapped = new Set<number>();

  /**
   * KVM could not emulate an instruction while pages were unmapped for read
   * watches: most likely the guest ran code, or its page walk read a page
   * table, on such a page (KVM emulates data accesses, not those). The pages
   * go back in, read-only (write watches stay); the sentence says which
   * watches no longer see reads. Undefined when no page was unmapped.
   */
  stopWatchingReads(): string | undefined {
    const pages = this.pageWatch.unmapped;
    if (pages.length === 0) return undefined;
    for (const pg of pages) this.mustStayMapped.add(pg);
    const lifted = this.pageWatch.stopWatchingReads();
    this.protection!.protect(this.pageWatch.readOnly, []);
    this.generation++;
    const names = lifted.map((r) => `${r.length} byte${r.length === 1 ? '' : 's'} at 0x${r.address.toString(16)}`).join(', ');
    return `KVM could not emulate the guest while kvmdbg kept ${pages.length === 1 ? 'a page' : `${pages.length} pages`} unmapped to watch reads `
      + `(code or page tables on the same page): reads of ${names || 'them'} are no longer watched, writes still are; continue to go on`;
  }

  /**
   * A guest write KVM handed us because its page is read-only: done here;
   * a watchpoint stop when it touches a watched range.
   */
  pageWrite(gpa: number, data: Uint8Array): StopReason | undefined {
    this.protection!.writeRam(gpa, data);
    return this.pageHit(gpa, data.length, 'write');
  }

  /**
   * A guest read KVM handed us because its page is unmapped: answered from
   * guest RAM into `into` (the exit's data); a watchpoint stop when it
   * touches a range watched for reads.
   */
  pageRead(gpa: number, into: Uint8Array): StopReason | undefined {
    this.protection!.readRam(gpa, into);
    return this.pageHit(gpa, into.length, 'read');
  }

  private pageHit(gpa: number, size: number, direction: AccessDirection): StopReason | undefined {
    const hit = this.pageWatch.hit(gpa, size, direction);
    return hit && { reason: 'watchpoint', address: hit.address, length: hit.length, access: hit.access };
  }

  /** The launch option stepIntoInterrupts; returns true when steps really block interrupts. */
  setStepIntoInterrupts(into: boolean): boolean {
    this.generation++;
    this.blockInterruptsWhenStepping = !into && this.canBlockInterrupts;
    return this.blockInterruptsWhenStepping;
  }

  get hasBreakpoints(): boolean { return this.assignments.some((a) => a.slot !== undefined); }
  get hasSoftwareBreakpoints(): boolean { return this.softwareAt.size > 0; }

  /** True when a #BP exit at `pc` is one of our int3s (else it goes back to the guest). */
  isOurInt3(pc: bigint): boolean { return this.softwareAt.has(pc); }

  /** The KVM guest-debug setting for running (step = false) or single-stepping. */
  guestDebug(step: boolean, withBreakpoints = true): GuestDebug {
    // Without breakpoints (stepping off one) the watchpoints stay armed: the
    // instruction under a breakpoint may be the very write being watched.
    const debugreg = withBreakpoints ? this.debugreg : this.watchpointsOnly();
    const hw = this.hasBreakpoints && (debugreg[7] & DR7_ENABLE_BITS) !== 0n;
    // int3s are planted only while running (never during a step), but a
    // stale one the guest copied must still exit, not reach its handler.
    const sw = this.hasSoftwareBreakpoints;
    if (!hw && !sw && !step) return { enable: false };
    return {
      enable: true,
      singleStep: step,
      blockInterrupts: step && this.blockInterruptsWhenStepping,
      softwareBreakpoints: sw,
      hardwareBreakpoints: hw,
      debugreg: hw ? debugreg : [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n],
    };
  }

  /** The debug registers with every instruction breakpoint disabled (DR7's L/G bits of its slot cleared). */
  private watchpointsOnly(): bigint[] {
    const debugreg = [...this.debugreg];
    for (const a of this.assignments) {
      if (a.slot !== undefined && a.request.kind === 'execute') debugreg[7] &= ~(3n << BigInt(2 * a.slot));
    }
    return debugreg;
  }

  /** Every address an instruction breakpoint stops at (debug registers and int3s): a range step stops before executing one. */
  stopAddresses(): Set<bigint> {
    const out = new Set(this.softwareAt);
    for (const a of this.assignments) if (a.slot !== undefined && a.request.kind === 'execute') out.add(a.request.address);
    return out;
  }

  /**
   * The guest-debug setting for running with one more instruction
   * breakpoint, at `address`, in a debug register nobody uses (a range step
   * running a call to its return); undefined when all four are taken.
   */
  runWithTemporary(address: bigint): { debug: GuestDebug; slot: number } | undefined {
    const used = new Set(this.assignments.filter((a) => a.slot !== undefined).map((a) => a.slot));
    let slot = 0;
    while (slot < HW_SLOTS && used.has(slot)) slot++;
    if (slot === HW_SLOTS) return undefined;
    const debugreg = [...this.debugreg];
    debugreg[slot] = address;
    // Gn (global enable), RW 00 and LEN 00: an instruction breakpoint.
    debugreg[7] = (debugreg[7] & ~(0xfn << BigInt(16 + 4 * slot))) | (1n << BigInt(2 * slot + 1));
    return {
      slot,
      debug: { enable: true, singleStep: false, blockInterrupts: false, softwareBreakpoints: this.hasSoftwareBreakpoints, hardwareBreakpoints: true, debugreg },
    };
  }

  /** True when an armed instruction breakpoint sits exactly at `rip`. */
  breakpointAt(rip: bigint): boolean {
    return this.assignments.some((a) => a.slot !== undefined && a.request.kind === 'execute' && a.request.address === rip);
  }

  /** What a debug exit means; undefined when it is none of ours. */
  classify(exit: DebugExit, stepping: boolean): StopReason | undefined {
    if (exit.exception === 3) return this.softwareAt.has(exit.pc) ? { reason: 'breakpoint', address: exit.pc } : undefined;
    for (const slot of firedSlots(exit.dr6)) {
      const a = this.assignments.find((x) => x.slot === slot);
      if (!a) continue;
      if (a.request.kind === 'execute') return { reason: 'breakpoint', address: a.request.address };
      return { reason: 'watchpoint', address: a.request.address, length: a.request.length, access: a.request.access };
    }
    if (stepping && (exit.dr6 & DR6_BS || exit.exception === 1)) return { reason: 'step' };
    return undefined;
  }
}
