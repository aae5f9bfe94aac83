/*
 * transport.h: moving opaque bundle files between sites, and the channel
 * that drives a transport for one connection.
 *
 * A transport is a table of functions (isync's driver.h) filled by a
 * driver: spool.c (a folder, maybe on a USB stick) and, later, mail.c.
 * A transport only moves files: it trusts nothing in them; all trust
 * comes from the bundle's signature, checked by the caller's verify hook.
 *
 * File names say connection, direction and seq, so a site picks out what
 * is addressed to it without opening anything (docs/state.md, and the
 * bundle name of docs/bundle-format.md, which these match):
 *
 *	ferry_<conn>_<from>_<to>_<seq, 12 digits>.fbz			data
 *	ferry_<conn>_<from>_<to>_c<yyyymmddThhmmss><4 hex>_<kind>.fbz	control
 *
 * Ids are [A-Za-z0-9-]{1,64}.  Every name is FAT/exFAT- and mail-safe.
 */
#ifndef FERRY_TRANSPORT_H
#define FERRY_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/seq.h"

struct ferry_err;
struct store;

#define TRANSPORT_ID_MAX	64
#define TRANSPORT_NAME_MAX	192

/* What a file name says. */
struct transport_name {
	char		 conn[TRANSPORT_ID_MAX + 1];
	char		 from[TRANSPORT_ID_MAX + 1];
	char		 to[TRANSPORT_ID_MAX + 1];
	uint64_t	 seq;		/* 0: a control message */
	char		 kind[16];	/* "data", or the control kind */
	char		 stamp[24];	/* control: the c<time><hex> part */
};

/* Is id usable in names ([A-Za-z0-9-]{1,64})? */
bool transport_id_valid(const char *id);
/* The data bundle name; FERRY_ERR if an id is not valid. */
int transport_name_data(const char *conn, const char *from, const char *to,
    uint64_t seq, char out[TRANSPORT_NAME_MAX], struct ferry_err *err);
/* A fresh control message name (UTC time of now and 4 random hex). */
int transport_name_control(const char *conn, const char *from,
    const char *to, const char *kind, int64_t now,
    char out[TRANSPORT_NAME_MAX], struct ferry_err *err);
/* Parse a name; false if it is not one of ours. */
bool transport_name_parse(const char *name, struct transport_name *out);

/* Which files of a connection a listing returns. */
enum transport_dir {
	TRANSPORT_INCOMING,	/* from the peer to this site */
	TRANSPORT_OWN,		/* this site's, to the peer */
};

struct transport_file {
	char			*name;
	struct transport_name	 info;
	uint64_t		 size;
};

struct transport;

struct transport_ops {
	const char	*name;	/* "spool" */
	/*
	 * Can files be put (writing) or fetched now?  FERRY_EUNAVAIL with
	 * the reason (not mounted, read-only ...) if not.
	 */
	int	(*check)(struct transport *t, bool writing,
		    struct ferry_err *err);
	/*
	 * Deliver the local file path (size bytes) under name, atomically.
	 * A file of that name and size already there is taken as
	 * delivered: names are never reused for other bytes.
	 * FERRY_EUNAVAIL (full, read-only, over the size limit, gone).
	 */
	int	(*put)(struct transport *t, const char *path, const char *name,
		    uint64_t size, struct ferry_err *err);
	/*
	 * The files of this connection in direction dir, sorted by name
	 * (data by seq).  *v is freed with transport_files_free().
	 */
	int	(*list)(struct transport *t, enum transport_dir dir,
		    struct transport_file **v, size_t *n,
		    struct ferry_err *err);
	/*
	 * Copy incoming file name into dir/local durably (temporary name,
	 * fsync, rename).  FERRY_ENOTFOUND if it went away meanwhile.
	 */
	int	(*fetch)(struct transport *t, const char *name, const char *dir,
		    const char *local, struct ferry_err *err);
	/* Delete one of this site's own files; a missing one is fine. */
	int	(*remove)(struct transport *t, const char *name,
		    struct ferry_err *err);
	void	(*close)(struct transport *t);
};

/* Common to every driver; the driver's own state follows. */
struct transport {
	const struct transport_ops	*ops;
	char				*conn;	/* connection id */
	char				*self;	/* this site's id */
	char				*peer;	/* the peer site's id */
};

void transport_files_free(struct transport_file *v, size_t n);
/* Close t (NULL is fine). */
void transport_close(struct transport *t);

/* The spool driver (spool.c). */
struct spool_config {
	const char	*outbox;	/* folder written to */
	const char	*inbox;		/* folder read from (may be outbox) */
	bool		 require_mount;	/* an empty folder on its parent's
					   file system (and on local_dir's)
					   is "not mounted" */
	const char	*local_dir;	/* the state directory, or NULL: a
					   medium is never on its file
					   system, so an empty folder on
					   another one is a mounted medium */
	uint64_t	 max_file;	/* 0: the file system's own limit */
};
/* Ids are copied; cfg's strings too.  FERRY_ERR for a bad id. */
int spool_open(const struct spool_config *cfg, const char *conn,
    const char *self, const char *peer, struct transport **out,
    struct ferry_err *err);

