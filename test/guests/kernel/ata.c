/* ata64: the ATA PIO disk on the primary channel (test/kvm/pc-legacy.test.ts).
 * IDENTIFYs ata0 master and slave ("ata0 master: MODEL serial S, N sectors,
 * lba48 M"), then on the master:
 *   - polled: READ SECTORS (LBA28) of sector 100 and READ SECTORS EXT (LBA48)
 *     of sector 1000, each checked against the pattern the test put there
 *     (pattern_byte(lba, i)), 2 sectors at once;
 *   - with IRQ 14 through the 8259s (PIC at 0x20, only IRQ 2 and 14 open):
 *     the same reads again, counting one interrupt a sector;
 *   - writes: WRITE SECTORS (LBA28, polled) of sector 200 and WRITE SECTORS
 *     EXT (LBA48, IRQ 14) of sectors 2000-2001 with written_byte(lba, i),
 *     then FLUSH CACHE, and reads them back;
 *   - a read past the end: the error status (ERR, IDNF) is printed.
 * Cmdline word `ioapic`: IRQ 14 comes through I/O APIC pin 14 (as the MP
 * table says, and as xv6 routes it) to the local APIC instead, the 8259s
 * all masked; EOI goes to the local APIC.
 * Ends with "ata ok" (or "ata: FAIL ...") and finishes like the test kernel. */
#include "io.h"
#include "lib.h"
#include "pic.h"

#define ATA_DATA    0x1f0
#define ATA_ERROR   0x1f1
#define ATA_COUNT   0x1f2
#define ATA_LBA0    0x1f3
#define ATA_LBA1    0x1f4
#define ATA_LBA2    0x1f5
#define ATA_DEVICE  0x1f6
#define ATA_STATUS  0x1f7
#define ATA_CMD     0x1f7
#define ATA_CONTROL 0x3f6
#define SR_BSY  0x80
#define SR_DRDY 0x40
#define SR_DRQ  0x08
#define SR_ERR  0x01
#define IRQ_ATA 14

#define IOAPIC_BASE 0xfec00000ul
#define LAPIC_BASE  0xfee00000ul
#define LAPIC_SVR   0xf0
#define LAPIC_EOI   0xb0

struct boot_info boot;
static int failures;
static int use_ioapic;
static int use_irq;
static volatile uint32_t ata_irqs;
static uint16_t buf[2 * 256];
#define FAIL(...) do { kprintf("ata: FAIL " __VA_ARGS__); failures++; } while (0)

uint8_t pattern_byte(uint32_t lba, uint32_t i) { return (uint8_t)(lba * 7 + i * 13 + (i >> 8)); }
uint8_t written_byte(uint32_t lba, uint32_t i) { return (uint8_t)(lba ^ (i * 5) ^ 0xa5); }

__attribute__((interrupt)) void ata_handler(struct interrupt_frame *f)
{
	(void)f;
	ata_irqs++;
	(void)inb(ATA_STATUS);  /* acknowledges the drive's interrupt */
	if (use_ioapic)
		mmio_write32(LAPIC_BASE + LAPIC_EOI, 0);
	else
		pic_eoi(IRQ_ATA);
}

static void ioapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, v);
}

/* IRQ 14 on I/O APIC pin 14: fixed delivery, edge, active high, to APIC 0; the local APIC enabled. */
static void route_through_ioapic(void)
{
	pic_init(0xff, 0xff);
	mmio_write32(LAPIC_BASE + LAPIC_SVR, 0x1ff);
	ioapic_write(0x10 + 2 * IRQ_ATA + 1, 0);
	ioapic_write(0x10 + 2 * IRQ_ATA, PIC_VECTOR_BASE + IRQ_ATA);
}

/* Polls BSY clear; returns the status. */
static uint8_t ata_wait(void)
{
	uint8_t s;
	for (uint32_t spins = 0; (s = inb(ATA_CONTROL)) & SR_BSY; spins++)
		if (spins > 1000000) { FAIL("BSY stuck\n"); return s; }
	return s;
}

