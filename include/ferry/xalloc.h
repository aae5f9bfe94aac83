/*
 * xalloc.h: allocation that cannot fail.  Running out of memory aborts:
 * ferry survives a kill at any instant, so it is one more crash, and
 * error paths stay about real errors.
 */
#ifndef FERRY_XALLOC_H
#define FERRY_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Grow an array: like xrealloc(p, nmemb * size), failing on overflow. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* A formatted string the caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Zero n bytes in a way the compiler keeps, then free.  p may be NULL. */
void free_secret(void *p, size_t n);

#define FREE_AND_NULL(p) do { free(p); (p) = NULL; } while (0)

#endif
