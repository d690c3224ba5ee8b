/* hammer64: a hostile test guest. With `hammer=N seed=S` on the cmdline it
 * makes N random and adversarial device accesses, then checks itself and
 * finishes (exit=N or power off, like the test kernel):
 *   - port I/O: random ports, sizes 1/2/4, in and out
 *   - PCI config space: CONFIG_ADDRESS/DATA writes and reads at every offset
 *     of every device/function of bus 0 (and random buses), every size
 *   - MMIO: random reads/writes of 1/2/4/8 bytes across 0xC0000000-0xFEBFFFFF
 *     and the hole between the end of RAM and 3 GiB
 *   - the RTC/CMOS index/data pair and the i8042 (safe commands only)
 *   - the ATA channel (0x1F0-0x1F7, 0x3F6): random task file bytes, every
 *     command opcode, commands with huge or past-the-end LBAs and counts,
 *     data port bursts with and without DRQ, SRST/nIEN/HOB in any order
 * Never touched, because they end or reset the VM by design: writes to
 * 0xF4-0xF7 (debug exit), 0x604-0x605 (ACPI PM1a_CNT: S5 power-off), byte
 * writes to 0xCF9 (reset control), 0x92 (port A fast reset), i8042 commands
 * 0xD1 and 0xF0-0xFF (output port / reset pulse),
 * and the LAPIC/IOAPIC/HPET pages from 0xFEC00000 (KVM's in-kernel devices).
 * COM1 and 0xE9 writes are rate-limited so the console stays readable.
 * Output:
 *   kvmdbg hammer64 (<protocol>)
 *   hammer: N ops, seed S
 *   hammer done: pio P, pci C, mmio M, cmos R, i8042 K, console W, ata A
 *   fib(20) = 6765
 *   checksum = 0xa7ecfaa9
 *   hammer ok            (or "hammer FAILED: ..." when RAM or the self-check is wrong)
 */
#include "io.h"
#include "lib.h"
#include "hammer-common.h"

#define MMIO_LO      0xC0000000ull
#define MMIO_HI      0xFEC00000ull      /* exclusive: IOAPIC, HPET, LAPIC above */
#define HOLE_HI      0xC0000000ull
#define CONSOLE_EVERY 64                /* at most one random COM1/0xE9 write per this many ops */

struct boot_info boot;

static void port_out(uint16_t port, int size, uint32_t v)
{
	if (size == 1) outb(port, (uint8_t)v);
	else if (size == 2) outw(port, (uint16_t)v);
	else outl(port, v);
}

static uint32_t port_in(uint16_t port, int size)
{
	if (size == 1) return inb(port);
	if (size == 2) return inw(port);
	return inl(port);
}

/* Does a write of `size` bytes at `port` touch a port that ends or resets the VM? */
static int dangerous_write(uint32_t port, int size, uint32_t v)
{
	for (uint32_t p = port; p < port + (uint32_t)size; p++) {
		uint32_t q = p & 0xffff;
		if (q >= 0xf4 && q <= 0xf7) return 1;
		if (q >= 0x604 && q <= 0x605) return 1;   /* PM1a_CNT (S5); PM1 status/enable are fair game */
		if (q == 0xcf9 && size == 1) return 1;     /* only a byte write reaches the reset register */
		if (q == 0x64) return 1;           /* i8042 commands: only via i8042_op */
		if (q == 0x92) return 1;           /* port A: fast reset on real hardware */
	}
	(void)v;
	return 0;
}

static uint32_t stats_pio, stats_pci, stats_mmio, stats_cmos, stats_kbd, stats_console, stats_ata;
static uint64_t last_console_op;

static void pio_op(uint64_t op)
{
	static const int sizes[3] = { 1, 2, 4 };
	uint64_t r = rng_next();
	int size = sizes[r % 3];
	uint16_t port = (uint16_t)(r >> 8);
	/* Bias towards the ports that have devices behind them. */
	static const uint16_t hot[] = { 0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, 0x60, 0x61, 0x70, 0x71,
		0x80, 0xe9, 0xed, 0xcf8, 0xcfa, 0xcfb, 0xcfc, 0xcfd, 0xcfe, 0xcff, 0x600, 0x602, 0x510, 0x40, 0x43, 0x20, 0xa0 };
	if ((r >> 32) & 1)
		port = hot[(r >> 40) % (sizeof(hot) / sizeof(hot[0]))] + (uint16_t)((r >> 56) & 1);
	uint32_t value = (uint32_t)rng_next();
	stats_pio++;
	if ((r >> 33) & 1) {
		(void)port_in(port, size);
		return;
	}
	if (dangerous_write(port, size, value)) return;
	int console = (port <= 0x3f8 && port + size > 0x3f8) || (port <= 0xe9 && port + size > 0xe9);
	if (console) {
		if (op - last_console_op < CONSOLE_EVERY) return;
		last_console_op = op;
		stats_console++;
	}
	port_out(port, size, value);
}

