/* The kvmdbg test kernels (multiboot32, pvh64, elf64): one C program,
 * built for each boot protocol. Behaviour is chosen by cmdline words; see
 * README.md for the exact output. The globals and functions named in the
 * README are debugger targets: keep their names. */
#include "io.h"
#include "lib.h"

#ifndef KERNEL_NAME
#error "KERNEL_NAME must be defined (multiboot32, pvh64, elf64)"
#endif

#define MMIO_TEST_ADDR 0xD0000000u   /* unassigned MMIO on the kvmdbg machine */
#define POST_CODE      0x42
#define UNASSIGNED_PORT 0x510
#define COUNT_LOOPS    1000
#define RANGE_COUNT    33334              /* `range`: 3 instructions each, 100,002 on one line */

uint32_t step_sequence(void);              /* kernel/step{32,64}.S */
void spin_forever(void) __attribute__((noreturn));

volatile uint32_t result_value;            /* compute_checksum() stores here */
volatile uint64_t tick_counter;            /* `count`: a watchpoint target */
volatile uint32_t spin_counter;            /* `spin`: spin_loop increments it */
volatile uint32_t mmio_value;              /* last value read from MMIO_TEST_ADDR */
struct boot_info boot;                     /* what the loader told us */

/* `watch`: five watchpoint targets and a 64-byte struct, written in this order. */
volatile uint32_t watch_a, watch_b, watch_c, watch_d, watch_e;
struct watch_block { uint64_t words[8]; };
volatile struct watch_block watch_block;

/* `range`: what range_run() leaves. */
volatile uint64_t range_sum;

/* The data compute_checksum() runs over: the 6 bytes "kvmdbg". */
const uint8_t checksum_data[6] = { 'k', 'v', 'm', 'd', 'b', 'g' };

__attribute__((noinline)) uint32_t fib(uint32_t n)
{
	if (n < 2)
		return n;
	return fib(n - 1) + fib(n - 2);
}

/* CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320, init and final xor
 * 0xFFFFFFFF: the one zlib.crc32 computes), bit by bit. */
__attribute__((noinline)) uint32_t compute_checksum(const uint8_t *data, size_t len)
{
	uint32_t crc = 0xFFFFFFFFu;
	for (size_t i = 0; i < len; i++) {
		crc ^= data[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
	}
	crc ^= 0xFFFFFFFFu;
	result_value = crc;
	return crc;
}

__attribute__((noinline)) void watch_writes(void)
{
	watch_a = 1;
	watch_b = 2;
	watch_c = 3;
	watch_d = 4;
	watch_e = 5;
	watch_block.words[7] = 0x77;
	watch_block.words[0] = 0x11;
	kprintf("watch = %u %u %u %u %u 0x%llx\n", watch_a, watch_b, watch_c, watch_d, watch_e,
		(unsigned long long)(watch_block.words[0] + watch_block.words[7]));
}

__attribute__((noinline)) void port_io_test(void)
{
	outb(PORT_POST, POST_CODE);
	outl(UNASSIGNED_PORT, 0x12345678);
}

__attribute__((noinline)) uint32_t mmio_test(void)
{
	mmio_write32(MMIO_TEST_ADDR, 0xCAFEF00D);
	mmio_value = mmio_read32(MMIO_TEST_ADDR);
	return mmio_value;
}

__attribute__((noinline)) uint32_t pci_read_config32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t reg)
{
	outl(PORT_PCI_ADDR, 0x80000000u | (uint32_t)bus << 16 | (uint32_t)dev << 11 |
	     (uint32_t)fn << 8 | (reg & 0xfc));
	return inl(PORT_PCI_DATA);
}

__attribute__((noinline)) void count_ticks(void)
{
	for (int i = 0; i < COUNT_LOOPS; i++)
		tick_counter++;
}

__attribute__((noinline)) uint64_t range_helper(uint64_t x)
{
	return x * 3 + 1;
}

/* `range`: a line step over 100,002 instructions on one source line (the
 * asm loop), then a line with two calls. RAX = RANGE_COUNT * (RANGE_COUNT +
 * 1) / 2 and RCX = 0 after the long line. `range-forever`: the loop runs
 * 2^63 (2^31) times: a line that never ends, for Pause. range_loop_mid is the
 * loop's second instruction (an instruction breakpoint inside the line). */
__attribute__((noinline)) void range_run(int forever)
{
	uintptr_t sum = 0, left = forever ? (uintptr_t)-1 >> 1 : RANGE_COUNT;
	__asm__ volatile("range_loop: add %1, %0\n\trange_loop_mid: dec %1\n\tjnz range_loop" : "+a"(sum), "+c"(left) : : "cc");
	range_sum = sum;
	range_sum = range_helper(sum) + range_helper(left + 1);
	kprintf("range = 0x%llx\n", (unsigned long long)range_sum);
}

static void __attribute__((noreturn)) triple_fault(void)
{
	static const struct {
		uint16_t limit;
		uintptr_t base;
	} __attribute__((packed)) empty_idt = { 0, 0 };
	/* #BP -> vector outside the IDT limit -> #GP -> #DF -> shutdown */
	__asm__ volatile("cli; lidt %0; int3" :: "m"(empty_idt));
	halt_forever();
}

static void echo(void)
{
	kputs("echo ready\n");
	for (;;) {
		char c = serial_getc();
		if (c == 'q')
			break;
		serial_putc(c);
	}
	kputs("\necho done\n");
}

static void __attribute__((noreturn)) default_run(void)
{
	kprintf("cmdline: %s\n", boot.cmdline);
	kprintf("memory: %llu KiB\n", (unsigned long long)(boot.ram_bytes >> 10));
	kprintf("fib(20) = %u\n", fib(20));
	kprintf("checksum = 0x%08x\n", compute_checksum(checksum_data, sizeof(checksum_data)));
	port_io_test();
	kprintf("mmio read: 0x%08x\n", mmio_test());
	uint32_t id = pci_read_config32(0, 0, 0, 0);
	kprintf("pci 00:00.0: %04x:%04x\n", id & 0xffff, id >> 16);
	kprintf("step result = 0x%08x\n", step_sequence());
	kputs("done\n");
	machine_finish(boot.cmdline);
}

void __attribute__((noreturn)) kernel_main(uint32_t protocol, uintptr_t boot_info)
{
	serial_init(0);
	boot_info_parse(&boot, protocol, boot_info);
	if (cmdline_has(boot.cmdline, "debugcon"))
		console_mirror_e9 = 1;
	kprintf("kvmdbg test kernel %s (%s)\n", KERNEL_NAME, boot_protocol_name(boot.protocol));

	if (cmdline_has(boot.cmdline, "triple")) {
		kputs("triple faulting\n");
		triple_fault();
	}
	if (cmdline_has(boot.cmdline, "spin")) {
		kputs("spinning\n");
		spin_forever();
	}
	if (cmdline_has(boot.cmdline, "echo")) {
		echo();
		machine_finish(boot.cmdline);
	}
	if (cmdline_has(boot.cmdline, "watch"))
		watch_writes();
	if (cmdline_has(boot.cmdline, "range") || cmdline_has(boot.cmdline, "range-forever"))
		range_run(cmdline_has(boot.cmdline, "range-forever"));
	if (cmdline_has(boot.cmdline, "count")) {
		count_ticks();
		kprintf("count = %llu\n", (unsigned long long)tick_counter);
	}
	default_run();
}
