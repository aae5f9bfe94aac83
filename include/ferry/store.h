/*
 * store.h: the site's memory, one SQLite database at STATE/ferry.db.
 *
 * Opened in WAL mode with synchronous=FULL (a commit is durable when
 * store_commit() returns: files are deleted or renamed only after the row
 * that stops naming them has committed), foreign keys on and a busy
 * timeout.  The schema is versioned with PRAGMA user_version: an older
 * database is migrated in one transaction per step; a newer one is refused
 * with FERRY_EVERSION.  docs/state.md describes every table.
 *
 * The typed functions below are what the sequencing layer needs; the sync
 * engine's tables (twins, snapshots, journal, ...) come with minimal
 * accessors, and store_db() gives the sync engine the handle for more.
 *
 * Ownership: strings in the structs filled by store_*_get() and lists are
 * the caller's, freed with the matching *_release()/store_*_free().  All
 * functions fail with FERRY_EIO (SQLite's message in err, a full disk
 * named as such) unless documented otherwise; on failure inside a
 * transaction the caller calls store_rollback().
 */
#ifndef FERRY_STORE_H
#define FERRY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/seq.h"

struct ferry_err;
struct sqlite3;

#define STORE_DB_NAME		"ferry.db"
#define STORE_SCHEMA_VERSION	4
#define STORE_BUSY_MS		10000

struct store;

/*
 * Open (creating if needed) dir/ferry.db and migrate it to the current
 * schema.  FERRY_EVERSION if the database is newer than this ferry.
 */
int store_open(const char *dir, struct store **out, struct ferry_err *err);
/* As store_open, migrating only up to schema version upto (tests). */
int store_open_version(const char *dir, int upto, struct store **out,
    struct ferry_err *err);
/* Close; NULL is fine.  An open transaction is rolled back. */
void store_close(struct store *s);
/* The schema version of the open database. */
int store_version(struct store *s);
/* The SQLite handle, borrowed until store_close(). */
struct sqlite3 *store_db(struct store *s);

/* BEGIN IMMEDIATE: one writer; waits up to STORE_BUSY_MS. */
int store_begin(struct store *s, struct ferry_err *err);
int store_commit(struct store *s, struct ferry_err *err);
/* Roll back the open transaction, if any. */
void store_rollback(struct store *s);
/* Run SQL without results (migrations, tests, the sync engine). */
int store_exec(struct store *s, const char *sql, struct ferry_err *err);

/* The site: exactly one row once `ferry init` has run. */
struct store_site {
	char	*site_id;	/* goes into manifests and file names */
	char	*name;
	char	*key_fpr;	/* signing key fingerprint, or NULL */
};
/* FERRY_ENOTFOUND before init. */
int store_site_get(struct store *s, struct store_site *out,
    struct ferry_err *err);
int store_site_set(struct store *s, const struct store_site *site,
    struct ferry_err *err);
void store_site_release(struct store_site *site);

enum store_conn_state {
	STORE_CONN_RUNNING,
	STORE_CONN_PAUSED,	/* `ferry pause` */
	STORE_CONN_STOPPED,	/* fork, restore: an administrator recovers */
};

struct store_conn {
	int64_t			 id;		/* local row id */
	char			*conn_id;	/* shared with the peer */
	char			*name;		/* [connection NAME] */
	char			*project;	/* local project key */
	char			*sync_user;
	char			*peer_site;	/* NULL until paired */
	char			*peer_fpr;	/* pinned peer key, or NULL */
	char			*transport;	/* settings, "key=value\n"... */
	enum store_conn_state	 state;
	char			*reason;	/* why paused/stopped, or NULL */
};

/* Add c (c->id ignored); *id gets the new row id.  Names are unique. */
int store_conn_add(struct store *s, const struct store_conn *c, int64_t *id,
    struct ferry_err *err);
/* By name; FERRY_ENOTFOUND if none. */
int store_conn_get(struct store *s, const char *name, struct store_conn *out,
    struct ferry_err *err);
int store_conn_set_peer(struct store *s, int64_t id, const char *peer_site,
    const char *peer_fpr, struct ferry_err *err);
int store_conn_set_state(struct store *s, int64_t id,
    enum store_conn_state state, const char *reason, struct ferry_err *err);
void store_conn_release(struct store_conn *c);
const char *store_conn_state_name(enum store_conn_state state);