static void pci_op(uint64_t op)
{
	uint64_t r = rng_next();
	uint32_t bus = ((r >> 60) == 0) ? (uint32_t)((r >> 52) & 0xff) : 0;
	uint32_t dev = (r >> 8) & 0x1f, fn = (r >> 13) & 7;
	uint32_t off = (uint32_t)(op * 4 + (r & 3)) & 0xff;   /* walks every offset over time */
	if ((r >> 16) & 1) off = (r >> 24) & 0xff;
	uint32_t addr = 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (off & 0xfc);
	if (((r >> 17) & 15) == 0) addr &= 0x7fffffff;         /* config access disabled */
	if (((r >> 21) & 15) == 0) addr |= (uint32_t)(r >> 32) & 0x7f000003; /* reserved bits */
	outl(PORT_PCI_ADDR, addr);
	static const int sizes[3] = { 1, 2, 4 };
	int size = sizes[(r >> 40) % 3];
	uint16_t port = PORT_PCI_DATA + (uint16_t)(off & (uint32_t)(4 - size) & 3);
	if ((r >> 42) & 1) port = PORT_PCI_DATA + (uint16_t)((r >> 43) & 3);   /* misaligned on purpose */
	if ((r >> 45) & 1) port_out(port, size, (uint32_t)rng_next());
	else (void)port_in(port, size);
	stats_pci++;
}

static void mmio_op(void)
{
	uint64_t r = rng_next();
	uint64_t addr;
	/* The hole above RAM: ram_bytes is the sum of the RAM ranges, not their end, so keep clear by 16 MiB. */
	uint64_t hole_lo = (boot.ram_bytes + 0x1000000ull + 0x1fffff) & ~0x1fffffull;
	if ((r & 3) == 0 && boot.ram_bytes && hole_lo < HOLE_HI)
		addr = hole_lo + (rng_next() % (HOLE_HI - hole_lo));
	else
		addr = MMIO_LO + (rng_next() % (MMIO_HI - MMIO_LO));
	int size = 1 << ((r >> 4) & 3);
	if (addr + (uint64_t)size > MMIO_HI && addr >= MMIO_LO) addr = MMIO_HI - 8;
	uint64_t v = rng_next();
	if ((r >> 8) & 1) {
		switch (size) {
		case 1: *(volatile uint8_t *)(uintptr_t)addr = (uint8_t)v; break;
		case 2: *(volatile uint16_t *)(uintptr_t)addr = (uint16_t)v; break;
		case 4: *(volatile uint32_t *)(uintptr_t)addr = (uint32_t)v; break;
		default: *(volatile uint64_t *)(uintptr_t)addr = v; break;
		}
	} else {
		switch (size) {
		case 1: (void)*(volatile uint8_t *)(uintptr_t)addr; break;
		case 2: (void)*(volatile uint16_t *)(uintptr_t)addr; break;
		case 4: (void)*(volatile uint32_t *)(uintptr_t)addr; break;
		default: (void)*(volatile uint64_t *)(uintptr_t)addr; break;
		}
	}
	stats_mmio++;
}

static void cmos_op(void)
{
	uint64_t r = rng_next();
	outb(0x70, (uint8_t)r);                                 /* any index, NMI bit too */
	if ((r >> 8) & 1) outb(0x71, (uint8_t)(r >> 16));
	else (void)inb(0x71);
	stats_cmos++;
}

static void kbd_op(void)
{
	/* i8042 commands that do not touch the output port or pulse reset. */
	static const uint8_t cmds[] = { 0x20, 0x60, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xad, 0xae, 0xc0, 0xd0, 0xd2, 0xd3, 0xd4, 0x00, 0x3f, 0x7f, 0xc1, 0xc2, 0xe0 };
	uint64_t r = rng_next();
	if (r & 1) outb(0x64, cmds[(r >> 8) % sizeof(cmds)]);
	if ((r >> 1) & 1) outb(0x60, (uint8_t)(r >> 16));
	(void)inb(0x64);
	(void)inb(0x60);
	stats_kbd++;
}

