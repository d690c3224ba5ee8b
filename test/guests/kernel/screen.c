/* screen64: kvmdbg's screen and keyboard test kernel (test/kvm/screen.test.ts).
 * Writes a known text screen into the VGA buffer at 0xB8000 (a title in
 * white on blue, the 16 colours, a blinking word), moves the CRTC cursor,
 * then reads the PS/2 keyboard by polling the i8042 and echoes what is
 * typed after the "> " prompt; Enter ends the line with "typed: ..." on the
 * screen and the serial console, then finishes (exit=N or power off).
 * Cmdline words:
 *   set2   turn the i8042's translation off first and read scan code set 2
 *   irq    read the keyboard in its IRQ1 handler (PIC remapped to 0x20, all
 *          but IRQ1 masked, one byte an interrupt) instead of polling; the
 *          last line then says how many interrupts came: "typed: X (irqs N)"
 *   fb     instead: find PCI 1234:1111, set the dispi to 1024x768x32 and fill
 *          BAR 0 with fb_pixel(x, y), say "fb done at 0x..." and finish */
#include "io.h"
#include "lib.h"

#define VGA_TEXT   ((volatile uint16_t *)0xb8000)
#define COLS       80
#define ROWS       25
#define KBD_DATA   0x60
#define KBD_STATUS 0x64
#define KBD_OBF    0x01
#define CTR_XLATE  0x40

struct boot_info boot;
static int row, col;
static char line[COLS];
static int line_len;

static void put_at(int r, int c, char ch, uint8_t attr)
{
	VGA_TEXT[r * COLS + c] = (uint16_t)(uint8_t)ch | (uint16_t)attr << 8;
}

static void puts_at(int r, int c, const char *s, uint8_t attr)
{
	for (; *s && c < COLS; s++, c++)
		put_at(r, c, *s, attr);
}

static void set_cursor(int r, int c)
{
	uint16_t pos = (uint16_t)(r * COLS + c);
	outb(0x3d4, 0x0e); outb(0x3d5, pos >> 8);
	outb(0x3d4, 0x0f); outb(0x3d5, pos & 0xff);
}

/* ---- scan codes to ASCII (letters, digits, space, Enter, Backspace, Shift) ---- */
static const char set1_keys[0x3a] =
	"\0\0" "1234567890" "\0\0\b\0" "qwertyuiop" "\0\0\n\0" "asdfghjkl" "\0\0\0\0\0" "zxcvbnm" "\0\0\0\0\0\0 ";
#define SET1_LSHIFT 0x2a
#define SET1_RSHIFT 0x36

static char set2_key(uint8_t c)
{
	static const uint8_t codes[] = { 0x1c, 0x32, 0x21, 0x23, 0x24, 0x2b, 0x34, 0x33, 0x43, 0x3b, 0x42, 0x4b, 0x3a,
		0x31, 0x44, 0x4d, 0x15, 0x2d, 0x1b, 0x2c, 0x3c, 0x2a, 0x1d, 0x22, 0x35, 0x1a,
		0x45, 0x16, 0x1e, 0x26, 0x25, 0x2e, 0x36, 0x3d, 0x3e, 0x46, 0x29, 0x5a, 0x66 };
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789 \n\b";
	for (unsigned i = 0; i < sizeof(codes); i++)
		if (codes[i] == c)
			return chars[i];
	return 0;
}
#define SET2_LSHIFT 0x12
#define SET2_RSHIFT 0x59

/* ---- IRQ1 ---- */
struct interrupt_frame;
struct gate { uint16_t off0, sel; uint8_t ist, type; uint16_t off1; uint32_t off2, zero; } __attribute__((packed));
static struct gate idt[256] __attribute__((aligned(16)));
static volatile uint8_t kbd_ring[256];
/* The interrupt count when each byte came: the count a line reports is the
 * one its Enter came with (the release after it may be taken before the
 * line is printed: an interrupt pending at IRET is taken at once). */
static volatile uint32_t kbd_ring_irqs[256];
static volatile uint8_t kbd_head, kbd_tail;
static int use_irq;
volatile uint32_t kbd_irqs;
static uint32_t irqs_at_byte;

__attribute__((interrupt)) void kbd_handler(struct interrupt_frame *f)
{
	(void)f;
	kbd_irqs++;
	kbd_ring_irqs[kbd_head] = kbd_irqs;
	kbd_ring[kbd_head++] = inb(KBD_DATA);
	outb(0x20, 0x20); /* EOI */
}

static void irq_setup(void)
{
	uintptr_t a = (uintptr_t)kbd_handler;
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	idt[0x21] = (struct gate){ a & 0xffff, cs, 0, 0x8e, (a >> 16) & 0xffff, a >> 32, 0 };
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" :: "m"(idtr));
	/* The 8259s: vectors 0x20 and 0x28, cascade on IRQ2, 8086 mode; only IRQ1 unmasked. */
	outb(0x20, 0x11); outb(0xa0, 0x11);
	outb(0x21, 0x20); outb(0xa1, 0x28);
	outb(0x21, 0x04); outb(0xa1, 0x02);
	outb(0x21, 0x01); outb(0xa1, 0x01);
	outb(0x21, 0xfd); outb(0xa1, 0xff);
	use_irq = 1;
}

static uint8_t kbd_read(void)
{
	if (use_irq) {
		/* sti; hlt: interrupts open exactly for the wait, the handler fills the ring. */
		while (kbd_tail == kbd_head)
			__asm__ volatile("sti; hlt; cli" ::: "memory");
		irqs_at_byte = kbd_ring_irqs[kbd_tail];
		return kbd_ring[kbd_tail++];
	}
	while (!(inb(KBD_STATUS) & KBD_OBF))
		cpu_relax();
	return inb(KBD_DATA);
}