/* The sequencing state of a connection (a fresh one if never saved). */
int store_chan_load(struct store *s, int64_t conn, struct seq_state *st,
    struct ferry_err *err);
int store_chan_save(struct store *s, int64_t conn, const struct seq_state *st,
    struct ferry_err *err);

/*
 * The name of the last control message the channel took from the
 * transport (*name NULL if none; the caller frees it), so that one still
 * lying there is not read again.
 */
int store_chan_ctl_get(struct store *s, int64_t conn, char **name,
    struct ferry_err *err);
int store_chan_ctl_set(struct store *s, int64_t conn, const char *name,
    struct ferry_err *err);

/* An outgoing bundle; file is its name in STATE/outbox, NULL if pruned. */
struct store_out {
	uint64_t	 seq;
	struct seq_hash	 hash;
	char		*file;
	uint64_t	 size;
	int64_t		 made;
	uint32_t	 sends;
	int64_t		 last_send;	/* SEQ_NEVER if never sent */
	int64_t		 acked;		/* when acked; SEQ_NEVER if not */
};

/* Record a durable bundle file.  Fails if seq exists already. */
int store_out_add(struct store *s, int64_t conn, uint64_t seq,
    const struct seq_hash *hash, const char *file, uint64_t size, int64_t now,
    struct ferry_err *err);
/* One bundle; FERRY_ENOTFOUND if none. */
int store_out_get(struct store *s, int64_t conn, uint64_t seq,
    struct store_out *out, struct ferry_err *err);
/* Bundles with seq > after, in seq order; *v freed by store_out_free. */
int store_out_list(struct store *s, int64_t conn, uint64_t after,
    struct store_out **v, size_t *n, struct ferry_err *err);
/* Acked bundles whose file is still there, in seq order. */
int store_out_list_acked(struct store *s, int64_t conn,
    struct store_out **v, size_t *n, struct ferry_err *err);
/* Bundle seq went out (again) at now. */
int store_out_sent(struct store *s, int64_t conn, uint64_t seq, int64_t now,
    struct ferry_err *err);
/* Every unacked bundle up to upto is acked at now. */
int store_out_acked(struct store *s, int64_t conn, uint64_t upto, int64_t now,
    struct ferry_err *err);
/* The file of bundle seq is gone (pruned); the row stays. */
int store_out_forget_file(struct store *s, int64_t conn, uint64_t seq,
    struct ferry_err *err);
/* True if some outgoing row of any connection names file. */
int store_out_names(struct store *s, const char *file, bool *yes,
    struct ferry_err *err);
void store_out_free(struct store_out *v, size_t n);
void store_out_release(struct store_out *o);

enum store_in_state {
	STORE_IN_HELD,		/* after a gap */
	STORE_IN_RECEIVED,	/* counted in the received ack */
	STORE_IN_APPLIED,
	STORE_IN_QUARANTINED,	/* with a reason; never applied */
};

/* An incoming bundle; kept as a ledger after its file is pruned. */
struct store_in {
	int64_t			 id;
	uint64_t		 seq;
	struct seq_hash		 hash;
	enum store_in_state	 state;
	char			*reason;	/* quarantined: why */
	char			*file;		/* in STATE/inbox, or NULL */
	int64_t			 received;
	int64_t			 applied;	/* SEQ_NEVER if not */
	/* What the ledger checks of a neighbour need. */
	struct seq_hash		 prev;
	uint64_t		 ack;
	int64_t			 time;		/* when the peer made it */
};

/* Record a bundle; seq, hash, prev, ack, time from m.  *id may be NULL. */
int store_in_add(struct store *s, int64_t conn, const struct seq_msg *m,
    enum store_in_state state, const char *reason, const char *file,
    int64_t now, int64_t *id, struct ferry_err *err);
/*
 * What seq_in_bundle() needs: *have_known and known get the hash of the
 * held/received/applied record of seq; *seen whether a record of exactly
 * seq and hash exists in any state.
 */
int store_in_lookup(struct store *s, int64_t conn, uint64_t seq,
    const struct seq_hash *hash, bool *have_known, struct seq_hash *known,
    bool *seen, struct ferry_err *err);
/* The held/received/applied record of seq; FERRY_ENOTFOUND if none. */
int store_in_get(struct store *s, int64_t conn, uint64_t seq,
    struct store_in *out, struct ferry_err *err);
