/*
 * spool.c: file names, and the spool transport: a folder (maybe on a USB
 * stick, maybe shared by several sites and connections) that this site
 * writes its own files to and reads files addressed to it from.
 *
 * Rules (docs/state.md): read only files whose name addresses this site
 * on this connection; never move, rename or delete a file it did not
 * write; write to a dot-name, fsync, rename; and report a folder that is
 * not mounted, read-only, full or too small for a file as "transport
 * unavailable", so the bundle stays in the local outbox.
 */
#include "ferry/common.h"
#include "ferry/crash.h"
#include "ferry/file.h"
#include "ferry/lock.h"
#include "ferry/transport.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define NAME_PREFIX	"ferry_"
#define NAME_SUFFIX	".fbz"
#define SEQ_DIGITS	12
#define MSDOS_MAGIC	0x4d44
#define FAT_FILE_MAX	UINT64_C(0xffffffff)	/* 4 GiB - 1 */

bool
transport_id_valid(const char *id)
{
	size_t n;

	for (n = 0; id[n] != '\0'; n++)
		if (!((id[n] >= 'a' && id[n] <= 'z') ||
		    (id[n] >= 'A' && id[n] <= 'Z') ||
		    (id[n] >= '0' && id[n] <= '9') || id[n] == '-'))
			return false;
	return n >= 1 && n <= TRANSPORT_ID_MAX;
}

static int
check_ids(const char *conn, const char *from, const char *to,
    struct ferry_err *err)
{
	if (!transport_id_valid(conn) || !transport_id_valid(from) ||
	    !transport_id_valid(to))
		return ferry_err_set(err, FERRY_ERR, "connection or site id "
		    "not usable in a file name (want [A-Za-z0-9-]{1,64})");
	return 0;
}

int
transport_name_data(const char *conn, const char *from, const char *to,
    uint64_t seq, char out[TRANSPORT_NAME_MAX], struct ferry_err *err)
{
	int rc, n;

	if ((rc = check_ids(conn, from, to, err)) < 0)
		return rc;
	assert(seq > 0 && seq < UINT64_C(1000000000000));
	n = snprintf(out, TRANSPORT_NAME_MAX, NAME_PREFIX "%s_%s_%s_%0*"
	    PRIu64 NAME_SUFFIX, conn, from, to, SEQ_DIGITS, seq);
	assert(n > 0 && n < TRANSPORT_NAME_MAX);
	return 0;
}

int
transport_name_control(const char *conn, const char *from, const char *to,
    const char *kind, int64_t now, char out[TRANSPORT_NAME_MAX],
    struct ferry_err *err)
{
	static unsigned counter;
	time_t t = (time_t)now;
	struct tm tm;
	char when[32];
	unsigned r;
	int rc, n;

	if ((rc = check_ids(conn, from, to, err)) < 0)
		return rc;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y%m%dT%H%M%S", &tm) != 15)
		return ferry_err_set(err, FERRY_ERR, "bad time %" PRId64, now);
	/* Two in one second differ; later ones sort after earlier ones. */
	r = ((unsigned)getpid() * 2654435761u + counter++) & 0xffff;
	n = snprintf(out, TRANSPORT_NAME_MAX, NAME_PREFIX "%s_%s_%s_c%s%04x_%s"
	    NAME_SUFFIX, conn, from, to, when, r, kind);
	assert(n > 0 && n < TRANSPORT_NAME_MAX);
	return 0;
}

/* Take an id up to the next '_' from *p. */
static bool
take_id(const char **p, char out[TRANSPORT_ID_MAX + 1])
{
	size_t n = 0;

	while ((*p)[n] != '\0' && (*p)[n] != '_') {
		if (n == TRANSPORT_ID_MAX)
			return false;
		out[n] = (*p)[n];
		n++;
	}
	out[n] = '\0';
	if ((*p)[n] != '_' || !transport_id_valid(out))
		return false;
	*p += n + 1;
	return true;
}

