/**
 * What a boot loader produces: the image is already in guest memory; this is
 * the CPU state the boot vCPU starts with, as plain data that crosses to the
 * vCPU thread with postMessage. Register values are bigint (64-bit).
 */
export interface Segment {
  base: bigint;
  limit: number;
  selector: number;
  /** Descriptor type field (4 bits): e.g. 0xb code execute/read accessed, 0x3 data read/write accessed. */
  type: number;
  present: boolean;
  dpl: number;
  /** D/B bit: 32-bit default operand size. */
  db: boolean;
  /** S bit: code/data (true) vs system. */
  s: boolean;
  /** L bit: 64-bit code segment. */
  l: boolean;
  /** G bit: limit in 4 KiB units. */
  g: boolean;
  avl: boolean;
  unusable: boolean;
}

export interface DescriptorTable { base: bigint; limit: number }

/** The parts of KVM's kvm_regs/kvm_sregs a loader sets; the rest stay zero. */
export interface BootCpuState {
  regs: Partial<Record<'rax' | 'rbx' | 'rcx' | 'rdx' | 'rsi' | 'rdi' | 'rsp' | 'rbp' | 'rip' | 'rflags'
    | 'r8' | 'r9' | 'r10' | 'r11' | 'r12' | 'r13' | 'r14' | 'r15', bigint>>;
  sregs: {
    cs: Segment; ds: Segment; es: Segment; fs: Segment; gs: Segment; ss: Segment;
    tr?: Segment; ldt?: Segment;
    gdt?: DescriptorTable; idt?: DescriptorTable;
    cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint;
  };
}

/** Which way into the kernel a loader took, for messages and the debugger. */
export type BootProtocol = 'multiboot' | 'multiboot2' | 'pvh' | 'elf64' | 'linux' | 'bios';

/** A linear framebuffer mode the firmware would have set before entry (the boot vCPU's thread sets it on the dispi). */
export interface BootFramebuffer { width: number; height: number; bpp: number }

export interface BootInfo {
  protocol: BootProtocol;
  cpu: BootCpuState;
  /** Lowest and highest+1 guest physical addresses the kernel image occupies. */
  imageStart: number;
  imageEnd: number;
  entry: number;
  /** Human description, e.g. "multiboot v1 ELF32, entry 0x100020". */
  description: string;
  /** A BIOS boot (vmm/bios): the disk image INT 13h reads, and its drive number. */
  bios?: { disk: string; drive: number };
  /** Set when the protocol handed the kernel a framebuffer (multiboot2's framebuffer tag). */
  framebuffer?: BootFramebuffer;
}

/** A kernel image or boot file the user gave that cannot be booted. */
export class BootError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'BootError';
  }
}
