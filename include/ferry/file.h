/*
 * file.h: the one way ferry writes files that must survive a crash, and
 * the one way it reads whole files.
 *
 * A write goes to ".<name>.tmp" in the target directory (O_CREAT|O_EXCL),
 * loops on short writes, fsyncs, checks close, renames, then fsyncs the
 * directory, tolerating file systems that cannot (SQLite's unixSync does
 * the same).  Readers skip dot-names.  Never trust the rename alone: a
 * bundle carries its own sizes and hashes.
 *
 * Every system call goes through a table that tests can make fail
 * (file_fault_inject), so each error path is exercised for real.
 */
#ifndef FERRY_FILE_H
#define FERRY_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct buf;
struct ferry_err;

/* Write data to dir/name atomically with the given mode. */
int file_write_atomic(const char *dir, const char *name, const void *data,
    size_t len, mode_t mode, struct ferry_err *err);

/* A streaming atomic write, for content too large to hold in memory. */
struct file_atomic {
	int	 fd;
	char	*dir;
	char	*path;		/* final path */
	char	*tmp;		/* temporary path */
	off_t	 written;
};
#define FILE_ATOMIC_INIT { -1, NULL, NULL, NULL, 0 }

int file_atomic_open(struct file_atomic *fa, const char *dir,
    const char *name, mode_t mode, struct ferry_err *err);
int file_atomic_write(struct file_atomic *fa, const void *data, size_t len,
    struct ferry_err *err);
/* fsync, close, rename, fsync dir.  fa is released either way. */
int file_atomic_commit(struct file_atomic *fa, struct ferry_err *err);
/* Close and remove the temporary file; fa is released.  Safe to repeat. */
void file_atomic_abort(struct file_atomic *fa);

/*
 * Read the whole of path into b (appending).  Fails with FERRY_ELIMIT if it
 * would pass b->max, FERRY_ENOTFOUND if path does not exist.
 */
int file_read(const char *path, struct buf *b, struct ferry_err *err);

/* Write all of data to fd, looping on short writes and EINTR. */
int file_write_all(int fd, const void *data, size_t len, const char *what,
    struct ferry_err *err);

/* fsync a directory; EINVAL/ENOTSUP (file systems that cannot) is fine. */
int file_fsync_dir(const char *dir, struct ferry_err *err);

/* Create dir and missing parents with mode (like mkdir -p). */
int file_mkdirs(const char *dir, mode_t mode, struct ferry_err *err);

/* True if path exists (any type). */
bool file_exists(const char *path);

/* Join a directory and a name; the caller frees the result. */
char *file_join(const char *dir, const char *name);

/*
 * Fault injection (tests).  Make the nth call (1-based, counted from now)
 * of op fail with errno err_no; sticky keeps failing from then on.
 */
enum file_op {
	FILE_OP_OPEN, FILE_OP_WRITE, FILE_OP_FSYNC, FILE_OP_CLOSE,
	FILE_OP_RENAME, FILE_OP_READ, FILE_OP_MKDIR, FILE_OP_UNLINK,
	FILE_OP__COUNT
};
void file_fault_inject(enum file_op op, int nth, int err_no, bool sticky);
void file_fault_clear(void);

/* The system calls, through the fault table.  Same contracts as POSIX. */
int file_sys_open(const char *path, int flags, mode_t mode);
ssize_t file_sys_write(int fd, const void *data, size_t len);
ssize_t file_sys_read(int fd, void *data, size_t len);
int file_sys_fsync(int fd);
int file_sys_close(int fd);
int file_sys_rename(const char *from, const char *to);
int file_sys_mkdir(const char *path, mode_t mode);
int file_sys_unlink(const char *path);

#endif
