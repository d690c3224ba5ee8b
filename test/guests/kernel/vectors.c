/* vectors32 / vectors64: a guest that takes exceptions on purpose, for the
 * debugger's exception-vector breakpoints (test/kvm/vector-breakpoints.test.ts).
 * It installs its own IDT (32-bit or 64-bit gates, as built), calls
 * vectors_ready() (a place for the debugger to stop once the IDT is in),
 * waits for a key on the serial console when the cmdline says "wait",
 * then raises, in this order: #UD (ud2), #GP (a bad selector into DS, error
 * code 0x1230), #PF (64-bit only: a read of an unmapped address), and a
 * software INT 0x80. Each handler counts, fixes things up and returns; at
 * the end the counts are printed. */
#include "io.h"
#include "lib.h"

#ifdef __x86_64__
typedef uint64_t uword;
#define UNMAPPED 0x100000000000ull   /* PML4 slot 32: nothing there (the boot maps 4 GiB) */
#else
typedef uint32_t uword;
#endif

struct boot_info boot;
volatile uint32_t ud_count, gp_count, pf_count, int80_count;
volatile uword gp_error, pf_error;

struct interrupt_frame;

/* The faulting instructions have known lengths: handlers step over them. */
#define UD2_LEN 2       /* 0f 0b */
#define MOV_DS_LEN 2    /* 8e d8: mov %eax,%ds */
#define LOAD_LEN 3      /* 48 8b 00: mov (%rax),%rax */

static inline void skip(struct interrupt_frame *f, uword n) { ((uword *)f)[0] += n; }

__attribute__((interrupt)) void ud_handler(struct interrupt_frame *f)
{
	ud_count++;
	skip(f, UD2_LEN);
}

__attribute__((interrupt)) void gp_handler(struct interrupt_frame *f, uword error)
{
	gp_count++;
	gp_error = error;
	skip(f, MOV_DS_LEN);
}

__attribute__((interrupt)) void pf_handler(struct interrupt_frame *f, uword error)
{
	pf_count++;
	pf_error = error;
	skip(f, LOAD_LEN);
}

__attribute__((interrupt)) void int80_handler(struct interrupt_frame *f)
{
	(void)f;
	int80_count++;
}

#ifdef __x86_64__
struct gate { uint16_t off0, sel; uint8_t ist, type; uint16_t off1; uint32_t off2, zero; } __attribute__((packed));
#else
struct gate { uint16_t off0, sel; uint8_t zero, type; uint16_t off1; } __attribute__((packed));
#endif
static struct gate idt[256] __attribute__((aligned(16)));

static void set_gate(int v, void *handler, uint8_t type)
{
	uword a = (uword)handler;
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	idt[v].off0 = a & 0xffff;
	idt[v].sel = cs;
	idt[v].type = type;
	idt[v].off1 = (a >> 16) & 0xffff;
#ifdef __x86_64__
	idt[v].off2 = a >> 32;
#endif
}

/* The debugger stops here: the IDT is loaded, nothing has faulted yet. */
__attribute__((noinline)) void vectors_ready(void)
{
	__asm__ volatile("" ::: "memory");
}

void __attribute__((noreturn)) kernel_main(uint32_t protocol, uintptr_t boot_info)
{
	serial_init(0);
	boot_info_parse(&boot, protocol, boot_info);
	set_gate(6, ud_handler, 0x8e);        /* present, DPL 0, interrupt gate */
	set_gate(13, gp_handler, 0x8e);
	set_gate(14, pf_handler, 0x8e);
	set_gate(0x80, int80_handler, 0x8f);  /* a trap gate */
	struct { uint16_t limit; uword base; } __attribute__((packed)) idtr = { sizeof(idt) - 1, (uword)idt };
	__asm__ volatile("lidt %0" :: "m"(idtr));
	kprintf("kvmdbg vectors%d: IDT at %p\n", (int)sizeof(uword) * 8, (void *)idt);
	vectors_ready();
	/* "wait": no stop at vectors_ready; the debugger must find the new IDT on its own while we run. */
	if (cmdline_has(boot.cmdline, "wait")) {
		kputs("waiting for a key\n");
		serial_getc();
	}

	__asm__ volatile("ud2");
	__asm__ volatile("mov $0x1230, %%eax\n\t.byte 0x8e, 0xd8" ::: "eax");
#ifdef __x86_64__
	__asm__ volatile("mov %0, %%rax\n\t.byte 0x48, 0x8b, 0x00" :: "i"(UNMAPPED) : "rax", "memory");
#endif
	__asm__ volatile("int $0x80");
	kprintf("ud=%u gp=%u gp_error=0x%x pf=%u pf_error=0x%x int80=%u\n",
		ud_count, gp_count, (unsigned)gp_error, pf_count, (unsigned)pf_error, int80_count);
	kputs("vectors ok\n");
	machine_finish(boot.cmdline);
}
