/**
 * A fake GdbTarget for the GDB stub tests: registers and memory in maps, a
 * call log, steps that advance RIP by 2 and stop with SIGTRAP. Exported for
 * the other gdb-*.test.ts files; the tests below check the fake itself.
 */
import type { Fpu, Regs, Sregs } from '../../../native/types';
import type { Segment } from '../../../vmm/boot/boot-state';
import type { BreakpointType, GdbStop, GdbTarget } from '../../../vmm/gdb/target';

function seg(selector: number, type: number, l = false): Segment {
  return { base: 0n, limit: 0xffffffff, selector, type, present: true, dpl: 0, db: !l, s: true, l, g: true, avl: false, unusable: false };
}

export function longModeRegs(): { regs: Regs; sregs: Sregs } {
  const regs: Regs = {
    rax: 0x1111n, rbx: 0x2222n, rcx: 0x3333n, rdx: 0x4444n, rsi: 0x5555n, rdi: 0x6666n, rsp: 0x8000n, rbp: 0x7000n,
    r8: 8n, r9: 9n, r10: 10n, r11: 11n, r12: 12n, r13: 13n, r14: 14n, r15: 0xfedcba9876543210n,
    rip: 0x1000n, rflags: 0x246n,
  };
  const sregs: Sregs = {
    cs: seg(0x10, 0xb, true), ds: seg(0x18, 3), es: seg(0x18, 3), fs: { ...seg(0, 3), base: 0x7f0000001000n },
    gs: { ...seg(0, 3), base: 0xffff888000000000n }, ss: seg(0x18, 3),
    tr: seg(0x28, 0xb), ldt: seg(0, 2), gdt: { base: 0x500n, limit: 0x2f }, idt: { base: 0n, limit: 0 },
    cr0: 0x80050033n, cr2: 0xdeadb000n, cr3: 0x9000n, cr4: 0x6b0n, cr8: 0n, efer: 0xd01n, apicBase: 0xfee00900n,
    interruptBitmap: [0n, 0n, 0n, 0n],
  };
  return { regs, sregs };
}

/**
 * A 32-bit protected-mode vCPU with paging, as a multiboot kernel runs: the
 * upper halves of the 64-bit registers hold leftovers the i386 layout must
 * hide and keep.
 */
export function protectedModeRegs(): { regs: Regs; sregs: Sregs } {
  const regs: Regs = {
    rax: 0xaaaa000000001111n, rbx: 0x2222n, rcx: 0x3333n, rdx: 0x4444n, rsi: 0x5555n, rdi: 0x6666n, rsp: 0x8000n, rbp: 0x7000n,
    r8: 8n, r9: 9n, r10: 10n, r11: 11n, r12: 12n, r13: 13n, r14: 14n, r15: 15n,
    rip: 0x1000n, rflags: 0x202n,
  };
  const sregs: Sregs = {
    cs: seg(0x08, 0xb), ds: seg(0x10, 3), es: seg(0x10, 3), fs: { ...seg(0x10, 3), base: 0x12345000n },
    gs: { ...seg(0x10, 3), base: 0x1000n }, ss: seg(0x10, 3),
    tr: seg(0x18, 0xb), ldt: seg(0, 2), gdt: { base: 0x500n, limit: 0x1f }, idt: { base: 0n, limit: 0 },
    cr0: 0x80000011n, cr2: 0x40000004n, cr3: 0x9000n, cr4: 0x10n, cr8: 0n, efer: 0n, apicBase: 0xfee00900n,
    interruptBitmap: [0n, 0n, 0n, 0n],
  };
  return { regs, sregs };
}

export interface FakeOptions {
  vcpus?: number;
  /** The vCPUs' mode: 64-bit long mode (default) or 32-bit protected mode with paging. */
  mode?: 'long' | 'protected';
  fpu?: boolean;
  /** Started machines report their stop via currentStop(); default true. */
  stopped?: boolean;
}

export class FakeTarget implements GdbTarget {
  readonly regs = new Map<number, Regs>();
  readonly sregs = new Map<number, Sregs>();
  readonly fpus = new Map<number, Fpu>();
  kernelGsBase = 0xffffffff81000000n;
  /** 4 KiB pages by page number; unmapped pages are unreadable. */
  readonly pages = new Map<bigint, Uint8Array>();
  readonly calls: string[] = [];
  readonly breakpoints = new Set<string>();
  unsupportedTypes = new Set<BreakpointType>();
  monitorOutput = (cmd: string) => `you said: ${cmd}\n`;
  running = false;
  /** Called when a resume continues some vCPU: the stop it returns (if any) is emitted, as if the guest hit it. */
  onContinue: ((t: FakeTarget) => GdbStop | undefined) | undefined;
  detached = false;
  killed = false;
  private listeners: ((s: GdbStop) => void)[] = [];
  private stop: GdbStop | undefined;
  private readonly n: number;
  private readonly mode: 'long' | 'protected';