/* The next character typed (0 for keys without one); Shift makes letters capitals. */
static char next_char(int set2)
{
	static int shift, released, extended;
	for (;;) {
		uint8_t c = kbd_read();
		if (c == 0xe0) { extended = 1; continue; }
		if (set2 && c == 0xf0) { released = 1; continue; }
		int up = set2 ? released : (c & 0x80) != 0;
		uint8_t code = set2 ? c : (c & 0x7f);
		int ext = extended;
		released = extended = 0;
		if (ext)
			continue;
		if (code == (set2 ? SET2_LSHIFT : SET1_LSHIFT) || code == (set2 ? SET2_RSHIFT : SET1_RSHIFT)) {
			shift = !up;
			continue;
		}
		if (up)
			continue;
		char ch = set2 ? set2_key(code) : (code < sizeof(set1_keys) ? set1_keys[code] : 0);
		if (ch >= 'a' && ch <= 'z' && shift)
			ch = (char)(ch - 'a' + 'A');
		if (ch)
			return ch;
	}
}

static void translation_off(void)
{
	outb(KBD_STATUS, 0x20);
	uint8_t ctr = kbd_read();
	outb(KBD_STATUS, 0x60);
	outb(KBD_DATA, ctr & ~CTR_XLATE);
}

/* ---- the framebuffer ---- */
/* Constant over blocks of 128 pixels of a line, so a line is 8 rep stosl
 * (PVM emulates ring-0 code an instruction at a time: a loop a pixel would
 * take seconds). test/kvm/screen.test.ts computes the same picture. */
uint32_t fb_pixel(uint32_t x, uint32_t y)
{
	uint32_t block = x >> 7;
	return (block * 0x24) << 16 | (y & 0xff) << 8 | (((block ^ (y >> 5)) * 0x1b) & 0xff);
}

static void fill32(volatile uint32_t *d, uint32_t v, uint64_t n)
{
	__asm__ volatile("rep stosl" : "+D"(d), "+c"(n) : "a"(v) : "memory");
}

static uint32_t pci_read(uint32_t dev, uint32_t reg)
{
	outl(PORT_PCI_ADDR, 0x80000000u | dev << 11 | reg);
	return inl(PORT_PCI_DATA);
}

static void dispi(uint16_t index, uint16_t value)
{
	outw(0x1ce, index);
	outw(0x1cf, value);
}

static void __attribute__((noreturn)) framebuffer(void)
{
	uintptr_t lfb = 0;
	for (uint32_t dev = 0; dev < 32; dev++)
		if (pci_read(dev, 0) == (0x1111u << 16 | 0x1234u))
			lfb = pci_read(dev, 0x10) & ~0xfu;
	if (!lfb) {
		kputs("fb: no PCI 1234:1111\n");
		machine_exit(3);
	}
	dispi(4, 0);        /* disable */
	dispi(1, 1024);     /* xres */
	dispi(2, 768);      /* yres */
	dispi(3, 32);       /* bpp */
	dispi(4, 0x41);     /* enable | LFB */
	volatile uint32_t *fb = (volatile uint32_t *)lfb;
	for (uint32_t y = 0; y < 768; y++)
		for (uint32_t x = 0; x < 1024; x += 128)
			fill32(fb + y * 1024 + x, fb_pixel(x, y), 128);
	kprintf("fb done at 0x%lx\n", (unsigned long)lfb);
	machine_finish(boot.cmdline);
}

void __attribute__((noreturn)) kernel_main(uint32_t protocol, uintptr_t boot_info)
{
	serial_init(0);
	boot_info_parse(&boot, protocol, boot_info);
	kprintf("kvmdbg screen64 (%s)\n", boot_protocol_name(boot.protocol));
	if (cmdline_has(boot.cmdline, "fb"))
		framebuffer();
	int set2 = cmdline_has(boot.cmdline, "set2");
	if (set2)
		translation_off();
	if (cmdline_has(boot.cmdline, "irq"))
		irq_setup();

	for (int i = 0; i < ROWS * COLS; i++)
		VGA_TEXT[i] = 0x0720;
	for (int c = 0; c < COLS; c++)
		put_at(0, c, ' ', 0x1f);
	puts_at(0, 2, "kvmdbg screen64: VGA text mode", 0x1f);
	puts_at(1, 0, "colours:", 0x07);
	for (int i = 0; i < 16; i++)
		put_at(1, 9 + i, '#', (uint8_t)i);
	puts_at(2, 0, "blink:", 0x07);
	puts_at(2, 7, "BLINK", 0x8e);
	puts_at(3, 0, set2 ? "scan code set 2" : "scan code set 1", 0x0a);
	row = 5;
	puts_at(row, 0, "> ", 0x07);
	col = 2;
	set_cursor(row, col);
	kputs("screen ready\n"); /* bp:screen-ready */

	for (;;) {
		char ch = next_char(set2);
		if (ch == '\n') {
			line[line_len] = 0;
			puts_at(row + 1, 0, "typed: ", 0x0f);
			puts_at(row + 1, 7, line, 0x0f);
			set_cursor(row + 2, 0);
			if (use_irq)
				kprintf("typed: %s (irqs %u)\n", line, irqs_at_byte);
			else
				kprintf("typed: %s\n", line);
			machine_finish(boot.cmdline);
		}
		if (ch == '\b') {
			if (line_len > 0) {
				line_len--;
				put_at(row, --col, ' ', 0x07);
			}
		} else if (line_len < COLS - 10) {
			line[line_len++] = ch;
			put_at(row, col++, ch, 0x07);
		}
		set_cursor(row, col);
	}
}