/*
 * The channel: one connection's bundles between the local outbox and
 * inbox (STATE/outbox, STATE/inbox), the store and a transport, in the
 * order that makes a kill at any instant repairable (docs/state.md):
 * a file is durable before the row naming it commits; a row commits
 * before the file it stops naming is deleted.
 */
struct channel_hooks {
	void	*ctx;
	/*
	 * Verify the local copy at path (a bundle or, control, a control
	 * message) and say what the sequencing layer needs: m->hash always
	 * (even for a rejected bundle: the hash of its bytes), the rest
	 * (seq, prev, ack, and time: the manifest's creation time) for an
	 * accepted one, and for a control message its top (0 if it names
	 * none).  FERRY_EREJECT (quarantine, message says why).
	 */
	int	(*verify)(void *ctx, const char *path, bool control,
		    struct seq_msg *m, struct ferry_err *err);
	/*
	 * Write an ack control message carrying m (its ack, time and top)
	 * to dir/name durably.
	 */
	int	(*make_ack)(void *ctx, const struct seq_msg *m, const char *dir,
		    const char *name, struct ferry_err *err);
};

struct channel {
	struct store		*store;
	struct transport	*t;
	int64_t			 conn;		/* store row id */
	char			*outdir;	/* STATE/outbox */
	char			*indir;		/* STATE/inbox */
	struct seq_state	 st;		/* as last committed */
	struct channel_hooks	 hooks;
	struct seq_rules	 rules;		/* resend, ack interval */
	int64_t			 retention;	/* seconds */
};

/* What one channel step did, for logs, status and tests. */
struct channel_stats {
	unsigned	 fetched, accepted, held, duplicates, quarantined;
	unsigned	 acks_in, sent, resent, acks_out, removed, pruned;
	bool		 stopped;	/* fork or restore: see the connection */
};

/*
 * Set c up for connection conn of state directory state_dir: creates
 * STATE/outbox and STATE/inbox, loads the sequencing state.  The store,
 * transport and hooks are borrowed.
 */
int channel_init(struct channel *c, struct store *s, struct transport *t,
    int64_t conn, const char *state_dir, const struct channel_hooks *hooks,
    struct ferry_err *err);
void channel_release(struct channel *c);
/*
 * Reload the sequencing state from the store: after the caller rolled
 * back a transaction in which it called channel_made() or
 * channel_applied().
 */
int channel_reload(struct channel *c, struct ferry_err *err);

/*
 * After a crash: remove temporary files and local files that no row
 * names (written before their row committed, or after the row stopped
 * naming them).  Runs before anything else, under the lock.
 */
int channel_repair(struct channel *c, struct ferry_err *err);

/*
 * Fetch every file addressed to this site, copy it into the local inbox,
 * verify it, and record the verdict with the ack it carries; then delete
 * this site's own acknowledged files from the transport.  FERRY_EUNAVAIL
 * if the transport is not there (nothing changed).
 */
int channel_receive(struct channel *c, int64_t now, struct channel_stats *s,
    struct ferry_err *err);

/*
 * The next bundle: its seq and the prev hash it must carry, and its file
 * name in the local outbox.
 */
uint64_t channel_next_seq(const struct channel *c);
int channel_next_name(const struct channel *c, char out[TRANSPORT_NAME_MAX],
    struct ferry_err *err);
/*
 * The bundle the caller wrote durably to STATE/outbox/name exists now:
 * record it (in the caller's open transaction, so the export watermark
 * moves with it; if that rolls back, channel_reload()).
 */
int channel_made(struct channel *c, const char *name,
    const struct seq_hash *hash, uint64_t size, int64_t now,
    struct ferry_err *err);

/*
 * Send what is due: unacknowledged bundles never sent or not acked for
 * resend_after, then an ack control message if due (seq_ack_due(): a
 * bundle made in this run carries the ack, so none is owed then).
 * FERRY_EUNAVAIL if the transport cannot take them: they stay in the
 * local outbox.
 */
int channel_send(struct channel *c, int64_t now, struct channel_stats *s,
    struct ferry_err *err);

/*
 * The next received bundle to apply (seq in_applied + 1), or
 * FERRY_ENOTFOUND.  *r is released by the caller (store_in_release).
 */
struct store_in;
int channel_next_to_apply(struct channel *c, struct store_in *r,
    struct ferry_err *err);
/* Record r applied (in the caller's open transaction). */
int channel_applied(struct channel *c, const struct store_in *r, int64_t now,
    struct ferry_err *err);

/* Delete local files acked/applied longer than retention ago. */
int channel_prune(struct channel *c, int64_t now, struct channel_stats *s,
    struct ferry_err *err);

#endif
