/* 32-bpp framebuffer drawing: see fbdraw.h. Everything is clipped to the screen. */
#include "fbdraw.h"
#include "font8x16.h"

static void fill32(volatile uint32_t *d, uint32_t v, uint32_t n)
{
	__asm__ volatile("rep stosl" : "+D"(d), "+c"(n) : "a"(v) : "memory");
}

void fb_fill(const struct fb *f, uint32_t x, uint32_t y, uint32_t w, uint32_t h, uint32_t rgb)
{
	if (x >= f->width || y >= f->height)
		return;
	if (w > f->width - x)
		w = f->width - x;
	if (h > f->height - y)
		h = f->height - y;
	for (uint32_t r = 0; r < h; r++)
		fill32((volatile uint32_t *)(f->base + (y + r) * f->pitch) + x, rgb, w);
}

void fb_char(const struct fb *f, uint32_t x, uint32_t y, char c, uint32_t fg, uint32_t bg, uint32_t scale)
{
	unsigned char u = (unsigned char)c;
	const uint8_t *g = font8x16[(u >= FONT_FIRST && u <= FONT_LAST ? u : '?') - FONT_FIRST];
	for (uint32_t r = 0; r < 16; r++) {
		/* runs of equal pixels are one fill each */
		uint32_t start = 0;
		for (uint32_t b = 1; b <= 8; b++) {
			int on = (g[r] >> (7 - start)) & 1;
			if (b < 8 && ((g[r] >> (7 - b)) & 1) == on)
				continue;
			if (on || bg != FB_CLEAR)
				fb_fill(f, x + start * scale, y + r * scale, (b - start) * scale, scale, on ? fg : bg);
			start = b;
		}
	}
}

uint32_t fb_text(const struct fb *f, uint32_t x, uint32_t y, const char *s, uint32_t fg, uint32_t bg, uint32_t scale)
{
	for (; *s; s++, x += 8 * scale)
		fb_char(f, x, y, *s, fg, bg, scale);
	return x;
}
