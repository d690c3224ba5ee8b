/**
 * A throwaway VM for one host probe: a few MiB of RAM, one vCPU in real
 * mode or in 64-bit long mode (identity-mapped, the GDT kvmdbg boots every
 * kernel with), a few bytes of code. Probes watch which exit comes back;
 * a guest that reaches no verdict reports on the DONE port, so a probe never
 * waits for an exit that cannot come (the kick deadline of host-probe.ts is
 * only the backstop for a KVM that never returns).
 */
import { pageAlignedOffset, type Kvm, type Vcpu, type Vm } from '../../../native';
import type { VcpuExit } from '../../../native/types';
import { GuestMemory } from '../../memory/guest-memory';
import { longModeState, protectedModeState, writeGdt } from '../../boot/cpu';
import { PageTables, LARGE_PAGE, PTE_ADDR_MASK, PTE_LARGE, PTE_PRESENT, PTE_USER } from '../../boot/page-tables';

export const PROBE_RAM = 4 * 1024 * 1024;
/** Where probe code, data and handlers go (above the boot area: GDT, stack, page tables). */
export const CODE = 0x10_0000;
export const DATA = 0x11_0000;
export const IDT = 0x12_0000;
export const HANDLER = 0x10_1000;
/** The guest's "I got here" port, and the one a handler reports on. */
export const DONE_PORT = 0x99;
export const HANDLER_PORT = 0x98;

/** x86 encodings the probes use. */
export const op = {
  outDone: (al: number) => [0xb0, al & 0xff, 0xe6, DONE_PORT],
  outHandler: [0xb0, 0x01, 0xe6, HANDLER_PORT],
  nop: 0x90, hlt: 0xf4, int3: 0xcc, icebp: 0xf1, ud2: [0x0f, 0x0b],
  /** mov byte [abs32], imm8 */
  movByteAbs: (address: number, value: number) => [0xc6, 0x04, 0x25, ...le32(address), value & 0xff],
  /** mov ecx, imm32; wrmsr (EDX:EAX = 0 would clear EFER.LME: read it first) */
  rdmsrWrmsr: (msr: number) => [0xb9, ...le32(msr), 0x0f, 0x32, 0x0f, 0x30],
  jmpSelf: [0xeb, 0xfe],
};

export function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

export type ProbeMode = 'real' | 'protected' | 'long';

export class ProbeVm {
  readonly vm: Vm;
  readonly vcpu: Vcpu;
  readonly buffer: SharedArrayBuffer;
  readonly offset: number;
  readonly memory: GuestMemory;

  constructor(kvm: Kvm, readonly mode: ProbeMode, onVcpu: (kickToken: number) => void,
    opts: { slots?: (vm: Vm, buffer: SharedArrayBuffer, offset: number) => void; irqchip?: boolean } = {}) {
    this.buffer = new SharedArrayBuffer(PROBE_RAM + 4096);
    this.offset = pageAlignedOffset(this.buffer);
    this.memory = new GuestMemory(this.buffer, [{ guestPhys: 0, size: PROBE_RAM, offset: this.offset }]);
    this.vm = kvm.createVm();
    try {
      this.vm.setTssAddr(0xfffb_d000);
      // With the in-kernel irqchip, as kvmdbg's machines have, KVM keeps HLT to itself.
      if (opts.irqchip) this.vm.createIrqchip();
      if (opts.slots) opts.slots(this.vm, this.buffer, this.offset);
      else this.vm.setUserMemoryRegion({ slot: 0, guestPhys: 0, size: PROBE_RAM, buffer: this.buffer, offset: this.offset });
      this.vcpu = this.vm.createVcpu(0);
    } catch (e) {
      this.vm.close();
      throw e;
    }
    onVcpu(this.vcpu.kickToken);
    if (mode === 'long') this.enterLongMode();
    else if (mode === 'protected') this.enterProtectedMode();
    else this.enterRealMode();
  }

  private enterRealMode(): void {
    const sregs = this.vcpu.getSregs();
    this.vcpu.setSregs({ cs: { ...sregs.cs, base: 0n, selector: 0 } });
    this.vcpu.setRegs({ rip: 0x1000n, rflags: 2n, rsp: 0x8000n });
  }

  /** The identity-mapped long-mode page tables (also built in protected mode, for a guest that enables paging). */
  pml4 = 0;

  private identityMap(): number {
    const pt = new PageTables(this.memory, 'host probe');
    for (let a = 0; a < PROBE_RAM; a += LARGE_PAGE) pt.map2M(BigInt(a), a, 'probe RAM');
    return pt.pml4;
  }

