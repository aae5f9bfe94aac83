/* file.c: crash-safe writes and bounded reads (see file.h). */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The fault table: for each operation, the call number (counted from the
 * injection) that fails, with which errno, and whether it keeps failing.
 */
static struct {
	long	 nth;		/* 0: no fault */
	long	 calls;
	int	 err_no;
	bool	 sticky;
} faults[FILE_OP__COUNT];

void
file_fault_inject(enum file_op op, int nth, int err_no, bool sticky)
{
	assert(op < FILE_OP__COUNT && nth > 0);
	faults[op].nth = nth;
	faults[op].calls = 0;
	faults[op].err_no = err_no;
	faults[op].sticky = sticky;
}

void
file_fault_clear(void)
{
	memset(faults, 0, sizeof(faults));
}

/* True (errno set) if this call of op must fail. */
static bool
fault(enum file_op op)
{
	if (faults[op].nth == 0)
		return false;
	faults[op].calls++;
	if (faults[op].calls == faults[op].nth ||
	    (faults[op].sticky && faults[op].calls > faults[op].nth)) {
		errno = faults[op].err_no;
		return true;
	}
	return false;
}

int
file_sys_open(const char *path, int flags, mode_t mode)
{
	return fault(FILE_OP_OPEN) ? -1 : open(path, flags | O_CLOEXEC, mode);
}

ssize_t
file_sys_write(int fd, const void *data, size_t len)
{
	return fault(FILE_OP_WRITE) ? -1 : write(fd, data, len);
}

ssize_t
file_sys_read(int fd, void *data, size_t len)
{
	return fault(FILE_OP_READ) ? -1 : read(fd, data, len);
}

int
file_sys_fsync(int fd)
{
	return fault(FILE_OP_FSYNC) ? -1 : fsync(fd);
}

int
file_sys_close(int fd)
{
	if (fault(FILE_OP_CLOSE)) {
		int saved = errno;

		/* The descriptor is gone either way, as with a real close. */
		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

int
file_sys_rename(const char *from, const char *to)
{
	return fault(FILE_OP_RENAME) ? -1 : rename(from, to);
}

int
file_sys_mkdir(const char *path, mode_t mode)
{
	return fault(FILE_OP_MKDIR) ? -1 : mkdir(path, mode);
}

int
file_sys_unlink(const char *path)
{
	return fault(FILE_OP_UNLINK) ? -1 : unlink(path);
}

char *
file_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);

	if (n > 0 && dir[n - 1] == '/')
		return xasprintf("%s%s", dir, name);
	return xasprintf("%s/%s", dir, name);
}

bool
file_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int
file_write_all(int fd, const void *data, size_t len, const char *what,
    struct ferry_err *err)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = file_sys_write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ferry_err_sys(err, FERRY_EIO,
			    "cannot write '%s'", what);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
file_fsync_dir(const char *dir, struct ferry_err *err)
{
	int fd, rc = 0;

	fd = file_sys_open(dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -1)
		return ferry_err_sys(err, FERRY_EIO,
		    "cannot open directory '%s'", dir);
	if (file_sys_fsync(fd) == -1 && errno != EINVAL && errno != ENOTSUP &&
	    errno != EBADF)
		rc = ferry_err_sys(err, FERRY_EIO,
		    "cannot sync directory '%s'", dir);
	close(fd);
	return rc;
}

static void
atomic_release(struct file_atomic *fa)
{
	if (fa->fd != -1)
		close(fa->fd);
	fa->fd = -1;
	FREE_AND_NULL(fa->dir);
	FREE_AND_NULL(fa->path);
	FREE_AND_NULL(fa->tmp);
	fa->written = 0;
}

