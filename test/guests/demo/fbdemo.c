/* The kvmdbg framebuffer demo: what `kvmdbg demo fb` and F5 in
 * test/guests/demo boot. A multiboot2 kernel (boot/multiboot2.S asks for a
 * 1024x768x32 framebuffer, which kvmdbg sets up as GRUB would) draws a
 * title, the Mandelbrot set (row by row: in VS Code's Guest Screen view you
 * watch it appear), what the boot loader told it, and a text box that
 * echoes what you type on the PS/2 keyboard, with an uptime clock from the
 * CMOS RTC. Esc powers the machine off. Cmdline "once": draw, then power
 * off at once (the CLI demo and the tests).
 *
 * 32-bit protected mode, integer math only. Drawing is runs of rep stosl:
 * on hosts that emulate ring-0 code (PVM) a pixel-by-pixel loop would be
 * slow, and the set is computed at 4x4-pixel blocks for the same reason. */
#include "io.h"
#include "lib.h"
#include "mb2.h"
#include "fbdraw.h"
#include "kbd.h"

#define CYAN     0x5ee7ffu
#define GOLD     0xffc857u
#define WHITE    0xffffffu
#define MUTED    0xa0a8c8u
#define PANEL    0x121a38u
#define BOX      0x070b1cu

/* The set's panel and resolution */
#define SET_X    32
#define SET_Y    120
#define SET_W    640
#define SET_H    480
#define BLOCK    4
#define MAX_ITER 48
#define FRAC     12                 /* Q12 fixed point: |z| stays below 8, so products fit 32 bits */

/* The right-hand panel */
#define INFO_X   704
#define INFO_W   288
#define BOX_Y    470
#define BOX_CHARS 32

static struct fb fb;
static char typed[BOX_CHARS + 1];
static uint32_t typed_len;

static uint32_t mix(uint32_t a, uint32_t b, uint32_t t, uint32_t n)
{
	uint32_t r = 0;
	for (int s = 0; s < 24; s += 8) {
		uint32_t ca = (a >> s) & 0xff, cb = (b >> s) & 0xff;
		r |= ((ca * (n - t) + cb * t) / n) << s;
	}
	return r;
}

static void background(void)
{
	for (uint32_t y = 0; y < fb.height; y++)
		fb_fill(&fb, 0, y, fb.width, 1, mix(0x0b1026, 0x2a1050, y, fb.height));
}

static void frame(uint32_t x, uint32_t y, uint32_t w, uint32_t h, uint32_t rgb)
{
	fb_fill(&fb, x - 2, y - 2, w + 4, 2, rgb);
	fb_fill(&fb, x - 2, y + h, w + 4, 2, rgb);
	fb_fill(&fb, x - 2, y, 2, h, rgb);
	fb_fill(&fb, x + w, y, 2, h, rgb);
}

/* Navy, cyan, white, gold, red, magenta: the colour of an escape after `i` iterations. */
static uint32_t escape_colour(uint32_t i)
{
	static const uint32_t stops[] = { 0x0b1060, 0x1a5cff, 0x5ee7ff, 0xffffff, 0xffc857, 0xff4040, 0xc020c0 };
	const uint32_t n = sizeof(stops) / sizeof(stops[0]) - 1, per = 6;
	if (i >= n * per)
		return stops[n];
	return mix(stops[i / per], stops[i / per + 1], i % per, per);
}

/* Inside the main cardioid or the period-2 bulb: in the set without iterating (most of the black). */
static int inside(int32_t x, int32_t y)
{
	int32_t y2 = (y * y) >> FRAC, xq = x - (1 << FRAC) / 4;
	int32_t q = ((xq * xq) >> FRAC) + y2;
	if (((q * (q + xq)) >> FRAC) <= y2 / 4)
		return 1;
	int32_t x1 = x + (1 << FRAC);
	return ((x1 * x1) >> FRAC) + y2 <= (1 << FRAC) / 16;
}

static uint32_t iterations(int32_t cr, int32_t ci)
{
	if (inside(cr, ci))
		return MAX_ITER;
	int32_t zr = 0, zi = 0;
	uint32_t i;
	for (i = 0; i < MAX_ITER; i++) {
		int32_t zr2 = (zr * zr) >> FRAC, zi2 = (zi * zi) >> FRAC;
		if (zr2 + zi2 > (4 << FRAC))
			break;
		zi = ((zr * zi) >> (FRAC - 1)) + ci;
		zr = zr2 - zi2 + cr;
	}
	return i;
}

