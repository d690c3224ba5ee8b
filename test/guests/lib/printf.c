/* printf-lite: %d %i %u %x %X %p %s %c %%, flags '-' '0', width, precision
 * for %s, length modifiers l ll z. No floating point. 64-bit values are
 * divided by shifting, so 32-bit kernels need no libgcc. */
#include "lib.h"

struct out {
	char *buf;      /* NULL: write to the console */
	size_t size;
	size_t len;
};

static void out_char(struct out *o, char c)
{
	if (!o->buf)
		serial_putc(c);
	else if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static uint64_t udiv10(uint64_t n, unsigned *rem)
{
	uint64_t q = 0, r = 0;
	for (int i = 63; i >= 0; i--) {
		r = (r << 1) | ((n >> i) & 1);
		if (r >= 10) {
			r -= 10;
			q |= (uint64_t)1 << i;
		}
	}
	*rem = (unsigned)r;
	return q;
}

static void out_number(struct out *o, uint64_t v, int base16, int upper, int neg,
		       int width, int zero, int left)
{
	char tmp[24];
	int n = 0;
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	do {
		unsigned d;
		if (base16) {
			d = (unsigned)(v & 15);
			v >>= 4;
		} else {
			v = udiv10(v, &d);
		}
		tmp[n++] = digits[d];
	} while (v);
	int len = n + (neg ? 1 : 0);
	if (!left && !zero)
		for (; width > len; width--)
			out_char(o, ' ');
	if (neg)
		out_char(o, '-');
	if (!left && zero)
		for (; width > len; width--)
			out_char(o, '0');
	while (n)
		out_char(o, tmp[--n]);
	if (left)
		for (; width > len; width--)
			out_char(o, ' ');
}

static int format(struct out *o, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			out_char(o, *fmt);
			continue;
		}
		fmt++;
		int left = 0, zero = 0, width = 0, prec = -1, lng = 0;
		for (;; fmt++) {
			if (*fmt == '-')
				left = 1;
			else if (*fmt == '0')
				zero = 1;
			else
				break;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			fmt++;
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + (*fmt - '0');
		if (*fmt == '.') {
			prec = 0;
			fmt++;
			if (*fmt == '*') {
				prec = va_arg(ap, int);
				fmt++;
			}
			for (; *fmt >= '0' && *fmt <= '9'; fmt++)
				prec = prec * 10 + (*fmt - '0');
		}
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			lng += (*fmt == 'z') ? (sizeof(size_t) == 8 ? 2 : 0) : 1;
		if (lng == 1 && sizeof(long) == 8)
			lng = 2;
		uint64_t u;
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t s = lng >= 2 ? va_arg(ap, long long) : lng ? va_arg(ap, long) : va_arg(ap, int);
			out_number(o, s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s, 0, 0, s < 0, width, zero, left);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
			u = lng >= 2 ? va_arg(ap, unsigned long long) : lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
			out_number(o, u, *fmt != 'u', *fmt == 'X', 0, width, zero, left);
			break;
		case 'p':
			out_char(o, '0');
			out_char(o, 'x');
			out_number(o, (uintptr_t)va_arg(ap, void *), 1, 0, 0, width, zero, left);
			break;
		case 'c': {
			char c = (char)va_arg(ap, int);
			if (!left)
				for (; width > 1; width--)
					out_char(o, ' ');
			out_char(o, c);
			for (; width > 1; width--)
				out_char(o, ' ');
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int len = 0;
			while (s[len] && (prec < 0 || len < prec))
				len++;
			if (!left)
				for (; width > len; width--)
					out_char(o, ' ');
			for (int i = 0; i < len; i++)
				out_char(o, s[i]);
			for (; width > len; width--)
				out_char(o, ' ');
			break;
		}
		case '%':
			out_char(o, '%');
			break;
		case '\0':
			return (int)o->len;
		default:
			out_char(o, '%');
			out_char(o, *fmt);
			break;
		}
	}
	return (int)o->len;
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };
	int n = format(&o, fmt, ap);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return n;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int kprintf(const char *fmt, ...)
{
	struct out o = { NULL, 0, 0 };
	va_list ap;
	va_start(ap, fmt);
	int n = format(&o, fmt, ap);
	va_end(ap);
	return n;
}

void kputs(const char *s)
{
	while (*s)
		serial_putc(*s++);
}
