/* Drawing into a 32-bpp linear framebuffer (0x00RRGGBB pixels) with the
 * 8x16 font of font8x16.h: rectangles (one rep stosl a line: PVM emulates
 * ring-0 code an instruction at a time) and text. */
#ifndef KVMDBG_GUEST_FBDRAW_H
#define KVMDBG_GUEST_FBDRAW_H
#include <stdint.h>

struct fb { volatile uint8_t *base; uint32_t pitch, width, height; };

/* As a text background: leave the pixels behind the glyph as they are. */
#define FB_CLEAR 0xffffffffu

void fb_fill(const struct fb *f, uint32_t x, uint32_t y, uint32_t w, uint32_t h, uint32_t rgb);
/* One glyph at (x, y), each font pixel a scale x scale square; characters outside 0x20-0x7E draw as '?'. */
void fb_char(const struct fb *f, uint32_t x, uint32_t y, char c, uint32_t fg, uint32_t bg, uint32_t scale);
/* A string from (x, y); returns the x after its last character. */
uint32_t fb_text(const struct fb *f, uint32_t x, uint32_t y, const char *s, uint32_t fg, uint32_t bg, uint32_t scale);
#endif