/* Change the state of record id (reason for quarantine, else NULL). */
int store_in_set_state(struct store *s, int64_t id,
    enum store_in_state state, const char *reason, int64_t now,
    struct ferry_err *err);
/* How many records in state with seq > after. */
int store_in_count(struct store *s, int64_t conn, enum store_in_state state,
    uint64_t after, int64_t *n, struct ferry_err *err);
/*
 * The highest seq of a live (held, received or applied) record, 0 if
 * none: the top an ack control message carries (seq.h, seq_ack_msg()).
 */
int store_in_top(struct store *s, int64_t conn, uint64_t *top,
    struct ferry_err *err);
/* The file of record id is gone; the ledger row stays. */
int store_in_forget_file(struct store *s, int64_t id, struct ferry_err *err);
/* Records in state, in seq order; *v freed by store_in_free. */
int store_in_list(struct store *s, int64_t conn, enum store_in_state state,
    struct store_in **v, size_t *n, struct ferry_err *err);
/* True if some incoming row of any connection names file. */
int store_in_names(struct store *s, const char *file, bool *yes,
    struct ferry_err *err);
void store_in_free(struct store_in *v, size_t n);
void store_in_release(struct store_in *r);
const char *store_in_state_name(enum store_in_state state);

/*
 * Pairing (src/store_pair.c, docs/pairing.md).  An invitation is the
 * inviter's record of one code: its one-time secret (only here: the state
 * directory is private), when it expires and whether it was used.
 */
#define STORE_SECRET_MAX	32

enum store_invite_state {
	STORE_INVITE_PENDING,
	STORE_INVITE_USED,
	STORE_INVITE_REPLACED,	/* a newer code for the connection */
};

struct store_invite {
	int64_t			 id;
	int64_t			 conn;
	uint8_t			 secret[STORE_SECRET_MAX];
	size_t			 secretlen;
	int64_t			 created, expires;
	enum store_invite_state	 state;
	int64_t			 used;		/* SEQ_NEVER if not */
	char			*used_by;	/* the acceptor's site id */
};

/*
 * Record a new pending invitation for conn; older pending ones of conn
 * become STORE_INVITE_REPLACED.  *id (may be NULL) gets its row id.
 */
int store_invite_add(struct store *s, int64_t conn, const void *secret,
    size_t secretlen, int64_t created, int64_t expires, int64_t *id,
    struct ferry_err *err);
/* Every invitation of conn, newest first; *v freed by store_invite_free. */
int store_invite_list(struct store *s, int64_t conn, struct store_invite **v,
    size_t *n, struct ferry_err *err);
/* Invitation id was used by site by at now. */
int store_invite_use(struct store *s, int64_t id, const char *by, int64_t now,
    struct ferry_err *err);
/* Wipes the secrets. */
void store_invite_free(struct store_invite *v, size_t n);

enum store_pair_role {
	STORE_PAIR_INVITER,	/* made the code; pins the acceptor's hello */
	STORE_PAIR_ACCEPTOR,	/* took the code; pins the inviter's reply */
	STORE_PAIR_KEYFILE,	/* pinned a key file an administrator gave */
};

/* One connection's side of the handshake. */
struct store_pairing {
	int64_t			 conn;
	enum store_pair_role	 role;
	char			*expect_fpr;	/* acceptor: the code's key
						   fingerprint prefix (hex) */
	char			*hello;		/* our hello, in STATE/pairing,
						   not yet on the transport */
	char			*hello_sent;	/* our hello on the transport */
	int64_t			 created;
	int64_t			 paired;	/* both keys pinned; SEQ_NEVER */
};

/* FERRY_ENOTFOUND if conn has none. */
int store_pairing_get(struct store *s, int64_t conn, struct store_pairing *out,
    struct ferry_err *err);
/* Insert or replace the row of p->conn. */
int store_pairing_put(struct store *s, const struct store_pairing *p,
    struct ferry_err *err);
/* True if some pairing row names file as its waiting hello. */
int store_pairing_names(struct store *s, const char *file, bool *yes,
    struct ferry_err *err);
void store_pairing_release(struct store_pairing *p);

/* Was the hello called name on conn judged already?  *verdict may be NULL. */
int store_hello_seen(struct store *s, int64_t conn, const char *name,
    bool *seen, char **verdict, struct ferry_err *err);
int store_hello_mark(struct store *s, int64_t conn, const char *name,
    const char *verdict, int64_t now, struct ferry_err *err);