  constructor(options: FakeOptions = {}) {
    this.n = options.vcpus ?? 1;
    this.mode = options.mode ?? 'long';
    for (let v = 0; v < this.n; v++) {
      const { regs, sregs } = this.mode === 'protected' ? protectedModeRegs() : longModeRegs();
      this.regs.set(v, { ...regs, rax: regs.rax + BigInt(v) });
      this.sregs.set(v, sregs);
      if (options.fpu) {
        const fpr = new Uint8Array(128);
        // st0 = 1.0 (80-bit: mantissa 0x8000000000000000, exponent 0x3fff)
        fpr.set([0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f], 0);
        const xmm = new Uint8Array(256);
        for (let i = 0; i < 16; i++) xmm[16 + i] = i + 1; // xmm1 = 01 02 .. 10
        this.fpus.set(v, { fpr, fcw: 0x37f, fsw: 0x3800, ftwx: 0x80, lastOpcode: 0, lastIp: 0n, lastDp: 0n, xmm, mxcsr: 0x1f80 });
      }
    }
    if (options.fpu) {
      this.readFpu = async (vcpu) => { const f = this.fpus.get(vcpu)!; return { ...f, fpr: f.fpr.slice(), xmm: f.xmm.slice() }; };
      this.writeFpu = async (vcpu, fpu) => { this.calls.push(`writeFpu ${vcpu}`); this.fpus.set(vcpu, fpu); };
    }
    if (options.stopped !== false) this.stop = { vcpu: 0, stop: { kind: 'signal', signal: 5 } };
    else this.running = true;
    // Memory: page 1 (0x1000) holds a counting pattern.
    const page = new Uint8Array(4096);
    for (let i = 0; i < 4096; i++) page[i] = i & 0xff;
    this.pages.set(1n, page);
    this.pages.set(2n, new Uint8Array(4096));
  }

  vcpus(): number[] { return [...Array(this.n).keys()]; }

  currentStop(): GdbStop | undefined { return this.running ? undefined : this.stop; }

  async readRegisters(vcpu: number) {
    this.calls.push(`readRegisters ${vcpu}`);
    const sregs = this.sregs.get(vcpu)!;
    return { regs: { ...this.regs.get(vcpu)! }, sregs: { ...sregs }, fsBase: sregs.fs.base, gsBase: sregs.gs.base, kernelGsBase: this.kernelGsBase };
  }

  async writeRegisters(vcpu: number, regs: Partial<Regs>, sregs?: Partial<Sregs>) {
    this.calls.push(`writeRegisters ${vcpu} ${Object.keys(regs).join(',')}${sregs ? ' sregs ' + Object.keys(sregs).join(',') : ''}`);
    this.regs.set(vcpu, { ...this.regs.get(vcpu)!, ...regs });
    if (sregs) this.sregs.set(vcpu, { ...this.sregs.get(vcpu)!, ...sregs });
  }

  readFpu?: (vcpu: number) => Promise<Fpu>;
  writeFpu?: (vcpu: number, fpu: Fpu) => Promise<void>;
  async writeKernelGsBase(vcpu: number, value: bigint) { this.calls.push(`writeKernelGsBase ${vcpu}`); this.kernelGsBase = value; }

  async readMemory(vcpu: number, address: bigint, length: number) {
    this.calls.push(`readMemory ${vcpu} ${address.toString(16)} ${length}`);
    const data = new Uint8Array(length);
    let readable = 0;
    for (; readable < length; readable++) {
      const a = address + BigInt(readable);
      const page = this.pages.get(a >> 12n);
      if (!page) break;
      data[readable] = page[Number(a & 0xfffn)];
    }
    return { data, readable };
  }

  async writeMemory(vcpu: number, address: bigint, data: Uint8Array) {
    this.calls.push(`writeMemory ${vcpu} ${address.toString(16)} ${data.length}`);
    let n = 0;
    for (; n < data.length; n++) {
      const a = address + BigInt(n);
      const page = this.pages.get(a >> 12n);
      if (!page) break;
      page[Number(a & 0xfffn)] = data[n];
    }
    return n;
  }

  async insertBreakpoint(type: BreakpointType, address: bigint, kind: number) {
    this.calls.push(`insert ${type} ${address.toString(16)} ${kind}`);
    if (this.unsupportedTypes.has(type)) return 'unsupported' as const;
    if (address === 0xbadn) return 'error' as const;
    this.breakpoints.add(`${type}:${address.toString(16)}:${kind}`);
    return 'ok' as const;
  }

  async removeBreakpoint(type: BreakpointType, address: bigint, kind: number) {
    this.calls.push(`remove ${type} ${address.toString(16)} ${kind}`);
    if (this.unsupportedTypes.has(type)) return 'unsupported' as const;
    this.breakpoints.delete(`${type}:${address.toString(16)}:${kind}`);
    return 'ok' as const;
  }

  resume(actions: Map<number, 'continue' | 'step' | 'stop'>): void {
    this.calls.push(`resume ${[...actions].map(([v, a]) => `${v}:${a}`).join(' ')}`);
    this.running = true;
    const stepping = [...actions].filter(([, a]) => a === 'step').map(([v]) => v);
    if (stepping.length > 0 && ![...actions.values()].includes('continue')) {
      for (const v of stepping) { const r = this.regs.get(v)!; r.rip += 2n; }
      setImmediate(() => this.emit({ vcpu: stepping[0], stop: { kind: 'signal', signal: 5 } }));
    } else if (this.onContinue && [...actions.values()].includes('continue')) {
      const stop = this.onContinue(this);
      if (stop) setImmediate(() => this.emit(stop));
    }
  }

  interrupt(): void {
    this.calls.push('interrupt');
    setImmediate(() => this.emit(this.running ? { vcpu: 0, stop: { kind: 'signal', signal: 2 } } : this.stop!));
  }

  /** Make the machine stop as if it hit something. */
  emit(s: GdbStop): void {
    this.running = false;
    this.stop = s;
    for (const l of this.listeners) l(s);
  }

  onStop(listener: (s: GdbStop) => void): void { this.listeners.push(listener); }

  async monitor(command: string): Promise<string> {
    this.calls.push(`monitor ${command}`);
    if (command === 'fail') throw new Error('no such command');
    return this.monitorOutput(command);
  }

  detach(): void { this.calls.push('detach'); this.detached = true; this.running = true; }
  kill(): void { this.calls.push('kill'); this.killed = true; }

  threadInfo(vcpu: number): string { return `vCPU ${vcpu} (${this.mode} mode)`; }
}
