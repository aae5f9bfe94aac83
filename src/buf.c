/* buf.c: growable buffers with a limit (see buf.h). */
#include "ferry/common.h"
#include "ferry/buf.h"

char buf_empty[1];

void
buf_init(struct buf *b, size_t max)
{
	b->data = buf_empty;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->over = false;
}

void
buf_release(struct buf *b)
{
	if (b->cap != 0)
		free(b->data);
	buf_init(b, b->max);
}

void
buf_release_secret(struct buf *b)
{
	if (b->cap != 0)
		explicit_bzero(b->data, b->cap);
	buf_release(b);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->data[0] = '\0';
	if (b->cap == 0)
		b->data = buf_empty;
	b->over = false;
}

static size_t
buf_limit(const struct buf *b)
{
	return b->max != 0 ? b->max : SIZE_MAX - 1;
}

bool
buf_grow(struct buf *b, size_t n)
{
	size_t want, cap;

	if (b->over)
		return false;
	if (n > buf_limit(b) - b->len) {
		b->over = true;
		return false;
	}
	want = b->len + n + 1;
	if (want <= b->cap)
		return true;
	cap = b->cap < 64 ? 64 : b->cap;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	if (b->cap == 0) {
		b->data = xmalloc(cap);
		b->data[0] = '\0';
	} else {
		b->data = xrealloc(b->data, cap);
	}
	b->cap = cap;
	return true;
}

bool
buf_add(struct buf *b, const void *data, size_t n)
{
	if (!buf_grow(b, n))
		return false;
	if (n != 0)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

bool
buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

bool
buf_addch(struct buf *b, int c)
{
	char ch = (char)c;

	return buf_add(b, &ch, 1);
}

bool
buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0) {
		b->over = true;
		return false;
	}
	if (!buf_grow(b, (size_t)n))
		return false;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return true;
}

bool
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return ok;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = s[0] & (0xff >> (len + 1));
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	/* C1 controls and bidirectional overrides could mislead a reader. */
	if ((cp >= 0x80 && cp < 0xa0) || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069))
		return 0;
	return len;
}

bool
buf_add_escaped(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, u;

	while (i < n) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
			buf_addch(b, p[i]);
			i++;
		} else if (p[i] == '\\') {
			buf_addstr(b, "\\\\");
			i++;
		} else if ((u = utf8_len(p + i, n - i)) != 0) {
			buf_add(b, p + i, u);
			i += u;
		} else {
			buf_addf(b, "\\x%02x", p[i]);
			i++;
		}
	}
	return !b->over;
}

void
buf_setlen(struct buf *b, size_t len)
{
	assert(len <= b->len);
	b->len = len;
	b->data[len] = '\0';
}

char *
buf_detach(struct buf *b, size_t *len)
{
	char *p;

	if (len != NULL)
		*len = b->len;
	p = b->cap != 0 ? b->data : xstrdup("");
	buf_init(b, b->max);
	return p;
}

bool
buf_equal(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}