/*
 * An accepted, unpaired connection takes another invitation: its shared
 * id and peer change (`ferry accept --replace`).
 */
int store_conn_set_ids(struct store *s, int64_t id, const char *conn_id,
    const char *peer_site, struct ferry_err *err);

/* A connection not yet paired follows its section's project and user. */
int store_conn_set_local(struct store *s, int64_t id, const char *project,
    const char *sync_user, struct ferry_err *err);

/*
 * The sync engine's tables, with minimal accessors.  Operations and
 * field values are opaque bytes here (msgpack, as in bundles).
 */

/* A parked (refused) or waiting (needs something) operation. */
enum store_park_kind { STORE_PARKED, STORE_WAITING };
int store_park_add(struct store *s, int64_t conn, uint64_t in_seq,
    uint32_t op_index, int64_t issue, enum store_park_kind kind,
    const char *reason, const void *op, size_t oplen, int64_t now,
    int64_t *id, struct ferry_err *err);
/* The content an operation needs, copied to file in STATE/parked. */
int store_park_add_blob(struct store *s, int64_t park, const char *sha256,
    const char *file, struct ferry_err *err);
int store_park_count(struct store *s, int64_t conn, int64_t *n,
    struct ferry_err *err);
/* Remove a parked operation and its blob rows (files are the caller's). */
int store_park_done(struct store *s, int64_t id, struct ferry_err *err);

enum store_twin_kind { STORE_TWIN_ISSUE, STORE_TWIN_COMMENT,
    STORE_TWIN_ATTACHMENT };
int store_twin_put(struct store *s, int64_t conn, enum store_twin_kind kind,
    int64_t local_id, int64_t remote_id, const char *local_key,
    struct ferry_err *err);
/* The local twin of remote_id; FERRY_ENOTFOUND if none. */
int store_twin_local(struct store *s, int64_t conn, enum store_twin_kind kind,
    int64_t remote_id, int64_t *local_id, struct ferry_err *err);
int store_twin_tombstone(struct store *s, int64_t conn,
    enum store_twin_kind kind, int64_t local_id, struct ferry_err *err);

/* The snapshot of an issue (opaque bytes); get fills a buf. */
struct buf;
int store_snapshot_put(struct store *s, int64_t conn, int64_t local_id,
    const void *data, size_t len, struct ferry_err *err);
int store_snapshot_get(struct store *s, int64_t conn, int64_t local_id,
    struct buf *out, struct ferry_err *err);

/* Export watermark in Jira time (ms since the epoch); 0 if never. */
int store_watermark_get(struct store *s, int64_t conn, int64_t *ms,
    struct ferry_err *err);
int store_watermark_set(struct store *s, int64_t conn, int64_t ms,
    struct ferry_err *err);

/* The apply journal: intent before a Jira write, done after. */
enum store_journal_state { STORE_J_NONE, STORE_J_INTENT, STORE_J_DONE };
int store_journal_intent(struct store *s, int64_t conn, uint64_t in_seq,
    uint32_t op_index, const char *target, struct ferry_err *err);
int store_journal_done(struct store *s, int64_t conn, uint64_t in_seq,
    uint32_t op_index, const char *result, struct ferry_err *err);
int store_journal_state(struct store *s, int64_t conn, uint64_t in_seq,
    uint32_t op_index, enum store_journal_state *state,
    struct ferry_err *err);

/* The error queue and conflicts: add and count (status lists them). */
int store_error_add(struct store *s, int64_t conn, int64_t issue,
    uint64_t in_seq, uint32_t op_index, const char *message, long http,
    int64_t now, int64_t *id, struct ferry_err *err);
int store_error_count(struct store *s, int64_t conn, int64_t *n,
    struct ferry_err *err);
int store_conflict_add(struct store *s, int64_t conn, int64_t issue,
    const char *field, const char *winner, uint64_t in_seq, int64_t now,
    struct ferry_err *err);
int store_conflict_count(struct store *s, int64_t conn, int64_t *n,
    struct ferry_err *err);

/* The audit log: a row per run, begun and ended. */
int store_audit_begin(struct store *s, const char *command, int64_t now,
    int64_t *id, struct ferry_err *err);
int store_audit_end(struct store *s, int64_t id, int status,
    const char *summary, int64_t now, struct ferry_err *err);

#endif