  /** 32-bit flat protected mode, paging off (where multiboot and PVH kernels start). */
  private enterProtectedMode(): void {
    writeGdt(this.memory);
    this.pml4 = this.identityMap();
    const state = protectedModeState(CODE, {});
    this.vcpu.setSregs({ ...this.vcpu.getSregs(), ...state.sregs });
    this.vcpu.setRegs({ rflags: 2n, ...state.regs } as never);
  }

  private enterLongMode(): void {
    writeGdt(this.memory);
    this.pml4 = this.identityMap();
    const state = longModeState(BigInt(CODE), this.pml4, {});
    this.vcpu.setSregs({ ...this.vcpu.getSregs(), ...state.sregs });
    this.vcpu.setRegs({ rflags: 2n, ...state.regs } as never);
  }

  /**
   * Moves the vCPU to CPL 3 where it stands (CS, SS, DS with DPL and RPL 3;
   * the GDT is not read until a segment is reloaded), its pages user pages,
   * IOPL 3 so that its port writes still reach us.
   */
  userMode(): this {
    this.setUserBit(this.pml4, 3);
    const s = this.vcpu.getSregs();
    const user = (seg: typeof s.cs) => ({ ...seg, dpl: 3, selector: seg.selector | 3 });
    this.vcpu.setSregs({ cs: user(s.cs), ss: user(s.ss), ds: user(s.ds), es: user(s.es) });
    this.vcpu.setRegs({ ...this.vcpu.getRegs(), rflags: 0x3002n });
    return this;
  }

  /** The U bit on every present entry of the identity map, `levels` deep (PML4, PDPT, PD of 2 MiB pages). */
  private setUserBit(table: number, levels: number): void {
    for (let i = 0; i < 512; i++) {
      const e = this.memory.readU64(table + 8 * i);
      if (!(e & PTE_PRESENT)) continue;
      this.memory.writeU64(table + 8 * i, e | PTE_USER);
      if (levels > 1 && !(e & PTE_LARGE)) this.setUserBit(Number(e & PTE_ADDR_MASK), levels - 1);
    }
  }

  /** Code at the entry point (0x1000 in real mode, CODE in long mode). */
  code(bytes: number[], at = this.mode === 'real' ? 0x1000 : CODE): this {
    this.memory.write(at, Uint8Array.from(bytes));
    return this;
  }

  /** A 64-bit interrupt gate for `vector` to `handler` (the IDT at IDT, all 256 vectors). */
  gate64(vector: number, handler: number): this {
    const lo = BigInt(handler & 0xffff) | (0x08n << 16n) | (0x8en << 40n) | (BigInt((handler >>> 16) & 0xffff) << 48n);
    this.memory.writeU64(IDT + vector * 16, lo);
    this.memory.writeU64(IDT + vector * 16 + 8, 0n);
    this.vcpu.setSregs({ idt: { base: BigInt(IDT), limit: 256 * 16 - 1 } });
    return this;
  }

  /**
   * Runs until `verdict` returns a value for an exit (I/O on other ports is
   * answered and the guest goes on), at most `maxExits` exits.
   */
  runUntil<T>(verdict: (exit: VcpuExit) => T | undefined, maxExits = 16): T | VcpuExit {
    let last: VcpuExit = { kind: 'interrupted' };
    for (let i = 0; i < maxExits; i++) {
      const exit = this.vcpu.run();
      const v = verdict(exit);
      if (v !== undefined) return v;
      last = exit;
      if (exit.kind === 'io' && exit.port !== DONE_PORT && exit.port !== HANDLER_PORT) continue;
      return exit;
    }
    return last;
  }

  close(): void {
    try { this.vcpu.close(); } finally { this.vm.close(); }
  }
}

/** An exit in a few words, for a probe's detail ("internal error, suberror 1"). */
export function exitWords(exit: VcpuExit): string {
  switch (exit.kind) {
    case 'io': return `port ${exit.direction === 'out' ? 'write' : 'read'} 0x${exit.port.toString(16)}`;
    case 'mmio': return `MMIO ${exit.isWrite ? 'write' : 'read'} at 0x${exit.address.toString(16)}`;
    case 'internalError': return `internal error, suberror ${exit.suberror}`;
    case 'debug': return `debug exit (vector ${exit.exception})`;
    case 'interrupted': return 'no exit before the deadline (the guest ran on inside KVM)';
    case 'failEntry': return `failed entry (reason 0x${exit.hardwareReason.toString(16)})`;
    default: return `${exit.kind} exit`;
  }
}