bool
transport_name_parse(const char *name, struct transport_name *out)
{
	const char *p = name, *end;
	size_t len = strlen(name), i, n;
	uint64_t seq = 0;

	memset(out, 0, sizeof(*out));
	if (len >= TRANSPORT_NAME_MAX || len < strlen(NAME_PREFIX NAME_SUFFIX) ||
	    strncmp(name, NAME_PREFIX, strlen(NAME_PREFIX)) != 0 ||
	    strcmp(name + len - strlen(NAME_SUFFIX), NAME_SUFFIX) != 0)
		return false;
	end = name + len - strlen(NAME_SUFFIX);
	p += strlen(NAME_PREFIX);
	if (!take_id(&p, out->conn) || !take_id(&p, out->from) ||
	    !take_id(&p, out->to))
		return false;
	if (*p == 'c') {
		/* c<yyyymmddThhmmss><4 hex>_<kind> */
		const char *us = memchr(p, '_', (size_t)(end - p));

		if (us == NULL || us - p != 20 || p[9] != 'T')
			return false;
		for (i = 1; i < 20; i++)
			if (i != 9 && !(i < 16 ? (p[i] >= '0' && p[i] <= '9') :
			    ((p[i] >= '0' && p[i] <= '9') ||
			    (p[i] >= 'a' && p[i] <= 'f'))))
				return false;
		memcpy(out->stamp, p, 20);
		n = (size_t)(end - us - 1);
		if (n == 0 || n >= sizeof(out->kind))
			return false;
		for (i = 0; i < n; i++)
			if (!((us[1 + i] >= 'a' && us[1 + i] <= 'z') ||
			    us[1 + i] == '-'))
				return false;
		memcpy(out->kind, us + 1, n);
		out->seq = 0;
		return true;
	}
	if (end - p != SEQ_DIGITS)
		return false;
	for (i = 0; i < SEQ_DIGITS; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		seq = seq * 10 + (uint64_t)(p[i] - '0');
	}
	if (seq == 0)
		return false;
	out->seq = seq;
	snprintf(out->kind, sizeof(out->kind), "data");
	return true;
}

void
transport_files_free(struct transport_file *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

void
transport_close(struct transport *t)
{
	if (t != NULL)
		t->ops->close(t);
}

/* The spool driver. */

struct spool {
	struct transport t;	/* first: a struct transport * is a spool */
	char		*outbox;
	char		*inbox;
	char		*local_dir;
	bool		 require_mount;
	uint64_t	 max_file;
};

/* Errors of a medium that went away, filled up or turned read-only. */
static bool
errno_unavailable(int e)
{
	return e == ENOSPC || e == EDQUOT || e == EROFS || e == EFBIG ||
	    e == ENOENT || e == ENODEV || e == ENXIO || e == ENOTCONN ||
	    e == EIO || e == ESTALE || e == EACCES || e == EPERM;
}

static int unavailable(struct ferry_err *err, int e, const char *fmt, ...)
    FERRY_PRINTF(3, 4);

static int
unavailable(struct ferry_err *err, int e, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (e == ENOSPC || e == EDQUOT)
		return ferry_err_set(err, FERRY_EUNAVAIL,
		    "transport unavailable: %s: the medium is full", what);
	if (e == EROFS)
		return ferry_err_set(err, FERRY_EUNAVAIL,
		    "transport unavailable: %s: the medium is read-only",
		    what);
	if (e == EFBIG)
		return ferry_err_set(err, FERRY_EUNAVAIL,
		    "transport unavailable: %s: the file is larger than the "
		    "medium allows", what);
	errno = e;
	return ferry_err_sys(err, FERRY_EUNAVAIL,
	    "transport unavailable: %s", what);
}

/* The parent directory of dir (a new string). */
static char *
parent_of(const char *dir)
{
	char *p = xstrdup(dir), *s;
	size_t n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	if ((s = strrchr(p, '/')) == NULL) {
		free(p);
		return xstrdup(".");
	}
	if (s == p)
		s[1] = '\0';
	else
		*s = '\0';
	return p;
}

static bool
dir_is_empty(const char *dir)
{
	struct dirent *de;
	DIR *d;
	bool empty = true;

	if ((d = opendir(dir)) == NULL)
		return false;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			empty = false;
			break;
		}
	closedir(d);
	return empty;
}

