/* Cmdline words: space-separated; unknown words are ignored by the kernels. */
#include "lib.h"

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* First word equal to (or, with prefix, starting with) word; NULL if none. */
static const char *find_word(const char *s, const char *word, size_t wlen, int prefix)
{
	while (*s) {
		while (is_space(*s))
			s++;
		const char *start = s;
		while (*s && !is_space(*s))
			s++;
		size_t len = (size_t)(s - start);
		if (start != s) {
			if (!prefix && len == wlen && strncmp(start, word, wlen) == 0)
				return start;
			if (prefix && len >= wlen && strncmp(start, word, wlen) == 0)
				return start;
		}
	}
	return NULL;
}

int cmdline_has(const char *cmdline, const char *word)
{
	return find_word(cmdline, word, strlen(word), 0) != NULL;
}

int cmdline_uint(const char *cmdline, const char *key, uint32_t *out)
{
	size_t klen = strlen(key);
	const char *s = cmdline;
	const char *w;
	while ((w = find_word(s, key, klen, 1)) != NULL) {
		const char *p = w + klen;
		if (*p == '=' && p[1] >= '0' && p[1] <= '9') {
			uint32_t v = 0;
			for (p++; *p >= '0' && *p <= '9'; p++)
				v = v * 10 + (uint32_t)(*p - '0');
			if (*p == '\0' || is_space(*p)) {
				*out = v;
				return 1;
			}
		}
		s = p;
	}
	return 0;
}
