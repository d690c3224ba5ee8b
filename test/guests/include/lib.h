/* The small common library of the kvmdbg test kernels: serial console,
 * printf-lite, cmdline words, boot information (multiboot v1 / PVH). */
#ifndef KVMDBG_GUEST_LIB_H
#define KVMDBG_GUEST_LIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- serial.c: COM1 16550A, polled ---- */
void serial_init(int enable_fifo);  /* FIFOs: faster output, but flushes pending input */
void serial_putc(char c);
void serial_write(const char *s, size_t n);
int serial_getc_nowait(void);    /* -1 when no byte is ready (LSR.DR clear) */
char serial_getc(void);          /* polls LSR.DR */
extern int console_mirror_e9;    /* also copy console output to port 0xE9 */

/* ---- printf.c ---- */
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void kputs(const char *s);       /* no newline added */

/* ---- string.c ---- */
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* ---- cmdline.c: space-separated words ---- */
int cmdline_has(const char *cmdline, const char *word);
/* value of "key=N" (decimal); returns 1 and stores it when present */
int cmdline_uint(const char *cmdline, const char *key, uint32_t *out);

/* ---- boot.c: what the loader told us ---- */
enum boot_protocol {
	BOOT_UNKNOWN = 0,
	BOOT_MULTIBOOT = 1,  /* multiboot v1, EAX = 0x2BADB002, EBX = multiboot_info */
	BOOT_PVH = 2,        /* PVH 32-bit entry, EBX = hvm_start_info */
	BOOT_ELF64 = 3,      /* kvmdbg direct long-mode entry, RDI = hvm_start_info */
};

struct boot_info {
	enum boot_protocol protocol;
	uintptr_t info_addr;     /* physical address of the loader's structure */
	const char *cmdline;     /* never NULL ("" when none) */
	uint64_t ram_bytes;      /* sum of RAM (type 1) entries of the memory map */
	uint32_t ram_ranges;     /* number of RAM entries */
	int has_memmap;
};

const char *boot_protocol_name(enum boot_protocol p);
void boot_info_parse(struct boot_info *bi, uint32_t protocol, uintptr_t info);

/* ---- power.c ---- */
void __attribute__((noreturn)) machine_exit(uint32_t code);   /* isa-debug-exit */
void __attribute__((noreturn)) machine_poweroff(void);        /* ACPI PM1a S5 */
/* exit=N on the cmdline -> machine_exit(N), else power off */
void __attribute__((noreturn)) machine_finish(const char *cmdline);

#endif
