/* lock.c: one run per state directory (see lock.h). */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/file.h"
#include "ferry/lock.h"
#include "ferry/log.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

struct lock {
	int	 fd;
	char	*path;
};

/* statfs(2) magic numbers of file systems shared over a network. */
static const struct {
	long		 magic;
	const char	*name;
} netfs[] = {
	{ 0x6969, "nfs" },
	{ 0x517b, "smb" },
	{ (long)0xff534d42, "cifs" },
	{ (long)0xfe534d42, "smb2" },
	{ 0x5346414f, "afs" },
	{ 0x6b414653, "afs" },
	{ 0x00c36400, "ceph" },
	{ 0x73757245, "coda" },
	{ 0x01021997, "9p" },
	{ 0x01161970, "gfs2" },
	{ 0x7461636f, "ocfs2" },
	{ 0x0bd00bd0, "lustre" },
	{ 0x47504653, "gpfs" },
	{ 0x564c, "ncp" },
};

#define FUSE_SUPER_MAGIC	0x65735546

/* FUSE file systems that reach another machine. */
static const char *const netfuse[] = {
	"fuse.sshfs", "fuse.s3fs", "fuse.rclone", "fuse.gcsfuse",
	"fuse.glusterfs", "fuse.davfs", "fuse.curlftpfs", "fuse.smbnetfs",
	"fuse.juicefs", "fuse.goofys",
};

/*
 * The file system type that /proc/self/mountinfo gives for the mount
 * holding path (the longest mount point that is a prefix of it).
 */
char *
lock_fs_type(const char *path)
{
	char *real = realpath(path, NULL), *line = NULL, *best = NULL;
	size_t cap = 0, bestlen = 0, n;
	FILE *fp;

	if (real == NULL || (fp = fopen("/proc/self/mountinfo", "re")) ==
	    NULL) {
		free(real);
		return NULL;
	}
	while (getline(&line, &cap, fp) != -1) {
		char mp[4096], type[256], *sep;

		/* id parent maj:min root mountpoint opts ... - type src */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    (sep = strstr(line, " - ")) == NULL ||
		    sscanf(sep + 3, "%255s", type) != 1)
			continue;
		n = strlen(mp);
		if (strncmp(real, mp, n) != 0 || (real[n] != '/' &&
		    real[n] != '\0' && !(n == 1 && mp[0] == '/')))
			continue;
		if (best == NULL || n >= bestlen) {
			free(best);
			best = xstrdup(type);
			bestlen = n;
		}
	}
	free(line);
	fclose(fp);
	free(real);
	return best;
}

int
lock_network_fs(const char *path, bool *network, const char **name,
    struct ferry_err *err)
{
	static char fusename[64];
	struct statfs sf;
	size_t i;
	char *type;

	*network = false;
	*name = "local";
	if (statfs(path, &sf) == -1)
		return ferry_err_sys(err, FERRY_EIO,
		    "cannot examine the file system of '%s'", path);
	for (i = 0; i < FERRY_ARRAY_SIZE(netfs); i++) {
		if ((long)(uint32_t)sf.f_type == netfs[i].magic ||
		    (long)sf.f_type == netfs[i].magic) {
			*network = true;
			*name = netfs[i].name;
			return 0;
		}
	}
	if ((uint32_t)sf.f_type != FUSE_SUPER_MAGIC)
		return 0;
	*name = "fuse";
	if ((type = lock_fs_type(path)) == NULL)
		return 0;
	for (i = 0; i < FERRY_ARRAY_SIZE(netfuse); i++) {
		if (strcmp(type, netfuse[i]) == 0) {
			*network = true;
			snprintf(fusename, sizeof(fusename), "%s", type);
			*name = fusename;
		}
	}
	free(type);
	return 0;
}

void
lock_boot_id(char *out, size_t size)
{
	struct buf b = BUF_INIT(256);

	out[0] = '\0';
	if (file_read("/proc/sys/kernel/random/boot_id", &b, NULL) == 0) {
		while (b.len > 0 && (b.data[b.len - 1] == '\n'))
			b.data[--b.len] = '\0';
		snprintf(out, size, "%s", b.data);
	}
	buf_release(&b);
}

