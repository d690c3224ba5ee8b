/* mp64: finds the Intel MP table the way xv6's mp.c does (the EBDA's first
 * KiB from the BDA's segment at 0x40E, else the last KiB of base memory
 * from 0x413, else the BIOS ROM at 0xF0000), checks both checksums and
 * lists what it says: "mp: cpu N apic N [bsp]", the buses, the I/O APIC,
 * the ISA interrupt assignments and the local interrupts. Then the BDA's
 * COM port table and equipment word, and the ACPI RSDP found by scanning
 * 0xE0000-0xFFFFF. Ends with "mp ok" (or "mp: FAIL ...") and finishes
 * like the test kernel (exit=N or power off). test/kvm/pc-legacy.test.ts. */
#include "io.h"
#include "lib.h"

struct boot_info boot;

struct mp {             /* floating pointer */
	uint8_t signature[4];
	uint32_t physaddr;
	uint8_t length, specrev, checksum, type, imcrp, reserved[3];
} __attribute__((packed));

struct mpconf {         /* configuration table header */
	uint8_t signature[4];
	uint16_t length;
	uint8_t version, checksum;
	uint8_t product[20];
	uint32_t oemtable;
	uint16_t oemlength, entry;
	uint32_t lapicaddr;
	uint16_t xlength;
	uint8_t xchecksum, reserved;
} __attribute__((packed));

static int failures;
#define FAIL(...) do { kprintf("mp: FAIL " __VA_ARGS__); failures++; } while (0)

static uint8_t sum(const uint8_t *p, int len)
{
	uint8_t s = 0;
	for (int i = 0; i < len; i++)
		s += p[i];
	return s;
}

static struct mp *mpsearch1(uintptr_t a, int len)
{
	for (uint8_t *p = (uint8_t *)a; p < (uint8_t *)a + len; p += sizeof(struct mp))
		if (memcmp(p, "_MP_", 4) == 0 && sum(p, sizeof(struct mp)) == 0)
			return (struct mp *)p;
	return 0;
}

static struct mp *mpsearch(void)
{
	const uint8_t *bda = (const uint8_t *)0x400;
	uintptr_t p;
	struct mp *mp;
	if ((p = (uintptr_t)(bda[0x0f] << 8 | bda[0x0e]) << 4)) {
		if ((mp = mpsearch1(p, 1024)))
			return mp;
	} else {
		p = (uintptr_t)(bda[0x14] << 8 | bda[0x13]) * 1024;
		if ((mp = mpsearch1(p - 1024, 1024)))
			return mp;
	}
	return mpsearch1(0xf0000, 0x10000);
}

static const char *int_type(uint8_t t)
{
	return t == 0 ? "int" : t == 1 ? "nmi" : t == 2 ? "smi" : t == 3 ? "extint" : "?";
}

static void list_mp(void)
{
	struct mp *mp = mpsearch();
	if (!mp) { FAIL("no floating pointer\n"); return; }
	struct mpconf *conf = (struct mpconf *)(uintptr_t)mp->physaddr;
	kprintf("mp: floating pointer at 0x%lx, config at 0x%x, spec 1.%d\n", (unsigned long)(uintptr_t)mp, mp->physaddr, mp->specrev);
	if (memcmp(conf->signature, "PCMP", 4) != 0) { FAIL("no PCMP signature\n"); return; }
	if (conf->version != 1 && conf->version != 4) FAIL("version %d\n", conf->version);
	if (sum((uint8_t *)conf, conf->length) != 0) { FAIL("config checksum\n"); return; }
	kprintf("mp: lapic at 0x%x, %d entries\n", conf->lapicaddr, conf->entry);
	uint8_t *p = (uint8_t *)(conf + 1), *e = (uint8_t *)conf + conf->length;
	int ncpu = 0, nint = 0, identity = 0, n = 0;
	while (p < e && n++ < conf->entry) {
		switch (*p) {
		case 0:
			kprintf("mp: cpu %d apic %d%s\n", ncpu++, p[1], p[3] & 2 ? " bsp" : "");
			p += 20;
			continue;
		case 1:
			kprintf("mp: bus %d %c%c%c\n", p[1], p[2], p[3], p[4]);
			break;
		case 2:
			kprintf("mp: ioapic %d version 0x%x at 0x%x\n", p[1], p[2], *(uint32_t *)(p + 4));
			break;
		case 3:
			nint++;
			if (p[1] == 0 && p[5] == p[7])
				identity++;
			if (p[5] == 0 || p[5] == 14 || p[1] != 0 || p[5] != p[7])
				kprintf("mp: %s bus %d irq %d -> ioapic %d pin %d\n", int_type(p[1]), p[4], p[5], p[6], p[7]);
			break;
		case 4:
			kprintf("mp: local %s -> apic 0x%x lint%d\n", int_type(p[1]), p[6], p[7]);
			break;
		default:
			FAIL("entry type %d\n", *p);
			return;
		}
		p += 8;
	}
	kprintf("mp: %d cpus, %d interrupt assignments (%d irq n -> pin n)\n", ncpu, nint, identity);
	uint32_t r[4];
	cpuid(1, 0, r);
	kprintf("mp: running on apic %u\n", r[1] >> 24);
}

static void list_bda_and_rsdp(void)
{
	const volatile uint8_t *b = (const volatile uint8_t *)0x400;
#define BDA_WORD(off) ((unsigned)(b[off] | b[(off) + 1] << 8))
	kprintf("bda: com1 0x%x com2 0x%x ebda 0x%x base %uK equipment 0x%x\n",
		BDA_WORD(0x00), BDA_WORD(0x02), BDA_WORD(0x0e) << 4, BDA_WORD(0x13), BDA_WORD(0x10));
	for (uintptr_t p = 0xe0000; p < 0x100000; p += 16)
		if (memcmp((void *)p, "RSD PTR ", 8) == 0 && sum((uint8_t *)p, 20) == 0) {
			kprintf("acpi: rsdp at 0x%lx, revision %d\n", (unsigned long)p, ((uint8_t *)p)[15]);
			return;
		}
	FAIL("no RSDP in 0xe0000-0xfffff\n");
}

void __attribute__((noreturn)) kernel_main(uint32_t protocol, uintptr_t boot_info)
{
	serial_init(0);
	boot_info_parse(&boot, protocol, boot_info);
	kprintf("kvmdbg mp64 (%s)\n", boot_protocol_name(boot.protocol));
	list_mp();
	list_bda_and_rsdp();
	kputs(failures ? "mp: FAIL\n" : "mp ok\n");
	machine_finish(boot.cmdline);
}
