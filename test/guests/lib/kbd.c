/* PS/2 keyboard by polling: see kbd.h. */
#include "io.h"
#include "kbd.h"

#define KBD_DATA   0x60
#define KBD_STATUS 0x64
#define KBD_OBF    0x01
#define LSHIFT     0x2a
#define RSHIFT     0x36

static const char plain[0x3a] =
	"\0\033" "1234567890-=" "\b\t" "qwertyuiop[]" "\n\0" "asdfghjkl;'`" "\0\\" "zxcvbnm,./" "\0*\0 ";
static const char shifted[0x3a] =
	"\0\033" "!@#$%^&*()_+" "\b\t" "QWERTYUIOP{}" "\n\0" "ASDFGHJKL:\"~" "\0|" "ZXCVBNM<>?" "\0*\0 ";

static int shift, extended;

static char decode(uint8_t c)
{
	if (c == 0xe0) { extended = 1; return 0; }
	int up = (c & 0x80) != 0, ext = extended;
	uint8_t code = c & 0x7f;
	extended = 0;
	if (ext)
		return 0;
	if (code == LSHIFT || code == RSHIFT) { shift = !up; return 0; }
	if (up || code >= sizeof(plain))
		return 0;
	return shift ? shifted[code] : plain[code];
}

char kbd_poll(void)
{
	while (inb(KBD_STATUS) & KBD_OBF) {
		char ch = decode(inb(KBD_DATA));
		if (ch)
			return ch;
	}
	return 0;
}

char kbd_getchar(void)
{
	for (;;) {
		char ch = kbd_poll();
		if (ch)
			return ch;
		cpu_relax();
	}
}