int
file_atomic_open(struct file_atomic *fa, const char *dir, const char *name,
    mode_t mode, struct ferry_err *err)
{
	char *tmpname;

	assert(strchr(name, '/') == NULL && name[0] != '.');
	fa->fd = -1;
	fa->written = 0;
	fa->dir = xstrdup(dir);
	fa->path = file_join(dir, name);
	tmpname = xasprintf(".%s.tmp", name);
	fa->tmp = file_join(dir, tmpname);
	free(tmpname);

	/*
	 * A temporary file left by a killed run is ours to replace: no
	 * reader looks at dot-names, and its content was never committed.
	 */
	if (file_sys_unlink(fa->tmp) == -1 && errno != ENOENT) {
		ferry_err_sys(err, FERRY_EIO, "cannot remove stale '%s'",
		    fa->tmp);
		atomic_release(fa);
		return FERRY_EIO;
	}
	fa->fd = file_sys_open(fa->tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fa->fd == -1) {
		ferry_err_sys(err, FERRY_EIO, "cannot create '%s'", fa->tmp);
		atomic_release(fa);
		return FERRY_EIO;
	}
	return 0;
}

int
file_atomic_write(struct file_atomic *fa, const void *data, size_t len,
    struct ferry_err *err)
{
	int rc;

	assert(fa->fd != -1);
	if ((rc = file_write_all(fa->fd, data, len, fa->tmp, err)) < 0)
		return rc;
	fa->written += (off_t)len;
	return 0;
}

int
file_atomic_commit(struct file_atomic *fa, struct ferry_err *err)
{
	int fd = fa->fd, rc;

	assert(fd != -1);
	if (file_sys_fsync(fd) == -1) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot sync '%s'", fa->tmp);
		goto fail;
	}
	/* NFS and full disks can report a lost write only at close. */
	fa->fd = -1;
	if (file_sys_close(fd) == -1) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot close '%s'",
		    fa->tmp);
		goto fail;
	}
	if (file_sys_rename(fa->tmp, fa->path) == -1) {
		rc = ferry_err_sys(err, FERRY_EIO,
		    "cannot rename '%s' to '%s'", fa->tmp, fa->path);
		goto fail;
	}
	rc = file_fsync_dir(fa->dir, err);
	atomic_release(fa);
	return rc;
fail:
	file_atomic_abort(fa);
	return rc;
}

void
file_atomic_abort(struct file_atomic *fa)
{
	int saved = errno;

	if (fa->fd != -1) {
		close(fa->fd);
		fa->fd = -1;
	}
	if (fa->tmp != NULL)
		unlink(fa->tmp);
	atomic_release(fa);
	errno = saved;
}

int
file_write_atomic(const char *dir, const char *name, const void *data,
    size_t len, mode_t mode, struct ferry_err *err)
{
	struct file_atomic fa = FILE_ATOMIC_INIT;
	int rc;

	if ((rc = file_atomic_open(&fa, dir, name, mode, err)) < 0)
		return rc;
	if ((rc = file_atomic_write(&fa, data, len, err)) < 0) {
		file_atomic_abort(&fa);
		return rc;
	}
	return file_atomic_commit(&fa, err);
}

int
file_read(const char *path, struct buf *b, struct ferry_err *err)
{
	char chunk[65536];
	ssize_t n;
	int fd, rc = 0;

	fd = file_sys_open(path, O_RDONLY, 0);
	if (fd == -1)
		return ferry_err_sys(err,
		    errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO,
		    "cannot open '%s'", path);
	for (;;) {
		n = file_sys_read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = ferry_err_sys(err, FERRY_EIO, "cannot read '%s'",
			    path);
			break;
		}
		if (n == 0)
			break;
		if (!buf_add(b, chunk, (size_t)n)) {
			rc = ferry_err_set(err, FERRY_ELIMIT,
			    "'%s' is larger than the limit of %zu bytes",
			    path, b->max);
			break;
		}
	}
	close(fd);
	return rc;
}

int
file_mkdirs(const char *dir, mode_t mode, struct ferry_err *err)
{
	char *p = xstrdup(dir), *s, c;
	struct stat st;
	int rc = 0;

	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (file_sys_mkdir(p, mode) == -1 && errno != EEXIST) {
			rc = ferry_err_sys(err, FERRY_EIO,
			    "cannot create directory '%s'", p);
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	if (rc == 0 && (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)))
		rc = ferry_err_set(err, FERRY_EIO, "'%s' is not a directory",
		    dir);
	free(p);
	return rc;
}
