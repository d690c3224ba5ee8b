/**
 * The CPU state a Limine kernel is entered in (x86-64 "Machine state at
 * entry"): the GDT the protocol lists (null, 16-, 32- and 64-bit code and
 * data, so CS = 0x28 and the data selectors 0x30), paging on with PE, ET,
 * WP, PG, PAE (LA57 for 5-level), LME, LMA and NXE and no other CR0/CR4/EFER
 * bit, RFLAGS 0x2, no IDT, TR, LDTR and the local APIC as base revision 5
 * states them, all other registers 0. The same state with RDI = its limine_mp_info is what a
 * parked AP gets.
 */
import { BootCpuState, Segment } from './boot-state';
import { encodeDescriptor, ldt } from './cpu';
import { BootAllocator } from './limine-alloc';
import { CR0_ET, CR0_PE, CR0_PG, CR4_LA57, CR4_PAE, EFER_LMA, EFER_LME, EFER_NXE } from '../cpu/control-bits';
import { GuestMemory } from '../memory/guest-memory';

export const CR0_WP = 1n << 16n;
export const LIMINE_CS = 0x28;
export const LIMINE_DS = 0x30;
/** One slot past the protocol's list: a TSS descriptor (base 0, limit 0) for TR, which VMX entry wants to be a busy TSS. */
const LIMINE_TR = 0x38;
const GDT_BYTES = 0x48;

function seg(selector: number, type: number, o: Partial<Segment>): Segment {
  return {
    base: 0n, limit: 0xffffffff, selector, type, present: true, dpl: 0,
    db: false, s: true, l: false, g: true, avl: false, unusable: false, ...o,
  };
}

const CODE = 0xb; // execute/read, accessed
const DATA = 0x3; // read/write, accessed
const gdtSegments = (): Segment[] => [
  seg(0x08, CODE, { limit: 0xffff, g: false }),
  seg(0x10, DATA, { limit: 0xffff, g: false }),
  seg(0x18, CODE, { db: true }),
  seg(0x20, DATA, { db: true }),
  seg(LIMINE_CS, CODE, { l: true }),
  seg(LIMINE_DS, DATA, { db: true }),
];

const tr = (): Segment => ({
  base: 0n, limit: 0, selector: LIMINE_TR, type: 0xb, present: true, dpl: 0,
  db: false, s: false, l: false, g: false, avl: false, unusable: false,
});

/** Writes the GDT into reclaimable memory; returns its physical address. */
export function writeLimineGdt(memory: GuestMemory, alloc: BootAllocator): number {
  const gdt = alloc.alloc(GDT_BYTES, 'the GDT', 16);
  for (const s of gdtSegments()) memory.writeU64(gdt + s.selector, encodeDescriptor(s));
  memory.writeU64(gdt + LIMINE_TR, encodeDescriptor(tr()));
  return gdt;
}

/**
 * The local APIC as base revision 5 states it (and harmless for earlier
 * ones, which leave it undefined; it also keeps the legacy PIC's ExtINT
 * masked, as every revision wants): software-enabled with spurious vector
 * 0xFF, TPR 0, every LVT masked, LINT1 NMI as the MADT describes it.
 */
export const LIMINE_LAPIC: Record<number, number> = {
  0x80: 0,          // TPR
  0xf0: 0x1ff,      // SVR: enabled, vector 0xFF
  0x320: 0x10000,   // timer
  0x330: 0x10000,   // thermal
  0x340: 0x10000,   // performance counter
  0x350: 0x10700,   // LINT0: ExtINT (as firmware left it), masked
  0x360: 0x10400,   // LINT1: NMI (the MADT's LAPIC NMI entry), masked
  0x370: 0x10000,   // error
};

/** IA32_PAT as the protocol lays it out: WB, WT, UC-, UC, WP, WC, and (unspecified) UC-, UC. */
export const MSR_IA32_PAT = 0x277;
export const LIMINE_PAT = 0x0007_0105_0007_0406n;

export interface EntryState {
  rip: bigint;
  rsp: bigint;
  cr3: number;
  fiveLevel: boolean;
  /** Virtual (HHDM) address of the GDT. */
  gdt: bigint;
  rdi?: bigint;
}

export function limineCpuState(s: EntryState): BootCpuState {
  const z = 0n;
  const data = () => seg(LIMINE_DS, DATA, { db: true });
  return {
    regs: {
      rax: z, rbx: z, rcx: z, rdx: z, rsi: z, rdi: s.rdi ?? z, rbp: z,
      r8: z, r9: z, r10: z, r11: z, r12: z, r13: z, r14: z, r15: z,
      rip: s.rip, rsp: s.rsp, rflags: 0x2n,
    },
    sregs: {
      cs: seg(LIMINE_CS, CODE, { l: true }), ds: data(), es: data(), fs: data(), gs: data(), ss: data(),
      tr: tr(), ldt: ldt(),
      gdt: { base: s.gdt, limit: GDT_BYTES - 1 }, idt: { base: 0n, limit: 0 },
      cr0: CR0_PE | CR0_ET | CR0_WP | CR0_PG, cr3: BigInt(s.cr3),
      cr4: CR4_PAE | (s.fiveLevel ? CR4_LA57 : 0n), efer: EFER_LME | EFER_LMA | EFER_NXE,
    },
    lapic: LIMINE_LAPIC,
    msrs: [{ index: MSR_IA32_PAT, value: LIMINE_PAT }],
  };
}
