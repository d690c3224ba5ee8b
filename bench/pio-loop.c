/*
 * The physical limit for a port-I/O exit round trip: a plain C KVM_RUN loop
 * on the same guest bench/pio-exit.ts runs through kvmdbg (a real-mode loop
 * of `out dx, al` to port 0x500). Prints one JSON line: exits, total ns, and
 * ns spent inside the KVM_RUN ioctl, so the loop's own overhead per exit
 * (total minus KVM_RUN) can be compared with ours. Both sides time each
 * KVM_RUN the same way (CLOCK_MONOTONIC just around the ioctl) and set the VM
 * up the same way (2 MiB at 0, TSS address, no irqchip), so they differ only
 * in what user space does per exit. scripts/bench.mjs compiles it with
 * gcc -O2 into out/bench/ and runs it: `pio-loop [EXITS]`.
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

#define BENCH_PORT 0x500
#define MEM_SIZE 0x200000

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void die(const char *what) { perror(what); exit(1); }

int main(int argc, char **argv) {
  long exits = argc > 1 ? atol(argv[1]) : 200000;
  if (exits <= 0) { fprintf(stderr, "usage: pio-loop [EXITS > 0]\n"); return 2; }
  /* mov dx, 0x500; again: out dx, al; jmp again */
  static const uint8_t code[] = { 0xba, 0x00, 0x05, 0xee, 0xeb, 0xfd };
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("/dev/kvm");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  /* Intel needs it for real mode without unrestricted guest (as kvmdbg sets it). */
  if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0) die("KVM_SET_TSS_ADDR");
  uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) die("mmap");
  memcpy(mem + 0x1000, code, sizeof code);
  struct kvm_userspace_memory_region region = { .slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE, .userspace_addr = (uint64_t)mem };
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");
  struct kvm_sregs sregs;
  if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
  sregs.cs.base = 0; sregs.cs.selector = 0;
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
  struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
  if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");

  volatile uint64_t sink = 0;
  uint64_t in_kvm = 0, start = 0;
  for (long i = -exits / 10; i < exits; i++) {  /* the first tenth warms up */
    if (i == 0) { in_kvm = 0; start = now_ns(); }
    uint64_t t0 = now_ns();
    if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
    in_kvm += now_ns() - t0;
    if (run->exit_reason != KVM_EXIT_IO || run->io.port != BENCH_PORT || run->io.direction != KVM_EXIT_IO_OUT ||
        run->io.size != 1 || run->io.count != 1) {
      fprintf(stderr, "pio-loop: unexpected exit %u\n", run->exit_reason);
      return 1;
    }
    sink += *((uint8_t *)run + run->io.data_offset);
  }
  uint64_t total = now_ns() - start;
  printf("{\"exits\":%ld,\"totalNs\":%llu,\"inKvmRunNs\":%llu}\n", exits, (unsigned long long)total, (unsigned long long)in_kvm);
  return 0;
}