/* Field 22 of /proc/PID/stat: the start time in ticks after boot. */
static uint64_t
proc_ticks(long pid)
{
	struct buf b = BUF_INIT(4096);
	char path[64], *p;
	unsigned long long t = 0;
	int i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (file_read(path, &b, NULL) == 0 &&
	    (p = strrchr(b.data, ')')) != NULL) {
		/* After "pid (comm)": field 3 onward; skip to field 22. */
		for (i = 3; i < 22 && p != NULL; i++)
			p = strchr(p + 1, ' ');
		if (p != NULL)
			t = strtoull(p + 1, NULL, 10);
	}
	buf_release(&b);
	return t;
}

/* Copy src into dst[size], cut to fit (a record is outside input). */
static void
copy_field(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
parse_record(const char *text, struct lock_holder *h)
{
	const char *p = text, *eol;
	char line[512];
	size_t n;

	memset(h, 0, sizeof(*h));
	while (*p != '\0') {
		eol = strchr(p, '\n');
		n = eol != NULL ? (size_t)(eol - p) : strlen(p);
		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			if (strncmp(line, "host=", 5) == 0)
				copy_field(h->host, sizeof(h->host),
				    line + 5);
			else if (strncmp(line, "boot_id=", 8) == 0)
				copy_field(h->boot_id, sizeof(h->boot_id),
				    line + 8);
			else if (strncmp(line, "pid=", 4) == 0)
				h->pid = strtol(line + 4, NULL, 10);
			else if (strncmp(line, "started=", 8) == 0)
				h->started = strtoll(line + 8, NULL, 10);
			else if (strncmp(line, "ticks=", 6) == 0)
				h->ticks = strtoull(line + 6, NULL, 10);
		}
		p += n;
		if (*p == '\n')
			p++;
	}
}

int
lock_read(const char *dir, struct lock_holder *h, struct ferry_err *err)
{
	struct buf b = BUF_INIT(4096);
	char *path = file_join(dir, LOCK_FILE_NAME);
	int rc;

	memset(h, 0, sizeof(*h));
	if ((rc = file_read(path, &b, err)) == 0) {
		if (b.len == 0)
			rc = ferry_err_set(err, FERRY_ENOTFOUND,
			    "'%s' names no run", path);
		else
			parse_record(b.data, h);
	}
	buf_release(&b);
	free(path);
	return rc;
}

static void
format_time(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, size, "%" PRId64, t);
}

/*
 * The record of a run that is gone may be replaced; a run that is still
 * alive on this host (same boot, same pid, same start) may not, even if
 * the flock says otherwise (a forced network file system).
 */
static bool
record_is_stale(const struct lock_holder *h, const char *host,
    const char *boot, const char **why)
{
	if (strcmp(h->host, host) != 0) {
		*why = "another host";
		return false;
	}
	if (strcmp(h->boot_id, boot) != 0) {
		*why = "the host rebooted since";
		return true;
	}
	if (h->pid <= 0 || (kill((pid_t)h->pid, 0) == -1 && errno == ESRCH)) {
		*why = "the process is gone";
		return true;
	}
	if (proc_ticks(h->pid) != h->ticks) {
		*why = "its pid now belongs to another process";
		return true;
	}
	*why = "the process is still running";
	return false;
}

static int
locked_error(const char *dir, const struct lock_holder *h,
    struct ferry_err *err)
{
	char when[64];

	if (h->pid == 0)
		return ferry_err_set(err, FERRY_ELOCKED,
		    "state directory '%s' is in use by another ferry run",
		    dir);
	format_time(h->started, when, sizeof(when));
	return ferry_err_set(err, FERRY_ELOCKED, "state directory '%s' is in "
	    "use by ferry pid %ld on host %s, started %s", dir, h->pid,
	    h->host, when);
}