static int
check_dir(struct spool *sp, const char *dir, bool writing,
    struct ferry_err *err)
{
	struct stat st, pst, lst;
	struct statvfs vfs;
	char *parent;
	bool unmounted;

	if (stat(dir, &st) == -1)
		return unavailable(err, errno, "spool folder '%s' (is the "
		    "medium mounted?)", dir);
	if (!S_ISDIR(st.st_mode))
		return ferry_err_set(err, FERRY_ECONFIG,
		    "spool folder '%s' is not a folder", dir);
	if (sp->require_mount) {
		/*
		 * A mount point with nothing mounted is an empty folder on
		 * its parent's file system.  An empty folder inside a
		 * mounted medium (/media/usb/ferry on a fresh stick) is on
		 * its parent's file system too, but not on the state
		 * directory's: the medium is there.
		 */
		parent = parent_of(dir);
		unmounted = stat(parent, &pst) == 0 &&
		    pst.st_dev == st.st_dev && dir_is_empty(dir) &&
		    (sp->local_dir == NULL || (stat(sp->local_dir, &lst) ==
		    0 && lst.st_dev == st.st_dev));
		free(parent);
		if (unmounted)
			return ferry_err_set(err, FERRY_EUNAVAIL,
			    "transport unavailable: spool folder '%s' is an "
			    "empty folder on its parent's file system: the "
			    "medium is not mounted (set require_mount = false "
			    "if it is a plain folder)", dir);
	}
	if (writing && statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
		return ferry_err_set(err, FERRY_EUNAVAIL,
		    "transport unavailable: spool folder '%s' is on a "
		    "read-only medium", dir);
	return 0;
}

static int
spool_check(struct transport *t, bool writing, struct ferry_err *err)
{
	struct spool *sp = (struct spool *)t;

	return check_dir(sp, writing ? sp->outbox : sp->inbox, writing, err);
}

/*
 * The largest file the outbox's file system takes: FAT (the kernel's
 * vfat, or FUSE's fusefat) stops at 4 GiB - 1; exFAT has no such limit.
 */
static uint64_t
file_limit(struct spool *sp)
{
	struct statfs sf;
	uint64_t lim = sp->max_file ? sp->max_file : UINT64_MAX;
	char *type;
	bool fat = false;

	if (statfs(sp->outbox, &sf) == 0) {
		if ((uint32_t)sf.f_type == MSDOS_MAGIC)
			fat = true;
		else if ((type = lock_fs_type(sp->outbox)) != NULL) {
			fat = strstr(type, "fat") != NULL &&
			    strstr(type, "exfat") == NULL;
			free(type);
		}
	}
	if (fat && lim > FAT_FILE_MAX)
		lim = FAT_FILE_MAX;
	return lim;
}

/* fsync that forgives file systems that cannot (FUSE, some FAT). */
static int
sync_fd(int fd)
{
	if (file_sys_fsync(fd) == -1 && errno != EINVAL && errno != ENOSYS &&
	    errno != ENOTSUP)
		return -1;
	return 0;
}

/*
 * Copy src into dir/name through ".name.tmp": write, fsync, close,
 * rename, fsync the folder.  On failure the temporary file is removed.
 * Errors are FERRY_EIO with errno in err->sys; the caller decides
 * whether that means "unavailable".
 */
static int
copy_atomic(const char *src, const char *dir, const char *name,
    uint64_t limit, bool *reading, struct ferry_err *err)
{
	char *tmpname = xasprintf(".%s.tmp", name);
	char *tmp = file_join(dir, tmpname), *dst = file_join(dir, name);
	char chunk[65536];
	uint64_t total = 0;
	int in = -1, out = -1, rc = FERRY_EIO, fd;
	ssize_t n;

	*reading = true;
	in = file_sys_open(src, O_RDONLY, 0);
	if (in == -1) {
		rc = ferry_err_sys(err, errno == ENOENT ? FERRY_ENOTFOUND :
		    FERRY_EIO, "cannot open '%s'", src);
		goto out;
	}
	*reading = false;
	if (file_sys_unlink(tmp) == -1 && errno != ENOENT) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot remove '%s'", tmp);
		goto out;
	}
	out = file_sys_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (out == -1) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot create '%s'", tmp);
		goto out;
	}
	for (;;) {
		n = file_sys_read(in, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*reading = true;
			rc = ferry_err_sys(err, FERRY_EIO, "cannot read '%s'",
			    src);
			goto out;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > limit) {
			errno = EFBIG;
			rc = ferry_err_sys(err, FERRY_EIO, "cannot write "
			    "'%s'", tmp);
			goto out;
		}
		if ((rc = file_write_all(out, chunk, (size_t)n, tmp, err)) < 0)
			goto out;
	}
	rc = FERRY_EIO;
	if (sync_fd(out) == -1) {
		ferry_err_sys(err, FERRY_EIO, "cannot sync '%s'", tmp);
		goto out;
	}
	fd = out;
	out = -1;
	if (file_sys_close(fd) == -1) {
		ferry_err_sys(err, FERRY_EIO, "cannot close '%s'", tmp);
		goto out;
	}
	if (file_sys_rename(tmp, dst) == -1) {
		ferry_err_sys(err, FERRY_EIO, "cannot rename '%s' to '%s'",
		    tmp, dst);
		goto out;
	}
	FREE_AND_NULL(tmp);
	fd = file_sys_open(dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd != -1) {
		if (sync_fd(fd) == -1 && errno != EBADF) {
			ferry_err_sys(err, FERRY_EIO, "cannot sync '%s'", dir);
			close(fd);
			goto out;
		}
		close(fd);
	}
	rc = 0;
