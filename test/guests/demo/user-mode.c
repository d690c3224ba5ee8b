/* Ring 3 for the demo kernel: the descriptor tables and page tables that
 * user_mode_call() (user-mode-call.S) needs. See there for why. */
#include <stdint.h>
#include "user-mode.h"

#define SEG_KERNEL_CODE64 0x00af9a000000ffffull
#define SEG_KERNEL_DATA   0x00cf92000000ffffull
#define SEG_USER_DATA     0x00cff2000000ffffull
#define SEG_USER_CODE64   0x00affa000000ffffull
#define SEG_TSS_AVAILABLE 0x89ull           /* present, DPL 0, 64-bit TSS */
#define SEL_KERNEL_CODE   0x08
#define SEL_KERNEL_DATA   0x10
#define SEL_TSS           0x28
#define VECTOR_UD         6
#define GATE_INTERRUPT    0x8e00            /* present, DPL 0, 64-bit interrupt gate */
#define PTE_P             (1ull << 0)
#define PTE_RW            (1ull << 1)
#define PTE_US            (1ull << 2)
#define PTE_PS            (1ull << 7)

struct __attribute__((packed)) tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
};

struct __attribute__((packed)) gate64 {
	uint16_t offset_low, selector, flags, offset_mid;
	uint32_t offset_high, reserved;
};

struct __attribute__((packed)) table_register {
	uint16_t limit;
	uint64_t base;
};

extern void user_mode_return(void);

static uint64_t gdt[7];                 /* null, kernel code, kernel data, user data, user code, TSS (2 slots) */
static struct tss64 tss;
static struct gate64 idt[VECTOR_UD + 1];
static uint8_t trap_stack[4096] __attribute__((aligned(16)));
static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[4][512] __attribute__((aligned(4096)));

static void set_tss_descriptor(uint64_t *slot, uint64_t base, uint32_t limit)
{
	slot[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (SEG_TSS_AVAILABLE << 40) |
		  ((uint64_t)(limit >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
	slot[1] = base >> 32;
}

/* The first 4 GiB 1:1 in 2 MiB pages, as the loaders map them, with the U bit. */
static void map_first_4g_for_user(void)
{
	pml4[0] = (uintptr_t)pdpt | PTE_P | PTE_RW | PTE_US;
	for (uint64_t g = 0; g < 4; g++) {
		pdpt[g] = (uintptr_t)pd[g] | PTE_P | PTE_RW | PTE_US;
		for (uint64_t i = 0; i < 512; i++)
			pd[g][i] = (g << 30 | i << 21) | PTE_P | PTE_RW | PTE_US | PTE_PS;
	}
	__asm__ volatile("mov %0, %%cr3" :: "r"((uintptr_t)pml4) : "memory");
}

void user_mode_setup(void)
{
	gdt[1] = SEG_KERNEL_CODE64;
	gdt[2] = SEG_KERNEL_DATA;
	gdt[3] = SEG_USER_DATA;
	gdt[4] = SEG_USER_CODE64;
	tss.rsp[0] = (uintptr_t)(trap_stack + sizeof(trap_stack));
	tss.iomap_base = sizeof(tss);          /* no I/O bitmap: ring 3 has no ports */
	set_tss_descriptor(&gdt[5], (uintptr_t)&tss, sizeof(tss) - 1);

	uintptr_t handler = (uintptr_t)user_mode_return;
	idt[VECTOR_UD] = (struct gate64){
		.offset_low = handler & 0xffff, .selector = SEL_KERNEL_CODE, .flags = GATE_INTERRUPT,
		.offset_mid = handler >> 16 & 0xffff, .offset_high = handler >> 32,
	};

	struct table_register gdtr = { sizeof(gdt) - 1, (uintptr_t)gdt };
	struct table_register idtr = { sizeof(idt) - 1, (uintptr_t)idt };
	__asm__ volatile(
		"lgdt %0\n\t"
		"lidt %1\n\t"
		"pushq %2\n\t"
		"leaq 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"                          /* CS from our GDT */
		"1:\n\t"
		"mov %3, %%ds\n\t"
		"mov %3, %%es\n\t"
		"mov %3, %%ss\n\t"
		"ltr %w4"
		:: "m"(gdtr), "m"(idtr), "i"(SEL_KERNEL_CODE), "r"(SEL_KERNEL_DATA), "r"(SEL_TSS)
		: "rax", "memory");
	map_first_4g_for_user();
}
