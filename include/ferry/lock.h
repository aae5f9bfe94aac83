/*
 * lock.h: one run per state directory.
 *
 * The lock is an flock(2) on STATE/ferry.lock, a file that is never
 * removed.  The kernel drops it when the holder dies, so a killed run or a
 * rebooted host never blocks the next one; the file's content (host, boot
 * id, pid, start time of the holder) only serves to name the holder in
 * the message a second run prints, and to recognise the stale record a
 * dead run left (dead pid on this host, another boot id), which is taken
 * over and logged.  On a network file system flock is not trustworthy and
 * SQLite's WAL does not work, so such a state directory is refused unless
 * the configuration allows it (allow_network_fs).
 */
#ifndef FERRY_LOCK_H
#define FERRY_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ferry_err;

#define LOCK_FILE_NAME	"ferry.lock"

struct lock;

/* Who holds (or held) a lock, as its file records it. */
struct lock_holder {
	char	 host[256];
	char	 boot_id[64];
	long	 pid;
	int64_t	 started;	/* seconds since the epoch */
	uint64_t ticks;		/* the process's start in clock ticks after
				   boot (/proc/PID/stat): tells pid reuse */
};

/*
 * Take the lock of state directory dir.  FERRY_ELOCKED if another run
 * holds it (the message names its host, pid and start time);
 * FERRY_ECONFIG if dir is on a network file system and !allow_network_fs;
 * FERRY_EIO.  *stale (may be NULL) is set when a dead run's record was
 * taken over.  *out is released with lock_release().
 */
int lock_acquire(const char *dir, bool allow_network_fs, struct lock **out,
    bool *stale, struct ferry_err *err);
/* Drop the lock; NULL is fine. */
void lock_release(struct lock *l);

/* Read the record of dir's lock file; FERRY_ENOTFOUND if none. */
int lock_read(const char *dir, struct lock_holder *h, struct ferry_err *err);

/*
 * Is the file system of path a network one?  *name gets its type
 * ("nfs", "cifs", "fuse.sshfs"...) for messages; FERRY_EIO if path
 * cannot be examined.
 */
int lock_network_fs(const char *path, bool *network, const char **name,
    struct ferry_err *err);

/*
 * The type /proc/self/mountinfo gives for the mount holding path
 * ("ext4", "fuse.fusefat", "fuseblk" ...): a new string, or NULL.
 */
char *lock_fs_type(const char *path);

/* This host's boot id (from /proc/sys/kernel/random/boot_id), or "". */
void lock_boot_id(char *out, size_t size);

#endif