out:
	if (in != -1)
		close(in);
	if (out != -1)
		close(out);
	if (rc < 0 && tmp != NULL) {
		int saved = errno;

		unlink(tmp);
		errno = saved;
	}
	free(tmpname);
	free(tmp);
	free(dst);
	return rc;
}

static int
spool_put(struct transport *t, const char *path, const char *name,
    uint64_t size, struct ferry_err *err)
{
	struct spool *sp = (struct spool *)t;
	struct transport_name info;
	struct stat st;
	char *dst = NULL;
	uint64_t limit;
	bool reading;
	int rc;

	assert(transport_name_parse(name, &info) &&
	    strcmp(info.from, t->self) == 0);
	(void)info;
	if ((rc = check_dir(sp, sp->outbox, true, err)) < 0)
		return rc;
	limit = file_limit(sp);
	if (size > limit)
		return ferry_err_set(err, FERRY_EUNAVAIL, "transport "
		    "unavailable: '%s' (%" PRIu64 " bytes) is over the file "
		    "size limit of spool folder '%s' (%" PRIu64 " bytes)",
		    name, size, sp->outbox, limit);
	dst = file_join(sp->outbox, name);
	/* Our names never carry other bytes: one there is delivered. */
	if (stat(dst, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size == size) {
		free(dst);
		return 0;
	}
	free(dst);
	rc = copy_atomic(path, sp->outbox, name, limit, &reading, err);
	if (rc == FERRY_EIO && !reading && errno_unavailable(err->sys))
		rc = unavailable(err, err->sys, "cannot write to spool folder "
		    "'%s'", sp->outbox);
	return rc;
}

static int
cmp_files(const void *a, const void *b)
{
	return strcmp(((const struct transport_file *)a)->name,
	    ((const struct transport_file *)b)->name);
}

static int
spool_list(struct transport *t, enum transport_dir dir,
    struct transport_file **v, size_t *n, struct ferry_err *err)
{
	struct spool *sp = (struct spool *)t;
	const char *folder = dir == TRANSPORT_INCOMING ? sp->inbox :
	    sp->outbox;
	const char *from = dir == TRANSPORT_INCOMING ? t->peer : t->self;
	const char *to = dir == TRANSPORT_INCOMING ? t->self : t->peer;
	struct transport_name info;
	struct dirent *de;
	struct stat st;
	size_t cap = 0;
	char *path;
	DIR *d;
	int rc;

	*v = NULL;
	*n = 0;
	if ((rc = check_dir(sp, folder, false, err)) < 0)
		return rc;
	if ((d = opendir(folder)) == NULL)
		return unavailable(err, errno, "cannot read spool folder '%s'",
		    folder);
	while ((errno = 0, de = readdir(d)) != NULL) {
		/* Dot-names are files being written; others are not ours. */
		if (de->d_name[0] == '.' ||
		    !transport_name_parse(de->d_name, &info) ||
		    strcmp(info.conn, t->conn) != 0 ||
		    strcmp(info.from, from) != 0 || strcmp(info.to, to) != 0)
			continue;
		path = file_join(folder, de->d_name);
		rc = stat(path, &st);
		free(path);
		if (rc == -1 || !S_ISREG(st.st_mode))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			*v = xreallocarray(*v, cap, sizeof(**v));
		}
		(*v)[*n].name = xstrdup(de->d_name);
		(*v)[*n].info = info;
		(*v)[*n].size = (uint64_t)st.st_size;
		(*n)++;
	}
	rc = errno;
	closedir(d);
	if (rc != 0) {
		transport_files_free(*v, *n);
		*v = NULL;
		*n = 0;
		return unavailable(err, rc, "cannot read spool folder '%s'",
		    folder);
	}
	if (*n > 1)
		qsort(*v, *n, sizeof(**v), cmp_files);
	return 0;
}

