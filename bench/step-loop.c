/*
 * The physical limit for instruction steps: a plain C loop of KVM_RUN with
 * KVM_GUESTDBG_SINGLESTEP (and, as a debugger needs, KVM_GET_REGS after each
 * step to see where it is) on a tiny 64-bit guest: long mode, identity-mapped
 * 2 MiB pages, the same kind of code a kernel runs (`inc %rax; nop; nop;
 * jmp` in a loop). No device, no interrupt: each step is one KVM_RUN and one
 * debug exit. Prints one JSON line per variant (totalNs: wall time; cpuNs:
 * the process's CPU time, kernel included: on a loaded host the fairer figure):
 *   {"variant":"run","steps":N,"totalNs":T}            KVM_RUN only
 *   {"variant":"run+regs","steps":N,"totalNs":T}       KVM_RUN + KVM_GET_REGS
 *   {"variant":"run+sync-regs","steps":N,"totalNs":T}  KVM_RUN, registers synced into kvm_run
 *   {"variant":"run+sync-regs+sregs",...}              the same with the system registers
 * scripts/bench.mjs compiles it with gcc -O2 into out/bench/ and runs it:
 * `step-loop [STEPS]`.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#define MEM_SIZE 0x400000
#define PML4 0x1000
#define PDPT 0x2000
#define PD 0x3000
#define GDT 0x4000
#define CODE 0x100000

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void die(const char *what) { perror(what); exit(1); }

static void seg(struct kvm_segment *s, uint16_t sel, int code) {
  memset(s, 0, sizeof *s);
  s->selector = sel; s->limit = 0xffffffff; s->present = 1; s->s = 1; s->g = 1;
  s->type = code ? 0xb : 0x3;
  if (code) s->l = 1; else s->db = 1;
}

int main(int argc, char **argv) {
  long steps = argc > 1 ? atol(argv[1]) : 100000;
  if (steps <= 0) { fprintf(stderr, "usage: step-loop [STEPS > 0]\n"); return 2; }
  /* again: inc %rax; nop; nop; jmp again */
  static const uint8_t code[] = { 0x48, 0xff, 0xc0, 0x90, 0x90, 0xeb, 0xf9 };
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("/dev/kvm");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0) die("KVM_SET_TSS_ADDR");
  uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) die("mmap");
  uint64_t *pml4 = (uint64_t *)(mem + PML4), *pdpt = (uint64_t *)(mem + PDPT), *pd = (uint64_t *)(mem + PD);
  pml4[0] = PDPT | 3; pdpt[0] = PD | 3;
  pd[0] = 0x83; pd[1] = 0x200000 | 0x83;  /* 2 MiB pages: present, writable, PS */
  uint64_t *gdt = (uint64_t *)(mem + GDT);
  gdt[1] = 0x00af9b000000ffffULL;  /* 0x08: 64-bit code */
  gdt[2] = 0x00cf93000000ffffULL;  /* 0x10: data */
  memcpy(mem + CODE, code, sizeof code);
  struct kvm_userspace_memory_region region = { .slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE, .userspace_addr = (uint64_t)mem };
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");
  struct kvm_sregs sregs;
  if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
  seg(&sregs.cs, 0x08, 1);
  seg(&sregs.ds, 0x10, 0); sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
  sregs.gdt.base = GDT; sregs.gdt.limit = 23;
  sregs.cr3 = PML4; sregs.cr4 = 0x20; /* PAE */
  sregs.cr0 = 0x80000011;  /* PG, ET, PE */
  sregs.efer = 0x500;      /* LME, LMA */
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
  struct kvm_regs regs = { .rip = CODE, .rflags = 2, .rsp = 0x200000 };
  if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");
  struct kvm_guest_debug dbg = { .control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP };
  if (ioctl(vcpu, KVM_SET_GUEST_DEBUG, &dbg) < 0) die("KVM_SET_GUEST_DEBUG");

  static const char *names[] = { "run", "run+regs", "run+sync-regs", "run+sync-regs+sregs" };
  for (int variant = 0; variant < 4; variant++) {
    run->kvm_valid_regs = variant == 2 ? KVM_SYNC_X86_REGS : variant == 3 ? KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS : 0;
    uint64_t start = 0, cpu = 0;
    for (long i = -steps / 10; i < steps; i++) {  /* the first tenth warms up */
      if (i == 0) { start = now_ns(); cpu = cpu_ns(); }
      if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
      if (run->exit_reason != KVM_EXIT_DEBUG) {
        fprintf(stderr, "step-loop: unexpected exit %u\n", run->exit_reason);
        return 1;
      }
      if (variant == 1 && ioctl(vcpu, KVM_GET_REGS, &regs) < 0) die("KVM_GET_REGS");
    }
    uint64_t total = now_ns() - start;
    cpu = cpu_ns() - cpu;
    printf("{\"variant\":\"%s\",\"steps\":%ld,\"totalNs\":%llu,\"cpuNs\":%llu}\n", names[variant], steps, (unsigned long long)total, (unsigned long long)cpu);
  }
  if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0) die("KVM_GET_REGS");
  if (regs.rax == 0) { fprintf(stderr, "step-loop: the guest did not run (RAX 0)\n"); return 1; }
  return 0;
}