/* Waits for the next DRQ block: an interrupt with irq, else polling. */
static uint8_t ata_block(uint32_t *seen)
{
	if (use_irq) {
		while (ata_irqs == *seen)
			__asm__ volatile("sti; hlt; cli" ::: "memory");
		*seen = ata_irqs;
		return inb(ATA_CONTROL);
	}
	uint8_t s = ata_wait();
	(void)inb(ATA_STATUS);
	return s;
}

static void ata_command(int slave, uint64_t lba, uint32_t count, uint8_t cmd, int ext)
{
	ata_wait();
	if (ext) {
		outb(ATA_DEVICE, 0x40 | (slave << 4));
		outb(ATA_COUNT, count >> 8);
		outb(ATA_LBA0, lba >> 24); outb(ATA_LBA1, lba >> 32); outb(ATA_LBA2, lba >> 40);
		outb(ATA_COUNT, count);
		outb(ATA_LBA0, lba); outb(ATA_LBA1, lba >> 8); outb(ATA_LBA2, lba >> 16);
	} else {
		outb(ATA_DEVICE, 0xe0 | (slave << 4) | ((lba >> 24) & 0xf));
		outb(ATA_COUNT, count);
		outb(ATA_LBA0, lba); outb(ATA_LBA1, lba >> 8); outb(ATA_LBA2, lba >> 16);
	}
	outb(ATA_CMD, cmd);
}

static void insw(uint16_t *p, int n) { __asm__ volatile("rep insw" : "+D"(p), "+c"(n) : "d"(ATA_DATA) : "memory"); }
static void outsw(const uint16_t *p, int n) { __asm__ volatile("rep outsw" : "+S"(p), "+c"(n) : "d"(ATA_DATA) : "memory"); }

/* Reads `count` sectors into buf; returns the number of DRQ blocks seen or -1 with the status. */
static int ata_read(uint64_t lba, uint32_t count, int ext)
{
	uint32_t seen = ata_irqs;
	ata_command(0, lba, count, ext ? 0x24 : 0x20, ext);
	for (uint32_t s = 0; s < count; s++) {
		uint8_t st = ata_block(&seen);
		if (st & SR_ERR || !(st & SR_DRQ)) {
			kprintf("ata: read lba %lu: status 0x%x error 0x%x\n", (unsigned long)lba, st, inb(ATA_ERROR));
			return -1;
		}
		insw(buf + s * 256, 256);
	}
	return (int)count;
}

static int ata_write(uint64_t lba, uint32_t count, int ext)
{
	uint32_t seen = ata_irqs;
	ata_command(0, lba, count, ext ? 0x34 : 0x30, ext);
	for (uint32_t s = 0; s < count; s++) {
		uint8_t st = s == 0 ? ata_wait() : ata_block(&seen);
		if (!(st & SR_DRQ)) { FAIL("write lba %u: no DRQ (status 0x%x)\n", (unsigned)lba, st); return -1; }
		outsw(buf + s * 256, 256);
	}
	uint8_t st = ata_block(&seen);
	if (st & SR_ERR) { FAIL("write lba %u: status 0x%x\n", (unsigned)lba, st); return -1; }
	return (int)count;
}

static void check(const char *what, uint32_t lba, uint32_t count, uint8_t (*byte)(uint32_t, uint32_t))
{
	const uint8_t *b = (const uint8_t *)buf;
	for (uint32_t s = 0; s < count; s++)
		for (uint32_t i = 0; i < 512; i++)
			if (b[s * 512 + i] != byte(lba + s, i)) {
				FAIL("%s: sector %u byte %u is 0x%x, expected 0x%x\n", what, lba + s, i, b[s * 512 + i], byte(lba + s, i));
				return;
			}
	kprintf("ata: %s of %u sectors at %u ok\n", what, count, lba);
}

