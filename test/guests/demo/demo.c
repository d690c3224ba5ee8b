/* The kvmdbg demo kernel: what `kvmdbg demo` boots for a newcomer.
 * It says how it was booted and on what, draws the Mandelbrot set in ANSI
 * 256 colours on the serial console (fixed-point integer math: no FPU, no
 * SSE), says goodbye and powers the machine off. About a million guest
 * instructions and ~14 KB of console output.
 *
 * Built to be quick on every KVM host, PVM among them (README "Hosts"):
 *   - everything is composed into a text buffer and handed to the VMM's
 *     virtio console in one queue notification (virtio-console.c); without
 *     one (QEMU) it goes to the serial port a line per rep outsb;
 *   - with the cmdline word user-mode (`kvmdbg demo` passes it) the picture
 *     is computed in ring 3 (user-mode-call.S says why). Without it all runs
 *     in ring 0, where every host's debugger sees every instruction. */
#include <stdarg.h>
#include "io.h"
#include "lib.h"
#include "user-mode.h"
#include "virtio-console.h"

#define COLS       78                /* character cells */
#define ROWS       28
#define PIX_W      COLS
#define PIX_H      (ROWS * 2)        /* each cell is two pixels: U+2580 upper half block */
#define MAX_ITER   128
#define FRAC       24                /* fixed point: value * 2^24 */
#define FIX(x)     ((int64_t)((x) * (1 << FRAC)))

#define ESC        "\x1b["
#define RESET      ESC "0m"
#define BOLD       ESC "1m"
#define DIM        ESC "2m"
#define FG(n)      ESC "38;5;" #n "m"
#define NL         "\r\n"            /* the console may be a raw terminal */

struct boot_info boot;
uint64_t total_iterations;

/* Everything the demo prints, composed first (also by the ring-3 part), written out at the end. */
static char screen[128 * 1024];
static size_t screen_len;

/* draw() in ring 3 runs on this stack. */
static uint8_t user_stack[16 * 1024] __attribute__((aligned(16)));

static void out(const char *s)
{
	while (*s && screen_len < sizeof(screen))
		screen[screen_len++] = *s++;
}

static void __attribute__((format(printf, 1, 2))) outf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = kvsnprintf(screen + screen_len, sizeof(screen) - screen_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		screen_len += (size_t)n < sizeof(screen) - screen_len ? (size_t)n : sizeof(screen) - screen_len - 1;
}

#define COM1     0x3f8
#define COM1_LSR (COM1 + 5)
#define LSR_THRE 0x20

/* One port-I/O exit per line: wait until the transmitter is empty, then rep outsb the line. */
static void write_lines(const char *s, size_t n)
{
	const char *end = s + n;
	while (s < end) {
		size_t len = 0;
		while (s + len < end && s[len++] != '\n')
			;
		while (!(inb(COM1_LSR) & LSR_THRE))
			cpu_relax();
		__asm__ volatile("rep outsb" : "+S"(s), "+c"(len) : "d"((uint16_t)COM1) : "memory");
	}
}

/* From far outside (navy) through cyan, white and gold to red and magenta
 * next to the set; the set itself is black. */
static const uint8_t palette[] = {
	17, 18, 19, 20, 21, 26, 27, 32, 33, 38, 39, 44, 45, 51, 87, 123,
	159, 195, 231, 230, 229, 228, 227, 226, 220, 214, 208, 202, 196, 197, 198, 199,
	200, 201, 165, 129,
};
#define INSIDE_COLOUR 16

static uint8_t colour_of(unsigned iter)
{
	if (iter >= MAX_ITER)
		return INSIDE_COLOUR;
	unsigned n = sizeof(palette);
	iter = iter * 3 / 2;
	return palette[iter < n ? iter : n - 1];
}

/* Inside the main cardioid or the period-2 bulb: in the set, no need to
 * iterate (most of the black area; the classic shortcut). */
static int in_cardioid_or_bulb(int64_t x, int64_t y)
{
	int64_t y2 = (y * y) >> FRAC;
	int64_t xq = x - FIX(0.25);
	int64_t q = ((xq * xq) >> FRAC) + y2;
	if (((q * (q + xq)) >> FRAC) <= y2 / 4)
		return 1;
	int64_t x1 = x + FIX(1);
	return ((x1 * x1) >> FRAC) + y2 <= FIX(1) / 16;
}

/* Iterations until |z| > 2 for z -> z^2 + c, c = cr + ci*i (fixed point). */
__attribute__((noinline)) unsigned mandelbrot(int64_t cr, int64_t ci)
{
	if (in_cardioid_or_bulb(cr, ci))
		return MAX_ITER;
	int64_t zr = 0, zi = 0;
	unsigned i;
	for (i = 0; i < MAX_ITER; i++) {
		int64_t zr2 = (zr * zr) >> FRAC, zi2 = (zi * zi) >> FRAC;
		if (zr2 + zi2 > FIX(4))
			break;
		zi = ((zr * zi) >> (FRAC - 1)) + ci;
		zr = zr2 - zi2 + cr;
	}
	total_iterations += i;
	return i;
}

static int cur_fg = -1, cur_bg = -1;

/* A colour number 0-255 in decimal: the cells' escape sequences are most of
 * the output, and the library's printf divides 64-bit numbers bit by bit. */
static void out_colour(unsigned v)
{
	char d[4], *p = d + 3;
	*p = '\0';
	do
		*--p = (char)('0' + v % 10u);
	while ((v /= 10u) != 0);
	out(p);
}

