/* mb2: kvmdbg's multiboot2 test kernel (test/kvm/multiboot2.test.ts).
 * Entered by a multiboot2 loader in 32-bit protected mode, it prints on the
 * serial console what the boot information holds (command line, loader
 * name, memory, the memory map, each module's first line, both RSDPs, the
 * framebuffer, the ELF sections and the load base), draws a known picture
 * into the framebuffer it was given (a title bar, eight colour swatches,
 * the command line and module 0's first line in the 8x16 font), then echoes
 * keys typed on the PS/2 keyboard after "> " until Enter: "typed: TEXT" on
 * the screen and the console, then finishes (exit=N or power off). The test
 * draws the same picture and compares the screenshot pixel for pixel. */
#include "io.h"
#include "lib.h"
#include "mb2.h"
#include "fbdraw.h"
#include "kbd.h"

#define BG       0x102030u
#define BAR      0x2050a0u
#define TEXT     0xe0e0e0u
#define PROMPT   0xffff80u
#define TYPED    0x80ff80u

static const uint32_t swatches[8] = { 0xff0000, 0x00ff00, 0x0000ff, 0xffff00, 0x00ffff, 0xff00ff, 0xffffff, 0x808080 };
static char line[100];

/* A module's first line, printable characters only, at most 60 of them. */
static void first_line(char *out, const struct mb2_module *m)
{
	const char *p = (const char *)(uintptr_t)m->start;
	uint32_t n = 0;
	while (n < 60 && m->start + n < m->end && p[n] != '\n' && p[n] >= 0x20 && p[n] < 0x7f) {
		out[n] = p[n];
		n++;
	}
	out[n] = 0;
}

static void print_rsdp(const char *which, const struct mb2_rsdp *r)
{
	char sig[9];
	memcpy(sig, r->signature, 8);
	sig[8] = 0;
	kprintf("%s \"%s\" rev %u", which, sig, r->revision);
}