int
lock_acquire(const char *dir, bool allow_network_fs, struct lock **out,
    bool *stale, struct ferry_err *err)
{
	struct lock *l = xcalloc(1, sizeof(*l));
	struct lock_holder old, me;
	struct buf rec = BUF_INIT(4096);
	const char *fsname, *why;
	bool network;
	char when[64];
	int rc;

	*out = NULL;
	if (stale != NULL)
		*stale = false;
	l->fd = -1;
	if ((rc = lock_network_fs(dir, &network, &fsname, err)) < 0)
		goto out;
	if (network && !allow_network_fs) {
		rc = ferry_err_set(err, FERRY_ECONFIG, "state directory '%s' "
		    "is on a network file system (%s), where locks and "
		    "SQLite's write-ahead log are not safe: move it to a "
		    "local disk, or set allow_network_fs = true in [site] "
		    "at your own risk", dir, fsname);
		goto out;
	}
	l->path = file_join(dir, LOCK_FILE_NAME);
	l->fd = file_sys_open(l->path, O_RDWR | O_CREAT, 0644);
	if (l->fd == -1) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot open lock '%s'",
		    l->path);
		goto out;
	}
	memset(&me, 0, sizeof(me));
	if (gethostname(me.host, sizeof(me.host) - 1) == -1)
		snprintf(me.host, sizeof(me.host), "unknown");
	lock_boot_id(me.boot_id, sizeof(me.boot_id));
	me.pid = (long)getpid();
	me.started = (int64_t)time(NULL);
	me.ticks = proc_ticks(me.pid);

	if (flock(l->fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK) {
			rc = ferry_err_sys(err, FERRY_EIO,
			    "cannot lock '%s'", l->path);
			goto out;
		}
		lock_read(dir, &old, NULL);
		rc = locked_error(dir, &old, err);
		goto out;
	}
	/*
	 * A record left in the file means its run ended without releasing
	 * (release empties it).  Take it over if that run is provably gone.
	 */
	if (lock_read(dir, &old, NULL) == 0) {
		/*
		 * On a local file system the flock is the truth: whatever
		 * the record says, its run is gone.  Where the flock may not
		 * be shared (a network file system, forced), only a record
		 * proven dead on this host is taken over.
		 */
		if (!record_is_stale(&old, me.host, me.boot_id, &why) &&
		    network && (strcmp(old.host, me.host) != 0 ||
		    old.pid != me.pid)) {
			rc = locked_error(dir, &old, err);
			goto out;
		}
		if (!network && strcmp(old.host, me.host) == 0 &&
		    old.pid == me.pid)
			why = "this process held it before";
		else if (!network && strcmp(old.host, me.host) != 0)
			why = "written on another host, and the lock is free";
		format_time(old.started, when, sizeof(when));
		log_info("taking over the lock of '%s' from ferry pid %ld on "
		    "host %s, started %s: %s", dir, old.pid, old.host, when,
		    why);
		if (stale != NULL)
			*stale = true;
	}
	buf_addf(&rec, "host=%s\nboot_id=%s\npid=%ld\nstarted=%" PRId64
	    "\nticks=%" PRIu64 "\n", me.host, me.boot_id, me.pid, me.started,
	    me.ticks);
	if (ftruncate(l->fd, 0) == -1 ||
	    pwrite(l->fd, rec.data, rec.len, 0) != (ssize_t)rec.len ||
	    file_sys_fsync(l->fd) == -1) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot write lock '%s'",
		    l->path);
		goto out;
	}
	*out = l;
	l = NULL;
	rc = 0;
out:
	buf_release(&rec);
	if (l != NULL) {
		if (l->fd != -1)
			close(l->fd);
		free(l->path);
		free(l);
	}
	return rc;
}

void
lock_release(struct lock *l)
{
	if (l == NULL)
		return;
	/* An empty file says "released": no takeover message next time. */
	if (ftruncate(l->fd, 0) == -1)
		log_debug("cannot empty lock '%s': %s", l->path,
		    strerror(errno));
	close(l->fd);
	free(l->path);
	free(l);
}
