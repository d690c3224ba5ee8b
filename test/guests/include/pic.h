/* The legacy interrupt path of the PC for the 64-bit test kernels: a
 * 64-bit IDT, the two 8259 PICs remapped to vectors 0x20-0x2F (cascade on
 * IRQ 2), EOI, and the in-service register. No local APIC programming: the
 * machine leaves LINT0 in ExtINT mode, as firmware does. */
#ifndef KVMDBG_GUEST_PIC_H
#define KVMDBG_GUEST_PIC_H

#include <stdint.h>
#include "io.h"

#define PIC1_CMD  0x20
#define PIC1_DATA 0x21
#define PIC2_CMD  0xa0
#define PIC2_DATA 0xa1
#define PIC_VECTOR_BASE 0x20
#define PIC_EOI   0x20
#define PIC_READ_ISR 0x0b

struct interrupt_frame;
struct idt_gate { uint16_t off0, sel; uint8_t ist, type; uint16_t off1; uint32_t off2, zero; } __attribute__((packed));
static struct idt_gate pic_idt[256] __attribute__((aligned(16)));

static inline void idt_set(int vector, void *handler)
{
	uintptr_t a = (uintptr_t)handler;
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	pic_idt[vector] = (struct idt_gate){ a & 0xffff, cs, 0, 0x8e, (a >> 16) & 0xffff, (uint32_t)(a >> 32), 0 };
}

static inline void idt_load(void)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr = { sizeof(pic_idt) - 1, (uint64_t)pic_idt };
	__asm__ volatile("lidt %0" :: "m"(idtr));
}

/* ICW1-4: edge triggered, cascaded, 8086 mode; then the masks (1 = masked). */
static inline void pic_init(uint8_t master_mask, uint8_t slave_mask)
{
	outb(PIC1_CMD, 0x11); outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, PIC_VECTOR_BASE); outb(PIC2_DATA, PIC_VECTOR_BASE + 8);
	outb(PIC1_DATA, 0x04); outb(PIC2_DATA, 0x02);
	outb(PIC1_DATA, 0x01); outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, master_mask); outb(PIC2_DATA, slave_mask);
}

static inline void pic_eoi(int irq)
{
	if (irq >= 8)
		outb(PIC2_CMD, PIC_EOI);
	outb(PIC1_CMD, PIC_EOI);
}

static inline uint8_t pic_master_isr(void)
{
	outb(PIC1_CMD, PIC_READ_ISR);
	return inb(PIC1_CMD);
}

#endif
