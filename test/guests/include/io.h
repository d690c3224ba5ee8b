/* Port and MMIO helpers shared by all kvmdbg test kernels (32- and 64-bit). */
#ifndef KVMDBG_GUEST_IO_H
#define KVMDBG_GUEST_IO_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)  { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }

static inline uint8_t inb(uint16_t port)  { uint8_t v;  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline void mmio_write32(uintptr_t addr, uint32_t v) { *(volatile uint32_t *)addr = v; }
static inline uint32_t mmio_read32(uintptr_t addr) { return *(volatile uint32_t *)addr; }

static inline void cpu_relax(void) { __asm__ volatile("pause"); }

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static inline __attribute__((noreturn)) void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* Ports of the kvmdbg machine (the same as QEMU q35 + isa-debug-exit). */
#define PORT_POST          0x80    /* POST code */
#define PORT_DEBUGCON      0xe9    /* debug console */
#define PORT_DEBUG_EXIT    0xf4    /* isa-debug-exit: outl(v) ends the VM with status (v << 1) | 1 */
#define PORT_ACPI_PM1A_CNT 0x604   /* outw(0x2000) = SLP_EN, S5: clean power-off */
#define ACPI_PM1_SLP_EN_S5 0x2000
#define PORT_PCI_ADDR      0xcf8
#define PORT_PCI_DATA      0xcfc

#endif