static void set_colours(int fg, int bg)
{
	if (fg >= 0 && fg != cur_fg) {
		out(ESC "38;5;");
		out_colour((unsigned)fg);
		out(bg != cur_bg ? ";48;5;" : "m");
	} else if (bg != cur_bg) {
		out(ESC "48;5;");
	}
	if (bg != cur_bg) {
		out_colour((unsigned)bg);
		out("m");
	}
	if (fg >= 0)
		cur_fg = fg;
	cur_bg = bg;
}

static void draw(void)
{
	/* x in [-2.25, 0.75], y centred on 0 with square pixels */
	const int64_t x0 = FIX(-2.25), dx = FIX(3.0) / PIX_W;
	const int64_t y0 = -(dx * PIX_H) / 2 + dx / 2;
	uint8_t top[COLS];

	for (int row = 0; row < ROWS; row++) {
		out(" ");
		for (int x = 0; x < COLS; x++)
			top[x] = colour_of(mandelbrot(x0 + dx * x, y0 + dx * (2 * row)));
		for (int x = 0; x < COLS; x++) {
			uint8_t bottom = colour_of(mandelbrot(x0 + dx * x, y0 + dx * (2 * row + 1)));
			if (top[x] == bottom) {
				set_colours(-1, bottom);
				out(" ");
			} else {
				set_colours(top[x], bottom);
				out("\xe2\x96\x80");      /* U+2580 UPPER HALF BLOCK */
			}
		}
		out(RESET NL);
		cur_fg = cur_bg = -1;
	}
}

static void cpu_strings(char vendor[13], char brand[49], char hypervisor[13])
{
	uint32_t r[4];
	cpuid(0, 0, r);
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = '\0';

	brand[0] = '\0';
	cpuid(0x80000000, 0, r);
	if (r[0] >= 0x80000004) {
		for (uint32_t i = 0; i < 3; i++) {
			cpuid(0x80000002 + i, 0, r);
			memcpy(brand + 16 * i, r, 16);
		}
		brand[48] = '\0';
	}
	/* trim the padding some CPUs put around the brand string */
	char *b = brand;
	while (*b == ' ')
		b++;
	memmove(brand, b, strlen(b) + 1);
	for (size_t n = strlen(brand); n && brand[n - 1] == ' '; n--)
		brand[n - 1] = '\0';

	hypervisor[0] = '\0';
	cpuid(1, 0, r);
	if (r[2] & (1u << 31)) {                    /* CPUID.1:ECX.hypervisor */
		cpuid(0x40000000, 0, r);
		memcpy(hypervisor, &r[1], 4);
		memcpy(hypervisor + 4, &r[2], 4);
		memcpy(hypervisor + 8, &r[3], 4);
		hypervisor[12] = '\0';
	}
}

static const char *how_booted(enum boot_protocol p)
{
	switch (p) {
	case BOOT_PVH:
		return "PVH: 32-bit entry, own page tables, then 64-bit long mode";
	case BOOT_ELF64:
		return "kvmdbg direct ELF64 entry, in long mode from the first instruction";
	case BOOT_MULTIBOOT:
		return "multiboot v1";
	default:
		return "an unknown loader";
	}
}

static void header(int virtio_console)
{
	char vendor[13], brand[49], hv[13];
	cpu_strings(vendor, brand, hv);

	out(NL " " BOLD FG(51) "kvmdbg" RESET BOLD " demo kernel" RESET
	      DIM " - a tiny 64-bit guest, built from C and assembly in test/guests" RESET NL NL);
	outf("   " FG(117) "booted via " RESET " %s" NL, how_booted(boot.protocol));
	outf("   " FG(117) "cpu        " RESET " %s%s%s" NL, vendor, brand[0] ? ", " : "", brand);
	outf("   " FG(117) "hypervisor " RESET " %s" NL,
		hv[0] ? (strncmp(hv, "KVMKVMKVM", 9) == 0 ? "KVM (KVMKVMKVM)" : hv) : "none reported");
	if (boot.has_memmap)
		outf("   " FG(117) "memory     " RESET " %llu KiB (%llu MiB) in %u RAM ranges" NL,
			(unsigned long long)(boot.ram_bytes >> 10),
			(unsigned long long)(boot.ram_bytes >> 20), boot.ram_ranges);
	else
		out("   " FG(117) "memory     " RESET " (no memory map)" NL);
	outf("   " FG(117) "cmdline    " RESET " %s" NL, boot.cmdline[0] ? boot.cmdline : "(empty)");
	outf("   " FG(117) "console    " RESET " %s" NL NL,
		virtio_console ? "virtio console (the whole screen in one notification)" : "serial port COM1 (a line per rep outsb)");
}

void __attribute__((noreturn)) kernel_main(uint32_t protocol, uintptr_t boot_info)
{
	serial_init(1);
	boot_info_parse(&boot, protocol, boot_info);
	int virtio_console = virtio_console_open();
	header(virtio_console);
	int in_user_mode = cmdline_has(boot.cmdline, "user-mode");
	if (in_user_mode) {
		user_mode_setup();
		user_mode_call(draw, user_stack + sizeof(user_stack));
	} else {
		draw();
	}
	outf(NL "   " DIM "The Mandelbrot set, %dx%d pixels, %llu iterations of fixed-point integer math in ring %d." RESET NL NL,
		PIX_W, PIX_H, (unsigned long long)total_iterations, in_user_mode ? 3 : 0);
	out(" Goodbye from the demo kernel." NL);
	if (!virtio_console || !virtio_console_write(screen, screen_len))
		write_lines(screen, screen_len);
	machine_finish(boot.cmdline);
}