static void ata_op(void)
{
	static const uint8_t cmds[] = { 0x20, 0x21, 0x24, 0x29, 0x30, 0x34, 0x39, 0xc4, 0xc5, 0xc6, 0xec, 0xa1, 0xef,
		0x91, 0x40, 0x42, 0xe7, 0xea, 0xf8, 0x27, 0x90, 0x00, 0x10, 0x70, 0xe5, 0x08, 0xa0, 0xff };
	static uint16_t words[256];
	uint64_t r = rng_next();
	int n = 1 + (int)((r >> 8) % 256);
	uint16_t *p = words;
	switch (r & 7) {
	case 0: outb(0x1f1 + (uint16_t)((r >> 8) % 6), (uint8_t)(r >> 16)); break;
	case 1: outb(0x1f7, cmds[(r >> 8) % sizeof(cmds)]); break;
	case 2: __asm__ volatile("rep insw" : "+D"(p), "+c"(n) : "d"(0x1f0) : "memory"); break;
	case 3: __asm__ volatile("rep outsw" : "+S"(p), "+c"(n) : "d"(0x1f0) : "memory"); break;
	case 4: outb(0x3f6, (uint8_t)(r >> 8) & 0x86); break;
	case 5: (void)port_in(0x1f0 + (uint16_t)((r >> 8) & 7), 1 << ((r >> 12) % 3)); break;
	case 6: if ((r >> 8) & 1) (void)inl(0x1f0); else outl(0x1f0, (uint32_t)(r >> 16)); break;
	default: {
		/* A well-formed command block with a hostile address: LBA28, LBA48 up to 2^48, counts 0 (256 / 65536) and up. */
		uint64_t a = rng_next();
		outb(0x3f6, 0x02);
		outb(0x1f6, 0xe0 | ((a & 1) << 4) | ((a >> 1) & 0xf));
		outb(0x1f2, (uint8_t)(a >> 8)); outb(0x1f3, (uint8_t)(a >> 16)); outb(0x1f4, (uint8_t)(a >> 24)); outb(0x1f5, (uint8_t)(a >> 32));
		outb(0x1f2, (uint8_t)(a >> 40)); outb(0x1f3, (uint8_t)(a >> 48)); outb(0x1f4, (uint8_t)(a >> 56)); outb(0x1f5, (uint8_t)(a >> 5));
		outb(0x1f7, cmds[(a >> 11) % 10]);
	}
	}
	stats_ata++;
}

/* A pattern in RAM that no device access may change. */
#define CANARY_WORDS 1024
static uint64_t canary[CANARY_WORDS];

void __attribute__((noreturn)) kernel_main(uint32_t protocol, uintptr_t boot_info)
{
	serial_init(0);
	boot_info_parse(&boot, protocol, boot_info);
	kprintf("kvmdbg hammer64 (%s)\n", boot_protocol_name(boot.protocol));
	uint32_t n = 1000, seed = 1;
	cmdline_uint(boot.cmdline, "hammer", &n);
	cmdline_uint(boot.cmdline, "seed", &seed);
	kprintf("hammer: %u ops, seed %u\n", n, seed);
	rng_seed(seed);
	for (int i = 0; i < CANARY_WORDS; i++) canary[i] = 0x6b766d6462670000ull ^ (uint64_t)i * 0x100000001ull;

	for (uint64_t op = 0; op < n; op++) {
		switch (rng_next() % 9) {
		case 0: case 1: case 2: pio_op(op); break;
		case 3: case 4: pci_op(op); break;
		case 5: case 6: mmio_op(); break;
		case 7: ata_op(); break;
		default:
			if (rng_next() & 1) cmos_op();
			else kbd_op();
		}
	}
	/* The random writes may have reprogrammed the UART (baud, loopback, IER): start over. */
	serial_init(0);
	kputs("\n");
	kprintf("hammer done: pio %u, pci %u, mmio %u, cmos %u, i8042 %u, console %u, ata %u\n",
		stats_pio, stats_pci, stats_mmio, stats_cmos, stats_kbd, stats_console, stats_ata);
	int bad = 0;
	for (int i = 0; i < CANARY_WORDS; i++)
		if (canary[i] != (0x6b766d6462670000ull ^ (uint64_t)i * 0x100000001ull)) bad++;
	uint32_t f = fib(20), c = compute_checksum(checksum_data, sizeof(checksum_data));
	kprintf("fib(20) = %u\n", f);
	kprintf("checksum = 0x%08x\n", c);
	if (bad || f != 6765 || c != 0xa7ecfaa9u)
		kprintf("hammer FAILED: %d canary words changed\n", bad);
	else
		kputs("hammer ok\n");
	machine_finish(boot.cmdline);
}
