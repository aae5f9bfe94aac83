/*
 * buf.h: growable byte and text buffers.
 *
 * Invariants (after git's strbuf): data is never NULL after init and
 * data[len] == '\0', so text can be used as a C string.  A buffer that
 * holds outside input takes its max from a named limit: growing past max
 * fails, sets over, and leaves the contents as they were; over stays set
 * (sticky, as libgit2's buffers) so a sequence of adds can be checked once.
 */
#ifndef FERRY_BUF_H
#define FERRY_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len, cap;
	size_t	 max;		/* 0: no limit but SIZE_MAX */
	bool	 over;
};

extern char buf_empty[];
#define BUF_INIT(m) { buf_empty, 0, 0, (m), false }

void buf_init(struct buf *b, size_t max);
/* Free the storage; the buffer is empty and usable again. */
void buf_release(struct buf *b);
/* As buf_release, wiping the bytes first (for secrets). */
void buf_release_secret(struct buf *b);
/* Empty the buffer, keep the storage, clear over. */
void buf_reset(struct buf *b);

/* Make room for n more bytes; false (and over) if it would pass max. */
bool buf_grow(struct buf *b, size_t n);
/* Each returns false (and sets over) if max would be passed. */
bool buf_add(struct buf *b, const void *data, size_t n);
bool buf_addstr(struct buf *b, const char *s);
bool buf_addch(struct buf *b, int c);
bool buf_addf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool buf_vaddf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/*
 * Append untrusted text (from Jira, a bundle, mail) for display:
 * printable ASCII and valid UTF-8 as is, everything else as \xNN.
 */
bool buf_add_escaped(struct buf *b, const char *s, size_t n);

/* Shorten to len (<= b->len). */
void buf_setlen(struct buf *b, size_t len);
/* Hand the bytes over: the caller frees the result; b is empty again. */
char *buf_detach(struct buf *b, size_t *len);
/* True if the two buffers hold the same bytes. */
bool buf_equal(const struct buf *a, const struct buf *b);

#endif
