/* faults64: guest faults the debugger must survive (test/kvm/faults.test.ts).
 * One cmdline word chooses the fault:
 *   mmio-exec   jump into unassigned MMIO (0xD0000000): KVM cannot fetch the
 *               instruction to emulate it and exits with KVM_EXIT_INTERNAL_ERROR
 *   cli-hlt     halt with interrupts off: the vCPU sleeps in the kernel forever
 *   spin        spin with interrupts off, counting in spin_counter
 *   (none)      print "faults64 ok" and power off (the state tests start here)
 * Each prints one line saying what it is about to do. */
#include "io.h"
#include "lib.h"

#define MMIO_HOLE 0xD0000000ull

struct boot_info boot;
volatile uint32_t spin_counter;

__attribute__((noinline)) uint32_t fib(uint32_t n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static void __attribute__((noreturn)) spin_cli(void)
{
	__asm__ volatile("cli");
	for (;;)
		spin_counter++;
}

void __attribute__((noreturn)) kernel_main(uint32_t protocol, uintptr_t boot_info)
{
	serial_init(0);
	boot_info_parse(&boot, protocol, boot_info);
	kprintf("kvmdbg faults64 (%s)\n", boot_protocol_name(boot.protocol));
	if (cmdline_has(boot.cmdline, "mmio-exec")) {
		kprintf("jumping into MMIO at 0x%llx\n", MMIO_HOLE);
		((void (*)(void))(uintptr_t)MMIO_HOLE)();
		kputs("returned from MMIO?\n");
		machine_exit(9);
	}
	if (cmdline_has(boot.cmdline, "cli-hlt")) {
		kputs("halting with interrupts off\n");
		halt_forever();
	}
	if (cmdline_has(boot.cmdline, "spin")) {
		kputs("spinning with interrupts off\n");
		spin_cli();
	}
	kprintf("fib(20) = %u\n", fib(20));
	kputs("faults64 ok\n");
	machine_finish(boot.cmdline);
}