static int
spool_fetch(struct transport *t, const char *name, const char *dir,
    const char *local, struct ferry_err *err)
{
	struct spool *sp = (struct spool *)t;
	char *src = file_join(sp->inbox, name);
	bool reading;
	int rc;

	rc = copy_atomic(src, dir, local, UINT64_MAX, &reading, err);
	free(src);
	/*
	 * A failure reading the medium is "unavailable"; one writing the
	 * local inbox (our own disk full) is a plain error.
	 */
	if (rc == FERRY_EIO && reading && errno_unavailable(err->sys))
		rc = unavailable(err, err->sys, "cannot read from spool "
		    "folder '%s'", sp->inbox);
	return rc;
}

static int
spool_remove(struct transport *t, const char *name, struct ferry_err *err)
{
	struct spool *sp = (struct spool *)t;
	struct transport_name info;
	char *path;
	int rc = 0;

	/* Only our own files: never one another site wrote. */
	if (!transport_name_parse(name, &info) ||
	    strcmp(info.from, t->self) != 0 || strcmp(info.conn, t->conn) != 0)
		return ferry_err_set(err, FERRY_ERR, "refusing to remove "
		    "'%s': not written by this site", name);
	path = file_join(sp->outbox, name);
	if (file_sys_unlink(path) == -1 && errno != ENOENT) {
		rc = errno_unavailable(errno) ? unavailable(err, errno,
		    "cannot remove '%s'", path) : ferry_err_sys(err, FERRY_EIO,
		    "cannot remove '%s'", path);
	}
	free(path);
	return rc;
}

static void
spool_close(struct transport *t)
{
	struct spool *sp = (struct spool *)t;

	free(sp->outbox);
	free(sp->inbox);
	free(sp->local_dir);
	free(t->conn);
	free(t->self);
	free(t->peer);
	free(sp);
}

static const struct transport_ops spool_ops = {
	"spool", spool_check, spool_put, spool_list, spool_fetch,
	spool_remove, spool_close,
};

int
spool_open(const struct spool_config *cfg, const char *conn,
    const char *self, const char *peer, struct transport **out,
    struct ferry_err *err)
{
	struct spool *sp;
	int rc;

	*out = NULL;
	if ((rc = check_ids(conn, self, peer, err)) < 0)
		return rc;
	if (cfg->outbox == NULL || cfg->inbox == NULL)
		return ferry_err_set(err, FERRY_ECONFIG,
		    "a spool connection needs outbox and inbox folders");
	sp = xcalloc(1, sizeof(*sp));
	sp->t.ops = &spool_ops;
	sp->t.conn = xstrdup(conn);
	sp->t.self = xstrdup(self);
	sp->t.peer = xstrdup(peer);
	sp->outbox = xstrdup(cfg->outbox);
	sp->inbox = xstrdup(cfg->inbox);
	sp->local_dir = cfg->local_dir != NULL ? xstrdup(cfg->local_dir) :
	    NULL;
	sp->require_mount = cfg->require_mount;
	sp->max_file = cfg->max_file;
	*out = &sp->t;
	return 0;
}
