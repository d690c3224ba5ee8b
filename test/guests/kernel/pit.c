/* pit64: the legacy timer path (test/kvm/pc-legacy.test.ts). The 8254 PIT's
 * channel 0 in mode 2 interrupts on IRQ 0 through the 8259 PIC (vectors
 * 0x20-0x2F, only IRQ 0 open); the local APIC is never touched. For each
 * rate (100 Hz, then 250 Hz) the ticks between two CMOS RTC second
 * boundaries are counted: "pit: 100 Hz: N ticks in 1 s" and whether N is
 * within 25% of the rate (a loaded host delays a vCPU's ticks: 84 of 100
 * were seen at load 12; the ranges do not overlap, so that still tells the
 * rates apart). Not 1000 Hz: the emulated sandbox takes ~760 ticks a second
 * at most, however the PIT is programmed. Then the EOI: a tick handled without EOI stays in
 * the master's in-service register (no further ticks arrive) until the EOI
 * clears it. Ends with "pit ok" (or "pit: FAIL ...") and finishes like the
 * test kernel. */
#include "io.h"
#include "lib.h"
#include "pic.h"

#define PIT_CH0  0x40
#define PIT_MODE 0x43
#define PIT_HZ   1193182u

struct boot_info boot;
static int failures;
static volatile uint32_t ticks;
static volatile int skip_eoi;
#define FAIL(...) do { kprintf("pit: FAIL " __VA_ARGS__); failures++; } while (0)

__attribute__((interrupt)) void timer_handler(struct interrupt_frame *f)
{
	(void)f;
	ticks++;
	if (!skip_eoi)
		pic_eoi(0);
}

static uint8_t rtc_seconds(void)
{
	for (;;) {
		outb(0x70, 0x0a);
		if (inb(0x71) & 0x80)   /* update in progress */
			continue;
		outb(0x70, 0x00);
		return inb(0x71);
	}
}

static void pit_rate(uint32_t hz)
{
	uint32_t divisor = (PIT_HZ + hz / 2) / hz;
	outb(PIT_MODE, 0x34);      /* channel 0, lo/hi byte, mode 2 (rate generator) */
	outb(PIT_CH0, divisor & 0xff);
	outb(PIT_CH0, divisor >> 8);
}

/* Waits with interrupts on until the RTC's second changes, reading the RTC
 * every `every` wakeups: each read is four port exits to the VMM, and where
 * those are slow (the emulated sandbox: ~0.5 ms each) reading after every
 * tick at 1000 Hz left the vCPU no time for half the ticks. */
static void next_second(uint32_t every)
{
	uint8_t s = rtc_seconds();
	for (;;) {
		for (uint32_t i = 0; i < every; i++)
			__asm__ volatile("sti; hlt; cli" ::: "memory");
		if (rtc_seconds() != s)
			return;
	}
}

static void measure(uint32_t hz)
{
	uint32_t every = hz / 50;   /* an RTC read each 20 ms: the second's edge within 2% */
	pit_rate(hz);
	next_second(every);
	uint32_t start = ticks;
	next_second(every);
	uint32_t n = ticks - start;
	uint32_t lo = hz - hz / 4, hi = hz + hz / 4;
	kprintf("pit: %u Hz: %u ticks in 1 s\n", hz, n);
	if (n >= lo && n <= hi)
		kprintf("pit: %u Hz: within 25%%\n", hz);
	else
		FAIL("%u Hz: %u ticks is not within 25%% of %u\n", hz, n, hz);
}

void __attribute__((noreturn)) kernel_main(uint32_t protocol, uintptr_t boot_info)
{
	serial_init(0);
	boot_info_parse(&boot, protocol, boot_info);
	kprintf("kvmdbg pit64 (%s)\n", boot_protocol_name(boot.protocol));
	idt_set(PIC_VECTOR_BASE + 0, timer_handler);
	idt_load();
	pic_init(0xfe, 0xff);
	measure(100);
	measure(250);

	pit_rate(1000);
	skip_eoi = 1;
	uint32_t t = ticks;
	while (ticks == t)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	uint32_t first = ticks;
	/* Interrupts on for 2000 port exits, several ms however fast the host (at 1000 Hz, ticks would come). */
	__asm__ volatile("sti");
	for (int i = 0; i < 2000; i++)
		(void)inb(0x80);
	__asm__ volatile("cli");
	uint8_t isr = pic_master_isr();
	kprintf("pic: without EOI: %u more ticks, isr 0x%x\n", ticks - first, isr);
	if (ticks != first || isr != 0x01) FAIL("the PIC delivered past an unacknowledged tick\n");
	skip_eoi = 0;
	pic_eoi(0);
	kprintf("pic: after EOI: isr 0x%x\n", pic_master_isr());
	t = ticks;
	while (ticks == t)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	kputs("pic: ticks again after EOI\n");
	outb(PIC1_DATA, 0xff);
	kputs(failures ? "pit: FAIL\n" : "pit ok\n");
	machine_finish(boot.cmdline);
}