/* x from -2.25 to 0.75, square blocks, the rows centred on the real axis.
 * The set is symmetric about that axis, so each row is computed once and
 * drawn twice, from the top and bottom edges towards the middle. */
static void mandelbrot(void)
{
	const uint32_t rows = SET_H / BLOCK, cols = SET_W / BLOCK;
	const int32_t dx = (3 << FRAC) / (int32_t)cols, x0 = -(9 << FRAC) / 4;
	const int32_t y0 = -dx * (int32_t)rows / 2 + dx / 2;
	for (uint32_t by = 0; by < rows / 2; by++)
		for (uint32_t bx = 0; bx < cols; bx++) {
			uint32_t i = iterations(x0 + dx * (int32_t)bx, y0 + dx * (int32_t)by);
			uint32_t rgb = i >= MAX_ITER ? 0 : escape_colour(i);
			fb_fill(&fb, SET_X + bx * BLOCK, SET_Y + by * BLOCK, BLOCK, BLOCK, rgb);
			fb_fill(&fb, SET_X + bx * BLOCK, SET_Y + (rows - 1 - by) * BLOCK, BLOCK, BLOCK, rgb);
		}
}

static void info_line(uint32_t row, const char *key, const char *value)
{
	uint32_t y = SET_Y + 40 + row * 22;
	fb_text(&fb, INFO_X + 16, y, key, MUTED, PANEL, 1);
	fb_text(&fb, INFO_X + 104, y, value, WHITE, PANEL, 1);
}

