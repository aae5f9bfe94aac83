/* testutil.h: helpers shared by the unit tests. */
#ifndef FERRY_TESTUTIL_H
#define FERRY_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* A fresh temporary directory; removed with its contents by tu_rmtree. */
char *tu_mkdtemp(void);
void tu_rmtree(const char *path);
/* Write a whole file (test setup; aborts on failure). */
void tu_write_file(const char *path, const void *data, size_t len);
/* Read a whole file into a new NUL-terminated string; *len its length. */
char *tu_read_file(const char *path, size_t *len);
/* Count the entries of a directory, dot-names included, . and .. not. */
int tu_count_entries(const char *dir);

#endif
