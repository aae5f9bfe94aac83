/* testutil.c: helpers shared by the unit tests. */
#include "ferry/common.h"
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>

char *
tu_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	char *tmpl = xasprintf("%s/ferry-test-XXXXXX", base ? base : "/tmp");

	if (mkdtemp(tmpl) == NULL)
		abort();
	return tmpl;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

void
tu_rmtree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void
tu_write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	if (fp == NULL || fwrite(data, 1, len, fp) != len || fclose(fp) != 0)
		abort();
}

char *
tu_read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *p;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0)
		abort();
	p = xmalloc((size_t)n + 1);
	if (fread(p, 1, (size_t)n, fp) != (size_t)n)
		abort();
	p[n] = '\0';
	fclose(fp);
	if (len != NULL)
		*len = (size_t)n;
	return p;
}

int
tu_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}