static void identify(int slave)
{
	const char *name = slave ? "slave" : "master";
	outb(ATA_DEVICE, 0xa0 | (slave << 4));
	if (inb(ATA_STATUS) == 0) { kprintf("ata0 %s: none\n", name); return; }
	outb(ATA_CMD, 0xec);
	uint8_t st = ata_wait();
	if (!(st & SR_DRQ)) { kprintf("ata0 %s: IDENTIFY status 0x%x\n", name, st); return; }
	insw(buf, 256);
	char model[41], serial[21];
	for (int i = 0; i < 20; i++) { model[2 * i] = buf[27 + i] >> 8; model[2 * i + 1] = buf[27 + i] & 0xff; }
	for (int i = 0; i < 10; i++) { serial[2 * i] = buf[10 + i] >> 8; serial[2 * i + 1] = buf[10 + i] & 0xff; }
	model[40] = serial[20] = 0;
	for (int i = 39; i >= 0 && model[i] == ' '; i--) model[i] = 0;
	for (int i = 19; i >= 0 && serial[i] == ' '; i--) serial[i] = 0;
	uint32_t lba28 = buf[60] | (uint32_t)buf[61] << 16;
	uint64_t lba48 = buf[100] | (uint64_t)buf[101] << 16 | (uint64_t)buf[102] << 32 | (uint64_t)buf[103] << 48;
	kprintf("ata0 %s: %s serial %s, %u sectors, lba48 %s%u\n", name, model, serial, lba28,
		buf[83] & (1 << 10) ? "" : "(unsupported) ", (unsigned)lba48);
}

static void reads(const char *how)
{
	char what[40];
	uint32_t before = ata_irqs;
	ksnprintf(what, sizeof(what), "%s lba28 read", how);
	if (ata_read(100, 2, 0) == 2) check(what, 100, 2, pattern_byte);
	ksnprintf(what, sizeof(what), "%s lba48 read", how);
	if (ata_read(1000, 2, 1) == 2) check(what, 1000, 2, pattern_byte);
	if (use_irq)
		kprintf("ata: %u interrupts for 4 sectors\n", ata_irqs - before);
}

void __attribute__((noreturn)) kernel_main(uint32_t protocol, uintptr_t boot_info)
{
	serial_init(0);
	boot_info_parse(&boot, protocol, boot_info);
	kprintf("kvmdbg ata64 (%s)\n", boot_protocol_name(boot.protocol));
	outb(ATA_CONTROL, 0x02);   /* nIEN while polling */
	identify(0);
	identify(1);
	outb(ATA_DEVICE, 0xe0);
	reads("polled");

	idt_set(PIC_VECTOR_BASE + IRQ_ATA, ata_handler);
	idt_load();
	use_ioapic = cmdline_has(boot.cmdline, "ioapic");
	if (use_ioapic) {
		route_through_ioapic();
		kputs("ata: irq 14 through ioapic pin 14\n");
	} else {
		pic_init(0xfb, 0xbf);  /* master: IRQ 2 (cascade); slave: IRQ 14 */
		kputs("ata: irq 14 through the 8259s\n");
	}
	outb(ATA_CONTROL, 0x00);
	use_irq = 1;
	reads("irq");

	use_irq = 0;
	outb(ATA_CONTROL, 0x02);
	uint8_t *b = (uint8_t *)buf;
	for (uint32_t i = 0; i < 512; i++) b[i] = written_byte(200, i);
	if (ata_write(200, 1, 0) == 1) kputs("ata: polled lba28 write of 1 sector at 200 done\n");
	outb(ATA_CONTROL, 0x00);
	use_irq = 1;
	uint32_t before = ata_irqs;
	for (uint32_t s = 0; s < 2; s++)
		for (uint32_t i = 0; i < 512; i++) b[s * 512 + i] = written_byte(2000 + s, i);
	if (ata_write(2000, 2, 1) == 2) kprintf("ata: irq lba48 write of 2 sectors at 2000 done, %u interrupts\n", ata_irqs - before);
	uint32_t seen = ata_irqs;
	ata_command(0, 0, 0, 0xe7, 0);
	ata_block(&seen);
	kprintf("ata: flush status 0x%x\n", inb(ATA_STATUS));
	if (ata_read(200, 1, 0) == 1) check("read back lba28", 200, 1, written_byte);
	if (ata_read(2000, 2, 1) == 2) check("read back lba48", 2000, 2, written_byte);

	use_irq = 0;
	outb(ATA_CONTROL, 0x02);
	if (ata_read(1ull << 40, 1, 1) >= 0) FAIL("a read past the end succeeded\n");
	kputs(failures ? "ata: FAIL\n" : "ata ok\n");
	machine_finish(boot.cmdline);
}