void __attribute__((noreturn)) kernel_main(uint32_t magic, uintptr_t info)
{
	serial_init(0);
	if (magic != MB2_BOOTLOADER_MAGIC) {
		kprintf("mb2: not booted by multiboot2 (EAX 0x%x)\n", magic);
		machine_exit(3);
	}
	kprintf("kvmdbg mb2 kernel: magic 0x%x, info at 0x%lx (%u bytes)\n", magic, (unsigned long)info, *(uint32_t *)info);
	const struct mb2_string *cmd = (const void *)mb2_next(info, MB2_TAG_CMDLINE, 0);
	const char *cmdline = cmd ? cmd->string : "";
	kprintf("cmdline: %s\n", cmdline);
	const struct mb2_string *loader = (const void *)mb2_next(info, MB2_TAG_LOADER, 0);
	kprintf("loader: %s\n", loader ? loader->string : "(none)");
	const struct mb2_meminfo *mem = (const void *)mb2_next(info, MB2_TAG_MEMINFO, 0);
	if (mem)
		kprintf("meminfo: lower %u KiB, upper %u KiB\n", mem->lower, mem->upper);
	const struct mb2_mmap *mmap = (const void *)mb2_next(info, MB2_TAG_MMAP, 0);
	if (mmap && mmap->entry_size >= sizeof(struct mb2_mmap_entry)) {
		for (uint32_t o = 16; o + mmap->entry_size <= mmap->tag.size; o += mmap->entry_size) {
			const struct mb2_mmap_entry *e = (const void *)((uintptr_t)mmap + o);
			kprintf("mmap: 0x%llx+0x%llx type %u\n", (unsigned long long)e->addr, (unsigned long long)e->len, e->type);
		}
	}
	char module0[64] = "none";
	int modules = 0;
	for (const struct mb2_module *m = (const void *)mb2_next(info, MB2_TAG_MODULE, 0); m;
	     m = (const void *)mb2_next(info, MB2_TAG_MODULE, &m->tag), modules++) {
		char text[64];
		first_line(text, m);
		if (modules == 0)
			memcpy(module0, text, sizeof(text));
		kprintf("module %d: %u bytes at 0x%x%s, \"%s\": %s\n", modules, m->end - m->start, m->start,
			(m->start & 0xfff) ? " (unaligned)" : "", m->cmdline, text);
	}
	const struct mb2_rsdp *old = (const void *)mb2_next(info, MB2_TAG_ACPI_OLD, 0);
	const struct mb2_rsdp *new = (const void *)mb2_next(info, MB2_TAG_ACPI_NEW, 0);
	if (old && new) {
		print_rsdp("rsdp: old", old);
		print_rsdp(", new", new);
		kprintf(" length %u\n", new->length);
	}
	const struct mb2_elf_sections *es = (const void *)mb2_next(info, MB2_TAG_ELF_SECTIONS, 0);
	if (es)
		kprintf("elf sections: %u of %u bytes, names in %u\n", es->num, es->entsize, es->shndx);
	const struct mb2_load_base *base = (const void *)mb2_next(info, MB2_TAG_LOAD_BASE, 0);
	if (base)
		kprintf("load base: 0x%x\n", base->addr);
	const struct mb2_framebuffer *fbt = (const void *)mb2_next(info, MB2_TAG_FRAMEBUFFER, 0);
	if (!fbt) {
		kputs("framebuffer: none\n");
		machine_exit(4);
	}
	kprintf("framebuffer: %ux%ux%u pitch %u at 0x%llx type %u", fbt->width, fbt->height, fbt->bpp, fbt->pitch,
		(unsigned long long)fbt->addr, fbt->type);
	if (fbt->type == 1)
		kprintf(" red %u/%u green %u/%u blue %u/%u", fbt->red_pos, fbt->red_size, fbt->green_pos, fbt->green_size,
			fbt->blue_pos, fbt->blue_size);
	kputs("\n");
	if (fbt->type != 1 || fbt->bpp != 32 || fbt->addr >= 0x100000000ull) {
		kputs("mb2: not a 32-bpp RGB framebuffer below 4 GiB\n");
		machine_exit(5);
	}

	struct fb fb = { (volatile uint8_t *)(uintptr_t)fbt->addr, fbt->pitch, fbt->width, fbt->height };
	fb_fill(&fb, 0, 0, fb.width, fb.height, BG);
	fb_fill(&fb, 0, 0, fb.width, 40, BAR);
	fb_text(&fb, 16, 12, "kvmdbg multiboot2 test kernel", 0xffffff, BAR, 1);
	for (int i = 0; i < 8; i++)
		fb_fill(&fb, 16 + i * 72, 56, 64, 32, swatches[i]);
	char text[120];
	ksnprintf(text, sizeof(text), "cmdline: %s", cmdline);
	fb_text(&fb, 16, 104, text, TEXT, BG, 1);
	ksnprintf(text, sizeof(text), "module: %s", module0);
	fb_text(&fb, 16, 124, text, TEXT, BG, 1);
	ksnprintf(text, sizeof(text), "framebuffer: %ux%ux%u", fb.width, fb.height, fbt->bpp);
	fb_text(&fb, 16, 144, text, TEXT, BG, 1);
	uint32_t x = fb_text(&fb, 16, 176, "> ", PROMPT, BG, 1);
	kputs("screen ready\n");

	uint32_t len = 0;
	for (;;) {
		char ch = kbd_getchar();
		if (ch == '\n')
			break;
		if (ch == '\b') {
			if (len > 0) {
				len--;
				x -= 8;
				fb_char(&fb, x, 176, ' ', PROMPT, BG, 1);
			}
		} else if (ch >= 0x20 && ch < 0x7f && len < 80) {
			line[len++] = ch;
			fb_char(&fb, x, 176, ch, PROMPT, BG, 1);
			x += 8;
		}
	}
	line[len] = 0;
	x = fb_text(&fb, 16, 196, "typed: ", TYPED, BG, 1);
	fb_text(&fb, x, 196, line, TYPED, BG, 1);
	kprintf("typed: %s\n", line);
	machine_finish(cmdline);
}
