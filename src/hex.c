/* hex.c: hexadecimal text for bytes (see hex.h). */
#include "ferry/common.h"
#include "ferry/hex.h"

void
hex_encode(const void *data, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
hex_decode(const char *s, void *out, size_t n)
{
	uint8_t *p = out;
	size_t i;

	/* Check all of s first: a refused string leaves out as it was. */
	for (i = 0; i < 2 * n; i++)
		if (digit(s[i]) < 0)
			return false;
	if (s[2 * n] != '\0')
		return false;
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(digit(s[2 * i]) << 4 | digit(s[2 * i + 1]));
	return true;
}