static uint8_t cmos(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

static uint32_t bcd(uint8_t v) { return (v >> 4) * 10 + (v & 15); }

static uint32_t rtc_seconds(void)
{
	while (cmos(0x0a) & 0x80)          /* update in progress */
		cpu_relax();
	uint8_t status_b = cmos(0x0b);
	uint8_t s = cmos(0x00), m = cmos(0x02), h = cmos(0x04);
	if (!(status_b & 0x04))            /* BCD */
		return bcd(h) * 3600 + bcd(m) * 60 + bcd(s);
	return h * 3600u + m * 60u + s;
}

static void draw_box(void)
{
	fb_fill(&fb, INFO_X + 16, BOX_Y, INFO_W - 32, 28, BOX);
	uint32_t x = fb_text(&fb, INFO_X + 24, BOX_Y + 6, typed, GOLD, BOX, 1);
	fb_fill(&fb, x + 1, BOX_Y + 6, 7, 16, CYAN);   /* the cursor */
}

static void draw_uptime(uint32_t seconds)
{
	char s[32];
	ksnprintf(s, sizeof(s), "uptime %02u:%02u:%02u", seconds / 3600, seconds / 60 % 60, seconds % 60);
	fb_text(&fb, INFO_X + 16, BOX_Y + 48, s, MUTED, PANEL, 1);
}

static void spectrum(uint32_t y, uint32_t h)
{
	static const uint32_t hues[] = { 0xff4040, 0xffc857, 0x60ff80, 0x5ee7ff, 0x1a5cff, 0xc020c0, 0xff4040 };
	const uint32_t x0 = 32, w = 960, seg = w / 6;
	for (uint32_t x = 0; x < w; x += 4)
		fb_fill(&fb, x0 + x, y, 4, h, mix(hues[x / seg], hues[x / seg + 1], x % seg, seg));
}

void __attribute__((noreturn)) kernel_main(uint32_t magic, uintptr_t info)
{
	serial_init(0);
	if (magic != MB2_BOOTLOADER_MAGIC) {
		kprintf("fbdemo: boot me with a multiboot2 loader (EAX was 0x%x)\n", magic);
		machine_exit(3);
	}
	const struct mb2_string *cmd = (const void *)mb2_next(info, MB2_TAG_CMDLINE, 0);
	const char *cmdline = cmd ? cmd->string : "";
	const struct mb2_framebuffer *t = (const void *)mb2_next(info, MB2_TAG_FRAMEBUFFER, 0);
	if (!t || t->type != 1 || t->bpp != 32 || t->width < 1024 || t->height < 768 || t->addr >= 0x100000000ull) {
		kputs("fbdemo: the loader gave no 1024x768x32 RGB framebuffer\n");
		machine_exit(4);
	}
	fb = (struct fb){ (volatile uint8_t *)(uintptr_t)t->addr, t->pitch, t->width, t->height };
	kprintf("kvmdbg framebuffer demo: multiboot2, %ux%ux%u framebuffer at 0x%llx\n", t->width, t->height, t->bpp,
		(unsigned long long)t->addr);

	background();
	fb_text(&fb, 35, 27, "kvmdbg", 0x000000, FB_CLEAR, 4);
	fb_text(&fb, 32, 24, "kvmdbg", CYAN, FB_CLEAR, 4);
	fb_text(&fb, 240, 36, "framebuffer demo", WHITE, FB_CLEAR, 2);
	fb_text(&fb, 240, 72, "a multiboot2 kernel in 32-bit C, drawing into the framebuffer its loader set up",
		MUTED, FB_CLEAR, 1);

	fb_fill(&fb, INFO_X, SET_Y, INFO_W, SET_H, PANEL);
	frame(INFO_X, SET_Y, INFO_W, SET_H, 0x30408a);
	fb_text(&fb, INFO_X + 16, SET_Y + 12, "what the boot loader said", GOLD, PANEL, 1);
	const struct mb2_string *loader = (const void *)mb2_next(info, MB2_TAG_LOADER, 0);
	info_line(0, "loader", loader ? loader->string : "?");
	info_line(1, "protocol", "multiboot2");
	char s[64];
	ksnprintf(s, sizeof(s), "%ux%ux%u", t->width, t->height, t->bpp);
	info_line(2, "screen", s);
	const struct mb2_meminfo *mem = (const void *)mb2_next(info, MB2_TAG_MEMINFO, 0);
	ksnprintf(s, sizeof(s), "%u MiB", mem ? (mem->upper + 1024) / 1024 : 0);
	info_line(3, "memory", s);
	const struct mb2_rsdp *rsdp = (const void *)mb2_next(info, MB2_TAG_ACPI_NEW, 0);
	info_line(4, "ACPI", rsdp && strncmp(rsdp->signature, "RSD PTR ", 8) == 0 ? "RSDP revision 2" : "none");
	ksnprintf(s, sizeof(s), "%.20s", cmdline[0] ? cmdline : "(empty)");
	info_line(5, "cmdline", s);
	fb_text(&fb, INFO_X + 16, BOX_Y - 24, "type here (Esc: power off)", GOLD, PANEL, 1);
	draw_box();

	spectrum(632, 12);
	fb_text(&fb, 32, 660, "Click the KVM: Guest Screen view and type. Set a breakpoint in test/guests/demo/fbdemo.c", MUTED, FB_CLEAR, 1);
	fb_text(&fb, 32, 680, "and the view still shows the screen while the kernel is stopped.", MUTED, FB_CLEAR, 1);

	frame(SET_X, SET_Y, SET_W, SET_H, 0x30408a);
	mandelbrot();
	fb_text(&fb, SET_X + 8, SET_Y + SET_H - 24, "z -> z^2 + c, Q12 fixed point", WHITE, FB_CLEAR, 1);
	kputs("drawn: the Mandelbrot set, 160x120 blocks\n");
	if (cmdline_has(cmdline, "once"))
		machine_finish(cmdline);

	uint32_t start = rtc_seconds(), shown = ~0u;
	kputs("type on the guest's keyboard (Esc powers off)\n");
	for (;;) {
		uint32_t now = rtc_seconds();
		uint32_t up = (now + 86400 - start) % 86400;
		if (up != shown)
			draw_uptime(shown = up);
		char ch = kbd_poll();
		if (!ch) {
			cpu_relax();
			continue;
		}
		if (ch == 27) {
			kprintf("typed: %s\nbye\n", typed);
			machine_finish(cmdline);
		}
		if (ch == '\b' && typed_len > 0)
			typed[--typed_len] = 0;
		else if (ch == '\n') {
			kprintf("typed: %s\n", typed);
			typed_len = 0;
			typed[0] = 0;
		} else if (ch >= 0x20 && ch < 0x7f && typed_len < BOX_CHARS - 1) {
			typed[typed_len++] = ch;
			typed[typed_len] = 0;
		}
		draw_box();
	}
}
