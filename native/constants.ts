/**
 * KVM numbers used above the addon, named as in <linux/kvm.h> without the
 * prefix (test/unit/native-constants.test.ts checks them against the header).
 */

/** Capabilities (KVM_CAP_*), for checkExtension / requireExtension. */
export enum Cap {
  IRQCHIP = 0,
  HLT = 1,
  USER_MEMORY = 3,
  SET_TSS_ADDR = 4,
  EXT_CPUID = 7,
  NR_VCPUS = 9,
  NR_MEMSLOTS = 10,
  MP_STATE = 14,
  SYNC_MMU = 16,
  SET_GUEST_DEBUG = 23,
  /** The kvm_guest_debug.control bits this KVM accepts (e.g. BLOCKIRQ, Linux 5.15+). */
  SET_GUEST_DEBUG2 = 195,
  IRQ_ROUTING = 25,
  PIT2 = 33,
  PIT_STATE2 = 35,
  IOEVENTFD = 36,
  SET_IDENTITY_MAP_ADDR = 37,
  ADJUST_CLOCK = 39,
  VCPU_EVENTS = 41,
  DEBUGREGS = 50,
  X86_ROBUST_SINGLESTEP = 51,
  XSAVE = 55,
  MAX_VCPUS = 66,
  TSC_DEADLINE_TIMER = 72,
  /** kvm_run.s.regs: the KVM_SYNC_X86_* register sets KVM copies out on every exit. */
  SYNC_REGS = 74,
  READONLY_MEM = 81,
  EXT_EMUL_CPUID = 95,
  IMMEDIATE_EXIT = 136,
  GET_MSR_FEATURES = 153,
  X86_USER_SPACE_MSR = 188,
  EXIT_HYPERCALL = 201,
  SYSTEM_EVENT_DATA = 215,
}

/** kvm_run.exit_reason (KVM_EXIT_*). */
export enum ExitReason {
  UNKNOWN = 0,
  EXCEPTION = 1,
  IO = 2,
  HYPERCALL = 3,
  DEBUG = 4,
  HLT = 5,
  MMIO = 6,
  IRQ_WINDOW_OPEN = 7,
  SHUTDOWN = 8,
  FAIL_ENTRY = 9,
  INTR = 10,
  INTERNAL_ERROR = 17,
  SYSTEM_EVENT = 24,
  X86_RDMSR = 29,
  X86_WRMSR = 30,
}

/** KVM_SYSTEM_EVENT_* */
export enum SystemEventType {
  SHUTDOWN = 1,
  RESET = 2,
  CRASH = 3,
  WAKEUP = 4,
  SUSPEND = 5,
  SEV_TERM = 6,
}

/** KVM_MP_STATE_* (x86 subset). */
export enum MpState {
  RUNNABLE = 0,
  UNINITIALIZED = 1,
  INIT_RECEIVED = 2,
  HALTED = 3,
  SIPI_RECEIVED = 4,
}

/** kvm_pit_config.flags */
export enum PitFlag {
  SPEAKER_DUMMY = 1,
}

/** kvm_userspace_memory_region.flags */
export enum MemFlag {
  LOG_DIRTY_PAGES = 1,
  READONLY = 2,
}

/** kvm_guest_debug.control */
export enum GuestDebugFlag {
  ENABLE = 0x1,
  SINGLESTEP = 0x2,
  USE_SW_BP = 0x10000,
  USE_HW_BP = 0x20000,
  /** No interrupt is injected while single-stepping (Linux 5.15+, see Cap.SET_GUEST_DEBUG2). */
  BLOCKIRQ = 0x100000,
  /** Queue a #BP for the guest (a guest's own int3 handed back after a software-breakpoint exit). */
  INJECT_BP = 0x80000,
}
